#!/usr/bin/env bash
# The GPU latency check of issue 18 in one command, for a Linux machine with an NVIDIA GPU and its driver
# (CUDA 13 needs driver R580 or newer):
#   bench/gpu_check.sh [SECONDS_PER_BUFFER]      (default 120)
# 1. builds the GPU build's host (build-gpu: the engine with onnxruntime-gpu and its CUDA provider);
# 2. finds CUDA 13 and cuDNN 9: the system's (ldconfig), else NVIDIA's wheels from the package index
#    into third_party/cuda-libs, put on LD_LIBRARY_PATH for this run;
# 3. renders a few seconds with --provider cuda and stops with ONNX Runtime's reason if CUDA does not start;
# 4. runs the latency benchmark with the shipped package on CUDA at 64, 256 and 1024-frame buffers:
#    bench/results/gpu/latency.{json,png} (worker time per block = the whole per-block chain, the delay
#    the host reports, misses, the audio thread's share of each callback).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_BUFFER="${1:-120}"
make --no-print-directory gpu-host

if ! ldconfig -p | grep -q 'libcudart.so.13' || ! ldconfig -p | grep -q 'libcudnn.so.9'; then
  CUDA_LIBS="$ROOT/third_party/cuda-libs"
  if [ ! -f "$CUDA_LIBS/.done" ]; then
    echo "gpu_check: no system CUDA 13 / cuDNN 9; installing NVIDIA's wheels into $CUDA_LIBS"
    .venv/bin/pip install -q --target "$CUDA_LIBS" "nvidia-cuda-runtime~=13.0" "nvidia-cuda-nvrtc~=13.0" \
      "nvidia-cufft~=12.0" "nvidia-curand~=10.0" "nvidia-cudnn-cu13~=9.0"
    touch "$CUDA_LIBS/.done"
  fi
  LD_LIBRARY_PATH="$(find "$CUDA_LIBS/nvidia" -maxdepth 2 -name lib -type d | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi

probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
build-gpu/lmdm_host render assets/guitar_clip.flac "$probe/out.wav" --model models/lmdm-live --provider cuda \
  --pace offline --tail 0 --report "$probe/report.json" 2> "$probe/log" || { cat "$probe/log"; exit 1; }
provider="$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['provider'])" "$probe/report.json")"
if [ "$provider" != "cuda" ]; then
  echo "gpu_check: CUDA did not start; the engine ran on the CPU:"; cat "$probe/log"; exit 1
fi
processor="$(.venv/bin/python -c "import json,sys; print(json.load(open(sys.argv[1]))['processor'])" "$probe/report.json")"
echo "gpu_check: CUDA runs $processor (the float16 twin, models/lmdm-live-fp16, where present); measuring latency"
.venv/bin/python bench/latency_bench.py --build-dir build-gpu --provider cuda --seconds "$SECONDS_PER_BUFFER" \
  --out bench/results/gpu
