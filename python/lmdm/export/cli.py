"""Export trained models as ONNX graphs for ONNX Runtime (the plugin's only way to run a model).

    python -m lmdm.export lmdm --model models/lmdm-blockcausal --vae models/vae --out models/<name>
    python -m lmdm.export --check models/<name>
    python -m lmdm.export vae --model models/vae --out build/onnx/vae

(`python export/export_onnx.py ...` is the same command.) `lmdm` writes a model package
(lmdm.export.model_package): features, vae_decoder, timestep, context_encoder and denoiser graphs (optimised
offline by ONNX Runtime at its portable level; DiT graphs in fp32, int8 for CPUs or fp16 for GPUs), the
prompt bank and manifest.json, then validates it. `--check` validates a package (files, hashes, graph
signatures, one run of each graph) and says exactly what is wrong. `vae` writes vae_encoder.onnx and
vae_decoder.onnx in streaming form (every cache an explicit state input/output, lmdm.export.vae_graphs) and
checks them against PyTorch on uneven blocks before reporting success.
"""

import argparse
import json
import sys
from pathlib import Path

from ..streaming.torch_streamer import StreamConfig
from .manifest import PackageError, check_package
from .model_package import HOST_SOLVERS, PRECISIONS, START_CONTEXTS, export_lmdm
from .vae_export import export_vae


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--check"]:
        if len(argv) != 2:
            raise SystemExit("usage: python -m lmdm.export --check PACKAGE_FOLDER")
        try:
            manifest = check_package(Path(argv[1]))
        except PackageError as error:
            print(f"invalid package: {error}", file=sys.stderr)
            return 1
        print(f"ok: {argv[1]} ({manifest['stream']['variant']}, {len(manifest['graphs'])} graphs)")
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    lmdm = commands.add_parser("lmdm", help="a model package for the plugin (graphs + manifest)")
    lmdm.add_argument("--model", type=Path, required=True, help="a packaged LMDM (lmdm.dit.release) or a run dir")
    lmdm.add_argument("--vae", type=Path, default=Path("models/vae"))
    lmdm.add_argument("--out", type=Path, required=True)
    lmdm.add_argument("--context-frames", type=int, default=StreamConfig.context_frames)
    lmdm.add_argument("--block-frames", type=int, default=StreamConfig.block_frames)
    lmdm.add_argument("--steps", type=int, default=StreamConfig.steps)
    lmdm.add_argument("--guidance", type=float, default=StreamConfig.guidance)
    lmdm.add_argument("--solver", choices=HOST_SOLVERS, default=StreamConfig.solver,
                      help="how a host samples a block: euler, or pingpong for an ARC-Forcing model (lmdm.arc)")
    lmdm.add_argument("--precision", choices=("fp32", *PRECISIONS), default="fp32",
                      help="DiT graphs and VAE decoder: int8 (CPU) or fp16 (GPU) measure their latent and audio "
                           "change against fp32 into the manifest")
    lmdm.add_argument("--float32-decoder", dest="reduce_decoder", action="store_false",
                      help="keep the VAE decoder in float32 under --precision (as packages before session 24: "
                           "like-for-like comparisons with them)")
    lmdm.add_argument("--start", choices=START_CONTEXTS, default="nothing",
                      help="the context a stream starts from (blockcausal: nothing, default, needs a model "
                           "trained with context dropout; silence: the VAE's latents of silence)")
    lmdm.add_argument("--no-optimize", dest="optimize", action="store_false",
                      help="keep the graphs as exported (default: ONNX Runtime's portable offline optimisation)")
    vae = commands.add_parser("vae", help="streaming vae_encoder.onnx and vae_decoder.onnx")
    vae.add_argument("--model", type=Path, default=Path("models/vae"), help="a shipped VAE or a training checkpoint")
    vae.add_argument("--out", type=Path, required=True, help="folder for the two graphs")
    args = parser.parse_args(argv)
    if args.command == "lmdm":
        result = export_lmdm(args.model, args.vae, args.out, args.context_frames, args.block_frames, args.steps,
                             args.guidance, args.precision, args.optimize, args.start, args.solver,
                             args.reduce_decoder)
    else:
        result = export_vae(args.model, args.out)
    print(json.dumps(result, indent=1))
    return 0
