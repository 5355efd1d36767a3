#!/bin/bash
# session 24: after ARC run 10 (run 6 + --loudness-weight 1, 80 min; started with
#   RUN_DIR=~/lmdm-runs/arc10 MINUTES=80 scripts/train_arc_b8.sh --init-from checkpoints/lmdm-arc6 --teacher-text-guidance 3 --loudness-weight 1)
# its export (float32 decoder, like-for-like with runs 5-9 and the reused base runs), 2-step benchmark
# seed 0, the decoder precision benchmark, seeds 1-2.
set -x
cd /work/main
PY=.venv/bin/python
while pgrep -f "lmdm.arc.train" > /dev/null; do sleep 20; done
date
$PY export/export_onnx.py lmdm --model ~/lmdm-runs/arc10 --vae models/vae --out ~/lmdm-runs/pkg-arc10 --precision int8 --float32-decoder --block-frames 8 --solver pingpong --steps 2 --guidance 1 > ~/lmdm-runs/export10.log 2>&1 || exit 1
date
$PY bench/arc_bench.py --arc ~/lmdm-runs/pkg-arc10 --arc-steps 2 --base models/lmdm-live --base-steps 8 --results bench/results/arc10 --jobs 2 --reuse bench/results/arc5/arc/adherence_base_8.json || exit 1
date
PYTHONPATH=python $PY bench/decoder_precision_bench.py || exit 1
date
$PY bench/arc_bench.py --arc ~/lmdm-runs/pkg-arc10 --arc-steps 2 --base models/lmdm-live --base-steps 8 --streams monophonic --seeds 1 2 --results bench/results/arc10-seeds --jobs 2 --reuse bench/results/arc6-seeds/arc/adherence_base_8.json || exit 1
date
echo AFTER10 DONE
