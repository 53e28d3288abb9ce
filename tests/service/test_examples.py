"""The examples shipped in the package: licence, manifest, no FERPlus, the default gallery."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from sqsnet.service import LabService
from sqsnet.service.examples import (
    EXAMPLES_DIR,
    ExamplesError,
    example_gallery,
    load_examples,
    predict_examples,
    ready_quad,
)

CLASSES = {"neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"}


def test_every_class_has_faces_and_photos_have_several():
    ex = load_examples()
    assert 16 <= len(ex.faces) <= 24
    per_class = {c: sum(f.labels == (c,) for f in ex.faces) for c in CLASSES}
    assert all(n >= 2 for n in per_class.values()), per_class
    assert 2 <= len(ex.photos) <= 3
    assert all(len(p.labels) >= 2 and len(p.labels) == len(p.sources) for p in ex.photos)


def test_licence_source_and_manifest_name_every_file():
    manifest = json.loads((EXAMPLES_DIR / "manifest.json").read_text())
    assert "muxspace" in manifest["source"] and manifest["license"].startswith("Apache-2.0")
    assert "Apache License" in (EXAMPLES_DIR / "LICENSE").read_text()
    readme = (EXAMPLES_DIR / "README.md").read_text()
    assert "Apache-2.0" in readme and "muxspace" in readme and "FERPlus" in readme
    listed = {e["file"] for e in manifest["faces"] + manifest["photos"]}
    on_disk = {p.relative_to(EXAMPLES_DIR).as_posix() for p in EXAMPLES_DIR.rglob("*.jpg")}
    assert listed == on_disk  # nothing shipped that the manifest does not name
    for entry in manifest["faces"]:
        assert entry["source"].startswith(f"muxspace/{entry['label']}/")


def test_images_are_small_and_never_ferplus_sized():
    total = 0
    for path in EXAMPLES_DIR.rglob("*.jpg"):
        with Image.open(path) as im:
            assert 160 <= min(im.size) and max(im.size) <= 1024, (path, im.size)
            assert im.size != (48, 48)  # FERPlus faces are 48x48: never shipped
        total += path.stat().st_size
    assert total < 600_000


def test_predict_examples_are_photos_then_one_face_per_class():
    ex = load_examples()
    shown = predict_examples(ex)
    assert shown[: len(ex.photos)] == list(ex.photos)
    faces = shown[len(ex.photos):]
    assert {f.labels[0] for f in faces} == CLASSES and len(faces) == len(CLASSES)
    assert shown[0].caption.startswith(f"{len(ex.photos[0].labels)} faces: ")
    assert faces[0].caption.endswith("(example)")


def test_gallery_and_the_ready_quad_are_the_same_every_time():
    gallery = example_gallery(load_examples())
    assert all(it.label in CLASSES and Path(it.path).is_file() for it in gallery)
    quad, status = ready_quad(gallery)
    again, _ = ready_quad(gallery)
    assert quad == again and "Random quad" in status
    assert quad[0].label == quad[1].label and quad[2].label == quad[3].label
    assert quad[0].label != quad[2].label


def test_broken_examples_folder(tmp_path):
    with pytest.raises(ExamplesError, match="manifest.json: not found"):
        load_examples(tmp_path)
    (tmp_path / "manifest.json").write_text("{oops")
    with pytest.raises(ExamplesError, match="not valid JSON"):
        load_examples(tmp_path)
    (tmp_path / "manifest.json").write_text('{"faces": [{"file": "faces/x.jpg", '
                                            '"label": "fear", "source": "s"}]}')
    with pytest.raises(ExamplesError, match="faces/x.jpg is listed but missing"):
        load_examples(tmp_path)


def test_without_gallery_the_examples_are_the_gallery_and_the_quad_is_drawn(tmp_path):
    lab = LabService("default")
    assert len(lab.gallery) == len(load_examples().faces)
    assert "bundled examples" in str(lab.gallery_source)
    quad, result = lab.opening_quad()
    assert quad is not None and not result.error, result.status
    assert result.figure is not None and len(result.overlays) == 4 and result.loss is not None
    assert lab.opening_quad()[1] is result  # computed once, shared by every visitor
    copy = tmp_path / "examples"
    shutil.copytree(EXAMPLES_DIR, copy)
    (copy / "manifest.json").unlink()
    bare = LabService("default", examples=copy)  # broken examples: logged, app still works
    assert bare.gallery == [] and bare.predict_examples() == []
    assert bare.opening_quad()[0] is None
