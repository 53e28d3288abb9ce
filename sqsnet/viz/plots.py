"""Result plots: confusion matrices, training curves, per-class F1, seeds, embeddings.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
figure state, nothing shown, safe under the Agg backend and in servers);
:func:`save_figure` writes one to a PNG file. In a notebook a returned figure displays
itself as the last expression of a cell.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch.utils.data import DataLoader, Dataset

from sqsnet.models.losses import LOSS_COLUMNS as TRAIN_LOSS_COLUMNS
from sqsnet.viz._images import ImageLike, model_device, prepare_batch, to_pil
from sqsnet.viz._style import MAX_WIDTH_IN, SMALL_PT, new_figure, styled

__all__ = [
    "extract_features",
    "plot_confusion_matrix",
    "plot_embedding",
    "plot_per_class_f1",
    "plot_predictions",
    "plot_seed_results",
    "plot_training_curves",
    "predict_images",
    "save_figure",
    "seed_summary",
]

_LOG = logging.getLogger(__name__)

LOSS_COLUMNS: tuple[str, ...] = (*TRAIN_LOSS_COLUMNS, "val_loss")
"""The loss curves drawn: the training terms (:data:`sqsnet.models.losses.LOSS_COLUMNS`), then
the validation loss."""
SPREAD_COLUMNS: dict[str, str] = {"val_local_std": "CNN (local)", "val_global_std": "Swin (global)"}
VAL_COLUMNS: tuple[str, ...] = ("val_accuracy", "val_macro_f1", "val_balanced_accuracy")


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write a figure to a PNG file (parent folders are created).

    Args:
        fig: The figure.
        path: Target file (``.png`` is appended when it has no suffix).
        dpi: Resolution.

    Returns:
        The written path.
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi, bbox_inches="tight")
    _LOG.debug("saved figure to %s", path)
    return path


def plot_confusion_matrix(
    cm: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    normalize: bool = True,
    title: str | None = None,
) -> Figure:
    """Confusion matrix as an annotated seaborn heatmap.

    Args:
        cm: ``K x K`` counts, rows = true class, columns = predicted class (as
            :func:`sqsnet.evaluate.compute_metrics` returns it).
        class_names: ``K`` names.
        normalize: Show each row as fractions of its true class (recall on the diagonal);
            rows without samples stay 0.
        title: Figure title.

    Returns:
        A :class:`~matplotlib.figure.Figure`.
    """
    counts = np.asarray(cm, dtype=np.float64)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"confusion matrix has shape {counts.shape}, expected ({k}, {k})")
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
        fmt = ".2f"
    else:
        values, fmt = counts, ".0f"
    side = min(max(4.0, 0.7 * k + 2.0), MAX_WIDTH_IN - 1.0)
    with styled():  # 100 dpi, no text under 11 px as shown
        fig = new_figure(side + 1.0, side)
        ax = fig.subplots()
        sns.heatmap(values, annot=True, fmt=fmt, cmap="Blues", square=True, ax=ax,
                    xticklabels=list(class_names), yticklabels=list(class_names),
                    vmin=0.0, vmax=1.0 if normalize else None, cbar=True,
                    annot_kws={"fontsize": SMALL_PT})
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.tick_params(axis="x", rotation=45)
        ax.tick_params(axis="y", rotation=0)
        total = counts.sum()
        acc = float(np.trace(counts) / total) if total else float("nan")
        ax.set_title(title or f"confusion matrix ({'row-normalised' if normalize else 'counts'}), "
                     f"accuracy {acc:.3f}")
    return fig


def plot_training_curves(metrics: str | Path | pd.DataFrame) -> Figure:
    """Loss terms and validation metrics per epoch from a run's ``metrics.csv``.

    Left: every loss column present (:data:`LOSS_COLUMNS`: ``train_loss`` = total,
    ``train_ce``, ``train_sqs_ce``, ``train_sqs`` = L_SQS, ``train_kd``, ``val_loss``). Middle: validation accuracy, macro-F1
    and balanced accuracy, with the best epoch marked. Right, for runs that logged it: each
    branch's output spread over the validation images (log scale; a branch whose curve falls
    towards 0 has collapsed to a constant map, :mod:`sqsnet.diagnostics`).

    Args:
        metrics: Path of ``metrics.csv`` (columns ``sqsnet.training.METRIC_FIELDS``), a run
            folder holding one, or a DataFrame with an ``epoch`` column.

    Returns:
        A :class:`~matplotlib.figure.Figure` (a notice when no epoch is logged yet).
    """
    if isinstance(metrics, pd.DataFrame):
        df = metrics.copy()
        source = "metrics"
    else:
        path = Path(metrics)
        if path.is_dir():
            path = path / "metrics.csv"
        if not path.is_file():
            raise FileNotFoundError(f"no metrics file at {path}: expected a run's metrics.csv")
        df = pd.read_csv(path)
        source = path.parent.name or str(path)
    # each logged branch spread, as numbers (empty cells: NaN), if any epoch has one
    spread = {c: pd.to_numeric(df[c], errors="coerce") for c in SPREAD_COLUMNS
              if c in df.columns}
    spread = {c: values for c, values in spread.items() if (values > 0).any()}
    fig = Figure(figsize=(18 if spread else 12, 4.2), layout="constrained")
    axes = fig.subplots(1, 3 if spread else 2)
    ax_loss, ax_val = axes[0], axes[1]
    if df.empty or "epoch" not in df.columns:
        for ax in (ax_loss, ax_val):
            ax.text(0.5, 0.5, "no epoch logged yet", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"training curves: {source}")
        return fig
    epochs = df["epoch"].to_numpy()
    marker = "o" if len(df) < 30 else None
    for col in LOSS_COLUMNS:
        if col in df.columns and df[col].notna().any():
            style = "--" if col.startswith("val") else "-"
            ax_loss.plot(epochs, df[col], style, marker=marker, ms=3, label=col)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss terms")
    ax_loss.grid(alpha=0.3)
    if ax_loss.lines:
        ax_loss.legend(fontsize=8)
    for col in VAL_COLUMNS:
        if col in df.columns and df[col].notna().any():
            ax_val.plot(epochs, df[col], marker=marker, ms=3, label=col)
    if "val_accuracy" in df.columns and df["val_accuracy"].notna().any():
        best = int(df["val_accuracy"].to_numpy().argmax())
        ax_val.axvline(epochs[best], color="gray", ls=":", lw=1)
        ax_val.annotate(f"best {df['val_accuracy'].iloc[best]:.4f} @ {epochs[best]}",
                        (epochs[best], df["val_accuracy"].iloc[best]),
                        textcoords="offset points", xytext=(4, -12), fontsize=8)
    for ax in (ax_loss, ax_val):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_val.set_xlabel("epoch")
    ax_val.set_title("validation")
    ax_val.grid(alpha=0.3)
    if ax_val.lines:
        ax_val.legend(fontsize=8)
    if spread:
        ax_spread = axes[2]
        for col, values in spread.items():
            ax_spread.plot(epochs, values.where(values > 0), marker=marker, ms=3,
                           label=SPREAD_COLUMNS[col])
        ax_spread.set_yscale("log")
        ax_spread.set_xlabel("epoch")
        ax_spread.set_ylabel("output std over images")
        ax_spread.set_title("branch output spread (validation)")
        ax_spread.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_spread.grid(alpha=0.3)
        ax_spread.legend(fontsize=8)
    fig.suptitle(f"training curves: {source}")
    return fig


def _per_class(metrics: Mapping[str, Any]) -> dict[str, float] | None:
    """Per-class F1 from ``compute_metrics`` output (or a summary holding it)."""
    if "per_class" in metrics:
        return {name: float(v["f1"]) for name, v in metrics["per_class"].items()}
    for key in ("val_full", "test_full", "metrics"):
        inner = metrics.get(key)
        if isinstance(inner, Mapping) and "per_class" in inner:
            return _per_class(inner)
    return None


def plot_per_class_f1(
    metrics: Mapping[str, Any], title: str | None = None
) -> Figure:
    """Per-class F1 as bars, for one run or grouped for several.

    Args:
        metrics: One run's metrics (``compute_metrics`` output, or a ``summary.json``
            holding ``val_full``) or ``{run_name: metrics}`` for several runs.
        title: Figure title.

    Returns:
        A :class:`~matplotlib.figure.Figure`.

    Raises:
        ValueError: When no per-class metrics are found.
    """
    single = _per_class(metrics)
    if single is not None:
        runs = {"run": single}
    else:
        runs = {}
        for name, value in metrics.items():
            found = _per_class(value) if isinstance(value, Mapping) else None
            if found is None:
                raise ValueError(
                    f"run '{name}' has no per-class metrics: expected compute_metrics output "
                    "with a 'per_class' entry"
                )
            runs[str(name)] = found
    if not runs:
        raise ValueError("plot_per_class_f1: no runs given")
    rows = [{"class": c, "run": run, "f1": f} for run, table in runs.items()
            for c, f in table.items()]
    df = pd.DataFrame(rows)
    n_classes = df["class"].nunique()
    fig = Figure(figsize=(max(6.0, 0.9 * n_classes + 0.5 * len(runs)), 4), layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=df, x="class", y="f1", hue="run" if len(runs) > 1 else None, ax=ax,
                color=None if len(runs) > 1 else "tab:blue")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=30)
    ax.grid(axis="y", alpha=0.3)
    macro = {run: float(np.mean(list(t.values()))) for run, t in runs.items()}
    ax.set_title(title or "per-class F1 (mean over classes: "
                 + ", ".join(f"{r} {m:.3f}" for r, m in macro.items()) + ")", fontsize=10)
    return fig


def _seed_table(
    results: Mapping[str, Any] | pd.DataFrame, metric: str
) -> dict[str, list[float]]:
    """Normalise the accepted inputs to ``{variant: [value per seed]}``."""
    if isinstance(results, pd.DataFrame):
        if "variant" in results.columns and metric in results.columns:
            return {str(k): [float(v) for v in g[metric].dropna()]
                    for k, g in results.groupby("variant", sort=False)}
        return {str(c): [float(v) for v in results[c].dropna()] for c in results.columns}
    if "variants" in results and isinstance(results["variants"], Mapping):
        results = results["variants"]
    table: dict[str, list[float]] = {}
    for name, value in results.items():
        if isinstance(value, Mapping):
            if metric not in value:
                raise ValueError(f"variant '{name}' has no '{metric}' values "
                                 f"(it has {', '.join(map(str, value))})")
            value = value[metric]
        if isinstance(value, (int, float)):
            value = [value]
        table[str(name)] = [float(v) for v in value if v is not None]
    return table


def seed_summary(
    results: Mapping[str, Any] | pd.DataFrame, metric: str = "val_accuracy"
) -> pd.DataFrame:
    """Mean, sample std (ddof 1) and count per variant.

    Args:
        results: As for :func:`plot_seed_results`.
        metric: Metric to summarise.

    Returns:
        DataFrame indexed by variant with columns ``mean``, ``std``, ``n``.
    """
    table = _seed_table(results, metric)
    rows = []
    for name, values in table.items():
        arr = np.asarray(values, dtype=np.float64)
        rows.append({
            "variant": name,
            "mean": float(arr.mean()) if arr.size else float("nan"),
            "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "n": int(arr.size),
        })
    return pd.DataFrame(rows).set_index("variant")


def plot_seed_results(
    results: Mapping[str, Any] | pd.DataFrame,
    metric: str = "val_accuracy",
    title: str | None = None,
) -> Figure:
    """Mean +- std over seeds per variant (error bars), with every seed's value as a dot.

    Args:
        results: ``{variant: [values]}``, ``{variant: {metric: [values], ...}}``, the
            whole ``sqsnet ablate`` results (``{"variants": {...}}``), a long DataFrame
            with ``variant`` and ``metric`` columns, or a wide one (one column per
            variant).
        metric: Metric to plot (used for dict-of-dicts and long DataFrames).
        title: Figure title.

    Returns:
        A :class:`~matplotlib.figure.Figure`. Error bars are the sample standard deviation
        (ddof 1); a single seed gets none.
    """
    table = _seed_table(results, metric)
    if not table:
        raise ValueError("plot_seed_results: no variants given")
    summary = seed_summary(table, metric)
    names = list(table)
    fig = Figure(figsize=(max(5.0, 1.3 * len(names) + 1.5), 4.2), layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(names))
    means = summary["mean"].to_numpy()
    stds = summary["std"].to_numpy()
    # Points with error bars, not bars: the y axis is zoomed to the values, and bar
    # lengths from a cut axis would exaggerate differences.
    ax.errorbar(xs, means, yerr=stds, fmt="D", ms=8, capsize=8, color="tab:blue",
                elinewidth=1.8, zorder=2, label="mean ± std")
    rng = np.random.default_rng(0)
    for x, name in zip(xs, names):
        vals = np.asarray(table[name])
        ax.scatter(x + 0.15 + rng.uniform(-0.04, 0.04, vals.size), vals, s=14,
                   color="black", alpha=0.7, zorder=3, label="seeds" if x == 0 else None)
    for x, m, s, n in zip(xs, means, stds, summary["n"]):
        if math.isfinite(m):
            ax.annotate(f"{m:.4f}\n± {s:.4f} (n={n})", (x, m + s), ha="center",
                        va="bottom", fontsize=8, xytext=(0, 3), textcoords="offset points")
    finite = [v for vals in table.values() for v in vals if math.isfinite(v)]
    if finite:
        lo, hi = min(finite), max(finite)
        pad = max(0.02, 0.6 * (hi - lo))
        ax.set_ylim(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + 1.5 * pad)
    ax.set_xticks(xs, names, rotation=20)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_ylabel(metric)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or f"{metric}: mean ± std over seeds")
    return fig


@torch.no_grad()
def extract_features(
    model: Any,
    loader_or_dataset: DataLoader | Dataset,
    max_samples: int = 1000,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled fused features (the base classifier's input) for up to ``max_samples`` images.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`; run in eval mode (mode restored).
        loader_or_dataset: A DataLoader or Dataset yielding ``(image tensor, label)`` with
            the model's eval transform applied; labels may be soft (their argmax is used).
        max_samples: Stop after this many images (a Dataset is read in order, from 0).
        batch_size: Batch size when a Dataset is given.

    Returns:
        ``(features N x d3 float32, labels N int64)`` from
        ``model.forward_head(model.forward_features(x), pre_logits=True)``.
    """
    if isinstance(loader_or_dataset, DataLoader):
        loader = loader_or_dataset
    else:
        n = min(len(loader_or_dataset), max_samples)  # type: ignore[arg-type]
        subset = torch.utils.data.Subset(loader_or_dataset, range(n))
        loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=0)
    device = model_device(model)
    was_training = model.training
    model.eval()
    feats: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    seen = 0
    try:
        for x, y in loader:
            if seen >= max_samples:
                break
            x = x[: max_samples - seen].to(device)
            y = torch.as_tensor(y)[: x.shape[0]]
            if y.ndim == 2:
                y = y.argmax(-1)
            pooled = model.forward_head(model.forward_features(x), pre_logits=True)
            feats.append(pooled.float().cpu().numpy())
            labels.append(y.cpu().numpy().astype(np.int64))
            seen += x.shape[0]
    finally:
        model.train(was_training)
    if not feats:
        return np.zeros((0, int(getattr(model, "num_features", 0))), np.float32), np.zeros(
            0, np.int64)
    return np.concatenate(feats), np.concatenate(labels)


