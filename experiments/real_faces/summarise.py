"""The issue-31 table from ``score_model.sh`` folders: one row per model, recipes over seeds.

Reads ``DIR/NAME/{valid,valid_tta,muxspace,framing,latency,diagnose}.json`` (what
``experiments/real_faces/score_model.sh`` writes; missing files leave a ``-``; the reading is
``score_files.py``'s, shared with ``scripts/bundle_default.py --scores``) and prints:

* one row per model against the issue's targets (FERPlus Valid single view at the app's crop
  >= 89.0%; photos within 1 point of the direct crops; muxspace balanced accuracy >= 0.55 and
  macro-F1 >= 0.52; predict p50 <= 100 ms), with the Swin knockout (accuracy change when the
  global branch is mean-ablated) for hybrids;
* per recipe (a model named ``RECIPE-seedK``): mean +- sample std over its seeds;
* with ``--pair A B``: the paired t-test of recipe A minus recipe B over their common seeds
  (``sqsnet.evaluate.paired_ttest``) for every metric.

Usage::

    python experiments/real_faces/summarise.py runs/real_faces [--pair ferplus_lite0 \
        ferplus_lite0_nosqs] [--json OUT]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from sqsnet.evaluate import paired_ttest, summarize_seeds

SEED = re.compile(r"^(?P<recipe>.+)-seed(?P<seed>\d+)$")


def _score_files() -> ModuleType:
    """``score_files.py`` beside this file (the score JSONs' reader), imported by its path."""
    key = "_real_faces_score_files"
    if key not in sys.modules:
        path = Path(__file__).with_name("score_files.py")
        spec = importlib.util.spec_from_file_location(key, path)
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


METRICS = _score_files().METRICS
model_row = _score_files().model_row


def _cell(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    test = METRICS[key][1]
    text = f"{value:.1f}" if key in ("p50_ms", "photo_gap", "swin_knockout") else f"{value:.4f}"
    return f"**{text}**" if test is not None and test(value) else text


def recipes(rows: dict[str, dict[str, float | None]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Models named ``RECIPE-seedK`` grouped as ``{recipe: {seed: row}}``."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for name, row in rows.items():
        match = SEED.match(name)
        if match:
            out.setdefault(match["recipe"], {})[int(match["seed"])] = row
    return out


def seed_summary(by_seed: dict[int, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, std and n of every metric over a recipe's seeds (metrics some seed lacks: skipped)."""
    out = {}
    for key in METRICS:
        values = [r[key] for r in by_seed.values() if r[key] is not None]
        if values:
            out[key] = summarize_seeds(values)
    return out


def pair(a: dict[int, dict[str, Any]], b: dict[int, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Paired t-test of every metric, recipe A minus recipe B, over their common seeds."""
    seeds = sorted(set(a) & set(b))
    out = {}
    for key in METRICS:
        xs = [(a[s][key], b[s][key]) for s in seeds if a[s][key] is not None and b[s][key] is not None]
        if xs:
            out[key] = paired_ttest([x for x, _ in xs], [y for _, y in xs]).as_dict()
    return out


def print_tables(rows: dict[str, dict[str, Any]], groups: dict[str, Any],
                 paired: dict[str, Any] | None, names: tuple[str, str] | None) -> None:
    """Markdown: the models, the recipes, the pair (targets met in bold)."""
    keys = list(METRICS)
    print("| model | " + " | ".join(METRICS[k][0] for k in keys) + " |")
    print("|---|" + "---|" * len(keys))
    print("| target | " + " | ".join(METRICS[k][2] or "-" for k in keys) + " |")
    for name, row in sorted(rows.items()):
        print(f"| {name} | " + " | ".join(_cell(k, row[k]) for k in keys) + " |")
    if groups:
        print("\n| recipe (seeds) | " + " | ".join(METRICS[k][0] for k in keys) + " |")
        print("|---|" + "---|" * len(keys))
        for recipe, summary in sorted(groups.items()):
            n = max((s["n"] for s in summary.values()), default=0)
            cells = [f"{summary[k]['mean']:.4g} +- {summary[k]['std']:.2g}" if k in summary else "-"
                     for k in keys]
            print(f"| {recipe} ({n}) | " + " | ".join(cells) + " |")
    if paired and names:
        print(f"\n{names[0]} minus {names[1]}, paired over seeds:")
        for key, test in paired.items():
            print(f"  {METRICS[key][0]}: {test['mean_diff']:+.4g} (n={test['n']}, "
                  f"t={test['statistic']:.3g}, p={test['pvalue']:.3g})")


def main() -> None:
    """Read the folders and print (and optionally save) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", help="the parent of the score folders (runs/real_faces)")
    parser.add_argument("--pair", nargs=2, metavar=("A", "B"), help="two recipes to pair")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args()
    root = Path(args.dir)
    if not root.is_dir():
        raise SystemExit(f"summarise.py: error: {root} is not a folder of score folders")
    try:
        rows = {p.name: model_row(p) for p in sorted(root.iterdir()) if p.is_dir()}
    except _score_files().ScoreFileError as err:
        raise SystemExit(f"summarise.py: error: {err}") from None
    by_recipe = recipes(rows)
    groups = {r: seed_summary(s) for r, s in by_recipe.items()}
    paired = None
    if args.pair:
        missing = [r for r in args.pair if r not in by_recipe]
        if missing:
            raise SystemExit(f"summarise.py: error: no seeded runs of {', '.join(missing)} in "
                             f"{root} (expected folders named RECIPE-seedK)")
        paired = pair(by_recipe[args.pair[0]], by_recipe[args.pair[1]])
    print_tables(rows, groups, paired, tuple(args.pair) if args.pair else None)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            {"models": rows, "recipes": groups, "pair": paired}, indent=2))


if __name__ == "__main__":
    main()
