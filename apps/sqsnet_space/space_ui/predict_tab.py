"""The Predict tab: a photo in; faces, probabilities and Grad-CAM out.

:func:`layout` places the components (with the bundled examples to click),
:class:`PredictHandlers` answers the events by calling
:meth:`sqsnet.service.LabService.analyse_photo` and :func:`predict_outputs` maps the
:class:`~sqsnet.service.PhotoResult` onto the components: per face its crop, its Grad-CAM
overlay and all class probabilities as bars (:mod:`.charts`), faces numbered left to right,
and one Grad-CAM colour bar with a sentence on reading it. Under them, **"Why X, not Y?"**
(:func:`why_outputs`): a chosen face as the anchor of an SQS quad from the gallery
(:meth:`sqsnet.service.LabService.why_not`), its four faces, the contrast map over it with
its colour bar, and one sentence reading the map. It runs after every prediction (for the
face chosen, face 1 by default) and on its own button (``/why_not``).

Output images go to the page as files written by :func:`.components.output_files` (each its
own file, written atomically), never as PIL images: Gradio writes a returned PIL image to a
cache file named after its bytes' hash, in place, so two visitors who get identical images
at the same moment could download a truncated file (gradio issue #8878).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from sqsnet.service import (
    CAM_BRANCHES,
    MAX_FACES_SHOWN,
    FaceView,
    LabService,
    PhotoResult,
)
from sqsnet.service.drawing import FACE_CROP_SIDE, fit
from sqsnet.service.outputs import OutputFiles
from sqsnet.service.why import WhyResult

from .charts import cam_legend_html, contrast_legend_html, faces_html, probability_bars_html
from .components import output_files, status_text, upload_image

__all__ = ["PredictHandlers", "PredictTab", "WhySection", "layout", "predict_outputs",
           "why_outputs", "wire"]

WELCOME = "Upload a photo, take one with the webcam, or click an example."
EXAMPLES_LABEL = "Examples: click one (muxspace faces, Apache-2.0)"
IMAGE_FORMAT = "jpeg"
"""How the page's output images are sent. Gradio encodes them on its event loop, one
request after another: WebP (its default) took about 24 ms a request there, JPEG 1 ms
(BENCHMARKS.md, "The app under load")."""
WHY_INTRO = (
    "The chosen face is the **anchor** of an SQS quad: the **positive** is the gallery face "
    "of the predicted class X nearest to it in the model's embedding, the two **negatives** "
    "the gallery faces of the runner-up class Y nearest to it. The map shows the contrast "
    "S_AP - max(S_AN1, S_AN2), computed by the model's own SQS module, over the anchor: "
    "where it is high, the face is more like the X face than like either Y face."
)


@dataclass
class WhySection:
    """The "Why X, not Y?" components of the Predict tab."""

    face: gr.Number
    button: gr.Button
    status: gr.Markdown
    faces: gr.HTML
    contrast: gr.Image
    legend: gr.HTML
    sentence: gr.Markdown

    def outputs(self) -> list[Any]:
        """The outputs of :meth:`PredictHandlers.why_not`, in :func:`why_outputs` order."""
        return [self.status, self.faces, self.contrast, self.legend, self.sentence]


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
    why: WhySection | None = None
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


def _why_section() -> WhySection:
    """Place the "Why X, not Y?" components (empty until a prediction)."""
    gr.Markdown("### Why X, not Y?\n" + WHY_INTRO, elem_id="why-intro")
    with gr.Row(equal_height=False):
        face = gr.Number(1, label="Face (numbered left to right)", precision=0, minimum=1,
                         scale=1, elem_id="why-face")
        button = gr.Button("Why this class, not the runner-up?", scale=2, elem_id="why-btn")
    status = gr.Markdown("", elem_classes=["sqs-status"], elem_id="why-status")
    faces = gr.HTML("", visible=False, elem_id="why-faces")  # the faces and their captions
    with gr.Row(equal_height=False):
        contrast = gr.Image(label="Contrast over the anchor",
                            type="filepath", format=IMAGE_FORMAT, interactive=False,
                            height=FACE_CROP_SIDE, visible=False, scale=1,
                            elem_id="why-contrast")
        with gr.Column(scale=2):
            legend = gr.HTML("", visible=False, elem_id="why-legend")
            sentence = gr.Markdown("", elem_id="why-sentence")
    return WhySection(face, button, status, faces, contrast, legend, sentence)


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
    why = _why_section()
    with gr.Accordion("All predictions as JSON", open=False):
        result_json = gr.JSON(label="Predictions")
    return PredictTab(photo, whole, branch, predict_btn, status, whole_btn, annotated,
                      result_json, cam_legend, face_outputs, why, examples)


def _face_updates(face: FaceView, files: OutputFiles) -> list[Any]:
    """Row, crop, Grad-CAM and probability bars of one shown face (images as files)."""
    if face.whole_image:
        title, name = "Whole image (no face found: read with caution)", "Whole image"
    else:
        title = f"Face {face.index} (detector score {face.detector_score:.2f})"
        name = f"Face {face.index}"
    cam_title = f"Grad-CAM, face {face.index}" + (": flat, shows nothing" if face.cam_flat else "")
    return [
        gr.update(visible=True),
        gr.update(value=files.write(fit(face.crop, FACE_CROP_SIDE), f"face-{face.index}",
                                    IMAGE_FORMAT), visible=True, label=title),
        gr.update(value=files.write(face.cam, f"face-{face.index}-cam", IMAGE_FORMAT),
                  visible=face.cam is not None, label=cam_title),
        gr.update(value=probability_bars_html(face.probabilities, f"{name}: {face.label}"),
                  visible=True),
    ]


def predict_outputs(result: PhotoResult, files: OutputFiles | None = None) -> list[Any]:
    """Map a :class:`PhotoResult` onto the Predict tab's output components.

    Every image becomes a file of its own in ``files`` (default
    :func:`.components.output_files`), written atomically; its path is the value.

    Order: status (Markdown), annotated photo, "Classify the whole image" button, JSON of
    all faces, then per face slot (the largest faces, left to right): its row, crop,
    Grad-CAM overlay and probability bars (HTML); last the Grad-CAM colour bar (shown
    when an overlay is). Over the API the button and the rows are left out: ``[status,
    annotated, json, crop1, cam1, bars1, crop2, ..., legend]``.
    """
    files = files or output_files()
    out: list[Any] = [
        status_text(result.status, result.error),
        files.write(result.annotated, "photo", IMAGE_FORMAT),
        gr.update(visible=result.no_face),
        result.as_json(),
    ]
    shown = result.shown_faces
    for i in range(MAX_FACES_SHOWN):
        if i < len(shown):
            out += _face_updates(shown[i], files)
        else:
            out += [gr.update(visible=False)] + [gr.update(value=None, visible=False)] * 3
    out.append(gr.update(visible=any(f.cam is not None for f in shown)))
    return out


def why_outputs(result: WhyResult, files: OutputFiles | None = None) -> list[Any]:
    """Map a :class:`~sqsnet.service.why.WhyResult` onto the "Why X, not Y?" components.

    Order: status (Markdown), the four faces with their captions (HTML), the contrast over
    the anchor, its colour bar (HTML), the sentence (Markdown). Without a quad only the
    status shows, saying why.
    """
    files = files or output_files()
    # no toast: after a prediction the photo's own problems are already toasted once
    status = f"⚠️ {result.status}" if result.error else result.status
    if not result.available or result.overlay is None or result.scale is None \
            or result.maps is None:
        hidden = gr.update(value=None, visible=False)
        return [status, gr.update(value="", visible=False), hidden,
                gr.update(value="", visible=False), ""]
    faces = faces_html(files.write_all(result.faces, "why-face", IMAGE_FORMAT), FACE_CROP_SIDE)
    return [
        status,
        gr.update(value=faces, visible=True),
        gr.update(value=files.write(result.overlay, "why-contrast", IMAGE_FORMAT),
                  visible=True, label=f"Contrast over the anchor: {result.predicted} vs "
                                      f"{result.runner_up}"),
        gr.update(value=contrast_legend_html(result.scale, result.maps.margin), visible=True),
        f"**Reading it.** {result.sentence}",
    ]


class PredictHandlers:
    """The Predict tab's event handlers over one shared service."""

    def __init__(self, service: LabService, files: OutputFiles | None = None) -> None:
        self.service = service
        self.files = files or output_files()

    def predict(self, image: Any, classify_whole_image: bool = False,
                cam_branch: str = "fused", checkpoint: str | None = None) -> list[Any]:
        """``/predict``: every face of the photo (``image``: path or ``data:`` URL)."""
        return predict_outputs(
            self.service.analyse_photo(image, classify_whole_image, cam_branch, checkpoint),
            self.files)

    def predict_whole_image(self, image: Any, cam_branch: str = "fused",
                            checkpoint: str | None = None) -> list[Any]:
        """``/predict_whole_image``: the "Classify the whole image" button."""
        return self.predict(image, True, cam_branch, checkpoint)

    def why_not(self, image: Any, face_number: Any = 1, classify_whole_image: bool = False,
                checkpoint: str | None = None) -> list[Any]:
        """``/why_not``: "Why X, not Y?" for face ``face_number`` of the photo."""
        if image is None:
            return why_outputs(WhyResult(status=""), self.files)
        return why_outputs(self.service.why_not(image, face_number or 1, classify_whole_image,
                                                checkpoint), self.files)


def wire(tab: PredictTab, handlers: PredictHandlers, checkpoint: gr.Dropdown) -> None:
    """Connect the tab's events (``/predict``, ``/predict_whole_image``, ``/why_not``; the
    "why" also runs after each prediction)."""
    predicted = gr.on(
        triggers=[tab.photo.change, tab.predict_btn.click, tab.whole.input, tab.branch.input],
        fn=handlers.predict, inputs=[tab.photo, tab.whole, tab.branch, checkpoint],
        outputs=tab.outputs(), api_name="predict", trigger_mode="always_last",
    )
    if tab.why is not None:
        why_inputs = [tab.photo, tab.why.face, tab.whole, checkpoint]
        predicted.success(handlers.why_not, inputs=why_inputs, outputs=tab.why.outputs(),
                          api_name="why_not_after_predict", trigger_mode="always_last")
        tab.why.button.click(handlers.why_not, inputs=why_inputs, outputs=tab.why.outputs(),
                             api_name="why_not")
    tab.whole_btn.click(handlers.predict_whole_image, inputs=[tab.photo, tab.branch, checkpoint],
                        outputs=tab.outputs(), api_name="predict_whole_image")
