"""How much a trained hybrid relies on each branch: mean-ablation on a labelled split.

For a checkpoint with both branches, the split is scored three times in one view at the
checkpoint's own evaluation crop: as is, with the Swin (global) branch's output replaced by
its mean over the split (every location and channel keeps its average, the image-specific
part is gone), and likewise with the CNN (local) branch's output replaced. The drop in
accuracy is what the fused classifier takes from that branch's image-specific content. It
also reports each branch's output scale (mean absolute value) and how much it varies from
image to image (standard deviation over the split, averaged over channels and locations):
a branch whose output barely varies carries little about the image. A checkpoint trained
with an auxiliary classifier on its Swin (``model.loss.global_aux_weight``) is also scored by
that classifier alone: what the Swin knows, whether or not the fused classifier uses it (the
measurements live in :mod:`sqsnet.diagnostics`)::

    python scripts/branch_knockout.py default --data-root ../shared/data/ferplus \\
        --json results/branch_knockout/default.json

Prints a table and, with ``--json``, writes the scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import torch
from torch.utils.data import DataLoader

from sqsnet.checkpoint import load_model
from sqsnet.utils.io import atomic_write_text
from sqsnet.data import build_dataset, build_eval_transform
from sqsnet.diagnostics import branch_knockout, branch_statistics


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
    try:
        scores = branch_knockout(model, dataset)
    except ValueError as err:
        raise SystemExit(f"{args.checkpoint}: {err}") from None
    print(f"{args.checkpoint} on {args.dataset}/{args.split} (crop_pct {model.cfg.crop_pct:g}):")
    print("| model | acc. (%) | macro-F1 (%) |")
    print("|---|---|---|")
    for key, label in (("full", "as trained"), ("no_global", "Swin branch mean-ablated"),
                       ("no_local", "CNN branch mean-ablated"),
                       ("global_alone", "Swin branch alone (its auxiliary classifier)")):
        if key not in scores:
            continue
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
        fresh = {name: {"abs_mean": s.abs_mean, "std_over_images": s.std_over_images}
                 for name, s in branch_statistics(untrained, loader).items()}
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
