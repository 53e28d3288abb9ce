"""Fixed face regions: cell weights on the model's grid, uniform and mass shares."""

from __future__ import annotations

import numpy as np
import pytest

from sqsnet.viz.regions import (
    FACE_REGIONS,
    FACE_SIDE,
    REGIONS,
    cell_weights,
    mass_share,
    uniform_share,
    view_boxes,
)


def test_on_a_pixel_grid_the_weights_are_the_boxes() -> None:
    w = cell_weights((FACE_SIDE, FACE_SIDE), crop_pct=1.0)
    for name, (x0, y0, x1, y1) in FACE_REGIONS.items():
        box = np.zeros((FACE_SIDE, FACE_SIDE))
        box[y0:y1, x0:x1] = 1.0
        np.testing.assert_allclose(w[name], box)
        assert uniform_share(w[name]) == pytest.approx((x1 - x0) * (y1 - y0) / FACE_SIDE ** 2)
    assert set(w) == set(REGIONS)
    np.testing.assert_allclose(w["eyes_brows_and_mouth"], w["eyes_brows"] + w["mouth"])
    assert w["eyes_brows_and_mouth"].max() <= 1.0  # the boxes do not overlap


def test_coarse_grid_weights_are_area_fractions_of_the_cropped_view() -> None:
    w = cell_weights((6, 6), crop_pct=0.95)
    # the model sees pixels 1.2 .. 46.8; cell (4, 2) covers x 16.4-24.0, y 31.6-39.2: all mouth
    assert w["mouth"][4, 2] == pytest.approx(1.0)
    assert w["mouth"][0].sum() == 0 and w["eyes_brows"][5].sum() == 0
    # the uniform share is the box's area over the view's area
    view = (FACE_SIDE * 0.95) ** 2
    assert uniform_share(w["mouth"]) == pytest.approx(22 * 13 / view, rel=1e-6)
    boxes = view_boxes(0.95)
    assert boxes["mouth"][0] == pytest.approx((13 - 1.2) / 45.6)


def test_mass_share_of_maps_and_stacks() -> None:
    w = cell_weights((6, 6), crop_pct=1.0)["mouth"]
    inside = np.zeros((6, 6))
    inside[4, 2] = 1.0  # a cell wholly inside the mouth box
    assert float(mass_share(inside, w)) == pytest.approx(w[4, 2])
    uniform = np.ones((6, 6))
    assert float(mass_share(uniform, w)) == pytest.approx(uniform_share(w))
    stack = np.stack([inside, uniform, np.zeros((6, 6))])
    shares = mass_share(stack, w)
    assert shares.shape == (3,)
    assert shares[2] == pytest.approx(uniform_share(w))  # no mass: the uniform share
    with pytest.raises(ValueError, match="non-negative"):
        mass_share(-uniform, w)


def test_bad_grid_or_crop_is_refused() -> None:
    with pytest.raises(ValueError, match="grid"):
        cell_weights((0, 6))
    with pytest.raises(ValueError, match="crop_pct"):
        cell_weights((6, 6), crop_pct=1.5)
