"""Evaluation: predictions, metrics, TTA, multi-seed summaries and paired t-tests.

Metrics come from scikit-learn and statistics from scipy; this module only glues them to
SQSNet's outputs. Cross-dataset evaluation matches classes by canonical name
(:func:`sqsnet.data.labels.class_mapping`): only shared classes are scored, and the dropped
ones are reported.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from sqsnet.data.labels import class_mapping
from sqsnet.data.transforms import tta_views
from sqsnet.utils.io import atomic_write_text

__all__ = [
    "tta_predict",
    "predict_loader",
    "compute_metrics",
    "summarize_seeds",
    "paired_ttest",
    "TTestResult",
    "McNemarResult",
    "mcnemar_test",
    "evaluate_dataset",
    "write_predictions_csv",
    "read_predictions_csv",
]

_LOG = logging.getLogger(__name__)


@torch.no_grad()
def tta_predict(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, crop: float = 0.9
) -> torch.Tensor:
    """Mean softmax probabilities of ``model`` over the five test-time views.

    The views are :func:`sqsnet.data.transforms.tta_views` (identity, flip, centre zoom and
    two shifts). The model's train/eval mode is left as it is (call ``model.eval()`` first);
    views are run one at a time.

    Args:
        model: Maps ``B x C x H x W`` to logits ``B x K``.
        x: Normalised images ``B x C x H x W``.
        crop: Side fraction kept by the zoom and shift views.

    Returns:
        ``B x K`` float32 probabilities, rows summing to 1.
    """
    return torch.stack([model(v).float().softmax(-1) for v in tta_views(x, crop=crop)]).mean(0)


@torch.no_grad()
def predict_loader(
    model: torch.nn.Module,
    loader: DataLoader,
    device: str | torch.device = "cpu",
    tta: bool = False,
    progress: bool = False,
    desc: str = "eval",
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities for every sample of a loader.

    Args:
        model: Returns ``B x K`` logits from ``model(x)``.
        loader: Yields ``(images B x 3 x S x S, labels)``; labels may be hard ``B`` or
            soft ``B x K`` (their argmax is returned).
        device: Device to run on.
        tta: Average the softmax over the five TTA views (:func:`tta_predict`).
        progress: Show a tqdm bar.
        desc: Bar label.

    Returns:
        ``(probs N x K float32, targets N int64)``.
    """
    model.eval()
    probs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        x = x.to(device, non_blocking=True)
        if tta:
            p = tta_predict(model, x)
        else:
            p = model(x).float().softmax(-1)
        probs.append(p.cpu().numpy())
        y = y.argmax(-1) if y.ndim == 2 else y
        targets.append(y.cpu().numpy())
    if not probs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return np.concatenate(probs).astype(np.float32), np.concatenate(targets).astype(np.int64)


def compute_metrics(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
) -> dict[str, Any]:
    """Accuracy, macro/weighted F1, balanced accuracy, per-class P/R/F1, confusion matrix.

    Args:
        y_true: ``N`` true class indices.
        y_pred: ``N`` predicted class indices.
        class_names: Names of classes ``0..K-1``.

    Returns:
        JSON-serialisable dict (``accuracy``, ``macro_f1``, ``weighted_f1``,
        ``balanced_accuracy``, ``per_class`` {name: {precision, recall, f1, support}},
        ``confusion_matrix`` K x K list, ``n``).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    labels = list(range(len(class_names)))
    if y_true.size == 0:
        raise ValueError("compute_metrics: no samples to score")
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    present = sorted(set(y_true.tolist()))
    return {
        "n": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro",
                                   zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=present, average="weighted",
                                      zero_division=0)),
        # mean recall over the classes present (sklearn's definition, without its warning
        # when a prediction names a class absent from y_true)
        "balanced_accuracy": float(np.mean([recall[c] for c in present])),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "class_names": list(class_names),
    }


def summarize_seeds(values: Iterable[float]) -> dict[str, float]:
    """Mean and sample standard deviation (ddof=1) over seeds.

    Returns:
        ``{"mean", "std", "n"}`` (``std`` is 0 for a single value).
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise ValueError("summarize_seeds: no values")
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": int(arr.size)}


@dataclass
class TTestResult:
    """Paired t-test of ``a - b`` over matched seeds."""

    statistic: float
    pvalue: float
    mean_diff: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly form."""
        return {
            "statistic": self.statistic,
            "pvalue": self.pvalue,
            "mean_diff": self.mean_diff,
            "n": self.n,
        }


def paired_ttest(a: Sequence[float], b: Sequence[float]) -> TTestResult:
    """Paired (dependent) t-test between two sets of runs with matched seeds.

    Args:
        a: Scores of method A, one per seed.
        b: Scores of method B for the same seeds, in the same order.

    Returns:
        :class:`TTestResult` (``nan`` statistic/p for fewer than two pairs or zero variance
        of the differences).

    Raises:
        ValueError: If the two lists differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"paired_ttest: {len(a)} scores vs {len(b)}; seeds must match")
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    diff = a_arr - b_arr
    if a_arr.size < 2 or np.allclose(diff, diff[0]):
        return TTestResult(math.nan, math.nan, float(diff.mean()) if diff.size else math.nan,
                           int(a_arr.size))
    res = stats.ttest_rel(a_arr, b_arr)
    return TTestResult(float(res.statistic), float(res.pvalue), float(diff.mean()),
                       int(a_arr.size))


