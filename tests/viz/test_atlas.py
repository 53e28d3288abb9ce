"""The SQS atlas on hand-built feature maps whose class signal sits where we put it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sqsnet.models.sqs import SpatialQuadSimilarity, spatial_similarity
from sqsnet.viz.atlas import (
    AtlasError,
    AtlasFeatures,
    AtlasSettings,
    compute_atlas,
    pool_indices,
    similarity_table,
)
from sqsnet.viz.regions import cell_weights

GRID = (6, 6)
CLASSES = ["neutral", "happiness", "surprise"]
SETTINGS = AtlasSettings(quads_per_pair=128, permutations=99, seed=0, pool_per_class=0)


def _features(where: str, per_class: int = 16, channels: int = 8, seed: int = 0,
              shuffle: bool = False) -> AtlasFeatures:
    """Noise everywhere; a class prototype added where ``where`` says (mouth, face, none)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASSES)), per_class)
    noise = rng.normal(size=(labels.size, channels, *GRID))
    protos = rng.normal(size=(len(CLASSES), channels)) * 3.0
    if where == "mouth":
        mask = cell_weights(GRID, 1.0)["mouth"] > 0.99  # cells wholly inside the mouth box
    elif where == "face":
        mask = np.ones(GRID, dtype=bool)
    else:
        mask = np.zeros(GRID, dtype=bool)
    signal = protos[labels][:, :, None, None] * mask[None, None]
    maps = torch.tensor(noise + signal, dtype=torch.float32)
    if shuffle:  # the labels no longer say which prototype an image carries
        labels = rng.permutation(labels)
    return AtlasFeatures(maps={"fused": maps, "local": maps * 2.0}, labels=labels,
                         classes=list(CLASSES), class_counts=[per_class] * len(CLASSES),
                         mean_face=np.full((48, 48), 0.5), crop_pct=1.0)


def _module() -> SpatialQuadSimilarity:
    return SpatialQuadSimilarity(tau=1.0)


def test_similarity_table_is_the_modules_similarity_of_every_pair() -> None:
    feats = torch.randn(21, 5, 3, 3)
    table = similarity_table(feats, _module(), block=4)
    assert table.shape == (21, 21, 9)
    i, j = torch.tensor([0, 3, 20, 7]), torch.tensor([5, 3, 1, 19])
    ref = spatial_similarity(feats[i], feats[j], 1.0, "l2").reshape(4, 9)
    torch.testing.assert_close(table[i, j], ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(table, table.transpose(0, 1))
    torch.testing.assert_close(table[torch.arange(21), torch.arange(21)], torch.ones(21, 9))


def test_a_mouth_only_signal_is_localised_at_the_mouth_and_significant() -> None:
    atlas = compute_atlas(_features("mouth"), _module(), margin=0.5, settings=SETTINGS)
    assert len(atlas.pairs) == 6 and all(p.measurable for p in atlas.pairs)
    for pair in atlas.pairs:
        for branch in ("fused", "local"):
            maps = pair.maps[branch]
            mouth, eyes = maps.scores["mouth"], maps.scores["eyes_brows"]
            assert mouth["share"] > 0.8 > 6 * mouth["uniform"]  # nearly all the mass
            assert mouth["lift"] > 5
            assert mouth["p_value"] == pytest.approx(1 / 100)  # the smallest possible
            assert mouth["excess"] > 0 and mouth["excess_p"] == pytest.approx(1 / 100)
            assert eyes["share"] < eyes["uniform"] and eyes["p_value"] > 0.5
            assert maps.separation > 0 and maps.separation_p == pytest.approx(1 / 100)
            # where there is no signal the mean contrast is the chance contrast
            weights = cell_weights(GRID, 1.0)["mouth"]
            gain = maps.mean_contrast - maps.chance_contrast
            assert np.abs(gain[weights < 0.99]).max() < 0.1 < gain[weights > 0.99].min()


def test_labels_that_carry_nothing_give_high_p_values() -> None:
    atlas = compute_atlas(_features("mouth", shuffle=True), _module(), 0.5, SETTINGS)
    p_values = [p.maps["fused"].scores[r]["p_value"] for p in atlas.pairs
                for r in ("mouth", "eyes_brows")]
    separation = [p.maps["fused"].separation_p for p in atlas.pairs]
    # under the null p-values are uniform: few small ones (1 in 12 here), most large
    assert min(p_values) > 0.01 and np.mean(np.array(p_values) <= 0.05) <= 1 / 6
    assert np.median(p_values) > 0.2
    assert min(separation) > 0.05


def test_a_face_wide_signal_separates_but_is_not_called_localised() -> None:
    atlas = compute_atlas(_features("face"), _module(), 0.5, SETTINGS)
    for pair in atlas.pairs:
        maps = pair.maps["fused"]
        assert maps.separation_p == pytest.approx(1 / 100)
        mouth = maps.scores["mouth"]
        assert mouth["lift"] == pytest.approx(1.0, abs=0.25)
        assert mouth["excess_p"] > 0.01


def test_too_few_images_make_a_pair_not_measurable_not_a_crash() -> None:
    feats = _features("mouth")
    keep = np.flatnonzero((feats.labels != 2) | (np.arange(feats.labels.size) % 16 < 3))
    small = AtlasFeatures({k: v[keep] for k, v in feats.maps.items()}, feats.labels[keep],
                          feats.classes, [16, 16, 3], feats.mean_face, 1.0)
    atlas = compute_atlas(small, _module(), 0.5, SETTINGS)
    bad = [p for p in atlas.pairs if not p.measurable]
    assert {(p.anchor, p.negative) for p in bad} == {
        ("neutral", "surprise"), ("happiness", "surprise"), ("surprise", "neutral"),
        ("surprise", "happiness")}
    assert all("surprise has 3 image(s)" in p.reason and p.maps == {} for p in bad)
    assert atlas.pair("neutral", "happiness").measurable
    record = json.loads(json.dumps(atlas.to_dict()))  # JSON-ready
    assert record["pool_counts"] == [16, 16, 3]
    assert record["pairs"][0]["maps"]["fused"]["scores"]["mouth"]["uniform"] > 0


def test_results_are_seeded_and_the_pool_is_capped() -> None:
    feats = _features("mouth")
    one = compute_atlas(feats, _module(), 0.5, SETTINGS)
    two = compute_atlas(feats, _module(), 0.5, SETTINGS)
    np.testing.assert_array_equal(one.pairs[0].maps["fused"].mean_contrast,
                                  two.pairs[0].maps["fused"].mean_contrast)
    labels = np.repeat(np.arange(3), [50, 4, 20])
    pool = pool_indices(labels, 3, per_class=10, seed=0)
    assert np.bincount(labels[pool], minlength=3).tolist() == [10, 4, 10]
    assert np.array_equal(pool, pool_indices(labels, 3, per_class=10, seed=0))
    assert np.array_equal(np.sort(pool), pool)
    assert pool_indices(labels, 3, per_class=0, seed=0).size == labels.size


@pytest.mark.parametrize("key,value", [("quads_per_pair", 0), ("permutations", 0),
                                       ("min_images", 1), ("pool_per_class", -1)])
def test_settings_out_of_range_are_named(key: str, value: int) -> None:
    settings = AtlasSettings(**{key: value})
    with pytest.raises(AtlasError, match=f"atlas setting {key} must be"):
        compute_atlas(_features("none"), _module(), 0.5, settings)
