"""`lmdm` export: a model package for the plugin (lmdm.export.manifest says what one holds).

features, vae_decoder, timestep, context_encoder and denoiser graphs, optimised offline by ONNX Runtime
at its portable level, the DiT graphs in fp32, int8 for CPUs or fp16 for GPUs (with the VAE decoder)
with the change measured against fp32; the prompt bank; golden fixtures; the manifest, validated before
success.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch

from ..conditioning.controls import CONTROL_NAMES, ControlConfig
from ..conditioning.prompts import prompt_bank
from ..dit.files import load_dit
from ..dit.flow import time_grid
from ..dit.variants import Variant
from ..latents.cache import normalise_latents
from ..streaming.onnx_streamer import OnnxStreamer
from ..streaming.onnx_vae import OnnxVAEStream
from ..streaming.torch_streamer import StreamConfig
from ..vae.model import load_vae
from .dit_graphs import SHARED_WEIGHTS, convert_fp16, convert_graph_fp16, export_graphs, quantize_int8, share_weights
from .feature_graphs import build_features_onnx
from .fixtures import INT8_TOLERANCE, TOLERANCE, golden_cases, write_fixtures
from .manifest import build_manifest, check_package, sha256, write_manifest
from .optimize import describe as describe_optimization
from .optimize import optimize_offline
from .vae_graphs import export_streaming_graph, quantize_decoder_int8

REPO = Path(__file__).resolve().parents[3]
PRECISIONS = {"int8": ("int8 dynamic (ONNX Runtime), MatMul/Gemm weights", quantize_int8),
              "fp16": ("float16 weights and arithmetic, float32 inputs/outputs (for GPUs)", convert_fp16)}
# The decoder is the package's largest graph after the DiT's weights (fp32: 18.6 MB) and, at 2 steps, a
# quarter of a block's time. A GPU runs the whole chain in float16, so fp16 converts it too; int8
# quantises its ConvNeXt blocks' MLPs (0.05 dB of log-mel change, half the size and a third of the time:
# bench/results/decoder_precision.json), keeping the head and inverse DFT in float32.
DECODER_PRECISIONS = {"fp16": convert_graph_fp16, "int8": quantize_decoder_int8}
DECODER = "vae_decoder.onnx"


@torch.no_grad()
def precision_change(fp32: Path, reduced: Path, model, context_frames: int, block_frames: int, steps: int,
                        guidance: float, solver: str = StreamConfig.solver, blocks: int = 10) -> dict:
    """Stream the same blocks (seed, controls, prompt) through the fp32 and the reduced-precision graphs;
    the latents' differences (each block fed back as context, so errors may grow)."""
    c = model.config
    config = StreamConfig(context_frames, block_frames, steps, solver, guidance=guidance, seed=0)
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


