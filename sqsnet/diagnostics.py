"""How much a trained hybrid uses each branch: output spread and mean-ablation.

A branch whose output barely changes from image to image tells the fused classifier nothing
about the image, even if its values are large. Two measurements make that visible:

* :class:`BranchRecorder` / :func:`branch_statistics`: each branch's output scale (mean
  absolute value) and its *spread over images* (the standard deviation over images of every
  channel at every location, averaged over channels and locations). Training logs the spread
  of both branches at every validation (``val_local_std``, ``val_global_std`` in
  ``metrics.csv``), so a branch that collapses shows when it does.
* :func:`branch_knockout`: accuracy with one branch's output replaced by its mean over the
  split (:func:`mean_ablated`), which removes everything image-specific from it; and, for
  a model trained with an auxiliary classifier on its global branch, that branch's own score
  (:class:`GlobalAuxClassifier`).

``scripts/branch_knockout.py`` is the command-line front end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from sqsnet.evaluate import compute_metrics, predict_loader

__all__ = ["BRANCHES", "BranchStats", "BranchRecorder", "GlobalAuxClassifier",
           "branch_statistics", "mean_ablated", "branch_knockout"]

BRANCHES = ("local_branch", "global_branch")
"""Attribute names of an :class:`~sqsnet.models.SQSNet`'s two branches."""


@dataclass
class BranchStats:
    """One branch's output over a set of images.

    Attributes:
        mean: ``C x H x W`` mean output map.
        abs_mean: Mean absolute value over images, channels and locations.
        std_over_images: Sample standard deviation over images, averaged over channels and
            locations (0 for a branch that returns the same map for every image).
        count: Images seen.
    """

    mean: torch.Tensor
    abs_mean: float
    std_over_images: float
    count: int


class BranchRecorder:
    """Accumulates the outputs of a model's branches while it runs (forward hooks).

    Use as a context manager around forward passes; read :meth:`stats` afterwards::

        with BranchRecorder(model) as rec:
            model(x)
        rec.stats()["global_branch"].std_over_images

    Sums are kept in float64 per output element, so memory is three ``C x H x W`` maps per
    branch whatever the number of images.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` (absent branches are skipped).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._sums: dict[str, list[torch.Tensor]] = {}
        self._counts: dict[str, int] = {}
        self._handles: list[Any] = []

    def __enter__(self) -> BranchRecorder:
        for name in BRANCHES:
            branch = getattr(self.model, name, None)
            if branch is not None:
                self._handles.append(branch.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, out: Any) -> None:
            out = _branch_map(out).detach().double()
            parts = [out.sum(0), (out * out).sum(0), out.abs().sum(0)]
            old = self._sums.get(name)
            self._sums[name] = parts if old is None else [a + b for a, b in zip(old, parts)]
            self._counts[name] = self._counts.get(name, 0) + out.shape[0]
        return hook

    def stats(self) -> dict[str, BranchStats]:
        """Statistics of every branch that ran at least once, keyed by attribute name."""
        out = {}
        for name, (total, squares, absolute) in self._sums.items():
            n = self._counts[name]
            mean = total / n
            var = (squares / n - mean * mean).clamp_min(0) * n / max(n - 1, 1)
            out[name] = BranchStats(mean=mean.float().cpu(), abs_mean=float(absolute.mean() / n),
                                    std_over_images=float(var.sqrt().mean()), count=n)
        return out


def _branch_map(out: Any) -> torch.Tensor:
    """A branch's own map from its output (a tapped branch returns ``(map, stage)``)."""
    return out[0] if isinstance(out, tuple) else out


@torch.no_grad()
def branch_statistics(model: nn.Module, loader: DataLoader,
                      device: str | torch.device = "cpu") -> dict[str, BranchStats]:
    """Each branch's output statistics over a loader, one view per image.

    Args:
        model: An :class:`~sqsnet.models.SQSNet`.
        loader: Yields ``(images B x 3 x S x S, labels)``.
        device: Device to run on.

    Returns:
        ``{"local_branch" | "global_branch": BranchStats}`` for the branches present.
    """
    model.eval()
    with BranchRecorder(model) as rec:
        for x, _ in loader:
            model(x.to(device))
    return rec.stats()


@contextmanager
def mean_ablated(module: nn.Module, value: torch.Tensor) -> Iterator[None]:
    """Make ``module`` return ``value`` (``C x H x W``) for every image of a batch.

    Args:
        module: A branch of the model.
        value: The map every image gets, usually the branch's mean over a split.
    """
    def hook(_m: nn.Module, inputs: Any, out: Any) -> Any:
        ablated = value.to(inputs[0].device).expand(inputs[0].shape[0], *value.shape)
        # a local branch that also feeds the global branch (model.global_from_local) returns
        # (map, tapped stage): only its own map is replaced
        return (ablated.contiguous(), out[1]) if isinstance(out, tuple) else ablated.contiguous()

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


class GlobalAuxClassifier(nn.Module):
    """The global branch on its own: its training-only auxiliary classifier as a model.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` trained with
            ``model.loss.global_aux_weight > 0`` (so it has ``global_aux_head``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if getattr(model, "global_aux_head", None) is None:
            raise ValueError("the model has no auxiliary classifier on its global branch "
                             "(it was trained with model.loss.global_aux_weight 0)")
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``B x 3 x S x S`` images -> ``B x K`` logits of the global branch alone."""
        _, global_map = self.model._branch_maps(x)
        return self.model.global_aux_head(global_map)


def branch_knockout(model: Any, dataset: Any, batch_size: int = 256
                    ) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 as is and with each branch mean-ablated, and branch statistics.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` with both branches.
        dataset: Yields ``(image, label)`` in the model's class order (``.classes``).
        batch_size: Images per forward pass.

    Returns:
        ``{"full" | "no_global" | "no_local": {"accuracy", "macro_f1", "n"}}`` and
        ``{"global_branch" | "local_branch": {"abs_mean", "std_over_images"}}``; for a
        model with an auxiliary classifier on its global branch also ``"global_alone"``
        (that classifier's scores, :class:`GlobalAuxClassifier`).

    Raises:
        ValueError: A single-branch model, or a dataset whose classes differ from the model's.
    """
    if model.local_branch is None or model.global_branch is None:
        raise ValueError("branch knockout needs a checkpoint with both branches")
    if list(dataset.classes) != list(model.class_names):
        raise ValueError(f"the dataset's classes {list(dataset.classes)} are not the model's "
                         f"{model.class_names} in the same order")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    stats = branch_statistics(model, loader)
    out: dict[str, dict[str, float]] = {
        name: {"abs_mean": s.abs_mean, "std_over_images": s.std_over_images}
        for name, s in stats.items()}
    for key, branch in (("full", None), ("no_global", "global_branch"),
                        ("no_local", "local_branch")):
        if branch is None:
            probs, target = predict_loader(model, loader)
        else:
            with mean_ablated(getattr(model, branch), stats[branch].mean):
                probs, target = predict_loader(model, loader)
        out[key] = _scores(target, probs, model.class_names)
    if getattr(model, "global_aux_head", None) is not None:
        probs, target = predict_loader(GlobalAuxClassifier(model), loader)
        out["global_alone"] = _scores(target, probs, model.class_names)
    return out


def _scores(target: Any, probs: Any, class_names: list[str]) -> dict[str, float]:
    m = compute_metrics(target, probs.argmax(1), class_names)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}
