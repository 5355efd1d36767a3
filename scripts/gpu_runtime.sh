#!/usr/bin/env bash
# Unpacks ONNX Runtime's CUDA build (the onnxruntime-gpu wheel pinned in requirements-gpu.txt, from the
# package index pip is configured with) into third_party/onnxruntime-gpu: the runtime and the two
# provider libraries the GPU build bundles beside it. Idempotent; prints the folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/third_party/onnxruntime-gpu"
PIN="$(grep -E '^onnxruntime-gpu==' "$ROOT/requirements-gpu.txt")"
if [ "$(cat "$DEST/.pin" 2>/dev/null)" != "$PIN" ]; then
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  "$ROOT/.venv/bin/pip" download -q --no-deps --only-binary=:all: -d "$WORK" "$PIN"
  rm -rf "$DEST" && mkdir -p "$DEST"
  "$ROOT/.venv/bin/python" - "$WORK"/onnxruntime_gpu-*.whl "$DEST" <<'PY'
import re, shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
wanted = {r"libonnxruntime\.so\.1\.\d+\.\d+$": "libonnxruntime.so.1",
          r"libonnxruntime_providers_shared\.so$": "libonnxruntime_providers_shared.so",
          r"libonnxruntime_providers_cuda\.so$": "libonnxruntime_providers_cuda.so"}
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        for pattern, target in wanted.items():
            if name.startswith("onnxruntime/capi/") and re.search(pattern, name):
                with archive.open(name) as source, open(f"{dest}/{target}", "wb") as out:
                    shutil.copyfileobj(source, out)
                wanted.pop(pattern)
                break
if wanted:
    sys.exit(f"{wheel} lacks {sorted(wanted.values())}")
PY
  echo "$PIN" > "$DEST/.pin"
fi
echo "$DEST"
