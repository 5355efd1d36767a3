#!/bin/bash
# session 22: ARC run 9 = run 6 + the loudness read-out term, then its 2-step benchmark (seed 0)
set -x
cd /work/main
RUN_DIR=~/lmdm-runs/arc9 MINUTES=${MINUTES:-30} scripts/train_arc_b8.sh --init-from checkpoints/lmdm-arc6 --teacher-text-guidance 3 --loudness-weight 1 > ~/lmdm-runs/arc9.log 2>&1 || exit 1
date
PY=.venv/bin/python
$PY export/export_onnx.py lmdm --model ~/lmdm-runs/arc9 --vae models/vae --out ~/lmdm-runs/pkg-arc9 --precision int8 --block-frames 8 --solver pingpong --steps 2 --guidance 1 > ~/lmdm-runs/export9.log 2>&1 || exit 1
date
$PY bench/arc_bench.py --arc ~/lmdm-runs/pkg-arc9 --arc-steps 2 --base models/lmdm-live --base-steps 8 --results bench/results/arc9 --jobs 2 --reuse bench/results/arc5/arc/adherence_base_8.json
date
echo RUN9 DONE
