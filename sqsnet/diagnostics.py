"""How much a trained hybrid uses each branch: output spread and mean-ablation.

A branch whose output barely changes from image to image tells the fused classifier nothing
about the image, even if its values are large. Two measurements make that visible:

* :class:`BranchRecorder` / :func:`branch_statistics`: each branch's output scale (mean
  absolute value) and its *spread over images* (the standard deviation over images of every
  channel at every location, averaged over channels and locations). Training logs the spread
  of both branches at every validation (``val_local_std``, ``val_global_std`` in
  ``metrics.csv``), so a branch that collapses shows when it does.
* :func:`branch_knockout`: accuracy with one branch's output replaced by its mean over the
  split (:func:`mean_ablated`), which removes everything image-specific from it.

``sqsnet diagnose --checkpoint CKPT --dataset NAME`` is the command-line front end
(:func:`diagnose_checkpoint`, :func:`report_markdown`).

Cost of the recorder: its forward hooks add the batch's maps into three float64 sums per
branch. Measured on the bundled model (``ferplus_cpu``, 48 px) over 512 FERPlus Valid images
in batches of 128 on 2 CPU cores, the hooks take 4.7 ms per batch against 778 ms for the
forward pass (0.6 %); a whole validation pass took 2.81 s without and 2.91 s with them
(within the noise of a shared machine). That is why training records the spread at every
validation rather than behind a switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from sqsnet.checkpoint import load_model
from sqsnet.data import build_dataset, model_eval_transform
from sqsnet.errors import SQSNetError
from sqsnet.evaluate import compute_metrics, predict_loader
from sqsnet.models import SQSNet

__all__ = ["BRANCHES", "BranchStats", "BranchRecorder", "DiagnosticsError",
           "branch_statistics", "mean_ablated", "branch_knockout", "diagnose_checkpoint",
           "report_markdown"]

BRANCHES = ("local_branch", "global_branch")
"""Attribute names of an :class:`~sqsnet.models.SQSNet`'s two branches."""

_KNOCKOUTS = (("full", None, "as trained"),
              ("no_global", "global_branch", "Swin branch mean-ablated"),
              ("no_local", "local_branch", "CNN branch mean-ablated"))
_LABELS = {"local_branch": "CNN (local)", "global_branch": "Swin (global)"}


