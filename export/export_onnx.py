#!/usr/bin/env python3
"""Export trained models as ONNX graphs for ONNX Runtime (the plugin's only way to run a model).

    python export/export_onnx.py lmdm --model models/lmdm-blockcausal --vae models/vae --out models/<name>
    python export/export_onnx.py --check models/<name>
    python export/export_onnx.py vae --model models/vae --out build/onnx/vae

`lmdm` writes a model package (lmdm/package.py): features, vae_decoder, timestep, context_encoder and
denoiser graphs (optimised offline by ONNX Runtime at its portable level; DiT graphs in fp32, int8
for CPUs or fp16 for GPUs), the prompt bank and manifest.json, then validates it. `--check` validates a package
(files, hashes, graph signatures, one run of each graph) and says exactly what is wrong. `vae` writes
vae_encoder.onnx and vae_decoder.onnx in streaming form (every cache an explicit state input/output,
lmdm/vae_onnx.py) and checks them against PyTorch on uneven blocks before reporting success.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

import onnx  # noqa: E402
import onnxruntime  # noqa: E402

from lmdm.controls import CONTROL_NAMES, ControlConfig, build_features_onnx  # noqa: E402
from lmdm.dit_files import load_dit  # noqa: E402
from lmdm.dit_onnx import SHARED_WEIGHTS, convert_fp16, export_graphs, quantize_int8, share_weights  # noqa: E402
from lmdm.fixtures import golden_cases, write_fixtures  # noqa: E402
from lmdm.flow import time_grid  # noqa: E402
from lmdm.latent_cache import normalise_latents  # noqa: E402
from lmdm.onnx_optimize import describe as describe_optimization, optimize_offline  # noqa: E402
from lmdm.package import MANIFEST, SCHEMA_VERSION, PackageError, check_package, graph_entry, sha256  # noqa: E402
from lmdm.stream import OnnxStreamer  # noqa: E402
from lmdm.streaming import StreamConfig  # noqa: E402
from lmdm.text import embed_texts  # noqa: E402
from lmdm.vae import VAE, load_vae  # noqa: E402
from lmdm.vae_onnx import OnnxVAEStream, export_streaming_graph  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PROMPTS = {"flute": "solo flute", "violin": "solo violin", "cello": "solo cello", "trumpet": "solo trumpet",
           "clarinet": "solo clarinet", "piano": "solo acoustic grand piano", "organ": "solo church organ",
           "choir": "solo choir", "marimba": "solo marimba", "nylon guitar": "solo nylon guitar",
           "strings": "a string ensemble playing", "brass": "a brass ensemble playing"}

PARITY_TOLERANCE = 1e-4  # the bound on |ONNX Runtime - PyTorch|
PRECISIONS = {"int8": ("int8 dynamic (ONNX Runtime), MatMul/Gemm weights", quantize_int8),
              "fp16": ("float16 weights and arithmetic, float32 inputs/outputs (for GPUs)", convert_fp16)}


@torch.no_grad()
def vae_parity(model: VAE, encoder: Path, decoder: Path, seed: int = 0) -> dict[str, float]:
    """Max |difference| between the graphs and PyTorch, streaming noise-like audio in uneven blocks."""
    c = model.config
    blocks = (1, 3, 8, 2, 16)  # latents per call: the cache, not the block size, must carry context
    audio = torch.randn(1, sum(blocks) * c.samples_per_latent, generator=torch.Generator().manual_seed(seed)) * 0.1
    latents = {"torch": [], "onnx": []}
    decoded = {"torch": [], "onnx": []}
    torch_encode, torch_decode, onnx_encode, onnx_decode = {}, {}, OnnxVAEStream(encoder), OnnxVAEStream(decoder)
    position = 0
    for block in blocks:
        piece = audio[:, position * c.samples_per_latent:(position + block) * c.samples_per_latent]
        z = model.encode(piece, torch_encode)[0]
        latents["torch"].append(z.numpy())
        latents["onnx"].append(onnx_encode(piece.numpy()))
        decoded["torch"].append(model.decode(z, torch_decode).numpy())
        decoded["onnx"].append(onnx_decode(z.numpy()))
        position += block
    difference = lambda kind: float(np.abs(np.concatenate(kind["torch"], -1) - np.concatenate(kind["onnx"], -1)).max())
    return {"encoder_max_abs": difference(latents), "decoder_max_abs": difference(decoded)}


def export_vae(model_folder: Path, out: Path) -> dict:
    model = load_vae(model_folder)
    encoder = export_streaming_graph(model, "encoder", out / "vae_encoder.onnx")
    decoder = export_streaming_graph(model, "decoder", out / "vae_decoder.onnx")
    parity = vae_parity(model, encoder, decoder)
    if max(parity.values()) > PARITY_TOLERANCE:
        raise SystemExit(f"ONNX Runtime disagrees with PyTorch beyond {PARITY_TOLERANCE}: {parity}")
    return {"encoder": str(encoder), "decoder": str(decoder), "parity": parity}


@torch.no_grad()
def precision_change(fp32: Path, reduced: Path, model, context_frames: int, block_frames: int, steps: int,
                        guidance: float, blocks: int = 10) -> dict:
    """Stream the same blocks (seed, controls, prompt) through the fp32 and the reduced-precision graphs;
    the latents' differences (each block fed back as context, so errors may grow)."""
    c = model.config
    config = StreamConfig(context_frames, block_frames, steps, guidance=guidance, seed=0)
    streams = [OnnxStreamer(folder, c.variant, c.layers, c.heads, c.head_dim, c.latent_dim, c.text_dim, config)
               for folder in (fp32, reduced)]
    rng = np.random.default_rng(0)
    start = rng.standard_normal((context_frames, c.latent_dim)).astype(np.float32)
    prompt = rng.standard_normal(c.text_dim).astype(np.float32)
    ones = np.ones((context_frames, len(c.controls)), np.float32)
    for stream in streams:
        stream.set_prompt(prompt)
        stream.start(start, 0 * ones, ones)
    differences, scale = [], []
    for _ in range(blocks):
        values = rng.standard_normal((block_frames, len(c.controls))).astype(np.float32)
        a, b = (s.next_block(values, ones[:block_frames]) for s in streams)
        differences.append(a - b)
        scale.append(a)
    difference, reference = np.concatenate(differences), np.concatenate(scale)
    return {"blocks": blocks, "latent_max_abs_change": float(np.abs(difference).max()),
            "latent_rms_change": float(np.sqrt((difference**2).mean())),
            "latent_rms": float(np.sqrt((reference**2).mean()))}


