"""What a visitor hands the app: file paths, raw bytes, PIL images and base64 data URLs.

Nothing here decodes pixels itself: :func:`load_upload` passes every upload to
:func:`sqsnet.faces.load_image`, which refuses non-images, truncated files and decompression
bombs with one line naming the file. This module adds the two things an upload needs on top:
a readable name for messages (the file's name, never the server's cache path) and the
decoding of ``data:image/...;base64,...`` payloads, which an API client may send instead of
a file. A payload that is not valid base64 gets :class:`UploadError`, one line that says so.

:func:`user_message` turns any exception raised while serving a request into the one
sentence the page shows; the traceback of an unexpected error goes to the server log only.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import traceback
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image

from sqsnet.checkpoint import CheckpointError
from sqsnet.errors import SQSNetError
from sqsnet.faces import ImageLoadError, load_image

__all__ = [
    "Upload",
    "UploadError",
    "decode_data_url",
    "is_data_url",
    "is_empty_upload",
    "load_upload",
    "upload_name",
    "user_message",
]

_LOG = logging.getLogger(__name__)

Upload = Union[str, "os.PathLike[str]", bytes, bytearray, Image.Image, np.ndarray, None]
"""An upload as the service accepts it: a path, a ``data:`` URL, the file's bytes, a PIL
image or an array; ``None`` when nothing was uploaded."""

_DATA_URL_FORM = "expected data:image/<type>;base64,<payload>"
_UNNAMED = "the uploaded image"


class UploadError(SQSNetError, ValueError):
    """An upload that is not image data at all (e.g. a ``data:`` URL with invalid base64)."""


def is_data_url(source: Any) -> bool:
    """Whether ``source`` is a ``data:`` URL (a string, not a file path)."""
    return isinstance(source, str) and source.startswith("data:")


def is_empty_upload(source: Any) -> bool:
    """Whether nothing was uploaded (``None`` or zero bytes)."""
    return source is None or (isinstance(source, (bytes, bytearray)) and not source)


def decode_data_url(url: str, what: str = "the upload") -> bytes:
    """The bytes of a base64 ``data:`` URL (``data:image/png;base64,iVBOR...``).

    Whitespace inside the payload (line-wrapped base64) is ignored; anything else outside
    the base64 alphabet, a wrong padding, a missing ``;base64`` marker or an empty payload
    is refused.

    Args:
        url: The ``data:`` URL.
        what: How to name the upload in the message (e.g. ``"the anchor image"``).

    Returns:
        The decoded bytes (not yet checked to be an image; :func:`load_upload` does that).

    Raises:
        UploadError: One line saying that ``what`` is not valid base64 image data, and why.
    """
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        reason = "it is not a base64 data URL"
    else:
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            reason = "its payload has a character outside the base64 alphabet or a wrong padding"
        else:
            if data:
                return data
            reason = "its payload is empty"
    subject = what[:1].upper() + what[1:]
    raise UploadError(f"{subject} is not valid base64 image data: {reason}; {_DATA_URL_FORM}.")


def upload_name(source: Any) -> str:
    """How to name an upload in messages: its file name, or "the uploaded image"."""
    if isinstance(source, (str, os.PathLike)) and not is_data_url(source):
        return Path(source).name or _UNNAMED
    return _UNNAMED


def load_upload(source: Upload, name: str | None = None) -> Image.Image:
    """Decode an upload into an upright RGB image.

    Args:
        source: A path, a base64 ``data:`` URL, the file's bytes, a PIL image or an array.
        name: How to name it in error messages (default: :func:`upload_name`, and "the
            upload" for a ``data:`` URL).

    Returns:
        An RGB PIL image (EXIF orientation applied; see :func:`sqsnet.faces.load_image`).

    Raises:
        UploadError: ``source`` is a ``data:`` URL that is not valid base64 image data.
        sqsnet.faces.ImageLoadError: Not an image, truncated, too large, missing file.
    """
    if is_data_url(source):
        source = decode_data_url(str(source), what=name or "the upload")
    return load_image(source, name=name or upload_name(source))


def user_message(exc: BaseException, what: str) -> str:
    """The one sentence the page shows for an error raised while ``what``.

    Bad input (an unreadable image, an invalid upload, a checkpoint that does not load)
    keeps its own message, with a file named by its base name rather than the server's
    cache path. Anything else is a bug: its traceback is logged and the page says the app
    is still running.

    Args:
        exc: The exception (call this inside the ``except`` block, so the traceback is
            the current one).
        what: What was being done, e.g. ``"reading the photo"``.

    Returns:
        One line, never a traceback.
    """
    if isinstance(exc, ImageLoadError):
        message = str(exc)
        if exc.source and exc.source in message:
            message = message.replace(exc.source, Path(exc.source).name or exc.source, 1)
        return message
    if isinstance(exc, UploadError):
        return str(exc)
    if isinstance(exc, CheckpointError):
        return f"The checkpoint could not be loaded: {exc}"
    _LOG.error("%s failed:\n%s", what, traceback.format_exc())
    return (f"Something went wrong while {what} ({type(exc).__name__}: {exc}). "
            "The app is still running; try another image.")
