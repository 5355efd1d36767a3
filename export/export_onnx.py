#!/usr/bin/env python3
"""Export trained models as ONNX graphs: the design card's entry point, the same as `python -m lmdm.export`.

    python export/export_onnx.py lmdm --model models/lmdm-blockcausal --vae models/vae --out models/<name>
    python export/export_onnx.py --check models/<name>
    python export/export_onnx.py vae --model models/vae --out build/onnx/vae

The code lives in lmdm.export (`python export/export_onnx.py --help` says the rest).
"""

from lmdm.export.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
