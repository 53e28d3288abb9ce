"""The SQS atlas: where, on the face, SQS separates each ordered pair of classes.

For every ordered class pair ``(X, Y)`` (anchor class ``X``, negative class ``Y``) the atlas
averages the contrast ``S_AP - max(S_AN1, S_AN2)`` (what the SQS hinge acts on) over many
seeded quads: anchor and positive two different images of ``X``, the negatives two
different images of ``Y``. It does so on the fused map ``F`` (what SQS trains on) and on the
CNN branch's map before fusion (``"local"``; :mod:`sqsnet.viz.similarity` says exactly what
is compared), with the model's own SQS similarity (``spatial_similarity`` with its ``tau``
and normalisation), and asks whether the result is localised and whether it is more than
noise.

**Computation** (:func:`compute_atlas`). Each class contributes a seeded *pool* of at most
``pool_per_class`` images (all of a smaller class). Every pool image is forwarded once
(:func:`extract_features`: batched, no gradients; the same pass averages every image of the
split into the mean face). The model's similarity of every two pool images at every
location is computed once per feature map (:func:`similarity_table`, ``n x n x HW``);
quads, and the permuted quads of the test below, are then formed by indexing it.

**Statistics**, per pair and feature map, on the ``H x W`` grid:

* ``mean_contrast``: the contrast averaged over ``quads_per_pair`` quads;
* ``chance_contrast``: the same average with the class labels of the pair's pooled
  images shuffled (the mean over ``permutations`` shufflings, each of which keeps the two
  classes' sizes and reuses the quads' positions, so only the labels change): what the
  contrast is when the labels carry nothing. It is below 0 (``max`` of two similarities
  beats one on average) and varies over the face with how much features vary there;
* ``discriminative`` mass ``D+ = max(mean_contrast - chance_contrast, 0)``: where the
  labels make the anchor closer to its positive than to the negatives beyond chance;
* per region (:mod:`sqsnet.viz.regions`: eyes and brows, mouth, their union): the
  localisation score ``share = sum(w * D+) / sum(D+)`` against ``uniform = mean(w)``, the
  share a map without any localisation gives (``lift = share / uniform``); and its
  permutation p-value ``(1 + #{share_k >= share}) / (1 + P)`` over the ``P`` shufflings
  (``share_k`` from ``D+_k = max(contrast_k - chance_contrast, 0)``), one-sided: is the
  mass more concentrated in the region than label noise makes it? Under shuffled labels
  ``D+_k`` is a little noise whose share can land anywhere, so a broad separation that
  only leans towards a region does not pass this test;
* per region, the ``excess``: the region's weighted mean of ``D = mean_contrast -
  chance_contrast`` minus the face mean of ``D`` (contrast units), with its permutation
  p-value: does the region gain more from the labels than the face on average? This one
  tells a lean from noise even when the separation covers the whole face;
* ``separation``: the face mean of ``mean_contrast - chance_contrast`` with its
  permutation p-value: does SQS separate the pair at all?

A pair whose class has fewer than ``min_images`` images in its pool is reported as not
measurable (with the reason), never drawn from too few faces. The p-values are per test;
the atlas makes many (pairs x regions x maps), so a single p near 0.05 among them is
expected by chance: name the comparisons before reading the table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from sqsnet.data.transforms import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from sqsnet.errors import SQSNetError
from sqsnet.models.sqs import SpatialQuadSimilarity, spatial_similarity
from sqsnet.viz.regions import REGIONS, cell_weights, mass_share, uniform_share
from sqsnet.viz.similarity import branch_output

__all__ = ["BRANCH_KEYS", "Atlas", "AtlasError", "AtlasFeatures", "AtlasSettings",
           "PairMaps", "PairResult", "compute_atlas", "extract_features", "pool_indices",
           "similarity_table"]

_LOG = logging.getLogger(__name__)

BLOCK_FLOATS: int = 2 ** 27
"""Largest intermediate of :func:`similarity_table`, in floats (512 MiB of float32)."""

BRANCH_KEYS: tuple[str, ...] = ("fused", "local")
"""Feature maps the atlas measures: the fused map, the CNN branch's map before fusion."""


