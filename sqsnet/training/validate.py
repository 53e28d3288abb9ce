"""Scoring a model during and after training: validation every epoch, the test report.

The validation split selects the best checkpoint; the test split, when the dataset has one
apart from validation, is scored once at the end with the selected weights (never used to
select).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from sqsnet.config import Config
from sqsnet.data import DatasetError, build_dataset, model_eval_transform
from sqsnet.diagnostics import BranchRecorder
from sqsnet.evaluate import compute_metrics, predict_loader
from sqsnet.models import SQSNet
from sqsnet.training.distributed import Ranks, gather_predictions

__all__ = ["evaluate", "short_metrics", "score_test_split"]

_LOG = logging.getLogger(__name__)

SHORT_KEYS = ("accuracy", "macro_f1", "weighted_f1", "balanced_accuracy", "loss", "n")
"""The metrics kept in checkpoint metadata and the summary's ``val``/``test`` entries."""


def evaluate(
    model: SQSNet, loader: DataLoader, device: torch.device, class_names: list[str],
    ranks: Ranks, tta: bool = False, branch_spread: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on a loader, gathered over the ranks.

    Args:
        model: The weights to score (live or averaged).
        loader: This rank's share of the split.
        device: Where the model runs.
        class_names: Class names in logit order.
        ranks: The process group; every rank must call this.
        tta: Average the 5 TTA views.
        branch_spread: Also ``local_std`` / ``global_std``: each branch's output spread over
            this rank's images (:class:`sqsnet.diagnostics.BranchRecorder`; one view only,
            absent branches left out).

    Returns:
        :func:`sqsnet.evaluate.compute_metrics` plus ``loss`` (mean negative log
        likelihood) and the spreads asked for.
    """
    recorder = BranchRecorder(model) if branch_spread and not tta else nullcontext()
    with recorder:
        probs, targets = predict_loader(model, loader, device, tta=tta)
    spread = {}
    if isinstance(recorder, BranchRecorder):
        spread = {f"{name.split('_')[0]}_std": s.std_over_images
                  for name, s in recorder.stats().items()}
    probs, targets = gather_predictions(probs, targets, ranks)
    metrics = compute_metrics(targets, probs.argmax(1), class_names)
    eps = 1e-12
    metrics["loss"] = float(-np.log(probs[np.arange(len(targets)), targets] + eps).mean())
    metrics.update(spread)
    return metrics


def short_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The :data:`SHORT_KEYS` of a metrics dict."""
    return {k: metrics[k] for k in SHORT_KEYS if k in metrics}


def score_test_split(
    cfg: Config, data_root: str | None, model: SQSNet, device: torch.device,
    class_names: list[str],
) -> dict[str, Any]:
    """Score the selected (best-on-validation) model on the test split when it exists.

    Returns:
        :func:`short_metrics` with ``available: True``, or ``available: False`` and the
        reason (no test split configured, the validation split, or one that cannot be read).
    """
    d = cfg.data
    if not d.test_split:
        return {"available": False, "reason": "no test split configured (data.test_split)"}
    if d.test_split == d.val_split:
        return {"available": False, "reason": "test split is the validation split"}
    try:
        kwargs = {"num_classes": d.num_classes_affectnet} if d.dataset == "affectnet" else {}
        transform = model_eval_transform(cfg.model)
        test_set = build_dataset(d.dataset, data_root if data_root is not None else d.root,
                                 d.test_split, transform=transform, **kwargs)
    except (DatasetError, ValueError, FileNotFoundError) as exc:
        _LOG.info("no test report: %s", str(exc).splitlines()[0])
        return {"available": False, "reason": str(exc).splitlines()[0]}
    loader = DataLoader(test_set, batch_size=max(d.batch_size, 128), shuffle=False)
    report = short_metrics(evaluate(model, loader, device, class_names, Ranks()))
    report["available"] = True
    return report
