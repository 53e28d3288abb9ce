"""The app's service layer: everything the Gradio page does, as plain Python.

No module here imports Gradio. The page (``apps/sqsnet_space/app.py``) lays out the
components and adapts what these functions return (dataclasses, PIL images, lists, Markdown
strings) to them; tests and notebooks call the same functions without a server.

* :mod:`sqsnet.service.lab`: :class:`LabService`, the one object built per process and
  shared by every visitor (models, gallery, checkpoints).
* :mod:`sqsnet.service.store`: :class:`ModelStore`, checkpoints by key, the loaded models
  (least recently used dropped), the shared face detector and the one model lock.
* :mod:`sqsnet.service.predict`: photo -> faces (numbered left to right) -> probabilities
  -> Grad-CAM (:func:`analyse_photo`, :class:`PhotoResult`).
* :mod:`sqsnet.service.explain`: ranked probabilities, flat Grad-CAM maps, the colour
  scale, the whole-image caution.
* :mod:`sqsnet.service.examples`: the example images shipped in ``sqsnet/examples``
  (the default gallery, the explorer's opening quad).
* :mod:`sqsnet.service.export`: ``sqsnet export-space``, a self-contained Space folder
  (not imported here).
* :mod:`sqsnet.service.quad`: the SQS maps of one quad (:func:`quad_maps`), and what makes
  four labelled images not a valid quad (:func:`~sqsnet.service.quad.quad_problems`).
* :mod:`sqsnet.service.why`: "Why X, not Y?": a face as the anchor of a quad from the
  gallery, picked by the model's embedding; the contrast map and one sentence reading it
  (:class:`WhyResult`, :meth:`LabService.why_not`).
* :mod:`sqsnet.service.outputs`: output images as files of their own, written atomically
  (:class:`OutputFiles`), so identical answers at the same moment never share a file.
* :mod:`sqsnet.service.gallery`: the labelled gallery, a visitor's uploads, random quads.
* :mod:`sqsnet.service.card`: model cards from ``MODEL_CARD.md`` or checkpoint metadata
  (a summary and folded details), the accuracy at the crop the model runs.
* :mod:`sqsnet.service.uploads`: decoding uploads (paths, bytes, base64 ``data:`` URLs)
  and the one-line messages for errors.
* :mod:`sqsnet.service.drawing`: display sizes, resizing, figures to images.
"""

from sqsnet.service.card import CardText
from sqsnet.service.examples import Example, ExamplesError, load_examples
from sqsnet.service.gallery import (
    GALLERY_PER_CLASS,
    MAX_SESSION_UPLOADS,
    GalleryError,
    GalleryItem,
    load_gallery,
)
from sqsnet.service.lab import LabService
from sqsnet.service.outputs import OutputFiles
from sqsnet.service.predict import CAM_BRANCHES, MAX_FACES_SHOWN, FaceView, PhotoResult
from sqsnet.service.quad import SLOTS, QuadResult
from sqsnet.service.store import ModelStore, find_checkpoints, read_checkpoint_header
from sqsnet.service.uploads import (
    UploadError,
    decode_data_url,
    is_data_url,
    user_message,
)
from sqsnet.service.why import WhyResult

__all__ = [
    "CAM_BRANCHES",
    "GALLERY_PER_CLASS",
    "MAX_FACES_SHOWN",
    "MAX_SESSION_UPLOADS",
    "SLOTS",
    "CardText",
    "Example",
    "ExamplesError",
    "FaceView",
    "GalleryError",
    "GalleryItem",
    "LabService",
    "ModelStore",
    "OutputFiles",
    "PhotoResult",
    "QuadResult",
    "UploadError",
    "WhyResult",
    "decode_data_url",
    "find_checkpoints",
    "is_data_url",
    "load_examples",
    "load_gallery",
    "read_checkpoint_header",
    "user_message",
]