def optimize_graphs(out: Path, dit_graphs: list[Path]) -> dict:
    """ONNX Runtime's portable offline optimisation of every graph; the DiT graphs' weights shared again."""
    nodes = {path.stem: optimize_offline(path) for path in [out / "features.onnx", out / "vae_decoder.onnx",
                                                              *dit_graphs]}
    share_weights(dit_graphs)
    return {"tool": describe_optimization(), "nodes": nodes}


def reduce_precision(out: Path, graphs: dict[str, Path], precision: str, measure) -> dict:
    """Convert the DiT graphs in place and measure the change against the float32 ones."""
    description, convert = PRECISIONS[precision]
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch)
        for path in [*graphs.values(), out / SHARED_WEIGHTS]:
            shutil.copy(path, fp32 / path.name)
        convert(list(graphs.values()))
        return {"precision": precision, "type": description} | measure(fp32, out)


START_CONTEXTS = ("nothing", "silence")


def export_lmdm(model_folder: Path, vae_folder: Path, out: Path, context_frames: int, block_frames: int,
                steps: int, guidance: float, precision: str = "fp32", optimize: bool = True,
                start: str = "nothing") -> dict:
    """Write and validate a model package: DiT graphs in fp32, or int8 / fp16 with the quality change
    measured; every graph optimised offline unless `optimize` is off. `start`: the context a stream
    starts from: "nothing" (block-causal models fine-tuned with context dropout generate the first
    block from the controls and the prompt alone, and the cache fills block by block) or "silence"
    (C frames of the VAE's latents of silence, which a model without context dropout needs)."""
    model, stats = load_dit(model_folder)
    if start == "nothing" and model.config.variant != "blockcausal":
        raise SystemExit("--start nothing needs a blockcausal model (encdec always encodes C context frames)")
    vae = load_vae(vae_folder)
    if model.config.variant not in ("encdec", "blockcausal"):
        raise SystemExit(f"only the cached variants are packaged (encdec, blockcausal), not {model.config.variant}")
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(build_features_onnx(), str(out / "features.onnx"))
    export_streaming_graph(vae, "decoder", out / "vae_decoder.onnx")
    graphs = export_graphs(model, out, batch=2, context_frames=context_frames, frames=block_frames)
    optimization = optimize_graphs(out, list(graphs.values())) if optimize else None
    quantization = None  # the reduced precision and its measured change, if any
    if precision != "fp32":
        quantization = reduce_precision(out, graphs, precision, lambda fp32, reduced: precision_change(
            fp32, reduced, model, context_frames, block_frames, steps, guidance))
    silence, _ = vae.encode(torch.zeros(1, context_frames * vae.config.samples_per_latent))
    start_latents = normalise_latents(silence[0].T, stats).tolist() if start == "silence" else []
    embeddings = embed_texts(list(PROMPTS.values()))
    bank = [{"name": name, "text": text, "embedding": [round(float(x), 7) for x in vector]}
            for (name, text), vector in zip(PROMPTS.items(), embeddings)]
    (out / "prompts.json").write_text(json.dumps({"prompts": bank}) + "\n")
    c, v = model.config, vae.config
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "name": out.name,
        "audio": {"sample_rate": v.sample_rate, "channels": 1},
        "latent": {"dim": c.latent_dim, "rate": v.latent_rate, "samples_per_latent": v.samples_per_latent,
                   "mean": stats["latent_mean"], "std": stats["latent_std"],
                   "decoder_delay_samples": v.decoder_delay},
        "stream": {"variant": c.variant, "context_frames": context_frames, "block_frames": block_frames,
                   "default_steps": steps, "time_grid": time_grid(steps), "time_shift": 1.0, "solver": "euler",
                   "default_guidance": guidance, "guidance_batch": ["conditional", "unconditional"],
                   "unconditional_drops": ["text", "controls"] if StreamConfig.guidance_drops_controls else ["text"],
                   "start_latents": start_latents},
        "kv": {"layers": c.layers, "heads": c.heads, "head_dim": c.head_dim, "max_frames": context_frames,
               "layout": ["layers", "batch", "heads", "frames", "head_dim"], "positions": "absolute frame index"},
        "controls": {"names": list(CONTROL_NAMES), "frame_rate": v.latent_rate, "hop": ControlConfig().hop,
                     "model_inputs": list(c.controls), "voiced_threshold": 0.5,
                     "normalisation": {k: stats[k] for k in ("loudness_db", "brightness", "pitch_midi")}},
        "text": {"dim": c.text_dim, "encoder": "sentence-transformers/all-MiniLM-L6-v2 (normalised)"},
        "graphs": {name: graph_entry(out / f"{name}.onnx")
                   for name in ("features", "vae_decoder", "timestep", "context_encoder", "denoiser")},
        "weights": {"file": SHARED_WEIGHTS, "sha256": sha256(out / SHARED_WEIGHTS),
                    "used_by": ["timestep", "context_encoder", "denoiser"]},
        "prompts": {"file": "prompts.json", "sha256": sha256(out / "prompts.json"), "count": len(bank)},
        "provenance": {"commit": commit, "command": " ".join(sys.argv), "model_sha256": sha256(model_folder /
                       "model.safetensors") if (model_folder / "model.safetensors").exists() else None,
                       "vae_sha256": sha256(vae_folder / "model.safetensors")},
    }
    if optimization:
        manifest["optimization"] = optimization
    cases = golden_cases(model, vae, context_frames, block_frames)
    if quantization:  # the reduced graphs' reference is what ONNX Runtime computes with them, not PyTorch
        for name in graphs:
            session = onnxruntime.InferenceSession(str(graphs[name]), providers=["CPUExecutionProvider"])
            inputs, _ = cases[name]
            cases[name] = (inputs, dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs))))
        manifest["precision"] = quantization
    manifest["fixtures"] = write_fixtures(out, cases)
    manifest["fixtures"]["reference"] = "PyTorch" if not quantization else "PyTorch (features, vae_decoder), " \
        f"ONNX Runtime CPU ({precision} DiT graphs)"
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
    check_package(out)
    return {"package": str(out), "files": sorted(p.name for p in out.iterdir())}


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--check"]:
        if len(argv) != 2:
            raise SystemExit("usage: export_onnx.py --check PACKAGE_FOLDER")
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
    lmdm.add_argument("--model", type=Path, required=True, help="a packaged LMDM (lmdm.dit_package) or a run dir")
    lmdm.add_argument("--vae", type=Path, default=Path("models/vae"))
    lmdm.add_argument("--out", type=Path, required=True)
    lmdm.add_argument("--context-frames", type=int, default=64)
    lmdm.add_argument("--block-frames", type=int, default=16)
    lmdm.add_argument("--steps", type=int, default=8)
    lmdm.add_argument("--guidance", type=float, default=2.0)
    lmdm.add_argument("--precision", choices=("fp32", *PRECISIONS), default="fp32",
                      help="DiT graphs: int8 (CPU) or fp16 (GPU) measure their latent change against fp32 into "
                           "the manifest")
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
                             args.guidance, args.precision, args.optimize, args.start)
    else:
        result = export_vae(args.model, args.out)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
