#!/usr/bin/env bash
# Full ferplus_cpu runs of one variant (extra --set values) for several seeds, one after the
# other, each in runs/NAME-seedS ($SQSNET_RUNS instead of runs/ when set). model.crop_pct=1
# keeps validation (and so the epoch selection) as in the recorded seeds of the hybrid and
# its CNN-only baseline (results/runs/), so the runs pair with them seed by seed. Rerun to
# continue: finished runs (summary.json) are skipped, cut ones resume (--resume); each run's
# log is appended to runs/NAME-seedS.log. Data: $SQSNET_DATA, else ../shared/data/ferplus
# beside the repository; the environment: $SQSNET_VENV, else .venv.
#   mkdir -p runs && nohup experiments/seed_runs/variant_jobs.sh NAME "KEY=VALUE ..." SEED \
#       [SEED ...] > runs/NAME.out 2>&1 &
# A value may be a JSON mapping or list without spaces (the words are not glob-expanded).
set -u
set -f  # no pathname expansion of the settings: [2,2] is a list, not a glob
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv=${SQSNET_VENV:-$repo/.venv}
if [ $# -lt 3 ]; then echo "usage: $0 NAME \"KEY=VALUE ...\" SEED [SEED ...]" >&2; exit 2; fi
name=$1; sets=$2; shift 2
runs=${SQSNET_RUNS:-$repo/runs}
mkdir -p "$runs"

# One `sqsnet train` run of the preset: skipped when finished, resumed when cut.
#   train_run NAME [KEY=VALUE ...]
train_run() {
  local run=$1; shift
  if [ -f "$runs/$run/summary.json" ]; then echo "$run done"; return; fi
  local resume=""; [ -f "$runs/$run/last.safetensors" ] && resume="--resume"
  echo "=== $run start $(date -u +%FT%TZ) $resume"
  "$venv/bin/sqsnet" train --config "$repo/configs/ferplus_cpu.yaml" \
    --data-root "${SQSNET_DATA:-$repo/../shared/data/ferplus}" \
    --set train.out_dir="$runs" "$@" --run-name "$run" --no-progress $resume \
    >> "$runs/$run.log" 2>&1
  echo "=== $run exit $? $(date -u +%FT%TZ)"
}

for seed in "$@"; do
  # shellcheck disable=SC2086  # the variant's settings are a list of key=value words
  train_run "$name-seed$seed" train.seed="$seed" model.crop_pct=1 $sets
done
