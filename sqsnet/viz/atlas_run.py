"""``sqsnet atlas``: the SQS atlas of a checkpoint on a dataset split, written to a folder.

:func:`run_atlas` loads the model and the split (the model's own evaluation transform),
forwards the pool images once (:func:`~sqsnet.viz.atlas.extract_features`), computes the
atlas (:func:`~sqsnet.viz.atlas.compute_atlas`) and, given a folder, writes:

* ``atlas.json``: every pair's maps, scores and p-values, the settings, the region
  weights and the time each stage took (:meth:`~sqsnet.viz.atlas.Atlas.to_dict`);
* ``atlas.md``: the table of :func:`report_markdown`;
* ``atlas_<branch>.png`` (mean contrast) and ``atlas_<branch>_lean.png`` (mean minus
  chance, minus its face mean: where the labels help most) for the fused map and the CNN
  branch before fusion (:func:`plot_atlas`),
  as 256-colour PNGs at 100 dpi;
* ``pairs/<X>_vs_<Y>.png`` for the pairs asked for (:func:`plot_atlas_pair`).

Measured on FERPlus Valid (3,191 faces) with the bundled model on 2 CPU cores: see
``BENCHMARKS.md`` (``benchmarks/atlas.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch.utils.data import Subset

from sqsnet.checkpoint import load_model
from sqsnet.data import build_dataset, build_eval_transform
from sqsnet.utils.io import atomic_write_text
from sqsnet.viz._style import DPI
from sqsnet.viz.atlas import Atlas, AtlasError, AtlasSettings, compute_atlas, extract_features
from sqsnet.viz.atlas_plots import plot_atlas, plot_atlas_pair
from sqsnet.viz.plots import save_figure
from sqsnet.viz.similarity import sqs_module

__all__ = ["load_atlas", "parse_pairs", "report_markdown", "run_atlas", "save_atlas"]

_LOG = logging.getLogger(__name__)


def parse_pairs(specs: Sequence[str], classes: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs named ``X:Y`` (anchor class, negative class), or ``all``.

    Args:
        specs: ``["fear:surprise", ...]`` or ``["all"]``.
        classes: The atlas's class names.

    Returns:
        ``(X, Y)`` tuples.

    Raises:
        AtlasError: For a malformed entry or an unknown class (naming the classes).
    """
    if list(specs) == ["all"]:
        return [(x, y) for x in classes for y in classes if x != y]
    out = []
    for spec in specs:
        parts = spec.split(":")
        if len(parts) != 2 or parts[0] == parts[1]:
            raise AtlasError(f"--pairs {spec!r}: expected ANCHOR:NEGATIVE, two different classes")
        unknown = [p for p in parts if p not in classes]
        if unknown:
            raise AtlasError(f"--pairs {spec!r}: unknown class {unknown[0]!r}; the classes are "
                             f"{', '.join(classes)}")
        out.append((parts[0], parts[1]))
    return out


def _share(maps: Any, region: str) -> str:
    s = maps.scores[region]
    return f"{s['share']:.2f} / {s['uniform']:.2f} (p {s['p_value']:.3f})"


def _excess(maps: Any, region: str) -> str:
    s = maps.scores[region]
    return f"{s['excess']:+.3f} (p {s['excess_p']:.3f})"


