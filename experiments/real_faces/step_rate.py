"""Training-step images/s of the lite0 presets: float32 vs bfloat16, channels-last, size, trunk.

Each variant is a preset with settings and a precision; all are built first, then timed
round by round, one step of each per round (so a burst of other load hits every variant in
the same round): forward (``SQSNet.forward_train`` on one synthetic batch of 64 with in-batch
SQS), backward and an AdamW step, as the trainer runs them (``torch.autocast`` for bfloat16,
channels-last model and images when asked), without data loading. Reported per variant: the
step times, the median and the best images/s (on a shared machine the best is the closest to
an idle one). ``pruned`` drops the Lite0 trunk's blocks past ``out_index`` 3, which timm's
``features_only`` trunk keeps and runs although nothing reads them.

Usage (from the repository root)::

    python experiments/real_faces/step_rate.py [--rounds 6] [--only NAME ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import torch

from sqsnet.config import apply_overrides, load_config
from sqsnet.models import SQSNet
from sqsnet.models.batch import TrainBatch
from sqsnet.profiling import quad_friendly_labels
from sqsnet.utils.io import atomic_write_text

BATCH = 64
BF16 = torch.bfloat16
# name -> (preset, settings, autocast dtype or None, channels-last, prune the trunk)
VARIANTS: dict[str, tuple[str, list[str], torch.dtype | None, bool, bool]] = {
    "lite0 96 float32": ("ferplus_lite0", [], None, False, False),
    "lite0 96 bfloat16": ("ferplus_lite0", [], BF16, False, False),
    "lite0 96 float32 channels-last": ("ferplus_lite0", [], None, True, False),
    "lite0 96 bfloat16 channels-last": ("ferplus_lite0", [], BF16, True, False),
    "lite0 112 float32 channels-last": ("ferplus_lite0", ["model.img_size=112"], None, True, False),
    "lite0 112 bfloat16 channels-last": ("ferplus_lite0", ["model.img_size=112"], BF16, True, False),
    "hybrid 96 float32 channels-last": ("ferplus_lite0_hybrid", [], None, True, False),
    "hybrid 96 bfloat16 channels-last": ("ferplus_lite0_hybrid", [], BF16, True, False),
    "lite0 96 float32 channels-last pruned": ("ferplus_lite0", [], None, True, True),
}


def build(name: str) -> tuple[SQSNet, torch.optim.Optimizer, TrainBatch, torch.dtype | None]:
    """The model, optimizer, synthetic batch and autocast dtype of one variant."""
    preset, settings, dtype, channels_last, prune = VARIANTS[name]
    cfg = apply_overrides(load_config(preset), settings)
    model = SQSNet(cfg.model).train()
    if prune:
        trunk = model.local_branch.model  # type: ignore[union-attr]
        trunk.blocks = trunk.blocks[:5]  # blocks 0-4 end stage 3 (stride 16)
    size = cfg.model.img_size
    images = torch.randn(BATCH, 3, size, size)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    labels = quad_friendly_labels(BATCH, cfg.model.num_classes)
    return model, optimizer, TrainBatch.from_targets(images, labels), dtype


def step(model: SQSNet, optimizer: torch.optim.Optimizer, batch: TrainBatch,
         dtype: torch.dtype | None) -> float:
    """Seconds of one training step."""
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        out = model.forward_train(batch)
    optimizer.zero_grad(set_to_none=True)
    out.losses["total"].float().backward()
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    """Time the variants and print JSON and a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="NAME",
                        help="variants to time (default: all)")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    torch.manual_seed(0)
    built = {name: build(name) for name in (args.only or VARIANTS)}
    for parts in built.values():  # warm-up
        step(*parts)
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in built}
    for _ in range(max(1, args.rounds)):
        for name, parts in built.items():
            times[name].append(step(*parts))
    result: dict[str, Any] = {
        "batch": BATCH, "threads": torch.get_num_threads(), "rounds": args.rounds,
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "variants": {name: {"step_s": [round(t, 3) for t in ts],
                            "images_per_s_median": round(BATCH / statistics.median(ts), 1),
                            "images_per_s_best": round(BATCH / min(ts), 1)}
                     for name, ts in times.items()}}
    print(json.dumps(result))
    print("| variant | images/s, median | best |\n|---|---|---|")
    for name, row in result["variants"].items():
        print(f"| {name} | {row['images_per_s_median']:.1f} | {row['images_per_s_best']:.1f} |")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
