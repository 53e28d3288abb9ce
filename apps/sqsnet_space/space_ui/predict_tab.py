"""The Predict tab: a photo in; faces, probabilities and Grad-CAM out.

:func:`layout` places the components (with the bundled examples to click),
:class:`PredictHandlers` answers the events by calling
:meth:`sqsnet.service.LabService.analyse_photo` and :func:`predict_outputs` maps the
:class:`~sqsnet.service.PhotoResult` onto the components: per face its crop, its Grad-CAM
overlay and all class probabilities as bars (:mod:`.charts`), faces numbered left to right,
and one Grad-CAM colour bar with a sentence on reading it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from sqsnet.service import CAM_BRANCHES, MAX_FACES_SHOWN, FaceView, LabService, PhotoResult
from sqsnet.service.drawing import FACE_CROP_SIDE, fit

from .charts import cam_legend_html, probability_bars_html
from .components import status_text, upload_image

__all__ = ["PredictHandlers", "PredictTab", "layout", "predict_outputs", "wire"]

WELCOME = "Upload a photo, take one with the webcam, or click an example."
EXAMPLES_LABEL = "Examples: click one (muxspace faces, Apache-2.0)"
IMAGE_FORMAT = "jpeg"
"""How the page's output images are sent. Gradio encodes them on its event loop, one
request after another: WebP (its default) took about 24 ms a request there, JPEG 1 ms
(BENCHMARKS.md, "The app under load")."""


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
    cam_legend: gr.HTML
    face_outputs: list[Any]
    """Per face slot: its row, crop, Grad-CAM overlay and probability bars (``gr.HTML``)."""
    examples: gr.Examples | None = None

    def outputs(self) -> list[Any]:
        """The outputs of a prediction, in :func:`predict_outputs` order."""
        return [self.status, self.annotated, self.whole_btn, self.result_json,
                *self.face_outputs, self.cam_legend]


def _face_slots() -> list[Any]:
    outputs: list[Any] = []
    for i in range(MAX_FACES_SHOWN):
        with gr.Row(visible=False, elem_id=f"face-{i + 1}") as row:
            crop = gr.Image(label=f"Face {i + 1}", type="pil", format=IMAGE_FORMAT,
                            interactive=False, visible=False, height=200, scale=1,
                            elem_id=f"face-{i + 1}-crop")
            cam = gr.Image(label=f"Grad-CAM, face {i + 1}", type="pil", format=IMAGE_FORMAT,
                           interactive=False, visible=False, height=200, scale=1,
                           elem_id=f"face-{i + 1}-cam")
            bars = gr.HTML("", visible=False, min_width=220, scale=2,
                           elem_id=f"face-{i + 1}-label")
        outputs += [row, crop, cam, bars]
    return outputs


def _examples(service: LabService, photo: gr.Image) -> gr.Examples | None:
    """The bundled examples (photos, then one face per class); a click loads the photo."""
    shown = service.predict_examples()
    if not shown:
        return None
    # thumbnails, not ``example_labels`` (Gradio shows those instead of the pictures)
    return gr.Examples(examples=[[str(e.path)] for e in shown], inputs=[photo],
                       label=EXAMPLES_LABEL, examples_per_page=len(shown),
                       cache_examples=False, elem_id="predict-examples")


def layout(service: LabService) -> PredictTab:
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
            examples = _examples(service, photo)
        with gr.Column(scale=1):
            status = gr.Markdown(WELCOME, elem_classes=["sqs-status"], elem_id="predict-status")
            whole_btn = gr.Button("Classify the whole image", visible=False)
            annotated = gr.Image(label="Faces found (numbered left to right)", type="pil",
                                 format=IMAGE_FORMAT, interactive=False, height=360,
                                 elem_id="annotated")
    cam_legend = gr.HTML(cam_legend_html(), visible=False, elem_id="cam-legend")
    face_outputs = _face_slots()
    with gr.Accordion("All predictions as JSON", open=False):
        result_json = gr.JSON(label="Predictions")
    return PredictTab(photo, whole, branch, predict_btn, status, whole_btn, annotated,
                      result_json, cam_legend, face_outputs, examples)


def _face_updates(face: FaceView) -> list[Any]:
    """Row, crop, Grad-CAM and probability bars of one shown face."""
    if face.whole_image:
        title, name = "Whole image (no face found: read with caution)", "Whole image"
    else:
        title = f"Face {face.index} (detector score {face.detector_score:.2f})"
        name = f"Face {face.index}"
    cam_title = f"Grad-CAM, face {face.index}" + (": flat, shows nothing" if face.cam_flat else "")
    return [
        gr.update(visible=True),
        gr.update(value=fit(face.crop, FACE_CROP_SIDE), visible=True, label=title),
        gr.update(value=face.cam, visible=face.cam is not None, label=cam_title),
        gr.update(value=probability_bars_html(face.probabilities, f"{name}: {face.label}"),
                  visible=True),
    ]


def predict_outputs(result: PhotoResult) -> list[Any]:
    """Map a :class:`PhotoResult` onto the Predict tab's output components.

    Order: status (Markdown), annotated photo, "Classify the whole image" button, JSON of
    all faces, then per face slot (the largest faces, left to right): its row, crop,
    Grad-CAM overlay and probability bars (HTML); last the Grad-CAM colour bar (shown
    when an overlay is). Over the API the button and the rows are left out: ``[status,
    annotated, json, crop1, cam1, bars1, crop2, ..., legend]``.
    """
    out: list[Any] = [
        status_text(result.status, result.error),
        result.annotated,
        gr.update(visible=result.no_face),
        result.as_json(),
    ]
    shown = result.shown_faces
    for i in range(MAX_FACES_SHOWN):
        if i < len(shown):
            out += _face_updates(shown[i])
        else:
            out += [gr.update(visible=False)] + [gr.update(value=None, visible=False)] * 3
    out.append(gr.update(visible=any(f.cam is not None for f in shown)))
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
