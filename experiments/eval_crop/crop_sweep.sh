#!/usr/bin/env bash
# Score one checkpoint on FERPlus Valid (majority labels) at several evaluation crops
# (model.crop_pct), each with and without 5-view TTA, through `sqsnet eval` (data:
# $SQSNET_DATA, else ../shared/data/ferplus beside the repository). Writes
# OUT_DIR/crop<C>[-tta].json, the single-view per-image predictions OUT_DIR/crop<C>.csv, and
# prints a table with McNemar's exact test of each crop against crop 1 on the same images.
# Finished files are kept, so a rerun only adds what is missing.
#   experiments/eval_crop/crop_sweep.sh OUT_DIR CHECKPOINT [CROP ...]
#       (default crops: 1 0.95 0.9 0.85)
#   e.g. experiments/eval_crop/crop_sweep.sh results/crop_sweep/default_hybrid_seed0 default 1 0.95
set -eu
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv=${SQSNET_VENV:-$repo/.venv}  # the environment `make` builds
sqsnet=$venv/bin/sqsnet; python=$venv/bin/python
if [ $# -lt 2 ]; then echo "usage: $0 OUT_DIR CHECKPOINT [CROP ...]" >&2; exit 2; fi
out=$1; ckpt=$2; shift 2
crops=("$@"); [ ${#crops[@]} -gt 0 ] || crops=(1 0.95 0.9 0.85)
mkdir -p "$out"
root=(); [ -n "${SQSNET_DATA:-}" ] || root=(--data-root "$repo/../shared/data/ferplus")
for c in "${crops[@]}"; do
  for tta in "" "--tta"; do
    f=$out/crop$c${tta:+-tta}.json
    preds=(); [ -n "$tta" ] || preds=(--predictions "$out/crop$c.csv")
    if [ -f "$f" ] && { [ -n "$tta" ] || [ -f "$out/crop$c.csv" ]; }; then continue; fi
    "$sqsnet" eval --checkpoint "$ckpt" --dataset ferplus "${root[@]}" --split valid \
      --crop-pct "$c" $tta --json "$f" "${preds[@]}" > /dev/null
  done
done
"$python" - "$out" <<'PY'
import json, sys
from pathlib import Path
from sqsnet.evaluate import mcnemar_test, read_predictions_csv
out = Path(sys.argv[1])
rows, correct = {}, {}
for f in sorted(out.glob("crop*.json")):
    m = json.loads(f.read_text())
    rows.setdefault(m["crop_pct"], {})["tta" if m["tta"] else "single"] = m
    if not m["tta"] and f.with_suffix(".csv").is_file():
        correct[m["crop_pct"]] = read_predictions_csv(f.with_suffix(".csv"))
print(f"{out}: {next(iter(next(iter(rows.values())).values()))['checkpoint']}")
print("| crop_pct | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) | vs crop 1: better / worse images, McNemar p |")
print("|---|---|---|---|---|")
for crop in sorted(rows, reverse=True):
    r = rows[crop]
    cell = lambda k, key: f"{100 * r[k][key]:.2f}" if k in r else "-"
    test = "-"
    if crop != 1.0 and crop in correct and 1.0 in correct:
        keys = sorted(set(correct[crop]) & set(correct[1.0]))
        t = mcnemar_test([correct[crop][k] for k in keys], [correct[1.0][k] for k in keys])
        test = f"{t.a_only} / {t.b_only}, p = {t.pvalue:.3g}"
    print(f"| {crop:g} | {cell('single', 'accuracy')} | {cell('tta', 'accuracy')} | "
          f"{cell('single', 'macro_f1')} | {test} |")
PY
