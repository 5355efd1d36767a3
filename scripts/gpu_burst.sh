#!/bin/bash
# A training burst on a lent GPU machine (docs/lmdm.md "On a lent GPU machine"): unpacks the carried
# latent cache, trains the runs named in RUNS side by side from the shipped blockcausal model (a
# 12 M-parameter DiT leaves one GPU mostly idle, so two runs cost little more than one), then writes
# each run's EMA weights and logs to OUT for the trip back (lmdm.training.run_transfer).
#   RUNS="plain: rollout:--rollout-examples,32" MINUTES=7 OUT=$OUT scripts/gpu_burst.sh
# A run is NAME:FLAGS, the extra lmdm.dit.train flags separated by commas. Back here:
#   python -m lmdm.training.run_transfer receive --parts <its files> --run-dir ~/lmdm-runs/gpu-NAME
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY="${PY:-python3}"
PACK="${PACK:-.gpu/latents.pack}"
DATA="${DATA:-data/lmdm-v1}"  # unpacked where it lies here, so the runs' configs name a path valid on both
RUNS_DIR="${RUNS_DIR:-/root/lmdm-runs}"
RUNS="${RUNS:-plain:}"
MINUTES="${MINUTES:-7}"
DEVICE="${DEVICE:-cuda}"
BATCH="${BATCH:-128}"
LEARNING_RATE="${LEARNING_RATE:-3e-4}"
THREADS="${THREADS:-4}"
OUT="${OUT:?OUT names the folder the results go to}"

cache="$("$PY" -m lmdm.latents.pack unpack --pack "$PACK" --data "$DATA")" || exit 1
cache="$(realpath --relative-to="$ROOT" "$cache")"
echo "latent cache: $cache"
train() {  # RUN_DIR [lmdm.dit.train flags...]: one run from the shipped model, the burst's settings
  local run_dir="$1"; shift
  mkdir -p "$run_dir"
  "$PY" -m lmdm.dit.train --variant blockcausal --init-from models/lmdm-blockcausal --latent-cache "$cache" \
    --run-dir "$run_dir" --device "$DEVICE" --threads "$THREADS" --precision auto \
    --batch-size "$BATCH" --learning-rate "$LEARNING_RATE" --warmup-steps 300 \
    --context-dropout 0.5 --context-partial 0.3 "$@" > "$run_dir/train.log" 2>&1
}
# a few steps with a validation and a checkpoint first: a broken setup fails in seconds, not at the end
if ! train "$RUNS_DIR/smoke" --max-steps 4 --valid-every 2 --rollout-examples 2; then
  tail -n 30 "$RUNS_DIR/smoke/train.log"; exit 1
fi
for run in $RUNS; do
  name="${run%%:*}" flags="${run#*:}"
  # shellcheck disable=SC2086  # the flags are words on purpose
  train "$RUNS_DIR/$name" --max-minutes "$MINUTES" --checkpoint-minutes 2 ${flags//,/ } &
done
wait
status=0
for run in $RUNS; do
  name="${run%%:*}"
  tail -n 3 "$RUNS_DIR/$name/train.log"
  "$PY" -m lmdm.training.run_transfer send --run-dir "$RUNS_DIR/$name" --out "$OUT" --prefix "$name" || status=1
done
exit $status
