"""Quad figures: a colour bar on every map, both feature maps, text readable as shown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sqsnet.models import SQSNet
from sqsnet.viz import compute_quad_maps, plot_contrast, plot_quad_maps, save_figure
from sqsnet.viz._style import DPI, MAX_WIDTH_IN, MIN_TEXT_PX, text_sizes_px
from sqsnet.viz.similarity import MAP_KEYS
from tests.helpers import tiny_model_config
from tests.viz.conftest import assert_png


def _colourbars(fig) -> list:
    return [ax for ax in fig.findobj(lambda a: hasattr(a, "_colorbar"))]


def _map_axes(fig) -> list:
    """Axes that show a map over a face (two images: the face and the map)."""
    return [ax for ax in fig.axes if len(ax.images) == 2]


@pytest.mark.parametrize("scale", ["absolute", "own"])
def test_every_map_has_a_colour_bar_and_text_is_readable(
    tiny_model: SQSNet, faces: list[Image.Image], scale: str, tmp_path
) -> None:
    maps = compute_quad_maps(tiny_model, *faces, labels=["a", "a", "b", "b"])
    fig = plot_quad_maps(maps, scale=scale)
    panels = _map_axes(fig)
    assert len(panels) == 2 * len(MAP_KEYS)  # fused and CNN rows
    assert len(_colourbars(fig)) == len(panels)
    labels = [ax._colorbar.ax.get_xlabel() for ax in _colourbars(fig)]
    assert all(("own" in lab) == (scale == "own") for lab in labels)
    assert fig.dpi == DPI and fig.get_size_inches()[0] <= MAX_WIDTH_IN
    assert min(text_sizes_px(fig)) >= MIN_TEXT_PX
    assert_png(save_figure(fig, tmp_path / f"quad_{scale}.png"))


def test_own_scale_states_each_maps_own_range(tiny_model: SQSNet,
                                             faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(tiny_model, *faces)
    fig = plot_quad_maps(maps, scale="own", branches=["fused"])
    s_ap_panel = _map_axes(fig)[0]
    lo, hi = s_ap_panel.images[1].get_clim()
    assert (lo, hi) == pytest.approx((float(maps.s_ap.min()), float(maps.s_ap.max())), abs=1e-5)
    contrast_panel = _map_axes(fig)[len(MAP_KEYS) - 1]
    lo, hi = contrast_panel.images[1].get_clim()
    assert (lo + hi) / 2 == pytest.approx(maps.margin)  # centred on the margin


def test_plot_contrast_shows_fused_and_cnn_side_by_side(tiny_model: SQSNet,
                                                        faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(tiny_model, *faces)
    fig = plot_contrast(maps)
    panels = _map_axes(fig)
    assert len(panels) == 2 and len(_colourbars(fig)) == 2
    titles = " ".join(ax.get_title() for ax in panels)
    assert "fused" in titles and "CNN" in titles
    np.testing.assert_allclose(panels[0].images[1].get_clim(), (-1.0, 1.0))
    assert min(text_sizes_px(fig)) >= MIN_TEXT_PX


def test_a_model_without_cnn_branch_draws_the_fused_row_only(faces: list[Image.Image]) -> None:
    maps = compute_quad_maps(SQSNet(tiny_model_config(use_local=False)).eval(), *faces)
    assert len(_map_axes(plot_quad_maps(maps))) == len(MAP_KEYS)
    with pytest.raises(ValueError, match="no CNN-branch maps"):
        plot_quad_maps(maps, branches=["local"])
    with pytest.raises(ValueError, match="unknown branch"):
        plot_quad_maps(maps, branches=["swin"])
    with pytest.raises(ValueError, match="unknown colour scale"):
        plot_contrast(maps, scale="relative")
