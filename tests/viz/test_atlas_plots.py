"""Atlas figures: every pair drawn or marked not measurable, readable at the size shown."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.text import Text

from sqsnet.viz._style import DPI, MAX_WIDTH_IN, MIN_TEXT_PX, text_sizes_px
from sqsnet.viz.atlas import AtlasFeatures, AtlasSettings, compute_atlas
from sqsnet.viz.atlas_plots import ATLAS_VIEWS, pair_map, plot_atlas, plot_atlas_pair
from sqsnet.viz.plots import save_figure
from sqsnet.viz.regions import cell_weights
from tests.viz.conftest import assert_png
from tests.viz.test_atlas import _features, _module


@pytest.fixture(scope="module")
def atlas():
    feats = _features("mouth", per_class=8)
    keep = np.flatnonzero(feats.labels != 2).tolist() + np.flatnonzero(
        feats.labels == 2)[:3].tolist()  # surprise: 3 images, not measurable
    small = AtlasFeatures({k: v[keep] for k, v in feats.maps.items()}, feats.labels[keep],
                          feats.classes, [8, 8, 8], feats.mean_face, 1.0)
    settings = AtlasSettings(quads_per_pair=32, permutations=19, pool_per_class=0)
    return compute_atlas(small, _module(), 0.5, settings)


@pytest.mark.parametrize("view", list(ATLAS_VIEWS))
def test_atlas_grid_draws_measured_pairs_and_names_the_others(atlas, view, tmp_path) -> None:
    fig = plot_atlas(atlas, "fused", view)
    faces = [ax for ax in fig.axes if len(ax.images) == 2]
    measured = [p for p in atlas.pairs if p.measurable]
    assert len(faces) == len(measured) == 2
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert sum("not\nmeasurable" in t for t in texts) == 4
    assert fig.dpi == DPI and fig.get_size_inches()[0] <= MAX_WIDTH_IN
    assert min(text_sizes_px(fig)) >= MIN_TEXT_PX
    assert_png(save_figure(fig, tmp_path / f"atlas_{view}.png", dpi=DPI))


def test_contrast_panels_share_one_scale_centred_on_the_margin(atlas) -> None:
    fig = plot_atlas(atlas, "local", "contrast")
    clims = {ax.images[1].get_clim() for ax in fig.axes if len(ax.images) == 2}
    assert len(clims) == 1
    lo, hi = clims.pop()
    assert (lo + hi) / 2 == pytest.approx(0.5)
    for view in ("discriminative", "lean"):
        diff = plot_atlas(atlas, "local", view)
        lo, hi = next(ax.images[1].get_clim() for ax in diff.axes if len(ax.images) == 2)
        assert lo == pytest.approx(-hi)
    pair = atlas.pair("neutral", "happiness")
    lean = pair_map(pair, "fused", "lean")
    assert lean.mean() == pytest.approx(0.0, abs=1e-9)
    # the lean's weighted mean over the mouth cells is the mouth excess score
    w = cell_weights(atlas.grid, atlas.crop_pct)["mouth"]
    assert (lean * w).sum() / w.sum() == pytest.approx(
        pair.maps["fused"].scores["mouth"]["excess"], abs=1e-5)


def test_pair_figure_has_a_colour_bar_per_map_and_the_scores(atlas, tmp_path) -> None:
    fig = plot_atlas_pair(atlas, "neutral", "happiness")
    maps = [ax for ax in fig.axes if len(ax.images) == 2]
    assert len(maps) == 6  # three views x (fused, CNN)
    assert sum(hasattr(ax, "_colorbar") for ax in fig.axes) == 6
    text = "\n".join(t.get_text() for t in fig.findobj(Text))
    assert "mouth" in text and "separation" in text and "excess" in text
    assert min(text_sizes_px(fig)) >= MIN_TEXT_PX
    np.testing.assert_allclose(pair_map(atlas.pair("neutral", "happiness"), "fused",
                                        "discriminative"),
                               atlas.pair("neutral", "happiness").maps["fused"].mean_contrast
                               - atlas.pair("neutral", "happiness").maps["fused"].chance_contrast)
    assert_png(save_figure(fig, tmp_path / "pair.png", dpi=DPI))
    with pytest.raises(ValueError, match="not measurable"):
        plot_atlas_pair(atlas, "neutral", "surprise")
    with pytest.raises(ValueError, match="unknown atlas view"):
        pair_map(atlas.pair("neutral", "happiness"), "fused", "raw")
