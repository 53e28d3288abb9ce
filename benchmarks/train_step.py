"""Training-step cost of SQS: base-only vs in-batch quads vs the paper's four passes.

Measures, in one process and interleaved round by round (so machine noise hits all three
alike), the time of one optimisation step (forward, backward, AdamW) at the same batch of
anchors for

  (a) base-only training (``use_sqs=False``),
  (b) SQS with quads mined inside the batch (this lab's default),
  (c) SQS with the paper's four passes (A, P, N1, N2 forwarded separately),

plus the preset's training images/s and the SQS module's share of inference cost (FLOPs and
latency of ``model(x)`` with and without the SQS module; it must be 0). The step timing is
:func:`sqsnet.profiling.time_sqs_steps` (``benchmarks/gpu_smoke.py`` runs it on a GPU).

Usage::

    python benchmarks/train_step.py [--config cpu] [--batch 64] [--rounds 5] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import STEP_MODES, count_gflops, measure_latency, time_sqs_steps
from sqsnet.utils.io import atomic_write_text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = load_config(args.config)
    b, size = args.batch, cfg.model.img_size
    times = time_sqs_steps(cfg.model, b, rounds=args.rounds, warmup=args.warmup)
    med = {k: statistics.median(v) for k, v in times.items()}

    full = SQSNet(cfg.model)
    base = SQSNet(load_config(args.config, ["model.use_sqs=false"]).model)
    base.load_state_dict(full.state_dict(), strict=False)
    flops_full = count_gflops(full, size)
    flops_base = count_gflops(base, size)
    lat_full = measure_latency(full, size, batch_size=32, repeats=5)
    lat_base = measure_latency(base, size, batch_size=32, repeats=5)
    result = {
        "config": args.config,
        "batch": b,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "step_s": med,
        "ratio_b_over_a": med["b_sqs_batch"] / med["a_base"],
        "ratio_c_over_a": med["c_sqs_four_pass"] / med["a_base"],
        "train_images_per_s": b / med["b_sqs_batch"],
        "train_images_per_s_base": b / med["a_base"],
        "inference_gflops_with_sqs_module": flops_full,
        "inference_gflops_without_sqs_module": flops_base,
        "sqs_inference_flops_share": (flops_full - flops_base) / flops_base,
        "inference_latency_ms_b32_with_sqs_module": 1000 * lat_full,
        "inference_latency_ms_b32_without_sqs_module": 1000 * lat_base,
    }
    print(json.dumps(result))
    print()
    print(f"| variant ({args.config}, batch {b}) | step (s) | vs base | anchors/s |")
    print("|---|---|---|---|")
    for key, label in STEP_MODES.items():
        print(f"| {label} | {med[key]:.3f} | {med[key] / med['a_base']:.2f}x | "
              f"{b / med[key]:.1f} |")
    print(f"\nSQS share of inference FLOPs: {result['sqs_inference_flops_share']:.4f} "
          f"({flops_full:.4f} vs {flops_base:.4f} GFLOPs per image)")
    if args.json_out:
        atomic_write_text(args.json_out, json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
