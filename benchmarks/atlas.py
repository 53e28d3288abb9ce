"""How long ``sqsnet atlas`` takes, stage by stage (budget: FERPlus Valid in 5 minutes).

Runs :func:`sqsnet.viz.atlas_run.run_atlas` with progress bars (features, both similarity
tables, the pairs) and reports the seconds of each stage, the pool sizes and the total,
as a Markdown table and a JSON record. The figures and the JSON of the atlas itself go to
a temporary folder unless ``--out`` is given.

Usage::

    python benchmarks/atlas.py --data-root ../shared/data/ferplus [--checkpoint default]
        [--split valid] [--limit N] [--pool-per-class 128] [--quads-per-pair 256]
        [--permutations 200] [--out DIR] [--pairs X:Y ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time

import torch

from sqsnet.utils.runtime import hardware_info
from sqsnet.viz.atlas import AtlasSettings
from sqsnet.viz.atlas_run import run_atlas

BUDGET_S = 300.0
"""The issue's budget for FERPlus Valid on 2 CPU cores."""


def main() -> None:
    """Time the atlas; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--dataset", default="ferplus")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--pool-per-class", type=int, default=128)
    parser.add_argument("--quads-per-pair", type=int, default=256)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--out", help="keep the atlas here (default: a temporary folder)")
    parser.add_argument("--pairs", nargs="+", default=[], metavar="X:Y",
                        help="also draw these pairs one by one (as sqsnet atlas --pairs)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")

    settings = AtlasSettings(quads_per_pair=args.quads_per_pair, permutations=args.permutations,
                             pool_per_class=args.pool_per_class)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        atlas = run_atlas(args.checkpoint, args.dataset, args.data_root, args.split,
                          args.out or tmp, settings, limit=args.limit, pairs=args.pairs,
                          progress=not args.no_progress)
        wall = time.perf_counter() - start
    result = {
        "checkpoint": args.checkpoint, "dataset": args.dataset, "split": args.split,
        "images": atlas.meta["images"], "pool_images": sum(atlas.pool_counts),
        "settings": vars(settings), "stages_s": {k: round(v, 2) for k, v in atlas.timings.items()},
        "wall_s_with_files": round(wall, 2), "budget_s": BUDGET_S,
        "within_budget": wall <= BUDGET_S, **hardware_info("cpu"),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))
    print()
    print(f"| stage ({atlas.meta['images']} images, pool {sum(atlas.pool_counts)}) | seconds |")
    print("|---|---|")
    for stage, seconds in atlas.timings.items():
        print(f"| {stage.removesuffix('_s')} | {seconds:.1f} |")
    print(f"| everything, figures and JSON written | {wall:.1f} (budget {BUDGET_S:.0f}) |")
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