class AtlasError(SQSNetError, ValueError):
    """Settings or data the atlas cannot work with."""


@dataclass
class AtlasSettings:
    """How many quads, shufflings and images the atlas uses.

    Attributes:
        quads_per_pair: Quads averaged per ordered class pair.
        permutations: Label shufflings of the test (the smallest p-value is
            ``1 / (permutations + 1)``).
        seed: Seed of the pools, the quads and the shufflings.
        pool_per_class: Images per class whose features are compared (all of a smaller
            class; 0: every image). The similarity table grows with its square.
        min_images: A class with fewer images in its pool makes its pairs not measurable.
    """

    quads_per_pair: int = 256
    permutations: int = 200
    seed: int = 0
    pool_per_class: int = 128
    min_images: int = 5

    def check(self) -> None:
        """Raise :class:`AtlasError` naming the first setting out of range."""
        limits = {"quads_per_pair": 1, "permutations": 1, "pool_per_class": 0, "min_images": 2}
        for key, low in limits.items():
            value = getattr(self, key)
            if not isinstance(value, int) or value < low:
                raise AtlasError(f"atlas setting {key} must be an integer >= {low}, got {value!r}")


@dataclass
class AtlasFeatures:
    """The pool images' feature maps and the split's mean face.

    Attributes:
        maps: ``"fused"`` (and ``"local"`` when the model has a CNN branch) -> ``n x C x H
            x W`` float32 maps of the ``n`` pool images.
        labels: ``n`` class indices of the pool images.
        classes: Class names of the dataset.
        class_counts: Images of each class in the split (before pooling).
        mean_face: ``S x S`` mean of every image of the split as the model sees it
            (grey, 0..1).
        crop_pct: The model's centre-crop fraction (where the grid sits on the face).
    """

    maps: dict[str, torch.Tensor]
    labels: np.ndarray
    classes: list[str]
    class_counts: list[int]
    mean_face: np.ndarray
    crop_pct: float = 1.0


@dataclass
class PairMaps:
    """One feature map's result for one pair (module docstring for the definitions).

    Attributes:
        mean_contrast: ``H x W``.
        chance_contrast: ``H x W``.
        separation: Face mean of ``mean_contrast - chance_contrast``.
        separation_p: Its permutation p-value.
        scores: Region -> ``{"share", "uniform", "lift", "p_value", "excess",
            "excess_p"}``.
    """

    mean_contrast: np.ndarray
    chance_contrast: np.ndarray
    separation: float
    separation_p: float
    scores: dict[str, dict[str, float]]


@dataclass
class PairResult:
    """One ordered class pair.

    Attributes:
        anchor: Anchor (and positive) class ``X``.
        negative: Negative class ``Y``.
        anchor_images: Images of ``X`` in its pool.
        negative_images: Images of ``Y`` in its pool.
        quads: Quads averaged (0 when not measurable).
        measurable: Whether both classes had enough images.
        reason: Why not, when not.
        maps: ``"fused"`` / ``"local"`` -> :class:`PairMaps` (empty when not measurable).
    """

    anchor: str
    negative: str
    anchor_images: int
    negative_images: int
    quads: int = 0
    measurable: bool = True
    reason: str = ""
    maps: dict[str, PairMaps] = field(default_factory=dict)