@torch.no_grad()
def decoder_precision_change(fp32: Path, reduced: Path, vae, block_frames: int, seconds: float = 4.0) -> dict:
    """Stream the same latents (the VAE's own of a plucked harmonic tone, a note a second) through the
    fp32 and the reduced-precision decoder, block by block as a host does; the audio's change."""
    rate = vae.config.sample_rate
    hop = vae.config.samples_per_latent
    time = np.arange(int(seconds * rate) // hop * hop) / rate
    tone = sum(np.sin(2 * np.pi * 220 * k * time) / k for k in range(1, 6)) * np.exp(-3 * (time % 1.0)) * 0.3
    latents = vae.encode(torch.from_numpy(tone).float()[None])[0].numpy()
    audio = []
    for folder in (fp32, reduced):
        stream = OnnxVAEStream(folder / DECODER)
        audio.append(np.concatenate([stream(latents[..., start:start + block_frames])
                                     for start in range(0, latents.shape[-1], block_frames)], axis=-1))
    reference, change = audio[0], audio[1] - audio[0]
    return {"decoder_audio_snr_db": float(10 * np.log10((reference**2).mean() / (change**2).mean())),
            "decoder_audio_max_abs_change": float(np.abs(change).max()),
            "decoder_audio_rms": float(np.sqrt((reference**2).mean()))}


def reduce_precision(out: Path, graphs: dict[str, Path], precision: str, measure, measure_decoder,
                     reduce_decoder: bool = True) -> dict:
    """Convert the DiT graphs (and, in DECODER_PRECISIONS unless not `reduce_decoder`, the VAE decoder)
    in place and measure the change against the float32 ones."""
    description, convert = PRECISIONS[precision]
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = Path(scratch)
        for path in [*graphs.values(), out / SHARED_WEIGHTS, out / DECODER]:
            shutil.copy(path, fp32 / path.name)
        convert(list(graphs.values()))
        change = {"precision": precision, "type": description} | measure(fp32, out)
        if reduce_decoder and precision in DECODER_PRECISIONS:
            DECODER_PRECISIONS[precision](out / DECODER)
            change |= {"graphs": [*graphs, "vae_decoder"]} | measure_decoder(fp32, out)
        else:
            change["graphs"] = list(graphs)
        return change


START_CONTEXTS = ("nothing", "silence")
HOST_SOLVERS = ("euler", "pingpong")  # what the C++ engine implements (ModelPackage::Solver)


def export_lmdm(model_folder: Path, vae_folder: Path, out: Path, context_frames: int, block_frames: int,
                steps: int, guidance: float, precision: str = "fp32", optimize: bool = True,
                start: str = "nothing", solver: str = StreamConfig.solver, reduce_decoder: bool = True) -> dict:
    """Write and validate a model package: DiT graphs in fp32, or int8 / fp16 with the quality change
    measured; every graph optimised offline unless `optimize` is off. `start`: the context a stream
    starts from: "nothing" (block-causal models fine-tuned with context dropout generate the first
    block from the controls and the prompt alone, and the cache fills block by block) or "silence"
    (C frames of the VAE's latents of silence, which a model without context dropout needs). `solver`:
    "euler", or "pingpong" for a model post-trained by ARC-Forcing (lmdm.arc), which a host then samples
    the way it was trained (lmdm.dit.flow). `reduce_decoder` off keeps the VAE decoder in float32."""
    if solver not in HOST_SOLVERS:
        raise SystemExit(f"a host samples with one of {HOST_SOLVERS}, not {solver!r}")
    model, stats = load_dit(model_folder)
    if start == "nothing" and not Variant(model.config.variant).incremental:
        raise SystemExit("--start nothing needs a blockcausal model (encdec always encodes C context frames)")
    vae = load_vae(vae_folder)
    if not Variant(model.config.variant).routed:
        raise SystemExit(f"only the cached variants are packaged (encdec, blockcausal), not {model.config.variant}")
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(build_features_onnx(), str(out / "features.onnx"))
    export_streaming_graph(vae, "decoder", out / "vae_decoder.onnx")
    graphs = export_graphs(model, out, batch=2, context_frames=context_frames, frames=block_frames)
    optimization = optimize_graphs(out, list(graphs.values())) if optimize else None
    quantization = None  # the reduced precision and its measured change, if any
    if precision != "fp32":
        quantization = reduce_precision(out, graphs, precision, lambda fp32, reduced: precision_change(
            fp32, reduced, model, context_frames, block_frames, steps, guidance, solver),
            lambda fp32, reduced: decoder_precision_change(fp32, reduced, vae, block_frames), reduce_decoder)
    silence, _ = vae.encode(torch.zeros(1, context_frames * vae.config.samples_per_latent))
    start_latents = normalise_latents(silence[0].T, stats).tolist() if start == "silence" else []
    bank = prompt_bank()
    (out / "prompts.json").write_text(json.dumps({"prompts": bank}) + "\n")
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    provenance = {"commit": commit, "command": " ".join(sys.argv),
                  "model_sha256": sha256(model_folder / "model.safetensors")
                  if (model_folder / "model.safetensors").exists() else None,
                  "vae_sha256": sha256(vae_folder / "model.safetensors")}
    manifest = build_manifest(out, model_config=model.config, vae_config=vae.config, stats=stats,
                              context_frames=context_frames, block_frames=block_frames, steps=steps, solver=solver,
                              guidance=guidance,
                              guidance_drops_controls=StreamConfig.guidance_drops_controls,
                              start_latents=start_latents, time_grid=time_grid(steps), control_names=CONTROL_NAMES,
                              control_hop=ControlConfig().hop, weights_file=SHARED_WEIGHTS,
                              prompts_file="prompts.json", prompt_count=len(bank), provenance=provenance)
    if optimization:
        manifest["optimization"] = optimization
    cases = golden_cases(model, vae, context_frames, block_frames)
    if quantization:  # the reduced graphs' reference is what ONNX Runtime computes with them, not PyTorch
        for name in quantization["graphs"]:
            session = onnxruntime.InferenceSession(str(out / f"{name}.onnx"), providers=["CPUExecutionProvider"])
            inputs, _ = cases[name]
            cases[name] = (inputs, dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs))))
        manifest["precision"] = quantization
    manifest["fixtures"] = write_fixtures(out, cases)
    reduced = quantization["graphs"] if quantization else []
    if precision == "int8":
        manifest["fixtures"]["tolerance"] = {**TOLERANCE, **{name: INT8_TOLERANCE for name in reduced}}
    manifest["fixtures"]["reference"] = "PyTorch" if not quantization else \
        f"PyTorch ({', '.join(name for name in cases if name not in reduced)}), " \
        f"ONNX Runtime CPU ({precision}: {', '.join(reduced)})"
    write_manifest(out, manifest)
    check_package(out)
    return {"package": str(out), "files": sorted(p.name for p in out.iterdir())}
