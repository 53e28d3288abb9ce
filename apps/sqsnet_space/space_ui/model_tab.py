"""The Model tab: the model card of the selected checkpoint and the checkpoint switch.

The card's summary fits a screen; its details and the raw metadata are folded
(``gr.Accordion``).

The dropdown's value is the visitor's checkpoint key; the other tabs take it as an input,
so a switch applies to that visitor's session only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from sqsnet.service import LabService, user_message

from .components import warn

__all__ = ["ModelHandlers", "ModelTab", "layout", "wire"]


@dataclass
class ModelTab:
    """The Model tab's components (see :func:`layout`)."""

    checkpoint: gr.Dropdown
    rescan_btn: gr.Button
    card: gr.Markdown
    details: gr.Markdown
    raw: gr.JSON

    def card_outputs(self) -> list[Any]:
        """The outputs of :meth:`ModelHandlers.show_card`."""
        return [self.card, self.details, self.raw]


def layout(service: LabService) -> ModelTab:
    """Place the Model tab's components (call inside ``gr.Tab``)."""
    info = (f"Checkpoints found in {service.checkpoints_dir}" if service.checkpoints_dir
            else "Start with --checkpoints DIR to switch between runs")
    with gr.Row():
        checkpoint = gr.Dropdown(choices=service.checkpoint_choices(), value=service.default_key,
                                 label="Checkpoint", info=info, scale=4)
        rescan_btn = gr.Button("Rescan", scale=1)
    text, header = service.model_card(service.default_key)
    card = gr.Markdown(text.summary, elem_id="model-card")
    with gr.Accordion("Details", open=False, elem_id="model-details"):
        details = gr.Markdown(_details(text.details))
    with gr.Accordion("Raw checkpoint metadata", open=False):
        raw = gr.JSON(value=header)
    return ModelTab(checkpoint, rescan_btn, card, details, raw)


def _details(text: str) -> str:
    return text or "No further details for this checkpoint; its raw metadata is below."


class ModelHandlers:
    """The Model tab's event handlers over one shared service."""

    def __init__(self, service: LabService) -> None:
        self.service = service

    def show_card(self, key: str) -> list[Any]:
        """``/model_card``: the card's summary, its details and the raw metadata; loads the
        model now, so that a broken file is reported here rather than at the next
        prediction."""
        card, header = self.service.model_card(key)
        text = card.summary
        try:
            self.service.predictor(key)
        except Exception as exc:  # shown in the page, the app keeps serving
            message = user_message(exc, "loading the checkpoint")
            warn(message)
            text = f"⚠️ {message}\n\n{text}"
        return [text, _details(card.details), header]

    def rescan(self, key: str) -> Any:
        """``/rescan_checkpoints``: re-read the folder; keep the choice if it still exists."""
        self.service.rescan_checkpoints()
        choices = self.service.checkpoint_choices()
        value = key if key in {k for _, k in choices} else self.service.default_key
        return gr.update(choices=choices, value=value)


def wire(tab: ModelTab, handlers: ModelHandlers) -> None:
    """Connect the tab's events (``/model_card``, ``/rescan_checkpoints``)."""
    tab.checkpoint.change(handlers.show_card, inputs=[tab.checkpoint],
                          outputs=tab.card_outputs(), api_name="model_card")
    tab.rescan_btn.click(handlers.rescan, inputs=[tab.checkpoint], outputs=[tab.checkpoint],
                         api_name="rescan_checkpoints")
