"""Does ``torch.compile`` make the training step faster on this CPU?

Times the training call of one preset (forward, backward, AdamW; the measurement of
``sqsnet profile``) eagerly and with its three heavy parts (local branch, global branch,
fusion) each wrapped in ``torch.compile``, in the precision and layout ``train.amp_cpu`` and
``train.channels_last`` pick for the preset here. The whole ``forward_train`` is not compiled:
its quad miner draws from a ``torch.Generator`` and indexes by data-dependent labels, which
breaks the graph. Both models start from the same weights; the rounds interleave the two so
machine noise hits both alike. Compile time (the first compiled steps) is reported apart.

Usage::

    python benchmarks/compile_step.py [--config ferplus_cpu] [--batch 64] [--rounds 3]
        [--steps 4] [--backend inductor] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import measure_train_throughput
from sqsnet.utils.runtime import autocast_dtype, cpu_name

PARTS = ("local_branch", "global_branch", "fusion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="ferplus_cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per round")
    parser.add_argument("--backend", default="inductor",
                        help="torch.compile backend ('eager' only traces: a plumbing check)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = load_config(args.config)
    dtype = autocast_dtype(cfg.train, "cpu")
    channels_last = cfg.train.channels_last
    eager = SQSNet(cfg.model)
    compiled = SQSNet(cfg.model)
    compiled.load_state_dict(eager.state_dict())
    parts = [name for name in PARTS if getattr(compiled, name, None) is not None]
    for name in parts:
        setattr(compiled, name, torch.compile(getattr(compiled, name), backend=args.backend))

    def rate(model: SQSNet, steps: int, warmup: int) -> float:
        return measure_train_throughput(model, cfg.model.img_size, args.batch, steps=steps,
                                        warmup=warmup, autocast_dtype=dtype,
                                        channels_last=channels_last)

    start = time.perf_counter()
    rate(compiled, steps=1, warmup=2)  # compiles forward and backward, then one more step
    compile_s = time.perf_counter() - start
    rates: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(args.rounds):
        rates["eager"].append(rate(eager, args.steps, warmup=1))
        rates["compiled"].append(rate(compiled, args.steps, warmup=1))
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "config": args.config,
        "batch": args.batch,
        "rounds": args.rounds,
        "steps": args.steps,
        "backend": args.backend,
        "compiled_parts": parts,
        "autocast": str(dtype).replace("torch.", "") if dtype is not None else "float32",
        "channels_last": channels_last,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "compile_and_first_steps_s": compile_s,
        "train_images_per_s_rounds": rates,
        "train_images_per_s": med,
        "speedup": med["compiled"] / med["eager"],
    }
    print(json.dumps(result))
    print()
    print(f"CPU: {result['cpu']} ({result['threads']} threads); {result['autocast']}"
          f"{' channels-last' if channels_last else ''}; backend {args.backend}")
    print(f"| training step ({args.config}, batch {args.batch}) | images/s (median) | "
          f"per round | vs eager |")
    print("|---|---|---|---|")
    for key in ("eager", "compiled"):
        rounds = ", ".join(f"{r:.1f}" for r in rates[key])
        print(f"| {key} | {med[key]:.1f} | {rounds} | {med[key] / med['eager']:.2f}x |")
    print(f"\ncompiling (and the first three compiled steps) took {compile_s:.0f} s")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
