#!/usr/bin/env bash
# Full ferplus_cpu runs of one variant (extra --set values) for several seeds, one after the
# other, each in runs/NAME-seedS ($SQSNET_RUNS instead of runs/ when set). model.crop_pct=1
# keeps validation (and so the epoch selection) as in the recorded seeds of the hybrid and
# its CNN-only baseline (results/runs/), so the runs pair with them seed by seed. Rerun to
# continue: finished runs are skipped, cut ones resume (--resume). Data: $SQSNET_DATA, else
# ../shared/data/ferplus beside the repository.
#   mkdir -p runs && nohup scripts/variant_jobs.sh NAME "KEY=VALUE ..." SEED [SEED ...] \
#       > runs/NAME.out 2>&1 &
# A value may be a JSON mapping or list without spaces (the words are not glob-expanded):
#   scripts/variant_jobs.sh hybrid_stem1 'model.global_from_local=1 model.global_branch.kwargs=
#   {"img_size":24,"patch_size":2,"embed_dim":48,"depths":[2,2],"num_heads":[2,4],
#   "window_size":6}' 0 1        (one argument, written here on three lines)
set -u
set -f  # no pathname expansion of the settings: [2,2] is a list, not a glob
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv=${SQSNET_VENV:-$repo/.venv}
source "$repo/scripts/train_run.sh"
if [ $# -lt 3 ]; then echo "usage: $0 NAME \"KEY=VALUE ...\" SEED [SEED ...]" >&2; exit 2; fi
name=$1; sets=$2; shift 2
runs=${SQSNET_RUNS:-$repo/runs}
mkdir -p "$runs"
for seed in "$@"; do
  # shellcheck disable=SC2086  # the variant's settings are a list of key=value words
  train_run "$runs" "$name-seed$seed" train.seed="$seed" model.crop_pct=1 $sets
done
