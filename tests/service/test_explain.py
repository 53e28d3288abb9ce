"""The Predict tab's explanations: ranked probabilities, flat maps, the colour scale."""

from __future__ import annotations

import numpy as np

from sqsnet.service.explain import (
    CAM_LEGEND,
    FLAT_SPREAD,
    WHOLE_IMAGE_CAUTION,
    cam_spread,
    colormap_stops,
    flat_note,
    is_flat,
    ranked,
)


def test_ranked_keeps_every_class_most_probable_first():
    probs = {"neutral": 0.1, "happiness": 0.6, "surprise": 0.1, "fear": 0.2}
    assert ranked(probs) == [("happiness", 0.6), ("fear", 0.2), ("neutral", 0.1),
                             ("surprise", 0.1)]  # ties keep the model's class order


def test_flat_is_decided_by_the_spread_of_the_map():
    assert is_flat(np.zeros((6, 6))) and cam_spread(np.zeros((6, 6))) == 0.0
    almost = np.full((6, 6), 0.5)
    almost[0, 0] += FLAT_SPREAD / 2
    assert is_flat(almost)
    ramp = np.linspace(0, 1, 36).reshape(6, 6)
    assert not is_flat(ramp) and cam_spread(ramp) == 1.0


def test_flat_note_names_the_branch_and_the_faces():
    assert flat_note("global", []) == ""
    note = flat_note("global", [1, 3])
    assert "**global**" in note and "faces 1, 3" in note and "flat" in note
    assert "face 2 " in flat_note("local", [2])


def test_colour_scale_is_jet_low_to_high_and_the_sentences_exist():
    stops = colormap_stops(n=5)
    assert len(stops) == 5 and all(s.startswith("#") and len(s) == 7 for s in stops)
    assert stops[0] == "#000080" and stops[-1] == "#800000"  # jet: dark blue to dark red
    assert "Red" in CAM_LEGEND and "blue" in CAM_LEGEND
    assert "no face was found" in WHOLE_IMAGE_CAUTION
