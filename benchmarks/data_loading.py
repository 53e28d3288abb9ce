"""FERPlus training loader throughput vs the model's training throughput.

Iterates the real training loader (class-aware batches, the ``ferplus_cpu`` training
transforms, Mixup/CutMix excluded since it runs in the training process) with N workers and
reports images/s, next to the ``cpu`` model's training images/s measured in the same
process, so the ratio says whether training can ever wait on data (target >= 2x).

Usage::

    python benchmarks/data_loading.py --data-root ../shared/data/ferplus [--workers 2]
        [--batches 150] [--config ferplus_cpu] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from torch.utils.data import DataLoader

from sqsnet.config import load_config
from sqsnet.data import ClassAwareBatchSampler
from sqsnet.models import SQSNet
from sqsnet.profiling import measure_train_throughput
from sqsnet.training import build_datasets
from sqsnet.utils.runtime import autocast_dtype


def loader_rate(loader: DataLoader, batches: int) -> float:
    """Images per second over ``batches`` batches (after one warm-up batch)."""
    it = iter(loader)
    next(it)
    n = 0
    start = time.perf_counter()
    for i, (x, _) in enumerate(it):
        n += x.shape[0]
        if i + 1 >= batches:
            break
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--config", default="ferplus_cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    cfg = load_config(args.config)
    t0 = time.perf_counter()
    train_set, _ = build_datasets(cfg, args.data_root)
    build_s = time.perf_counter() - t0
    sampler = ClassAwareBatchSampler(train_set.targets, cfg.data.batch_size, seed=0)
    loader = DataLoader(train_set, batch_sampler=sampler, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    data_rate = loader_rate(loader, args.batches)
    del loader

    cfg.model.num_classes = len(train_set.classes)
    model = SQSNet(cfg.model)
    precision = autocast_dtype(cfg.train, "cpu")  # time the step as training runs it
    train_rate = measure_train_throughput(model, cfg.model.img_size, cfg.data.batch_size,
                                          steps=args.train_steps, autocast_dtype=precision,
                                          channels_last=cfg.train.channels_last)
    result = {
        "config": args.config,
        "workers": args.workers,
        "batch": cfg.data.batch_size,
        "cache": cfg.data.cache,
        "dataset_build_s": build_s,
        "loader_images_per_s": data_rate,
        "model_train_images_per_s": train_rate,
        "model_train_precision": str(precision or torch.float32).removeprefix("torch."),
        "ratio_loader_over_train": data_rate / train_rate,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
    print(json.dumps(result))
    print()
    print("| what | images/s |")
    print("|---|---|")
    print(f"| FERPlus train loader, {args.workers} workers, train transforms | {data_rate:.0f} |")
    print(f"| {args.config} model training step (batch {cfg.data.batch_size}) | {train_rate:.0f} |")
    print(f"| ratio | {data_rate / train_rate:.1f}x (target >= 2x) |")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
