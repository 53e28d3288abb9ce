"""The explorer's gallery: sampling labelled folders, a visitor's uploads, random quads."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

import sqsnet.service.gallery as gal
from sqsnet.service.gallery import GalleryError, GalleryItem
from tests.service.helpers import ferplus_valid_dir


def _items(per_class: dict[str, int]) -> list[GalleryItem]:
    return [GalleryItem(path=f"/g/{c}{k}.png", label=c, caption=f"{c} #{k}")
            for c, n in per_class.items() for k in range(n)]


def test_load_gallery_ferplus_layouts(tmp_path):
    valid = ferplus_valid_dir()
    if valid is None:
        pytest.skip("real FERPlus data not found (set SQSNET_DATA)")
    items = gal.load_gallery(valid, per_class=2, out_dir=tmp_path / "a")
    labels = [it.label for it in items]
    assert 0 < len(items) <= 16 and all(labels.count(c) <= 2 for c in set(labels))
    assert all(Path(it.path).is_file() and it.face_crop for it in items)
    assert not any(str(valid) in it.path for it in items)  # served from copies
    assert min(Image.open(items[0].path).size) >= 144  # 48 px faces upscaled for display
    again = gal.load_gallery(valid.parent, per_class=2, out_dir=tmp_path / "b")
    assert [it.caption for it in again] == [it.caption for it in items]  # seeded


def test_load_gallery_labelled_folder(tmp_path):
    root = tmp_path / "faces"
    for cls, color in (("happy", (250, 200, 0)), ("Sad", (0, 0, 200)), ("neutral", (90, 90, 90))):
        (root / cls).mkdir(parents=True)
        for k in range(5):
            Image.new("RGB", (60, 60), color).save(root / cls / f"{k}.jpg")
    (root / "happy" / "readme.txt").write_text("ignored")
    items = gal.load_gallery(root, per_class=3, out_dir=tmp_path / "out")
    assert len(items) == 9
    assert {it.label for it in items} == {"happiness", "sadness", "neutral"}


def test_load_gallery_errors(tmp_path):
    with pytest.raises(GalleryError, match="no such folder"):
        gal.load_gallery(tmp_path / "missing")
    (tmp_path / "bogus" / "cats").mkdir(parents=True)
    with pytest.raises(GalleryError, match="cats"):
        gal.load_gallery(tmp_path / "bogus")


def test_uploads_join_the_visitors_gallery(tmp_path):
    good = tmp_path / "me.png"
    Image.new("RGB", (400, 300), (20, 120, 200)).save(good)
    crop = tmp_path / "crop.png"
    Image.new("RGB", (48, 48), (20, 120, 200)).save(crop)
    bad = tmp_path / "bad.gif"
    bad.write_bytes(b"GIF89a broken")
    uploads, message = gal.add_uploads([str(good), str(bad), str(crop)], [])
    assert [u.caption for u in uploads] == ["your upload: me.png", "your upload: crop.png"]
    assert [u.face_crop for u in uploads] == [False, True]
    assert all(u.label is None for u in uploads)
    assert "Added 2 images" in message and "Skipped" in message and "bad.gif" in message
    many, message = gal.add_uploads([str(good)] * (gal.MAX_SESSION_UPLOADS + 3), uploads)
    assert len(many) == gal.MAX_SESSION_UPLOADS and "newest" in message


def test_entries_and_clicks_cover_the_gallery_then_the_uploads():
    gallery = _items({"fear": 1, "anger": 1})
    uploads = [GalleryItem(path="/u/1.png", label=None, caption="your upload: 1.png")]
    entries = gal.gallery_entries(gallery, uploads)
    assert entries == [("/g/fear0.png", "fear #0"), ("/g/anger0.png", "anger #0"),
                       ("/u/1.png", "your upload: 1.png")]
    assert gal.gallery_item(gallery, uploads, 2) is uploads[0]
    assert gal.gallery_item(gallery, None, 0) is gallery[0]
    with pytest.raises(IndexError):
        gal.gallery_item(gallery, None, 2)


def test_random_quad():
    quad, message = gal.random_quad(_items({"fear": 2, "anger": 3, "sadness": 1}), random.Random(0))
    assert quad is not None, message
    assert quad[0].label == quad[1].label and quad[2].label == quad[3].label
    assert quad[0].label != quad[2].label and "sadness" not in {q.label for q in quad}
    assert quad[0] is not quad[1] and quad[2] is not quad[3]
    assert f"**{quad[0].label}**" in message
    none, why = gal.random_quad(_items({"fear": 2, "anger": 1}))
    assert none is None and "--gallery" in why
    assert gal.random_quad([])[0] is None
