#!/bin/bash
# ARC-Forcing (issue 17, docs/lmdm.md "ARC-Forcing"): adversarial post-training of a block-causal LMDM on its
# own multi-block rollouts (lmdm.arc.train), from the adherence campaign's model, on the same windows
# (guitar controls, re-levelled targets, solo examples twice as often). Resumable: rerun the same command
# after an interruption, or with more MINUTES to extend a finished stretch.
#   MINUTES=80 nohup scripts/train_arc.sh [lmdm.arc.train flags] > ~/lmdm-runs/arc.log 2>&1 &
# Keep RUN_DIR outside the work tree: the same machine may serve the next session, the work tree not.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
RUN_DIR="${RUN_DIR:-$HOME/lmdm-runs/arc}"
MINUTES="${MINUTES:-80}"
DEVICE="${DEVICE:-cpu}"
THREADS="${THREADS:-0}"
INIT_FROM="${INIT_FROM:-checkpoints/lmdm-blockcausal-v6-envelope}"
cd "$ROOT"
[ -f data/lmdm-v1/summary.json ] || "$PY" -m lmdm.data build
"$PY" -m lmdm.latents.build
"$PY" -m lmdm.latents.guitar_controls
"$PY" -m lmdm.latents.guitar_envelope
"$PY" -m lmdm.arc.train --init-from "$INIT_FROM" --run-dir "$RUN_DIR" --max-minutes "$MINUTES" --checkpoint-minutes 10 \
  --guitar-controls 0.75 --own-brightness --solo-weight 2 --guitar-envelope --device "$DEVICE" --threads "$THREADS" \
  --precision auto "$@"
