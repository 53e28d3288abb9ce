"""Output images as files: one file per image, written atomically, old ones swept away.

Two visitors who get byte-identical images at the same moment must each get a complete
file (Gradio's own cache rewrites such a file in place; gradio issue #8878).
"""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from sqsnet.service.outputs import OutputFiles, write_atomically
from tests.helpers import decodes_whole


def _image(seed: int = 0) -> Image.Image:
    img = Image.effect_noise((320, 320), 40 + seed).convert("RGB")  # noise: large files
    return img


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()




def test_identical_images_written_at_once_get_their_own_complete_files(tmp_path):
    files = OutputFiles(tmp_path / "out")
    image, threads, per_thread = _image(), 6, 15
    expected = _encoded(image, "jpeg")
    barrier = threading.Barrier(threads + 1)
    paths: list[str] = []
    seen_broken: list[str] = []
    done = threading.Event()

    def writer() -> None:
        barrier.wait()
        for _ in range(per_thread):
            paths.append(str(files.write(image, "face-1", "jpeg")))

    def reader() -> None:  # a visitor's download: any file it can see must be complete
        barrier.wait()
        while not done.is_set():
            for entry in os.scandir(files.folder):
                if not entry.name.startswith(".") and not decodes_whole(entry.path):
                    seen_broken.append(entry.name)

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    watch = threading.Thread(target=reader)
    for t in [*workers, watch]:
        t.start()
    for t in workers:
        t.join()
    done.set()
    watch.join()
    assert not seen_broken, f"a reader saw incomplete files: {seen_broken[:3]}"
    assert len(paths) == len(set(paths)) == threads * per_thread  # never one path twice
    assert all(Path(p).read_bytes() == expected for p in paths)
    assert not [p for p in files.folder.iterdir() if p.name.startswith(".")]  # no temp files


def test_write_returns_an_absolute_path_with_the_format_suffix(tmp_path):
    files = OutputFiles(tmp_path)
    path = files.write(_image(), "face 1/cam", "png")
    assert path is not None and Path(path).is_absolute() and path.endswith(".png")
    assert "/" not in Path(path).name and Path(path).name.startswith("face-1-cam-")
    assert decodes_whole(path)
    assert files.write(None) is None
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 128))
    assert decodes_whole(str(files.write(rgba, "rgba", "jpeg")))  # converted to RGB
    gallery = files.write_all([(_image(1), "one"), (_image(2), "two")], "overlay")
    assert [c for _, c in gallery] == ["one", "two"] and all(decodes_whole(p) for p, _ in gallery)


def test_bad_arguments_are_one_line(tmp_path):
    with pytest.raises(ValueError, match="unknown image format 'gif': expected one of jpeg"):
        OutputFiles(tmp_path).write(_image(), fmt="gif")
    with pytest.raises(ValueError, match="max_age_s must be a positive number"):
        OutputFiles(tmp_path, max_age_s=0)


def test_old_files_are_swept_away(tmp_path):
    files = OutputFiles(tmp_path, max_age_s=60)
    old, new = files.write(_image(), "old"), files.write(_image(), "new")
    past = time.time() - 120
    os.utime(str(old), (past, past))
    assert files.prune() == 1
    assert not Path(str(old)).exists() and Path(str(new)).exists()
    assert OutputFiles(tmp_path, max_age_s=None).prune() == 0


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "x.bin"

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(b"abc", target)
    assert list(tmp_path.iterdir()) == []
