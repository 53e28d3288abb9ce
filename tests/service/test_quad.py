"""The SQS explorer's maps of one quad, from uploads, photos and the gallery."""

from __future__ import annotations

import math

import pytest

from tests.service.helpers import quad_files


def test_quad_maps_from_uploads(lab, tmp_path):
    result = lab.quad_maps(*quad_files(tmp_path))
    assert not result.error, result.status
    assert result.loss is not None and math.isfinite(result.loss) and result.loss >= 0
    assert result.figure is not None and result.figure.width > 200
    assert [c for _, c in result.overlays] == [
        "S_AP over the anchor", "S_AN1 over the anchor", "S_AN2 over the anchor",
        "R over the anchor"]
    assert all(im.size == (224, 224) for im, _ in result.overlays)
    for key in ("S_AP", "S_AN1", "S_AN2", "R = alpha", "Hinge loss"):
        assert key in result.explanation


def test_quad_maps_on_a_photo_crops_the_face(lab, tmp_path, face_photo):
    files = quad_files(tmp_path)
    result = lab.quad_maps(str(face_photo), *files[1:], labels=["fear", None, None, None])
    assert not result.error, result.status
    assert "anchor: fear" in result.status and "Note" not in result.status


def test_quad_maps_missing_and_bad_slots(lab, tmp_path):
    files = quad_files(tmp_path)
    missing = lab.quad_maps(files[0], None, files[2], None)
    assert not missing.error and "positive" in missing.status and "negative 2" in missing.status
    bad = tmp_path / "bad.png"
    bad.write_text("nope")
    result = lab.quad_maps(files[0], files[1], str(bad), files[3])
    assert result.error and "negative 1" in result.status and "Traceback" not in result.status
    b64 = lab.quad_maps("data:image/png;base64,%%%", *files[1:])
    assert b64.error and b64.status.startswith("The anchor image is not valid base64 image data")


def test_gallery_random_quad_gives_maps(lab):
    if not lab.gallery:
        pytest.skip("no FERPlus data: the gallery is empty")
    quad, message = lab.random_quad()
    assert quad is not None, message
    result = lab.quad_maps(*[q.path for q in quad], labels=[q.label for q in quad])
    assert not result.error, result.status
    assert f"anchor: {quad[0].label}" in result.status
    assert lab.gallery_item(0, []) is lab.gallery[0]


def test_explorer_without_gallery(lab, tmp_path):
    saved = lab.gallery
    try:
        lab.gallery = []
        quad, message = lab.random_quad()
        assert quad is None and "--gallery" in message
        assert not lab.quad_maps(*quad_files(tmp_path)).error  # uploads still work
    finally:
        lab.gallery = saved


@pytest.mark.parametrize("labels, problems", [
    (["fear", "fear", "anger", "anger"], []),
    (["fear", None, None, None], []),  # uploads: unknown labels are not judged
    ([None, "fear", "fear", "fear"], []),
    (["fear", "anger", "sadness", "sadness"], ["the positive is anger, not the anchor's class (fear)"]),
    (["fear", "fear", "fear", "anger"], ["negative 1 is fear, the anchor's own class"]),
    (["fear", "anger", "fear", "fear"], ["the positive is anger, not the anchor's class (fear)",
                                         "negative 1 is fear, the anchor's own class",
                                         "negative 2 is fear, the anchor's own class"]),
])
def test_quad_problems_name_what_is_not_a_valid_quad(labels, problems):
    from sqsnet.service.quad import quad_problems

    assert quad_problems(labels) == problems


def test_an_invalid_quad_is_drawn_with_a_warning_first(lab):
    quad, _ = lab.opening_quad()
    assert quad is not None
    a, p, _n1, n2 = quad
    result = lab.quad_maps(a.path, p.path, a.path, n2.path,
                           labels=[a.label, p.label, a.label, n2.label])
    assert not result.error and result.figure is not None
    assert result.warnings == [f"negative 1 is {a.label}, the anchor's own class"]
    assert result.status.startswith("⚠️ **Not a valid SQS quad**: negative 1 is ")
    assert result.figure_text_px is not None and result.figure_text_px >= 11.0
