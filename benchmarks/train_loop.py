"""The training loop's own rate against the bare training step, by DataLoader worker count.

``sqsnet profile`` and ``cpu_precision.py`` time the training call on one synthetic batch.
A real run also feeds batches through DataLoader workers, and on a 2-core CPU those workers
share the cores with the two torch threads of the step. This script trains a preset for a
few dozen steps on real data (``train.max_steps_per_epoch``, one epoch, no checkpoints)
once per worker count, reads the loop's images/s from the run's ``metrics.csv``, and times
the bare step in the same process for reference. Settings are interleaved round by round.

Usage::

    python benchmarks/train_loop.py --data-root ../shared/data/ferplus [--config ferplus_cpu]
        [--workers 0 1 2] [--steps 60] [--rounds 1] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
from pathlib import Path

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import measure_train_throughput
from sqsnet.training import build_datasets, train
from sqsnet.utils.runtime import autocast_dtype, cpu_name


def loop_rate(config: str, data_root: str, workers: int, steps: int, out_dir: Path,
              datasets: tuple) -> float:
    """Images/s of the training loop (the epoch's ``images_per_s``) over ``steps`` steps."""
    cfg = load_config(config, [
        f"data.num_workers={workers}", f"train.max_steps_per_epoch={steps}", "train.epochs=1",
        "train.checkpoint_every=0", "train.tta=false", f"train.out_dir={out_dir}",
        f"train.run_name=workers{workers}",
    ])
    result = train(cfg, data_root, device="cpu", progress=False, datasets=datasets)
    with open(result.run_dir / "metrics.csv", newline="") as fh:
        return float(next(csv.DictReader(fh))["images_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--config", default="ferplus_cpu")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()

    cfg = load_config(args.config)
    datasets = build_datasets(cfg, args.data_root)
    rates: dict[int, list[float]] = {w: [] for w in args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for w in args.workers:
                rates[w].append(loop_rate(args.config, args.data_root, w, args.steps,
                                          Path(tmp), datasets))
    torch.manual_seed(0)
    step = measure_train_throughput(
        SQSNet(cfg.model), cfg.model.img_size, cfg.data.batch_size, steps=5, warmup=1,
        autocast_dtype=autocast_dtype(cfg.train, "cpu"), channels_last=cfg.train.channels_last)
    result = {
        "config": args.config, "cpu": cpu_name(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "steps": args.steps, "rounds": args.rounds,
        "batch": cfg.data.batch_size,
        "loop_images_per_s": {str(w): statistics.median(r) for w, r in rates.items()},
        "bare_step_images_per_s": step,
    }
    print(json.dumps(result))
    if args.json_out:
        Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nCPU: {result['cpu']} ({result['threads']} threads); {args.config}, batch "
          f"{cfg.data.batch_size}, {args.steps} steps per setting")
    print("| what | images/s | vs bare step |\n|---|---|---|")
    for w, r in result["loop_images_per_s"].items():
        print(f"| training loop, {w} DataLoader workers | {r:.1f} | {r / step:.2f}x |")
    print(f"| bare training step (synthetic batch) | {step:.1f} | 1.00x |")


if __name__ == "__main__":
    main()
