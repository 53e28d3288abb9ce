"""Colour scales: full and own ranges, centred where the map's meaning changes."""

from __future__ import annotations

import numpy as np
import pytest

from sqsnet.viz.scales import SCALES, map_scale


def test_absolute_ranges_are_the_maps_full_ranges() -> None:
    values = np.array([[0.2, 0.3]])
    assert (map_scale("s_ap", values).vmin, map_scale("s_ap", values).vmax) == (0.0, 1.0)
    r = map_scale("r", values, alpha=1.0, beta=0.75)
    assert (r.vmin, r.vmax, r.centre) == (-1.5, 1.5, 0.0)
    hinge = map_scale("hinge", values, margin=0.5)
    assert (hinge.vmin, hinge.vmax) == (0.0, 3.0)
    contrast = map_scale("contrast", values, margin=0.5)
    assert (contrast.vmin, contrast.vmax, contrast.centre) == (-1.0, 1.0, 0.5)
    # white (the colour map's middle) sits on the margin, not on the middle of -1..1
    assert contrast.norm()(0.5) == pytest.approx(0.5)
    assert contrast.norm()(0.0) < 0.5 < contrast.norm()(0.75)


def test_own_ranges_follow_the_values_and_say_so() -> None:
    s = map_scale("s_ap", np.array([0.73, 0.9, 0.98]), "own")
    assert (s.vmin, s.vmax) == pytest.approx((0.73, 0.98))
    assert "own" in s.label
    c = map_scale("contrast", np.array([0.43, 0.88]), "own", margin=0.5)
    assert c.centre == 0.5 and (c.vmin, c.vmax) == pytest.approx((0.12, 0.88))
    assert "own" in c.label and "m" in c.label
    flat = map_scale("s_an1", np.full(4, 0.3), "own")
    assert flat.vmin < 0.3 < flat.vmax  # a constant map still gets a valid range
    hinge = map_scale("hinge", np.zeros(3), "own")
    assert hinge.vmax > 0


def test_unknown_map_or_scale_is_one_clear_error() -> None:
    assert SCALES == ("absolute", "own")
    with pytest.raises(ValueError, match="unknown colour scale 'relative'"):
        map_scale("s_ap", np.zeros(2), "relative")
    with pytest.raises(ValueError, match="unknown map 'x'"):
        map_scale("x", np.zeros(2))
