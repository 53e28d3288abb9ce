# Sourced by the experiment scripts (lr_probe.sh, variant_jobs.sh): one `sqsnet train` run of
# the ferplus_cpu preset that is skipped when finished and resumed when cut.
#   train_run RUNS_DIR NAME [KEY=VALUE ...]   (the run's --set values)
# Needs $repo (the repository) and $venv (the environment with `sqsnet`). Data:
# $SQSNET_DATA, else ../shared/data/ferplus beside the repository. The log goes to
# RUNS_DIR/NAME.log, appended, so a resumed run keeps the log of its earlier part.
train_run() {
  local runs=$1 name=$2; shift 2
  if [ -f "$runs/$name/summary.json" ]; then echo "$name done"; return; fi
  local resume=""; [ -f "$runs/$name/last.safetensors" ] && resume="--resume"
  echo "=== $name start $(date -u +%FT%TZ) $resume"
  "$venv/bin/sqsnet" train --config "$repo/configs/ferplus_cpu.yaml" \
    --data-root "${SQSNET_DATA:-$repo/../shared/data/ferplus}" \
    --set train.out_dir="$runs" "$@" --run-name "$name" --no-progress $resume \
    >> "$runs/$name.log" 2>&1
  echo "=== $name exit $? $(date -u +%FT%TZ)"
}