class DiagnosticsError(SQSNetError, ValueError):
    """A model or dataset the branch diagnostics cannot measure."""


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
        def hook(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> None:
            out = out.detach().double()  # B x C x H x W
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
    with BranchRecorder(model) as rec:
        predict_loader(model, loader, device)
    return rec.stats()


@contextmanager
def mean_ablated(module: nn.Module, value: torch.Tensor) -> Iterator[None]:
    """Make ``module`` return ``value`` (``C x H x W``) for every image of a batch.

    Args:
        module: A branch of the model.
        value: The map every image gets, usually the branch's mean over a split.
    """
    def hook(_m: nn.Module, inputs: Any, _out: torch.Tensor) -> torch.Tensor:
        return value.to(inputs[0].device).expand(inputs[0].shape[0], *value.shape).contiguous()

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def branch_knockout(model: Any, dataset: Any, batch_size: int = 256,
                    device: str | torch.device = "cpu") -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 as is and with each branch mean-ablated, and branch statistics.

    Three passes over the split: as is (recording each branch's output, see
    :class:`BranchRecorder`), then with each branch replaced by its mean over the split.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` with both branches.
        dataset: Yields ``(image, label)`` in the model's class order (``.classes``).
        batch_size: Images per forward pass.
        device: Device to run on.

    Returns:
        ``{"full" | "no_global" | "no_local": {"accuracy", "macro_f1", "n"}}`` and
        ``{"global_branch" | "local_branch": {"abs_mean", "std_over_images"}}``.

    Raises:
        DiagnosticsError: A single-branch model, or a dataset whose classes differ from the
            model's.
    """
    if model.local_branch is None or model.global_branch is None:
        raise DiagnosticsError("branch knockout needs a checkpoint with both branches")
    classes = list(getattr(dataset, "classes", []))
    if classes != list(model.class_names):
        raise DiagnosticsError(f"the dataset's classes {classes} are not the model's "
                               f"{model.class_names} in the same order")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    out: dict[str, dict[str, float]] = {}
    stats: dict[str, BranchStats] = {}
    for key, branch, _ in _KNOCKOUTS:
        if branch is None:
            with BranchRecorder(model) as rec:
                probs, target = predict_loader(model, loader, device)
            stats = rec.stats()
        else:
            with mean_ablated(getattr(model, branch), stats[branch].mean):
                probs, target = predict_loader(model, loader, device)
        m = compute_metrics(target, probs.argmax(1), model.class_names)
        out[key] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}
    for name, s in stats.items():
        out[name] = {"abs_mean": s.abs_mean, "std_over_images": s.std_over_images}
    return out


def _first(dataset: Dataset, limit: int | None) -> Dataset:
    """The first ``limit`` items of ``dataset`` (all when ``None``), keeping ``.classes``."""
    if limit is None or limit >= len(dataset):  # type: ignore[arg-type]
        return dataset
    subset = Subset(dataset, range(limit))
    subset.classes = list(dataset.classes)  # type: ignore[attr-defined]
    return subset


def diagnose_checkpoint(
    checkpoint: str | Path, dataset: str, data_root: str | None = None, split: str = "valid",
    limit: int | None = None, untrained: bool = False, batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Branch spread and mean-ablation knockout of a checkpoint on a labelled split.

    The split is read at the checkpoint's own evaluation crop (``model.crop_pct``), one view
    per image.

    Args:
        checkpoint: ``"default"``, a ``.safetensors`` file or a run folder.
        dataset: Dataset name (``ferplus``...), in the model's class order.
        data_root: Dataset folder (``None``: ``$SQSNET_DATA``).
        split: Split name.
        limit: Score only the first ``limit`` images of the split.
        untrained: Also measure the branches of the same architecture freshly initialised
            (seed 0), for scale.
        batch_size / device: Runtime settings.

    Returns:
        ``{"checkpoint", "dataset", "split", "crop_pct", "n", "scores"}`` with ``scores``
        as :func:`branch_knockout` gives them, and ``"untrained"`` (per-branch
        ``abs_mean`` / ``std_over_images``) when asked for.

    Raises:
        DiagnosticsError: Naming the checkpoint, for a single-branch model or a dataset
            whose classes are not the model's.
    """
    model = load_model(checkpoint, device=device)
    data = _first(build_dataset(dataset, data_root, split, transform=model_eval_transform(
        model.cfg)), limit)
    try:
        scores = branch_knockout(model, data, batch_size=batch_size, device=device)
    except DiagnosticsError as err:
        raise DiagnosticsError(f"{checkpoint}: {err}") from None
    record: dict[str, Any] = {"checkpoint": str(checkpoint), "dataset": dataset,
                              "split": split, "crop_pct": model.cfg.crop_pct,
                              "n": scores["full"]["n"], "scores": scores}
    if untrained:
        torch.manual_seed(0)
        fresh = SQSNet(model.cfg).to(device)
        loader = DataLoader(data, batch_size=batch_size, shuffle=False)
        record["untrained"] = {
            name: {"abs_mean": s.abs_mean, "std_over_images": s.std_over_images}
            for name, s in branch_statistics(fresh, loader, device).items()}
    return record


def report_markdown(record: dict[str, Any]) -> str:
    """:func:`diagnose_checkpoint`'s record as two markdown tables (knockout, spread)."""
    scores = record["scores"]
    lines = [f"{record['checkpoint']} on {record['dataset']}/{record['split']}, "
             f"{record['n']} images (crop_pct {record['crop_pct']:g}):", "",
             "| model | acc. (%) | macro-F1 (%) |", "|---|---|---|"]
    for key, _, label in _KNOCKOUTS:
        lines.append(f"| {label} | {100 * scores[key]['accuracy']:.2f} | "
                     f"{100 * scores[key]['macro_f1']:.2f} |")
    lines += ["", "| branch output | mean abs value | std over images |", "|---|---|---|"]
    fresh = record.get("untrained", {})
    for name in BRANCHES:
        lines.append(f"| {_LABELS[name]} | {scores[name]['abs_mean']:.4f} | "
                     f"{scores[name]['std_over_images']:.4f} |")
        if name in fresh:
            lines.append(f"| {_LABELS[name]}, untrained | {fresh[name]['abs_mean']:.4f} | "
                         f"{fresh[name]['std_over_images']:.4f} |")
    return "\n".join(lines) + "\n"
