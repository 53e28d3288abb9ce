#!/usr/bin/env bash
# Every check of issue 31 for one trained model, written as JSON into OUT (default
# runs/real_faces/NAME; $SQSNET_RUNS instead of runs/ when set):
#   valid.json       FERPlus Valid, single view at the checkpoint's crop (the app's crop)
#   valid_tta.json   the same with 5-view TTA
#   muxspace.json    ../shared/data/muxspace, every image (balanced accuracy, macro-F1)
#   grey.json        muxspace with the eval transform as is and turned grey
#   framing.json     300 Valid faces pasted into photos, through `sqsnet predict`'s path
#   latency.json     predict p50/p95 per photo (decode + detection + crop + model)
#   diagnose.json    branch knockout on Valid (hybrids only: for a one-branch model sqsnet
#                    says so in one line and the step is reported as failed)
# Existing files are kept (rerun to fill in what is missing). Evaluation only: muxspace is
# never trained on, and selection uses FERPlus Valid alone.
#   experiments/real_faces/score_model.sh NAME CHECKPOINT [OUT]
# CHECKPOINT: a run folder (its best.safetensors), a .safetensors file or "default".
# Data: $SQSNET_DATA (FERPlus), else ../shared/data/ferplus; $SQSNET_MUXSPACE, else
# ../shared/data/muxspace; the environment: $SQSNET_VENV, else .venv.
set -u
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv=${SQSNET_VENV:-$repo/.venv}
if [ $# -lt 2 ]; then echo "usage: $0 NAME CHECKPOINT [OUT]" >&2; exit 2; fi
name=$1; ckpt=$2
out=${3:-${SQSNET_RUNS:-$repo/runs}/real_faces/$name}
fer=${SQSNET_DATA:-$repo/../shared/data/ferplus}
mux=${SQSNET_MUXSPACE:-$repo/../shared/data/muxspace}
mkdir -p "$out"
py="$venv/bin/python"

# Run a check unless its JSON is there: step FILE COMMAND...
step() {
  local file=$out/$1; shift
  if [ -f "$file" ]; then echo "$file kept"; return; fi
  echo "=== $(basename "$file") $(date -u +%FT%TZ)"
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then echo "=== $(basename "$file") failed (exit $rc)"; fi
}

step valid.json "$py" -m sqsnet eval --checkpoint "$ckpt" --dataset ferplus --data-root "$fer" \
  --split valid --json "$out/valid.json"
step valid_tta.json "$py" -m sqsnet eval --checkpoint "$ckpt" --dataset ferplus \
  --data-root "$fer" --split valid --tta --json "$out/valid_tta.json"
step muxspace.json "$py" -m sqsnet eval --checkpoint "$ckpt" --dataset folder --data-root "$mux" \
  --split all --json "$out/muxspace.json"
step grey.json "$py" "$repo/experiments/real_faces/grey_eval.py" --checkpoint "$ckpt" \
  --dataset folder --data-root "$mux" --split all --json "$out/grey.json"
step framing.json "$py" "$repo/benchmarks/framing.py" --paste --data-root "$fer" \
  --checkpoint "$ckpt" --margins --json "$out/framing.json"
step latency.json "$py" "$repo/benchmarks/predict_latency.py" --data-root "$fer" \
  --checkpoint "$ckpt" --json "$out/latency.json"
step diagnose.json "$py" -m sqsnet diagnose --checkpoint "$ckpt" --dataset ferplus \
  --data-root "$fer" --split valid --json "$out/diagnose.json"
echo "=== done: $out"
