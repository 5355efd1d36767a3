#!/bin/bash
# The adherence campaign (issue 15, docs/lmdm.md "Levers"): the shipped blockcausal LMDM trained on with
# the sinusoidal pitch input, context dropout, context noise, silent rests and (--guitar-controls) the
# controls of the same notes played on a guitar (--guitar-envelope: with targets re-levelled onto the
# guitar's loudness curve). Resumable: rerun the same
# command after an interruption, or with more MINUTES to extend a finished stretch (the run continues
# from its checkpoint; the wall time counts across stretches).
#   MINUTES=80 nohup scripts/train_adherence.sh [lmdm.dit.train flags] > ~/lmdm-runs/adherence.log 2>&1 &
# Keep RUN_DIR outside the work tree: the same machine may serve the next session, the work tree not.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
RUN_DIR="${RUN_DIR:-$HOME/lmdm-runs/blockcausal-adherence}"
MINUTES="${MINUTES:-80}"
DEVICE="${DEVICE:-cpu}"
THREADS="${THREADS:-0}"  # 0: all cores; 1 leaves a core to benchmarks run meanwhile
cd "$ROOT"
[ -f data/lmdm-v1/summary.json ] || "$PY" -m lmdm.data build
"$PY" -m lmdm.latents.build
"$PY" -m lmdm.latents.guitar_controls  # for --guitar-controls; built once (about 10 min on 2 cores)
"$PY" -m lmdm.latents.guitar_envelope  # for --guitar-envelope; built once (about 5 min)
"$PY" -m lmdm.dit.train --variant blockcausal --init-from models/lmdm-blockcausal --run-dir "$RUN_DIR" \
  --learning-rate 3e-4 --warmup-steps 200 --max-minutes "$MINUTES" --checkpoint-minutes 10 --device "$DEVICE" --threads "$THREADS" \
  --precision auto "$@"
