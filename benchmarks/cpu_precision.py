"""Which training precision and layout is fastest on *this* CPU (what ``amp_cpu: auto`` picks).

Times the training call of one preset (forward, backward, AdamW; the same measurement as
``sqsnet profile``) in four settings, interleaved round by round so machine noise hits all
of them alike:

  float32, float32 + channels-last, bfloat16 autocast, bfloat16 autocast + channels-last,

and reports whether oneDNN runs bfloat16 natively here (AVX512-BF16 or AMX) and which
precision ``train.amp_cpu: auto`` therefore trains in. On a CPU without native bfloat16 the
bfloat16 rows are emulated and can be an order of magnitude slower: ``--bf16-steps`` keeps
them short.

Usage::

    python benchmarks/cpu_precision.py [--config ferplus_cpu] [--batch 64] [--rounds 3]
        [--bf16-steps 1] [--json OUT]

Prints one JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from sqsnet.config import load_config
from sqsnet.models import SQSNet
from sqsnet.profiling import measure_train_throughput
from sqsnet.utils.runtime import autocast_dtype, cpu_has_native_bfloat16, cpu_name

SETTINGS = {
    "float32": (None, False),
    "float32_channels_last": (None, True),
    "bfloat16": (torch.bfloat16, False),
    "bfloat16_channels_last": (torch.bfloat16, True),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="ferplus_cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed float32 steps per round")
    parser.add_argument("--bf16-steps", type=int, default=1,
                        help="timed bfloat16 steps per round (emulated bfloat16 is slow)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    cfg = load_config(args.config)
    models = {}
    for key, (_, channels_last) in SETTINGS.items():
        model = SQSNet(cfg.model)
        if key != "float32":
            model.load_state_dict(models["float32"].state_dict())
        models[key] = model
    rates: dict[str, list[float]] = {k: [] for k in SETTINGS}
    for _ in range(args.rounds):
        for key, (dtype, channels_last) in SETTINGS.items():
            steps = args.bf16_steps if dtype is not None else args.steps
            rates[key].append(measure_train_throughput(
                models[key], cfg.model.img_size, args.batch, steps=steps, warmup=1,
                autocast_dtype=dtype, channels_last=channels_last))
    med = {k: statistics.median(v) for k, v in rates.items()}
    auto = load_config(args.config, ["train.amp_cpu=auto"]).train
    auto_dtype = autocast_dtype(auto, "cpu")
    auto_key = ("bfloat16" if auto_dtype is not None else "float32") + (
        "_channels_last" if auto.channels_last else "")
    result = {
        "config": args.config,
        "batch": args.batch,
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "native_bfloat16": cpu_has_native_bfloat16(),
        "train_images_per_s": med,
        "fastest": max(med, key=med.get),
        "amp_cpu_auto_trains_in": auto_key,
    }
    print(json.dumps(result))
    print()
    print(f"CPU: {result['cpu']} ({result['threads']} threads); native bfloat16: "
          f"{result['native_bfloat16']}")
    print(f"| training step ({args.config}, batch {args.batch}) | images/s | vs float32 |")
    print("|---|---|---|")
    for key in SETTINGS:
        mark = " (amp_cpu: auto)" if key == auto_key else ""
        print(f"| {key.replace('_', ' ')}{mark} | {med[key]:.1f} | "
              f"{med[key] / med['float32']:.2f}x |")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