def report_markdown(atlas: Atlas) -> str:
    """A Markdown table: per pair and feature map, separation and both region statistics.

    One row per ordered pair and feature map (``F``: fused, ``CNN``: before fusion).
    """
    head = ["anchor", "negative", "map", "quads", "separation (p)",
            "mouth D+ share / uniform (p)", "mouth excess (p)",
            "eyes+brows D+ share / uniform (p)", "eyes+brows excess (p)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in atlas.pairs:
        if not p.measurable:
            lines.append(f"| {p.anchor} | {p.negative} | - | 0 | not measurable: {p.reason} "
                         "| | | | |")
            continue
        for branch, m in p.maps.items():
            row = [p.anchor, p.negative, "F" if branch == "fused" else "CNN", str(p.quads),
                   f"{m.separation:+.3f} (p {m.separation_p:.3f})", _share(m, "mouth"),
                   _excess(m, "mouth"), _share(m, "eyes_brows"), _excess(m, "eyes_brows")]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def _save_png(fig: Any, path: Path) -> Path:
    """Write a figure at :data:`DPI` as a 256-colour PNG (a third of the full-colour size)."""
    save_figure(fig, path, dpi=DPI)
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def load_atlas(path: str | Path) -> Atlas:
    """An atlas written by :func:`save_atlas` (its ``atlas.json``, or the folder holding it).

    Raises:
        FileNotFoundError: When there is no such file.
        AtlasError: When the file is not an atlas record.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "atlas.json"
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise AtlasError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    return Atlas.from_dict(record)


def save_atlas(atlas: Atlas, out_dir: str | Path,
               pairs: Sequence[tuple[str, str]] = ()) -> list[Path]:
    """Write the atlas's JSON, table and figures (module docstring).

    Args:
        atlas: The atlas.
        out_dir: Folder (created).
        pairs: Pairs to draw one by one under ``pairs/`` (not-measurable ones are skipped).

    Returns:
        The paths written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "atlas.json", out / "atlas.md"]
    atomic_write_text(written[0], json.dumps(atlas.to_dict(), indent=1))
    atomic_write_text(written[1], report_markdown(atlas))
    for branch in atlas.branches:
        written.append(_save_png(plot_atlas(atlas, branch), out / f"atlas_{branch}.png"))
        written.append(_save_png(plot_atlas(atlas, branch, view="lean"),
                                 out / f"atlas_{branch}_lean.png"))
    for x, y in pairs:
        if atlas.pair(x, y).measurable:
            written.append(_save_png(plot_atlas_pair(atlas, x, y),
                                     out / "pairs" / f"{x}_vs_{y}.png"))
    return written


def run_atlas(
    checkpoint: str = "default",
    dataset: str = "ferplus",
    data_root: str | Path | None = None,
    split: str = "valid",
    out_dir: str | Path | None = None,
    settings: AtlasSettings | None = None,
    limit: int | None = None,
    pairs: Sequence[str] = (),
    batch_size: int = 256,
    device: str = "cpu",
    progress: bool = False,
) -> Atlas:
    """Compute (and write) the SQS atlas of a checkpoint on a dataset split.

    Args:
        checkpoint: ``"default"``, a ``.safetensors`` file or a run folder.
        dataset: Reader name (``ferplus``, ``rafdb``, ``folder``, ...).
        data_root: Dataset folder (``None``: ``$SQSNET_DATA``).
        split: Split name.
        out_dir: Folder for the files (``None``: nothing written).
        settings: :class:`~sqsnet.viz.atlas.AtlasSettings`.
        limit: Use only the first ``limit`` images of the split.
        pairs: ``X:Y`` pairs (or ``["all"]``) to draw one by one.
        batch_size: Images per forward pass.
        device: ``cpu`` or ``cuda[:N]``.
        progress: Show tqdm bars.

    Returns:
        The :class:`~sqsnet.viz.atlas.Atlas` (``timings`` include ``features_s`` and
        ``total_s``; ``meta`` names the checkpoint, dataset and split).
    """
    start = time.perf_counter()
    settings = settings or AtlasSettings()
    settings.check()
    if limit is not None and limit < 1:
        raise AtlasError(f"--limit must be a positive integer, got {limit}")
    model = load_model(checkpoint, device=device)
    transform = build_eval_transform(model.cfg.img_size, crop_pct=model.cfg.crop_pct)
    data = build_dataset(dataset, data_root, split, transform=transform)
    classes = list(data.classes)
    labels = np.asarray(data.targets, dtype=np.int64)
    if limit is not None and limit < len(labels):
        data, labels = Subset(data, range(limit)), labels[:limit]
    chosen = parse_pairs(pairs, classes) if pairs else []
    _LOG.info("atlas: %d images of %s/%s, %d classes", len(labels), dataset, split, len(classes))
    t0 = time.perf_counter()
    features = extract_features(model, data, labels, classes, settings, batch_size, progress)
    features_s = time.perf_counter() - t0
    module, _ = sqs_module(model)
    atlas = compute_atlas(features, module, float(model.cfg.sqs.margin), settings, progress)
    atlas.timings = {"features_s": features_s, **atlas.timings,
                     "total_s": time.perf_counter() - start}
    atlas.meta = {"checkpoint": str(checkpoint), "dataset": dataset, "split": split,
                  "images": int(len(labels)), "limit": limit}
    if out_dir is not None:
        t0 = time.perf_counter()
        save_atlas(atlas, out_dir, chosen)
        _LOG.info("atlas: files written to %s in %.1f s", out_dir, time.perf_counter() - t0)
    return atlas
