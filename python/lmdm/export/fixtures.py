"""Golden fixtures of a model package: per graph, inputs and the outputs PyTorch computes for them.

fixtures/<graph>.safetensors holds `input.<name>` and `output.<name>` tensors (safetensors: an 8-byte
header length, a JSON header, raw little-endian data; trivial to read from C++). Any runtime that
runs the package (ONNX Runtime from Python, the C++ engine) must reproduce the outputs within the
manifest's `fixtures.tolerance` (absolute, scaled by max(1, |expected|)); lmdm.export.fixture_check
runs them without PyTorch.
"""

from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from ..conditioning.controls import compute_controls
from ..dit.model import DiT
from ..vae.model import VAE
from .dit_graphs import ContextEncoderGraph, DenoiserGraph, TimestepGraph, example_inputs
from .vae_graphs import STATE_IN, STATE_OUT, state_layout

FOLDER = "fixtures"
TOLERANCE = {"features": 2e-3, "vae_decoder": 1e-4, "timestep": 1e-4, "context_encoder": 1e-4, "denoiser": 1e-4}
# An int8 graph's reference is ONNX Runtime's CPU output on the exporting machine, and its integer
# kernels differ between x86 CPUs: on an AVX2-only AMD EPYC (session 23) the shipped int8 graphs differed
# from fixtures made on a machine with AVX-512 by 0.049 (context encoder), 0.031 (denoiser) and 0.006
# (timestep), scaled as the rule says; a wrong graph differs by order 1.
INT8_TOLERANCE = 0.1


@torch.no_grad()
def golden_cases(model: DiT, vae: VAE, context_frames: int, block_frames: int, seed: int = 0) -> dict[str, tuple]:
    """graph -> (inputs, outputs) as numpy, computed by the PyTorch modules the graphs come from."""
    torch.manual_seed(seed)
    cases = {}
    dit = example_inputs(model, 2, context_frames, block_frames)
    dit["denoiser"]["use_text"] = dit["context_encoder"]["use_text"] = torch.tensor([1.0, 0.0])  # cond, uncond
    for name, graph in (("timestep", TimestepGraph), ("context_encoder", ContextEncoderGraph),
                        ("denoiser", DenoiserGraph)):
        outputs = graph(model)(*dit[name].values())
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        names = {"timestep": ["modulations", "out_modulation"], "context_encoder": ["new_keys", "new_values"],
                 "denoiser": ["velocity"]}[name]
        cases[name] = ({k: v.numpy() for k, v in dit[name].items()}, dict(zip(names, (o.numpy() for o in outputs))))
    t = np.arange(block_frames * vae.config.samples_per_latent) / vae.config.sample_rate
    audio = (0.3 * np.sin(2 * np.pi * 220 * t) * np.minimum(1, t * 8)).astype(np.float32)
    cases["features"] = ({"audio": audio[None]}, {"controls": compute_controls(audio)[None]})
    latents = torch.randn(1, vae.config.latent_dim, block_frames)
    layout = state_layout(vae, "decoder")
    state = {key: torch.randn(shape) * 0.01 for key, shape in layout.items()}  # mid-stream, not a fresh start
    inputs = {"latents": latents.numpy()} | {STATE_IN + k: v.numpy() for k, v in state.items()}
    streamed = dict(state)
    audio_out = vae.decode(latents, streamed)
    cases["vae_decoder"] = (inputs, {"audio": audio_out.numpy()} | {STATE_OUT + k: streamed[k].numpy() for k in layout})
    return cases


def write_fixtures(folder: Path, cases: dict[str, tuple]) -> dict:
    """Write fixtures/<graph>.safetensors; returns the manifest section."""
    (folder / FOLDER).mkdir(parents=True, exist_ok=True)
    for name, (inputs, outputs) in cases.items():
        tensors = {f"input.{k}": np.ascontiguousarray(v) for k, v in inputs.items()}
        tensors |= {f"output.{k}": np.ascontiguousarray(v) for k, v in outputs.items()}
        save_file(tensors, str(folder / FOLDER / f"{name}.safetensors"))
    return {"folder": FOLDER, "graphs": sorted(cases), "tolerance": TOLERANCE,
            "rule": "|actual - expected| <= tolerance * max(1, max|expected|) per output"}
