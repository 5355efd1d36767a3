#!/bin/bash
# ARC-Forcing on the shipped 8-frame model (issue 17, docs/lmdm.md "Run 5" and "Run 6"): generator and guided
# teacher both start from models/lmdm-blockcausal, rollouts of 8 chunks of 8 frames, the data the base was
# trained on (data/lmdm-v2, built here if missing: about 20 min on 2 cores). Run 5's recipe; extra flags
# (e.g. run 6's --teacher-text-guidance 3) come after it and override. Resumable: rerun the same command
# after an interruption, or with more MINUTES to extend a finished stretch.
#   MINUTES=80 RUN_DIR=~/lmdm-runs/arc6 nohup scripts/train_arc_b8.sh --teacher-text-guidance 3 > ~/lmdm-runs/arc6.log 2>&1 &
# Keep RUN_DIR outside the work tree: the same machine may serve the next session, the work tree not; commit
# the EMA before the session ends: python -m lmdm.dit.keep --run-dir RUN_DIR --out checkpoints/lmdm-arcN.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
RUN_DIR="${RUN_DIR:-$HOME/lmdm-runs/arc-b8}"
MINUTES="${MINUTES:-80}"
DEVICE="${DEVICE:-cpu}"
THREADS="${THREADS:-0}"
cd "$ROOT"
[ -f data/lmdm-v2/summary.json ] || "$PY" -m lmdm.data build --output data/lmdm-v2 --focus-programs 40 42 --focus-hours 1.0
"$PY" -m lmdm.latents.build --data data/lmdm-v2
"$PY" -m lmdm.arc.train --init-from models/lmdm-blockcausal --teacher models/lmdm-blockcausal --data data/lmdm-v2 \
  --run-dir "$RUN_DIR" --max-minutes "$MINUTES" --checkpoint-minutes 10 --device "$DEVICE" --threads "$THREADS" \
  --block-frames 8 --chunks 8 --text-contrastive-weight 4 --teacher-text-guidance 1 --precision auto \
  --generator-learning-rate 2e-5 --discriminator-learning-rate 5e-5 --log-snr-range -2 4 --flow-weight 1 \
  --penalty-weight 1 --penalty-sigma 0.01 --exit-layer 4 --distill-weight 2 --teacher-guidance 2 \
  --distill-log-snr-range -2 3 --rollout-no-context 0.35 --rollout-partial-context 0.2 "$@"
