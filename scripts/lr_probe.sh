#!/usr/bin/env bash
# Short ferplus_cpu runs at several learning-rate multipliers for the Swin (global) branch
# (train.global_lr_scale), to see whether the branch learns or collapses to a constant map
# (the val_global_std column of each run's metrics.csv). The runs keep the preset's 25-epoch
# cosine period, so E epochs are the first E of a full run. Finished runs are skipped, cut
# ones resume. Data: $SQSNET_DATA, else ../shared/data/ferplus beside the repository.
#   scripts/lr_probe.sh OUT_DIR EPOCHS "EXTRA --set VALUES" SCALE [SCALE ...]
#   e.g. scripts/lr_probe.sh runs/probe 4 "model.use_local=false" 1 0.1
set -u
set -f  # no pathname expansion of EXTRA: [2,2] is a list, not a glob
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv=${SQSNET_VENV:-$repo/.venv}
source "$repo/scripts/train_run.sh"
if [ $# -lt 4 ]; then echo "usage: $0 OUT_DIR EPOCHS EXTRA SCALE [SCALE ...]" >&2; exit 2; fi
out=$1; epochs=$2; extra=$3; shift 3
mkdir -p "$out"
for scale in "$@"; do
  # shellcheck disable=SC2086  # EXTRA is a list of key=value words
  train_run "$out" "glr$scale" train.epochs="$epochs" train.patience=0 train.tta=false \
    train.global_lr_scale="$scale" $extra
done
