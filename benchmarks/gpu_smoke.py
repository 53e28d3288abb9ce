"""GPU smoke test of the paper configuration: training images/s, peak memory, SQS step cost.

On one CUDA GPU, with the ``paper`` preset (EfficientNet-B6 + Swin-S at 224 px, d3 = 1024)
in the precision its config trains in (``train.amp``: float16 autocast with loss scaling):

1. a few hundred optimisation steps of the training call (in-batch SQS, synthetic images
   with class-aware labels) give the training images/s and the peak GPU memory
   (``torch.cuda.max_memory_allocated``);
2. :func:`sqsnet.profiling.time_sqs_steps` then times (a) base-only, (b) in-batch SQS and
   (c) four-pass SQS steps, interleaved round by round, for the step-time ratios.

The weights are random (``model.pretrained=false``: the machine needs no network); the
timing does not depend on them.

Without a CUDA GPU the script prints one line saying so and exits with status 2 (it was
asked to measure a GPU and measured nothing); ``--device cpu --config <tiny.yaml>`` runs
the same logic on the CPU, which is how its test checks it.

Usage::

    python benchmarks/gpu_smoke.py [--config paper] [--batch 64] [--steps 300] [--rounds 5]
        [--device cuda] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import STEP_MODES, measure_train_throughput, time_sqs_steps
from sqsnet.utils.io import atomic_write_text
from sqsnet.utils.runtime import autocast_dtype, hardware_info

NO_GPU_STATUS = 2
"""Exit status when a CUDA device is asked for and there is none."""


def measure(config: str, device: str, batch: int | None, steps: int, rounds: int,
            warmup: int) -> dict[str, Any]:
    """Throughput, peak memory and step ratios of ``config`` on ``device``."""
    dev = torch.device(device)
    cfg = load_config(config, ["model.pretrained=false"])
    b = batch or cfg.data.batch_size
    dtype = autocast_dtype(cfg.train, dev.type)
    torch.manual_seed(0)
    model = SQSNet(cfg.model)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    rate = measure_train_throughput(model, cfg.model.img_size, b, steps=steps, warmup=warmup,
                                    device=device, autocast_dtype=dtype,
                                    channels_last=cfg.train.channels_last)
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None
    del model
    times = time_sqs_steps(cfg.model, b, rounds=rounds, warmup=warmup, device=device,
                           autocast_dtype=dtype, channels_last=cfg.train.channels_last)
    med = {key: statistics.median(v) for key, v in times.items()}
    return {
        "config": config, "device": hardware_info(dev), "torch": torch.__version__,
        "batch": b, "steps": steps, "rounds": rounds,
        "precision": str(dtype or torch.float32).removeprefix("torch."),
        "train_images_per_s": rate, "peak_memory_gib": peak, "step_s": med,
        "ratio_b_over_a": med["b_sqs_batch"] / med["a_base"],
        "ratio_c_over_a": med["c_sqs_four_pass"] / med["a_base"],
    }


def table(result: dict[str, Any]) -> str:
    """The result as a short Markdown table."""
    peak = result["peak_memory_gib"]
    device = result["device"]
    where = device.get("gpu") or device.get("cpu") or device.get("device")
    lines = [
        f"{result['config']} on {where}, batch {result['batch']}, {result['precision']}: "
        f"{result['train_images_per_s']:.1f} training images/s over {result['steps']} steps, "
        f"peak memory " + (f"{peak:.2f} GiB" if peak is not None else "n/a (CPU)"),
        "",
        "| step | s | vs base |",
        "|---|---|---|",
    ]
    med = result["step_s"]
    for key, label in STEP_MODES.items():
        lines.append(f"| {label} | {med[key]:.3f} | {med[key] / med['a_base']:.2f}x |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="paper")
    parser.add_argument("--device", default="cuda", help="cuda[:N], or cpu to check the logic")
    parser.add_argument("--batch", type=int, help="default: the config's data.batch_size")
    parser.add_argument("--steps", type=int, default=300, help="timed throughput steps")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of the ratio")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print(f"gpu_smoke: no CUDA GPU on this machine ({args.device}): nothing measured; run "
              "it on a GPU, or check its logic with --device cpu --config <tiny config>",
              file=sys.stderr)
        return NO_GPU_STATUS
    result = measure(args.config, args.device, args.batch, args.steps, args.rounds,
                     args.warmup)
    print(json.dumps(result))
    print()
    print(table(result))
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