def plot_embedding(
    features: np.ndarray,
    labels: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    method: str = "tsne",
    seed: int = 0,
    title: str | None = None,
) -> Figure:
    """2-D embedding of feature vectors, coloured by class.

    Args:
        features: ``N x D`` (e.g. from :func:`extract_features`).
        labels: ``N`` class indices.
        class_names: Names of the classes.
        method: ``"tsne"`` (scikit-learn, perplexity ``min(30, (N - 1) / 3)`` so that small
            ``N`` works) or ``"pca"``.
        seed: Random state.
        title: Figure title.

    Returns:
        A :class:`~matplotlib.figure.Figure`.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features must be N x D with N labels, got {x.shape} and {y.shape}")
    if x.shape[0] < 3:
        raise ValueError("plot_embedding needs at least 3 samples")
    if method == "tsne":
        perplexity = float(min(30.0, max(1.0, (x.shape[0] - 1) / 3.0)))
        emb = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                   random_state=seed).fit_transform(x)
        label = f"t-SNE (perplexity {perplexity:.0f})"
    elif method == "pca":
        emb = PCA(n_components=2, random_state=seed).fit_transform(x)
        label = "PCA"
    else:
        raise ValueError(f"unknown embedding method '{method}': expected 'tsne' or 'pca'")
    fig = Figure(figsize=(6.5, 5.5), layout="constrained")
    ax = fig.subplots()
    palette = sns.color_palette("tab10", n_colors=max(len(class_names), 1))
    for k, name in enumerate(class_names):
        mask = y == k
        if mask.any():
            ax.scatter(emb[mask, 0], emb[mask, 1], s=10, color=palette[k % len(palette)],
                       label=f"{name} ({int(mask.sum())})", alpha=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, markerscale=1.5, loc="best")
    ax.set_title(title or f"{label} of {x.shape[0]} pooled features")
    return fig


@torch.no_grad()
def predict_images(model: Any, images: Sequence[ImageLike]) -> np.ndarray:
    """Class probabilities for a few images (model's eval transform, base classifier).

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        images: ``N`` images (PIL, arrays or tensors, any size).

    Returns:
        ``N x K`` float32 probabilities.
    """
    if len(images) == 0:
        return np.zeros((0, int(model.num_classes)), np.float32)
    was_training = model.training
    model.eval()
    try:
        probs = model(prepare_batch(model, images)).float().softmax(-1)
    finally:
        model.train(was_training)
    return probs.cpu().numpy()


def plot_predictions(
    images: Sequence[ImageLike],
    probs: np.ndarray,
    class_names: Sequence[str],
    true_labels: Sequence[int | str] | None = None,
    top_k: int | None = None,
) -> Figure:
    """Faces with their class probabilities as horizontal bars.

    Args:
        images: ``N`` images.
        probs: ``N x K`` probabilities.
        class_names: ``K`` names.
        true_labels: Optional true class (index or name) per image.
        top_k: Show only the ``top_k`` most probable classes (default: all).

    Returns:
        A :class:`~matplotlib.figure.Figure` with one column pair per image.
    """
    probs = np.asarray(probs, dtype=np.float64)
    n = len(images)
    if probs.shape[0] != n:
        raise ValueError(f"{n} images but {probs.shape[0]} probability rows")
    k = probs.shape[1]
    shown = min(top_k or k, k)
    cols = min(n, 3)
    rows = math.ceil(n / cols) if n else 1
    fig = Figure(figsize=(4.6 * cols, 2.2 * rows + 0.2 * shown), layout="constrained")
    grid = fig.add_gridspec(rows, 2 * cols, width_ratios=[1, 1.5] * cols)
    for i in range(n):
        r, c = divmod(i, cols)
        ax_img = fig.add_subplot(grid[r, 2 * c])
        ax_bar = fig.add_subplot(grid[r, 2 * c + 1])
        ax_img.imshow(to_pil(images[i]))
        ax_img.set_xticks([])
        ax_img.set_yticks([])
        order = np.argsort(-probs[i])[:shown][::-1]
        pred = int(order[-1])
        colours = ["tab:orange" if j == pred else "tab:blue" for j in order]
        ax_bar.barh([class_names[j] for j in order], probs[i, order], color=colours)
        ax_bar.set_xlim(0, 1)
        ax_bar.tick_params(labelsize=8)
        title = f"pred {class_names[pred]} ({probs[i, pred]:.2f})"
        if true_labels is not None:
            t = true_labels[i]
            t_name = class_names[int(t)] if isinstance(t, (int, np.integer)) else str(t)
            title = f"true {t_name}\n{title}"
            ax_img.set_title(title, fontsize=9,
                             color="tab:green" if t_name == class_names[pred] else "tab:red")
        else:
            ax_img.set_title(title, fontsize=9)
    return fig