@dataclass
class Atlas:
    """Every ordered class pair's mean contrast, scores and p-values.

    Attributes:
        classes: Class names.
        class_counts: Images of each class in the split.
        pool_counts: Images of each class compared.
        grid: ``(H, W)``.
        margin: The SQS margin ``m``.
        sqs: ``tau`` and ``normalize`` of the similarity used.
        settings: The :class:`AtlasSettings`.
        region_weights: Region -> ``H x W`` cell weights.
        mean_face: ``S x S`` mean face (grey, 0..1).
        crop_pct: The model's centre-crop fraction.
        pairs: One :class:`PairResult` per ordered pair, anchor-major.
        branches: Feature maps measured (``"fused"``, ``"local"``).
        timings: Seconds per stage.
        meta: Checkpoint, dataset and split names, filled by the caller.
    """

    classes: list[str]
    class_counts: list[int]
    pool_counts: list[int]
    grid: tuple[int, int]
    margin: float
    sqs: dict[str, Any]
    settings: AtlasSettings
    region_weights: dict[str, np.ndarray]
    mean_face: np.ndarray
    crop_pct: float
    pairs: list[PairResult]
    branches: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def pair(self, anchor: str, negative: str) -> PairResult:
        """The result of one ordered pair, by class names."""
        for result in self.pairs:
            if result.anchor == anchor and result.negative == negative:
                return result
        raise KeyError(f"no pair ({anchor!r}, {negative!r}); classes are {self.classes}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (maps as nested lists, rounded to 5 decimals)."""
        def grid_list(a: np.ndarray) -> list[list[float]]:
            return np.round(np.asarray(a, dtype=np.float64), 5).tolist()

        pairs = []
        for p in self.pairs:
            row: dict[str, Any] = {k: getattr(p, k) for k in (
                "anchor", "negative", "anchor_images", "negative_images", "quads",
                "measurable", "reason")}
            row["maps"] = {b: {"mean_contrast": grid_list(m.mean_contrast),
                               "chance_contrast": grid_list(m.chance_contrast),
                               "separation": round(m.separation, 6),
                               "separation_p": round(m.separation_p, 6),
                               "scores": m.scores} for b, m in p.maps.items()}
            pairs.append(row)
        return {
            **self.meta, "classes": self.classes, "class_counts": self.class_counts,
            "pool_counts": self.pool_counts, "grid": list(self.grid), "margin": self.margin,
            "sqs": self.sqs, "settings": asdict(self.settings), "crop_pct": self.crop_pct,
            "branches": self.branches,
            "regions": {r: {"cell_weights": grid_list(w), "uniform_share": uniform_share(w)}
                        for r, w in self.region_weights.items()},
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "mean_face": np.round(np.asarray(self.mean_face, dtype=np.float64), 4).tolist(),
            "pairs": pairs,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Atlas:
        """The atlas of a :meth:`to_dict` record (``atlas.json``), to draw it again.

        Raises:
            AtlasError: When a key the figures need is missing (naming it).
        """
        try:
            pairs = [PairResult(
                p["anchor"], p["negative"], p["anchor_images"], p["negative_images"],
                p["quads"], p["measurable"], p["reason"],
                {b: PairMaps(np.asarray(m["mean_contrast"]), np.asarray(m["chance_contrast"]),
                             m["separation"], m["separation_p"], m["scores"])
                 for b, m in p["maps"].items()}) for p in record["pairs"]]
            meta_keys = ("checkpoint", "dataset", "split", "images", "limit")
            return cls(
                classes=list(record["classes"]), class_counts=list(record["class_counts"]),
                pool_counts=list(record["pool_counts"]), grid=tuple(record["grid"]),
                margin=float(record["margin"]), sqs=dict(record["sqs"]),
                settings=AtlasSettings(**record["settings"]),
                region_weights={r: np.asarray(v["cell_weights"])
                                for r, v in record["regions"].items()},
                mean_face=np.asarray(record["mean_face"]), crop_pct=float(record["crop_pct"]),
                pairs=pairs, branches=list(record["branches"]),
                timings=dict(record.get("timings_s", {})),
                meta={k: record[k] for k in meta_keys if k in record})
        except KeyError as exc:
            raise AtlasError(f"atlas record has no {exc.args[0]!r}: expected what "
                             "Atlas.to_dict writes (atlas.json of sqsnet atlas)") from None


def pool_indices(labels: np.ndarray, num_classes: int, per_class: int, seed: int) -> np.ndarray:
    """A seeded sample of at most ``per_class`` indices of each class, sorted.

    Args:
        labels: ``N`` class indices.
        num_classes: ``K``.
        per_class: Images kept per class (0: all).
        seed: Seed of the sample.

    Returns:
        Sorted int64 indices into ``labels``.
    """
    rng = np.random.default_rng([seed, 7])
    keep = []
    for k in range(num_classes):
        idx = np.flatnonzero(labels == k)
        if per_class and idx.size > per_class:
            idx = rng.choice(idx, size=per_class, replace=False)
        keep.append(idx)
    return np.sort(np.concatenate(keep)) if keep else np.empty(0, dtype=np.int64)


def _mean_face(total: torch.Tensor, count: int) -> np.ndarray:
    """Grey mean face from the sum of normalised images (the normalisation is linear)."""
    mean = total / max(count, 1)  # C x S x S, normalised
    c = mean.shape[0]
    m = torch.tensor(IMAGENET_DEFAULT_MEAN[:c]).view(-1, 1, 1)
    s = torch.tensor(IMAGENET_DEFAULT_STD[:c]).view(-1, 1, 1)
    return (mean * s + m).clamp(0, 1).mean(0).numpy()


@torch.no_grad()
def extract_features(
    model: Any,
    dataset: Dataset,
    labels: np.ndarray,
    classes: list[str],
    settings: AtlasSettings,
    batch_size: int = 256,
    progress: bool = False,
) -> AtlasFeatures:
    """Forward every pool image once; average every image into the mean face.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (put in eval mode; its mode is restored).
        dataset: Yields ``(image tensor from the model's eval transform, label)``.
        labels: ``N`` class index of each dataset item.
        classes: Class names.
        settings: Pool size and seed.
        batch_size: Images per forward pass.
        progress: Show a tqdm bar.

    Returns:
        :class:`AtlasFeatures` of the pool images.
    """
    pool = pool_indices(labels, len(classes), settings.pool_per_class, settings.seed)
    in_pool = np.zeros(len(labels), dtype=bool)
    in_pool[pool] = True
    device = next(iter(model.parameters()), torch.empty(0)).device
    maps: dict[str, list[torch.Tensor]] = {"fused": [], "local": []}
    total: torch.Tensor | None = None
    start = 0
    was_training = model.training
    model.eval()
    try:
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
        for x, _ in tqdm(loader, desc="atlas: features", disable=not progress, leave=False):
            total = x.sum(0) if total is None else total + x.sum(0)
            keep = torch.from_numpy(in_pool[start:start + x.shape[0]])
            start += x.shape[0]
            if not bool(keep.any()):
                continue
            with branch_output(model, "local_branch") as local:
                maps["fused"].append(model.forward_features(x[keep].to(device)).float().cpu())
            if local:
                maps["local"].append(torch.cat(local).float().cpu())
    finally:
        model.train(was_training)
    if total is None:
        raise AtlasError("the dataset split holds no images")
    _LOG.info("atlas: features of %d pool images (of %d) computed", len(pool), start)
    counts = np.bincount(labels, minlength=len(classes)).tolist()
    return AtlasFeatures(
        maps={k: torch.cat(v) for k, v in maps.items() if v}, labels=labels[pool],
        classes=list(classes), class_counts=counts, mean_face=_mean_face(total, start),
        crop_pct=float(getattr(model.cfg, "crop_pct", 1.0)))


def similarity_table(
    features: torch.Tensor,
    module: SpatialQuadSimilarity,
    block: int | None = None,
    progress: bool = False,
    desc: str = "atlas: similarities",
) -> torch.Tensor:
    """The SQS similarity of every two images at every location.

    Calls the module's own ``spatial_similarity`` (its ``tau`` and ``normalize``) on
    broadcast blocks: rows ``i`` against all columns ``j >= i``; the table is symmetric
    (``(a - b)^2 = (b - a)^2`` exactly), so the other half is a copy.

    Args:
        features: ``n x C x H x W``.
        module: The SQS module whose similarity is used.
        block: Rows per call; each call holds ``block x C x n x HW`` floats (default: up to
            16 rows within :data:`BLOCK_FLOATS`).
        progress: Show a tqdm bar.
        desc: Its label.

    Returns:
        ``n x n x (H W)`` float32 similarities in ``(0, 1]``.
    """
    n, c = features.shape[:2]
    flat = features.reshape(n, c, -1).float()  # n x C x HW
    if block is None:
        block = max(1, min(16, BLOCK_FLOATS // max(1, c * n * flat.shape[-1])))
    cols = flat.permute(1, 0, 2).contiguous()  # C x n x HW
    table = torch.empty(n, n, flat.shape[-1])
    with torch.no_grad():
        for i in tqdm(range(0, n, block), desc=desc, disable=not progress, leave=False):
            rows = flat[i:i + block].unsqueeze(2)  # b x C x 1 x HW
            sims = spatial_similarity(rows, cols[None, :, i:], module.tau, module.normalize)
            table[i:i + block, i:] = sims
            table[i:, i:i + block] = sims.transpose(0, 1)
    return table


def _quad_positions(rng: np.random.Generator, nx: int, ny: int, n: int) -> tuple[np.ndarray, ...]:
    """Positions ``(a, p, n1, n2)`` of ``n`` quads in pools of sizes ``nx`` and ``ny``."""
    a = rng.integers(0, nx, n)
    p = (a + 1 + rng.integers(0, nx - 1, n)) % nx  # another image of X
    n1 = rng.integers(0, ny, n)
    n2 = (n1 + 1 + rng.integers(0, ny - 1, n)) % ny  # another image of Y
    return a, p, n1, n2


def _mean_contrast(table: torch.Tensor, xs: np.ndarray, ys: np.ndarray,
                   pos: tuple[np.ndarray, ...]) -> np.ndarray:
    """Mean contrast over quads; ``xs``/``ys``: ``[P x] nx`` / ``ny`` table indices."""
    a, p, n1, n2 = pos
    ia = torch.from_numpy(xs[..., a])
    s_ap = table[ia, torch.from_numpy(xs[..., p])]
    s_an = torch.maximum(table[ia, torch.from_numpy(ys[..., n1])],
                         table[ia, torch.from_numpy(ys[..., n2])])
    return (s_ap - s_an).mean(dim=-2).double().numpy()  # [P x] HW


def _pair_maps(table: torch.Tensor, xs: np.ndarray, ys: np.ndarray, grid: tuple[int, int],
               weights: dict[str, np.ndarray], settings: AtlasSettings,
               rngs: tuple[np.random.Generator, np.random.Generator]) -> PairMaps:
    """Observed and shuffled mean contrasts of one pair on one feature map, and the tests."""
    pos = _quad_positions(rngs[0], xs.size, ys.size, settings.quads_per_pair)
    observed = _mean_contrast(table, xs, ys, pos)
    pooled = np.concatenate([xs, ys])
    order = np.argsort(rngs[1].random((settings.permutations, pooled.size)), axis=1)
    shuffled = pooled[order]
    perms = _mean_contrast(table, shuffled[:, :xs.size], shuffled[:, xs.size:], pos)
    chance = perms.mean(axis=0)
    h, w = grid
    gain = (observed - chance).reshape(h, w)  # D
    gain_k = (perms - chance).reshape(-1, h, w)  # D_k
    scores = {region: _region_scores(gain, gain_k, weights[region]) for region in REGIONS}
    separation = float(gain.mean())
    sep_p = _p_value(gain_k.mean(axis=(1, 2)), separation)
    return PairMaps(observed.reshape(h, w), chance.reshape(h, w), separation, sep_p, scores)


def _p_value(null: np.ndarray, observed: float) -> float:
    """One-sided permutation p-value ``(1 + #{null >= observed}) / (1 + P)``."""
    return (1 + int(np.sum(null >= observed - 1e-12))) / (1 + null.size)


def _region_scores(gain: np.ndarray, gain_k: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Share of ``D+`` and excess of ``D`` in one region, each with its p-value."""
    share = float(mass_share(np.clip(gain, 0, None), weights))
    shares_k = mass_share(np.clip(gain_k, 0, None), weights)
    uniform = uniform_share(weights)
    norm = float(weights.sum())
    excess = float((gain * weights).sum() / norm - gain.mean())
    excess_k = (gain_k * weights).sum(axis=(1, 2)) / norm - gain_k.mean(axis=(1, 2))
    return {"share": round(share, 6), "uniform": round(uniform, 6),
            "lift": round(share / uniform, 6) if uniform > 0 else float("nan"),
            "p_value": round(_p_value(shares_k, share), 6),
            "excess": round(excess, 6), "excess_p": round(_p_value(excess_k, excess), 6)}


def compute_atlas(
    features: AtlasFeatures,
    module: SpatialQuadSimilarity,
    margin: float,
    settings: AtlasSettings | None = None,
    progress: bool = False,
) -> Atlas:
    """The atlas of every ordered class pair from pooled feature maps.

    Args:
        features: From :func:`extract_features` (or hand-built, for tests).
        module: The SQS module whose similarity is used (the model's own).
        margin: The SQS margin ``m`` (recorded; it centres the figures).
        settings: Quads, shufflings, seed, pool and minimum sizes.
        progress: Show tqdm bars.

    Returns:
        :class:`Atlas` with one :class:`PairResult` per ordered pair of distinct classes.
    """
    settings = settings or AtlasSettings()
    settings.check()
    if "fused" not in features.maps:
        raise AtlasError("no pool images: the split holds none of the model's classes")
    grid = tuple(int(v) for v in features.maps["fused"].shape[-2:])
    weights = cell_weights(grid, features.crop_pct)  # type: ignore[arg-type]
    timings: dict[str, float] = {}
    tables = {}
    for branch in BRANCH_KEYS:
        if branch in features.maps:
            t0 = time.perf_counter()
            tables[branch] = similarity_table(features.maps[branch], module, progress=progress,
                                              desc=f"atlas: {branch} similarities")
            timings[f"table_{branch}_s"] = time.perf_counter() - t0
            n = tables[branch].shape[0]
            _LOG.info("atlas: %s similarities of %d x %d pool images in %.1f s", branch, n, n,
                      timings[f"table_{branch}_s"])
    labels = np.asarray(features.labels)
    members = [np.flatnonzero(labels == k) for k in range(len(features.classes))]
    t0 = time.perf_counter()
    pairs = []
    todo = [(x, y) for x in range(len(features.classes))
            for y in range(len(features.classes)) if x != y]
    for x, y in tqdm(todo, desc="atlas: pairs", disable=not progress, leave=False):
        pairs.append(_pair(features.classes, x, y, members, tables, grid, weights, settings))
    timings["pairs_s"] = time.perf_counter() - t0
    _LOG.info("atlas: %d ordered pairs (%d measurable), %d quads and %d shufflings each, "
              "in %.1f s", len(pairs), sum(p.measurable for p in pairs),
              settings.quads_per_pair, settings.permutations, timings["pairs_s"])
    return Atlas(
        classes=list(features.classes), class_counts=list(features.class_counts),
        pool_counts=[int(m.size) for m in members], grid=grid,  # type: ignore[arg-type]
        margin=float(margin), sqs={"tau": float(module.tau), "normalize": module.normalize},
        settings=settings, region_weights=weights, mean_face=features.mean_face,
        crop_pct=features.crop_pct, pairs=pairs, branches=list(tables), timings=timings)


def _pair(classes: list[str], x: int, y: int, members: list[np.ndarray],
          tables: dict[str, torch.Tensor], grid: tuple[int, int],
          weights: dict[str, np.ndarray], settings: AtlasSettings) -> PairResult:
    xs, ys = members[x], members[y]
    result = PairResult(classes[x], classes[y], int(xs.size), int(ys.size))
    short = [f"{classes[k]} has {members[k].size}" for k in (x, y)
             if members[k].size < settings.min_images]
    if short:
        result.measurable = False
        result.reason = (f"{' and '.join(short)} image(s); at least {settings.min_images} "
                         "of each class are needed")
        return result
    result.quads = settings.quads_per_pair
    for branch, table in tables.items():
        # the same quads and shufflings for both feature maps, so they compare pair-wise
        rngs = (np.random.default_rng([settings.seed, x, y, 0]),
                np.random.default_rng([settings.seed, x, y, 1]))
        result.maps[branch] = _pair_maps(table, xs, ys, grid, weights, settings, rngs)
    return result
