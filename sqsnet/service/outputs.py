"""Output images as files the page can fetch safely, even when two visitors get the same one.

Gradio turns a PIL image returned by a handler into a file in its cache named after the
hash of the encoded bytes, and writes that file in place
(``gradio.processing_utils.save_pil_to_cache``; gradio issue #8878). Two visitors who get
byte-identical images at the same moment (the same photo, the same example clicked) write
the same path at once, and a download that reads it while it is rewritten gets a truncated
file. :class:`OutputFiles` avoids that: each image is encoded here and written under a name
of its own (a random token per image), first to a temporary file in the same folder and then
moved into place with :func:`os.replace`, so a file is either absent or complete and no two
requests ever write the same path. The page returns these paths instead of images; Gradio
serves a file that is already inside its cache folder as it is, without copying or
rewriting it.

Old files are removed as new ones are written (:attr:`OutputFiles.max_age_s`), so the
folder does not grow without bound on a long-running server.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image

__all__ = ["DEFAULT_MAX_AGE_S", "FORMATS", "OutputFiles", "write_atomically"]

_LOG = logging.getLogger(__name__)

FORMATS: dict[str, str] = {"jpeg": ".jpeg", "png": ".png", "webp": ".webp"}
"""Image formats that can be written, with their file suffix."""
DEFAULT_MAX_AGE_S = 3600.0
"""Output files older than this (seconds) are removed as new ones are written."""
PRUNE_EVERY = 64
"""Writes between two sweeps for old files."""
_STEM = re.compile(r"[^A-Za-z0-9_-]+")


def write_atomically(data: bytes, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file.

    The bytes go to a temporary file in the same folder, which is flushed and then renamed
    onto ``path`` (:func:`os.replace`, atomic on POSIX and Windows); a failure leaves no
    temporary file behind.

    Args:
        data: The file's content.
        path: Where it goes (its folder must exist).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    target = Path(path)
    fd, staging = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return target


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    rgb = image.convert("RGB") if fmt == "jpeg" and image.mode not in ("RGB", "L") else image
    rgb.save(buf, format=fmt)
    return buf.getvalue()


class OutputFiles:
    """A folder of output images, one new file per image written.

    Args:
        folder: Where the files go (created). For the Gradio page: a folder inside
            Gradio's cache folder, so that Gradio serves the files as they are.
        max_age_s: Files older than this are removed as new ones are written (``None``:
            never).

    Raises:
        ValueError: ``max_age_s`` is not positive.
    """

    def __init__(self, folder: str | os.PathLike[str],
                 max_age_s: float | None = DEFAULT_MAX_AGE_S) -> None:
        if max_age_s is not None and max_age_s <= 0:
            raise ValueError(f"max_age_s must be a positive number of seconds or None, "
                             f"got {max_age_s!r}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_age_s = max_age_s
        self._writes = 0
        self._lock = threading.Lock()

    def write(self, image: Image.Image | None, stem: str = "image",
              fmt: str = "jpeg") -> str | None:
        """Encode ``image`` and write it under a new name of its own, atomically.

        Args:
            image: The image (``None`` is passed through).
            stem: A readable part of the file name (e.g. ``"face-1-cam"``); anything but
                letters, digits, ``_`` and ``-`` is replaced.
            fmt: One of :data:`FORMATS`.

        Returns:
            The file's absolute path, or ``None`` for ``None``.

        Raises:
            ValueError: ``fmt`` is not one of :data:`FORMATS`.
        """
        if image is None:
            return None
        if fmt not in FORMATS:
            raise ValueError(f"unknown image format {fmt!r}: expected one of "
                             f"{', '.join(FORMATS)}")
        name = f"{_STEM.sub('-', stem)[:40] or 'image'}-{secrets.token_hex(8)}{FORMATS[fmt]}"
        path = write_atomically(_encode(image, fmt), self.folder / name)
        self._maybe_prune()
        return str(path.resolve())

    def write_all(self, images: list[tuple[Image.Image, str]], stem: str = "image",
                  fmt: str = "jpeg") -> list[tuple[str, str]]:
        """:meth:`write` each ``(image, caption)`` of a gallery; returns ``(path, caption)``."""
        return [(str(self.write(im, f"{stem}-{k + 1}", fmt)), caption)
                for k, (im, caption) in enumerate(images)]

    def _maybe_prune(self) -> None:
        with self._lock:
            self._writes += 1
            due = self.max_age_s is not None and self._writes % PRUNE_EVERY == 0
        if due:
            self.prune()

    def prune(self, now: float | None = None) -> int:
        """Remove the files older than :attr:`max_age_s`; returns how many went.

        Args:
            now: The current time (``time.time()`` when ``None``).
        """
        if self.max_age_s is None:
            return 0
        limit = (time.time() if now is None else now) - self.max_age_s
        removed = 0
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return 0
        for entry in entries:
            try:
                if entry.is_file() and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:  # gone already, or in use elsewhere: try again next sweep
                continue
        if removed:
            _LOG.debug("removed %d old output files from %s", removed, self.folder)
        return removed
