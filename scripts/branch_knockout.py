"""How much a trained hybrid relies on each branch: mean-ablation on a labelled split.

For a checkpoint with both branches, the split is scored three times in one view at the
checkpoint's own evaluation crop: as is, with the Swin (global) branch's output replaced by
its mean over the split (every location and channel keeps its average, the image-specific
part is gone), and likewise with the CNN (local) branch's output replaced. The drop in
accuracy is what the fused classifier takes from that branch's image-specific content. It
also reports each branch's output scale (mean absolute value) and how much it varies from
image to image (standard deviation over the split, averaged over channels and locations):
a branch whose output barely varies carries little about the image::

    python scripts/branch_knockout.py default --data-root ../shared/data/ferplus \\
        --json results/branch_knockout/default.json

Prints a table and, with ``--json``, writes the scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.data import DataLoader

from sqsnet.checkpoint import atomic_write_text, load_model
from sqsnet.data import build_dataset, build_eval_transform
from sqsnet.evaluate import compute_metrics, predict_loader

BRANCHES = ("global_branch", "local_branch")


@contextmanager
def _replaced(module: torch.nn.Module, value: torch.Tensor) -> Iterator[None]:
    """Make ``module`` return ``value`` (``C x H x W``) for every image of a batch."""
    handle = module.register_forward_hook(
        lambda _m, inputs, _out: value.expand(inputs[0].shape[0], *value.shape).contiguous())
    try:
        yield
    finally:
        handle.remove()


@torch.no_grad()
def _branch_stats(model: Any, loader: DataLoader) -> dict[str, dict[str, Any]]:
    """Per branch: ``mean`` map (``C x H x W``), ``abs_mean`` and ``std_over_images``."""
    sums: dict[str, list[torch.Tensor]] = {}
    count = 0
    handles = []
    for name in BRANCHES:
        def hook(_m: Any, _i: Any, out: torch.Tensor, name: str = name) -> None:
            out = out.double()
            parts = [out.sum(0), (out * out).sum(0), out.abs().sum(0)]
            sums[name] = parts if name not in sums else [a + b for a, b in zip(sums[name], parts)]
        handles.append(getattr(model, name).register_forward_hook(hook))
    try:
        for x, _ in loader:
            model(x)
            count += x.shape[0]
    finally:
        for h in handles:
            h.remove()
    stats = {}
    for name, (total, squares, absolute) in sums.items():
        mean = total / count
        var = (squares / count - mean * mean).clamp_min(0) * count / max(count - 1, 1)
        stats[name] = {"mean": mean.float(), "abs_mean": float(absolute.mean() / count),
                       "std_over_images": float(var.sqrt().mean())}
    return stats


def knockout(model: Any, dataset: Any, batch_size: int = 256) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 as is and with each branch mean-ablated, and branch statistics.

    Args:
        model: An :class:`~sqsnet.models.SQSNet` with both branches, in eval mode.
        dataset: Yields ``(image, label)`` in the model's class order (``.classes``).

    Returns:
        ``{"full" | "no_global" | "no_local": {"accuracy", "macro_f1", "n"}}`` and
        ``{"global_branch" | "local_branch": {"abs_mean", "std_over_images"}}``.
    """
    if model.local_branch is None or model.global_branch is None:
        raise SystemExit("branch knockout needs a checkpoint with both branches")
    if list(dataset.classes) != list(model.class_names):
        raise SystemExit(f"the dataset's classes {list(dataset.classes)} are not the model's "
                         f"{model.class_names} in the same order")
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    stats = _branch_stats(model, loader)
    out: dict[str, dict[str, float]] = {
        name: {k: v for k, v in s.items() if k != "mean"} for name, s in stats.items()}
    for key, branch in (("full", None), ("no_global", "global_branch"),
                        ("no_local", "local_branch")):
        if branch is None:
            probs, target = predict_loader(model, loader)
        else:
            with _replaced(getattr(model, branch), stats[branch]["mean"]):
                probs, target = predict_loader(model, loader)
        m = compute_metrics(target, probs.argmax(1), model.class_names)
        out[key] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": m["n"]}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="'default', a .safetensors checkpoint or a run folder")
    p.add_argument("--dataset", default="ferplus", help="dataset name (default: ferplus)")
    p.add_argument("--data-root", help="dataset folder (default: $SQSNET_DATA)")
    p.add_argument("--split", default="valid", help="split (default: valid)")
    p.add_argument("--json", dest="json_out", help="write the scores to this JSON file")
    p.add_argument("--untrained", action="store_true",
                   help="also give the branch statistics of the same model freshly "
                   "initialised (seed 0), for scale")
    args = p.parse_args(argv)
    model = load_model(args.checkpoint)
    dataset = build_dataset(args.dataset, args.data_root, args.split,
                            transform=build_eval_transform(model.cfg.img_size,
                                                           crop_pct=model.cfg.crop_pct))
    scores = knockout(model, dataset)
    print(f"{args.checkpoint} on {args.dataset}/{args.split} (crop_pct {model.cfg.crop_pct:g}):")
    print("| model | acc. (%) | macro-F1 (%) |")
    print("|---|---|---|")
    for key, label in (("full", "as trained"), ("no_global", "Swin branch mean-ablated"),
                       ("no_local", "CNN branch mean-ablated")):
        print(f"| {label} | {100 * scores[key]['accuracy']:.2f} | "
              f"{100 * scores[key]['macro_f1']:.2f} |")
    print("| branch output | mean abs value | std over images |")
    print("|---|---|---|")
    fresh: dict[str, dict[str, Any]] = {}
    if args.untrained:
        from sqsnet.models import SQSNet

        torch.manual_seed(0)
        untrained = SQSNet(model.cfg).eval()
        loader = DataLoader(dataset, batch_size=256, shuffle=False)
        fresh = {name: {k: v for k, v in s.items() if k != "mean"}
                 for name, s in _branch_stats(untrained, loader).items()}
    for key, label in (("local_branch", "CNN (local)"), ("global_branch", "Swin (global)")):
        print(f"| {label} | {scores[key]['abs_mean']:.4f} | {scores[key]['std_over_images']:.4f} |")
        if key in fresh:
            print(f"| {label}, untrained | {fresh[key]['abs_mean']:.4f} | "
                  f"{fresh[key]['std_over_images']:.4f} |")
    if args.json_out:
        record = {"checkpoint": str(args.checkpoint), "dataset": args.dataset,
                  "split": args.split, "crop_pct": model.cfg.crop_pct, "scores": scores}
        if fresh:
            record["untrained"] = fresh
        atomic_write_text(args.json_out, json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