@dataclass
class McNemarResult:
    """Exact McNemar test of two models scored on the same samples."""

    a_only: int
    b_only: int
    pvalue: float
    accuracy_diff: float
    n: int

    def as_dict(self) -> dict[str, float]:
        """JSON-friendly form."""
        return {"a_only": self.a_only, "b_only": self.b_only, "pvalue": self.pvalue,
                "accuracy_diff": self.accuracy_diff, "n": self.n}


def mcnemar_test(correct_a: Sequence[bool] | np.ndarray,
                 correct_b: Sequence[bool] | np.ndarray) -> McNemarResult:
    """Exact (binomial) McNemar test: do two trained models differ on one test set?

    Only the discordant samples count: under the null hypothesis each is equally likely to
    be one that only A gets right or one that only B gets right. This compares two fixed
    models on these samples; it says nothing about how a retrained model (another seed)
    would do, for which :func:`paired_ttest` over seeds is the test.

    Args:
        correct_a: Per-sample correctness of model A, ``[N]`` booleans.
        correct_b: The same for model B on the same samples in the same order.

    Returns:
        :class:`McNemarResult` (two-sided p; 1.0 when no sample is discordant).

    Raises:
        ValueError: If the two vectors differ in length or are empty.
    """
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"mcnemar_test: need two equal-length 1-D correctness vectors, got "
                         f"shapes {a.shape} and {b.shape}")
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    discordant = a_only + b_only
    pvalue = 1.0 if discordant == 0 else float(stats.binomtest(a_only, discordant, 0.5).pvalue)
    return McNemarResult(a_only, b_only, pvalue, float(a.mean() - b.mean()), int(a.size))


def evaluate_dataset(
    model: torch.nn.Module,
    dataset: Any,
    model_classes: Sequence[str],
    tta: bool = False,
    batch_size: int = 128,
    num_workers: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
    per_sample: bool = False,
) -> dict[str, Any]:
    """Score a model on a labelled dataset, matching classes by canonical name.

    Only classes both sides know are scored: samples of classes the model lacks are
    dropped (and counted), and the model's extra classes are excluded from its argmax.
    Nothing is silently merged.

    Args:
        model: Returns ``B x K`` logits for the model's ``K`` classes.
        dataset: Yields ``(image tensor, label)`` and has ``.classes``.
        model_classes: The model's class names in logit order.
        tta: Five-view test-time augmentation.
        batch_size / num_workers / device / progress: Loader and runtime settings.
        per_sample: Also return ``per_sample``: one row per scored sample, in dataset
            order, with ``sample`` (its path or identifier), ``target``, ``predicted``
            (class names) and ``probabilities`` over the shared classes (see
            :func:`write_predictions_csv`).

    Returns:
        :func:`compute_metrics` over the shared classes, plus ``dropped`` info
        (``model_only``, ``dataset_only`` class names and ``dropped_samples``).
    """
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    probs, targets = predict_loader(model, loader, device, tta=tta, progress=progress)
    mapping = class_mapping(list(model_classes), list(dataset.classes))
    if not mapping.shared:
        raise ValueError(
            f"the model's classes {list(model_classes)} share no class with the dataset's "
            f"{list(dataset.classes)}"
        )
    # columns of the model's classes that the dataset knows, in dataset order
    shared_target = [dataset.classes.index(c) if c in dataset.classes else -1
                     for c in mapping.shared]
    shared_source = [mapping.target_to_source[t] for t in shared_target]
    keep = np.isin(targets, shared_target)
    sub_probs = probs[keep][:, shared_source]
    target_to_shared = {t: i for i, t in enumerate(shared_target)}
    y_true = np.array([target_to_shared[int(t)] for t in targets[keep]], dtype=np.int64)
    y_pred = sub_probs.argmax(1) if len(y_true) else np.zeros(0, np.int64)
    metrics = compute_metrics(y_true, y_pred, list(mapping.shared))
    metrics["dropped"] = {
        "model_only": list(mapping.source_only),
        "dataset_only": list(mapping.target_only),
        "dropped_samples": int((~keep).sum()),
    }
    metrics["tta"] = bool(tta)
    if per_sample:
        names = list(mapping.shared)
        ids = list(getattr(dataset, "samples", [])) or [str(i) for i in range(len(targets))]
        metrics["per_sample"] = [
            {"sample": ids[i], "target": names[t], "predicted": names[p],
             "probabilities": {n: float(v) for n, v in zip(names, row)}}
            for i, t, p, row in zip(np.flatnonzero(keep), y_true, y_pred, sub_probs)
        ]
    return metrics


def write_predictions_csv(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write :func:`evaluate_dataset`'s ``per_sample`` rows as a CSV file (atomically).

    Columns: ``sample``, ``target``, ``predicted``, ``correct`` (0/1), then ``p_<class>`` for
    every class, so two files of one dataset can be joined on ``sample`` (McNemar's test
    between two models or two settings: :func:`read_predictions_csv`, :func:`mcnemar_test`).

    Returns:
        The written path.
    """
    classes = list(rows[0]["probabilities"]) if rows else []
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["sample", "target", "predicted", "correct", *(f"p_{c}" for c in classes)])
    for r in rows:
        writer.writerow([r["sample"], r["target"], r["predicted"],
                         int(r["target"] == r["predicted"]),
                         *(f"{r['probabilities'][c]:.6f}" for c in classes)])
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def read_predictions_csv(path: str | Path) -> dict[str, bool]:
    """``{sample: correct}`` from a :func:`write_predictions_csv` file.

    Raises:
        ValueError: If the file lacks the ``sample``/``correct`` columns (names the file).
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"sample", "correct"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected a predictions CSV written by sqsnet eval "
                             f"--predictions (columns sample, correct, ...)")
        return {row["sample"]: row["correct"] == "1" for row in reader}
