"""Atomic file writes: a file is either its old content or its complete new content.

Run records (``metrics.csv``, ``summary.json``, checkpoints) are written through a temporary
file in the same folder that is flushed, fsynced and renamed over the target, so a run
killed at any moment never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_file", "atomic_write_text", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"
"""Suffix of the temporary files :func:`atomic_file` creates (``.<name>.<random>.tmp``)."""


def _file_mode() -> int:
    """Permissions an ordinary ``open()`` would give (mkstemp files are 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it over
    ``path``, on any failure (or interruption) delete it, leaving ``path`` untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text to ``path`` via a temporary file and rename (never half-written)."""
    with atomic_file(Path(path)) as tmp:
        Path(tmp).write_text(text)
