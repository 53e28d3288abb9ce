"""The Predict tab: a photo in; faces, probabilities and Grad-CAM out.

:func:`layout` places the components, :class:`PredictHandlers` answers the events by calling
:meth:`sqsnet.service.LabService.analyse_photo` and :func:`predict_outputs` maps the
:class:`~sqsnet.service.PhotoResult` onto the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from sqsnet.service import CAM_BRANCHES, MAX_FACES_SHOWN, LabService, PhotoResult
from sqsnet.service.drawing import FACE_CROP_SIDE, fit

from .components import status_text, upload_image

__all__ = ["PredictHandlers", "PredictTab", "layout", "predict_outputs", "wire"]

WELCOME = "Upload a photo or take one with the webcam."


@dataclass
class PredictTab:
    """The Predict tab's components (see :func:`layout`)."""

    photo: gr.Image
    whole: gr.Checkbox
    branch: gr.Radio
    predict_btn: gr.Button
    status: gr.Markdown
    whole_btn: gr.Button
    annotated: gr.Image
    result_json: gr.JSON
    face_outputs: list[Any]
    """Per face slot: its row, crop, Grad-CAM overlay and ``gr.Label``."""

    def outputs(self) -> list[Any]:
        """The outputs of a prediction, in :func:`predict_outputs` order."""
        return [self.status, self.annotated, self.whole_btn, self.result_json, *self.face_outputs]


def _face_slots() -> list[Any]:
    outputs: list[Any] = []
    for i in range(MAX_FACES_SHOWN):
        with gr.Row(visible=False, elem_id=f"face-{i + 1}") as row:
            crop = gr.Image(label=f"Face {i + 1}", type="pil", interactive=False, visible=False,
                            height=200, scale=1, elem_id=f"face-{i + 1}-crop")
            cam = gr.Image(label=f"Grad-CAM, face {i + 1}", type="pil", interactive=False,
                           visible=False, height=200, scale=1, elem_id=f"face-{i + 1}-cam")
            probs = gr.Label(label=f"Face {i + 1}", num_top_classes=4, visible=False, scale=2,
                             elem_id=f"face-{i + 1}-label")
        outputs += [row, crop, cam, probs]
    return outputs


def layout() -> PredictTab:
    """Place the Predict tab's components (call inside ``gr.Tab``)."""
    with gr.Row():
        with gr.Column(scale=1):
            photo = upload_image(label="Photo (upload, webcam or paste)",
                                 sources=["upload", "webcam", "clipboard"], height=360,
                                 elem_id="photo")
            whole = gr.Checkbox(False, label="Classify the whole image when no face is found")
            branch = gr.Radio(list(CAM_BRANCHES), value="fused", label="Grad-CAM layer",
                              info="fused: the map both heads see; local: the CNN branch; "
                                   "global: the Swin branch; off: faster")
            predict_btn = gr.Button("Predict", variant="primary")
        with gr.Column(scale=1):
            status = gr.Markdown(WELCOME, elem_classes=["sqs-status"], elem_id="predict-status")
            whole_btn = gr.Button("Classify the whole image", visible=False)
            annotated = gr.Image(label="Faces found", type="pil", interactive=False, height=360,
                                 elem_id="annotated")
    face_outputs = _face_slots()
    with gr.Accordion("All predictions as JSON", open=False):
        result_json = gr.JSON(label="Predictions")
    return PredictTab(photo, whole, branch, predict_btn, status, whole_btn, annotated,
                      result_json, face_outputs)


def predict_outputs(result: PhotoResult) -> list[Any]:
    """Map a :class:`PhotoResult` onto the Predict tab's output components.

    Order: status (Markdown), annotated photo, "Classify the whole image" button, JSON of
    all faces, then per face slot: its row, crop, Grad-CAM overlay and ``gr.Label``. Over
    the API the button and the rows are left out: ``[status, annotated, json, crop1, cam1,
    label1, crop2, ...]``.
    """
    out: list[Any] = [
        status_text(result.status, result.error),
        result.annotated,
        gr.update(visible=result.no_face),
        result.as_json(),
    ]
    for i in range(MAX_FACES_SHOWN):
        if i >= len(result.faces):
            out += [gr.update(visible=False)] + [gr.update(value=None, visible=False)] * 3
            continue
        face = result.faces[i]
        title = ("Whole image" if face.whole_image else
                 f"Face {face.index} (detector score {face.detector_score:.2f})")
        out += [
            gr.update(visible=True),
            gr.update(value=fit(face.crop, FACE_CROP_SIDE), visible=True, label=title),
            gr.update(value=face.cam, visible=face.cam is not None,
                      label=f"Grad-CAM, face {face.index}"),
            gr.update(value=face.probabilities, visible=True,
                      label=f"Face {face.index}: {face.label}"),
        ]
    return out


class PredictHandlers:
    """The Predict tab's event handlers over one shared service."""

    def __init__(self, service: LabService) -> None:
        self.service = service

    def predict(self, image: Any, classify_whole_image: bool = False,
                cam_branch: str = "fused", checkpoint: str | None = None) -> list[Any]:
        """``/predict``: every face of the photo (``image``: path or ``data:`` URL)."""
        return predict_outputs(
            self.service.analyse_photo(image, classify_whole_image, cam_branch, checkpoint))

    def predict_whole_image(self, image: Any, cam_branch: str = "fused",
                            checkpoint: str | None = None) -> list[Any]:
        """``/predict_whole_image``: the "Classify the whole image" button."""
        return self.predict(image, True, cam_branch, checkpoint)


def wire(tab: PredictTab, handlers: PredictHandlers, checkpoint: gr.Dropdown) -> None:
    """Connect the tab's events (``/predict``, ``/predict_whole_image``)."""
    gr.on(
        triggers=[tab.photo.change, tab.predict_btn.click, tab.whole.input, tab.branch.input],
        fn=handlers.predict, inputs=[tab.photo, tab.whole, tab.branch, checkpoint],
        outputs=tab.outputs(), api_name="predict", trigger_mode="always_last",
    )
    tab.whole_btn.click(handlers.predict_whole_image, inputs=[tab.photo, tab.branch, checkpoint],
                        outputs=tab.outputs(), api_name="predict_whole_image")
