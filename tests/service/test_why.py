""""Why X, not Y?": the quad around a face, picked from the gallery by the model's embedding.

Nothing here depends on the bundled model's numbers: classes, similarities and maps are
recomputed from whatever model the service loads.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image

from sqsnet.service import LabService
from sqsnet.service.explain import ranked
from sqsnet.service.why import (
    FaceGallery,
    embed_faces,
    explain_choice,
    read_contrast,
    where_in_face,
)
from sqsnet.viz import QuadMaps, compute_quad_maps
from sqsnet.viz.regions import cell_weights


@functools.cache
def _examples_lab() -> LabService:
    """A service whose gallery is the shipped example faces (whatever the data folder)."""
    return LabService("default")


@pytest.fixture(scope="module")
def ex_lab() -> LabService:
    return _examples_lab()


def _face(lab: LabService, label: str):
    return next(f for f in lab.examples.faces if f.labels[0] == label)


def test_the_quad_is_the_nearest_gallery_faces_of_the_top_two_classes(ex_lab):
    example = ex_lab.examples.faces[0]
    result = ex_lab.why_not(str(example.path))
    assert result.available and not result.error, result.status
    x, y = (name for name, _ in ranked(result.probabilities)[:2])
    assert (result.predicted, result.runner_up) == (x, y)
    assert result.title == f"Why {x}, not {y}?" and result.title in result.status
    assert [it.label for it in result.items] == [x, y, y]
    # the clicked example is never its own positive (same picture: the manifest says so)
    assert all(it.path != str(example.path) for it in result.items)
    # nearest in the model's embedding: recompute it independently
    model = ex_lab.predictor().model
    photo = ex_lab.analyse_photo(str(example.path), with_gradcam=False)
    anchor, _ = embed_faces(model, [photo.faces[0].crop])
    gallery = FaceGallery.build(model, ex_lab.gallery, ex_lab.store.detector)
    sims = gallery.vectors @ anchor[0]
    usable = [i for i, it in enumerate(gallery.items) if it.path != str(example.path)]
    for label, chosen, k in ((x, result.similarities[:1], 1), (y, result.similarities[1:], 2)):
        best = sorted((float(sims[i]) for i in usable if gallery.items[i].label == label),
                      reverse=True)[:k]
        assert np.allclose(chosen, best, atol=1e-5), (label, chosen, best)
    # the maps are the model's own SQS module's, on these four faces
    assert result.maps is not None and result.maps.params["from_model"] is True
    again = compute_quad_maps(model, photo.faces[0].crop,
                              *(gallery.faces[gallery.items.index(it)] for it in result.items))
    assert np.allclose(again.contrast, result.maps.contrast, atol=1e-5)
    assert [c.split(":")[0] for _, c in result.faces] == [
        "anchor", "positive", "negative 1", "negative 2"]
    assert result.overlay is not None and result.overlay.size == result.faces[0][0].size
    assert result.scale is not None and result.scale.centre == result.maps.margin
    assert result.sentence == read_contrast(result.maps, x, y, model.cfg.crop_pct)


def test_each_face_of_a_photo_can_be_the_anchor(ex_lab):
    photo = next(p for p in ex_lab.examples.photos if len(p.labels) >= 2)
    second = ex_lab.why_not(str(photo.path), 2)
    assert second.available, second.status
    assert second.faces[0][1].startswith("anchor: face 2, ")
    # face 2 of the composed photo is this example face: it is not its own positive
    source = photo.sources[1]
    own = next(f for f in ex_lab.examples.faces if f.sources[0] == source)
    assert all(it.path != str(own.path) for it in second.items)
    bad = ex_lab.why_not(str(photo.path), len(photo.labels) + 1)
    n = len(photo.labels)
    assert bad.error and not bad.available
    assert bad.status == (f"This photo has {n} faces: choose a face number from 1 to {n}, "
                          f"got {n + 1}.")


def test_no_face_and_bad_uploads_are_one_line(ex_lab, tmp_path):
    wall = tmp_path / "wall.png"
    Image.new("RGB", (640, 480), (120, 120, 120)).save(wall)
    result = ex_lab.why_not(str(wall))
    assert not result.available and not result.error
    assert result.status == "No face to explain: no face was found in this photo."
    junk = tmp_path / "junk.jpg"
    junk.write_text("not an image")
    result = ex_lab.why_not(str(junk))
    assert result.error and "\n" not in result.status


def test_a_gallery_too_small_says_what_it_lacks(ex_lab):
    model = ex_lab.predictor().model
    names = list(model.class_names)
    x, y = names[0], names[1]
    probs = {n: 0.0 for n in names} | {x: 0.7, y: 0.2}
    face = Image.open(_face(ex_lab, x).path).convert("RGB")
    one_each = [next(it for it in ex_lab.gallery if it.label == c) for c in (x, y)]
    small = FaceGallery.build(model, one_each)
    result = explain_choice(model, face, small, probs, same_picture=[one_each[0].path])
    assert not result.available and not result.error
    assert result.status == (f"No quad: the gallery has no face of **{x}** other than this one "
                             f"(the positive) and only 1 face of **{y}** (2 are needed as the "
                             "negatives); add labelled faces with --gallery.")
    empty = explain_choice(model, face, FaceGallery.build(model, []), probs)
    assert "no faces of **" + y + "**" in empty.status


def _maps(s_ap: np.ndarray, s_an1: np.ndarray, s_an2: np.ndarray, margin: float = 0.5) -> QuadMaps:
    zero = np.zeros_like(s_ap)
    return QuadMaps(s_ap=s_ap, s_an1=s_an1, s_an2=s_an2, r=zero, hinge=zero, loss=0.0,
                    margin=margin)


def test_the_sentence_states_what_the_map_holds():
    h, w = 5, 4
    s_ap = np.full((h, w), 0.5)
    s_an1 = np.full((h, w), 0.6)
    s_an2 = np.full((h, w), 0.4)
    s_ap[1, 2], s_ap[3, 0] = 0.95, 0.7  # contrast 0.35 and 0.1; elsewhere -0.1
    text = read_contrast(_maps(s_ap, s_an1, s_an2), "happiness", "neutral")
    assert "closer to the happiness positive than to both neutral negatives at 2 of 20" in text
    assert f"(row 2, column 3 of the {h} x {w} grid)" in text and "= 0.35" in text
    assert "20 of 20 locations below the margin m = 0.5" in text
    assert where_in_face((1, 2), (h, w)) in text
    none = read_contrast(_maps(np.full((h, w), 0.2), s_an1, s_an2), "fear", "surprise")
    assert none.startswith(f"At none of the {h * w} locations")


def test_cells_are_named_by_the_face_region_they_lie_in():
    grid = (6, 6)
    weights = cell_weights(grid)
    mouth = tuple(int(v) for v in np.unravel_index(np.argmax(weights["mouth"]), grid))
    eyes = tuple(int(v) for v in np.unravel_index(np.argmax(weights["eyes_brows"]), grid))
    assert where_in_face(mouth, grid) == "the mouth"
    assert where_in_face(eyes, grid) == "the eyes and brows"
    corner = (0, grid[1] - 1)
    assert weights["mouth"][corner] < 0.5 and weights["eyes_brows"][corner] < 0.5
    assert where_in_face(corner, grid) == "the upper right of the face"
