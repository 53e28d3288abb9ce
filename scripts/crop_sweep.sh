#!/usr/bin/env bash
# Score one checkpoint on FERPlus Valid (majority labels) at several evaluation crops
# (model.crop_pct), each with and without 5-view TTA, through `sqsnet eval` (data:
# $SQSNET_DATA, else ../shared/data/ferplus beside the repository). Writes OUT_DIR/crop<C>[-tta].json and prints
# a table; finished files are kept, so a rerun only adds what is missing.
#   scripts/crop_sweep.sh OUT_DIR CHECKPOINT [CROP ...]   (default crops: 1 0.95 0.9 0.85)
#   e.g. scripts/crop_sweep.sh results/crop_sweep/default_hybrid_seed0 default 1 0.95
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
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
    [ -f "$f" ] && continue
    "$sqsnet" eval --checkpoint "$ckpt" --dataset ferplus "${root[@]}" --split valid \
      --crop-pct "$c" $tta --json "$f" > /dev/null
  done
done
"$python" - "$out" <<'PY'
import json, sys
from pathlib import Path
rows = {}
for f in sorted(Path(sys.argv[1]).glob("crop*.json")):
    m = json.loads(f.read_text())
    rows.setdefault(m["crop_pct"], {})["tta" if m["tta"] else "single"] = m
print(f"{sys.argv[1]}: {next(iter(next(iter(rows.values())).values()))['checkpoint']}")
print("| crop_pct | acc. (%) | acc. 5-view TTA (%) | macro-F1 (%) |")
print("|---|---|---|---|")
for crop in sorted(rows, reverse=True):
    r = rows[crop]
    cell = lambda k, key: f"{100 * r[k][key]:.2f}" if k in r else "-"
    print(f"| {crop:g} | {cell('single', 'accuracy')} | {cell('tta', 'accuracy')} | "
          f"{cell('single', 'macro_f1')} |")
PY
