"""Training-step cost of SQS: base-only vs in-batch quads vs the paper's four passes.

Measures, in one process and interleaved round by round (so machine noise hits all three
alike), the time of one optimisation step (forward, backward, AdamW) at the same batch of
anchors for

  (a) base-only training (``use_sqs=False``),
  (b) SQS with quads mined inside the batch (this lab's default),
  (c) SQS with the paper's four passes (A, P, N1, N2 forwarded separately),

plus the preset's training images/s and the SQS module's share of inference cost (FLOPs and
latency of ``model(x)`` with and without the SQS module; it must be 0).

Usage::

    python benchmarks/train_step.py [--config cpu] [--batch 64] [--rounds 5] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import count_gflops, measure_latency, quad_friendly_labels


def _step(model: SQSNet, opt: torch.optim.Optimizer, batch: tuple, four_pass: bool) -> float:
    start = time.perf_counter()
    if four_pass:
        a, p, n1, n2, y = batch
        out = model.forward_train_quads(a, p, n1, n2, y)
    else:
        x, y = batch
        out = model.forward_train(x, y)
    opt.zero_grad(set_to_none=True)
    out.losses["total"].backward()
    opt.step()
    return time.perf_counter() - start


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
    full = SQSNet(cfg.model)
    cfg_base = load_config(args.config, ["model.use_sqs=false"])
    base = SQSNet(cfg_base.model)
    base.load_state_dict(full.state_dict(), strict=False)
    four = SQSNet(cfg.model)
    four.load_state_dict(full.state_dict())

    b, size = args.batch, cfg.model.img_size
    x = torch.randn(b, 3, size, size)
    y = quad_friendly_labels(b, cfg.model.num_classes)
    quad_batch = (x, x.roll(1, 0), x.roll(2, 0), x.roll(3, 0), y)
    runs = {
        "a_base": (base, (x, y), False),
        "b_sqs_batch": (full, (x, y), False),
        "c_sqs_four_pass": (four, quad_batch, True),
    }
    opts = {k: torch.optim.AdamW(m.parameters(), lr=1e-4) for k, (m, _, _) in runs.items()}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for m, _, _ in runs.values():
        m.train()
    for r in range(args.warmup + args.rounds):
        for key, (model, batch, four_pass) in runs.items():
            dt = _step(model, opts[key], batch, four_pass)
            if r >= args.warmup:
                times[key].append(dt)
    med = {k: statistics.median(v) for k, v in times.items()}

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
    for key, label in (("a_base", "(a) base only"), ("b_sqs_batch", "(b) SQS in-batch quads"),
                       ("c_sqs_four_pass", "(c) SQS four-pass")):
        print(f"| {label} | {med[key]:.3f} | {med[key] / med['a_base']:.2f}x | "
              f"{b / med[key]:.1f} |")
    print(f"\nSQS share of inference FLOPs: {result['sqs_inference_flops_share']:.4f} "
          f"({flops_full:.4f} vs {flops_base:.4f} GFLOPs per image)")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
