#!/bin/bash
# session 23: ARC run 10 = run 9's recipe (run 6 + the loudness read-out term) for a full stretch, then its
# 2-step benchmark on seed 0 and on seeds 1-2 (issue 17; docs/lmdm.md "Run 10")
set -x
cd /work/main
RUN_DIR=~/lmdm-runs/arc10 MINUTES=${MINUTES:-65} scripts/train_arc_b8.sh --init-from checkpoints/lmdm-arc6 --teacher-text-guidance 3 --loudness-weight 1 > ~/lmdm-runs/arc10.log 2>&1 || exit 1
date
PY=.venv/bin/python
$PY export/export_onnx.py lmdm --model ~/lmdm-runs/arc10 --vae models/vae --out ~/lmdm-runs/pkg-arc10 --precision int8 --block-frames 8 --solver pingpong --steps 2 --guidance 1 > ~/lmdm-runs/export10.log 2>&1 || exit 1
date
$PY bench/arc_bench.py --arc ~/lmdm-runs/pkg-arc10 --arc-steps 2 --base models/lmdm-live --base-steps 8 --results bench/results/arc10 --jobs 2 --reuse bench/results/arc5/arc/adherence_base_8.json
date
$PY bench/arc_bench.py --arc ~/lmdm-runs/pkg-arc10 --arc-steps 2 --base models/lmdm-live --base-steps 8 --streams monophonic --seeds 1 2 --results bench/results/arc10-seeds --jobs 2 --reuse bench/results/arc6-seeds/arc/adherence_base_8.json
date
echo RUN10 DONE
