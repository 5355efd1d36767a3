"""The model package's manifest.json: written here, checked here, the one contract between Python and any host.

A package folder holds features.onnx, vae_decoder.onnx, timestep.onnx, context_encoder.onnx,
denoiser.onnx (the last three keep their weights once, in dit_weights.bin), prompts.json and manifest.json. The manifest (schema SCHEMA_VERSION) says everything a
host needs and nothing is assumed elsewhere: rates and sizes, the variant, C and B, the KV layout,
the default steps / time grid / guidance, the latent and control normalisation, the start context,
each graph's file, sha256, inputs and outputs (names, dtypes, shapes with named dynamic axes), the
prompt bank and provenance. `build_manifest` writes it (and nothing else does); `check_package`
validates all of it by hashing and running every graph
once and on its golden fixtures (lmdm.export.fixtures), and says exactly what is wrong otherwise; the C++
engine applies the same rules.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime

from .fixture_check import check_fixtures

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
GRAPHS = ("features", "vae_decoder", "timestep", "context_encoder", "denoiser")
DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.DOUBLE: "float64", onnx.TensorProto.INT64: "int64",
          onnx.TensorProto.BOOL: "bool"}


class PackageError(ValueError):
    """A package a host must refuse; the message says what is wrong and where."""


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def graph_entry(path: Path) -> dict:
    """File, hash and typed signature of one graph, read from the ONNX file itself."""
    model = onnx.load(str(path), load_external_data=False)

    def describe(values) -> list[dict]:
        return [{"name": v.name, "dtype": DTYPES.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type)),
                 "shape": [d.dim_param if d.dim_param else d.dim_value for d in v.type.tensor_type.shape.dim]}
                for v in values]

    initializers = {i.name for i in model.graph.initializer}
    return {"file": path.name, "sha256": sha256(path),
            "inputs": describe([i for i in model.graph.input if i.name not in initializers]),
            "outputs": describe(model.graph.output)}


def build_manifest(out: Path, *, model_config: Any, vae_config: Any, stats: dict, context_frames: int,
                   block_frames: int, steps: int, solver: str, guidance: float, guidance_drops_controls: bool,
                   start_latents: list, time_grid: list[float], control_names: tuple[str, ...], control_hop: int,
                   weights_file: str, prompts_file: str, prompt_count: int, provenance: dict) -> dict:
    """Every section a host reads, for the graphs, weights and prompt bank already written into `out`.
    `model_config` / `vae_config` are the DiT's and the VAE's configs (sizes, rates, variant, controls)."""
    c, v = model_config, vae_config
    return {
        "schema_version": SCHEMA_VERSION,
        "name": out.name,
        "audio": {"sample_rate": v.sample_rate, "channels": 1},
        "latent": {"dim": c.latent_dim, "rate": v.latent_rate, "samples_per_latent": v.samples_per_latent,
                   "mean": stats["latent_mean"], "std": stats["latent_std"],
                   "decoder_delay_samples": v.decoder_delay},
        "stream": {"variant": c.variant, "context_frames": context_frames, "block_frames": block_frames,
                   "default_steps": steps, "time_grid": time_grid, "time_shift": 1.0, "solver": solver,
                   "default_guidance": guidance, "guidance_batch": ["conditional", "unconditional"],
                   "unconditional_drops": ["text", "controls"] if guidance_drops_controls else ["text"],
                   "start_latents": start_latents},
        "kv": {"layers": c.layers, "heads": c.heads, "head_dim": c.head_dim, "max_frames": context_frames,
               "layout": ["layers", "batch", "heads", "frames", "head_dim"], "positions": "absolute frame index"},
        "controls": {"names": list(control_names), "frame_rate": v.latent_rate, "hop": control_hop,
                     "model_inputs": list(c.controls), "voiced_threshold": 0.5,
                     "normalisation": {k: stats[k] for k in ("loudness_db", "brightness", "pitch_midi")}},
        "text": {"dim": c.text_dim, "encoder": "sentence-transformers/all-MiniLM-L6-v2 (normalised)"},
        "graphs": {name: graph_entry(out / f"{name}.onnx") for name in GRAPHS},
        "weights": {"file": weights_file, "sha256": sha256(out / weights_file),
                    "used_by": ["timestep", "context_encoder", "denoiser"]},
        "prompts": {"file": prompts_file, "sha256": sha256(out / prompts_file), "count": prompt_count},
        "provenance": provenance,
    }


def write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")


def dimension_sizes(manifest: dict) -> dict[str, int]:
    """Concrete sizes for the named dynamic axes, for a test run of every graph."""
    stream = manifest["stream"]
    return {"batch": 2, "frames": stream["block_frames"], "cache": stream["context_frames"],
            "audio_samples": stream["block_frames"] * manifest["latent"]["samples_per_latent"],
            "latent_frames": stream["block_frames"]}


def load_manifest(folder: Path) -> dict:
    path = Path(folder) / MANIFEST
    if not path.exists():
        raise PackageError(f"{folder}: no {MANIFEST} (not a model package)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise PackageError(f"{path}: not valid JSON ({error})") from None
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PackageError(f"{path}: schema_version {version!r} is not one this code reads ({SCHEMA_VERSION})")
    return manifest


def check_package(folder: Path) -> dict:
    """Validate a package: files, hashes, graph signatures, and one run of each graph. Raises PackageError."""
    folder = Path(folder)
    manifest = load_manifest(folder)
    for key in ("audio", "latent", "stream", "kv", "controls", "graphs", "weights", "prompts"):
        if key not in manifest:
            raise PackageError(f"{folder / MANIFEST}: missing section {key!r}")
    delay = manifest["latent"].get("decoder_delay_samples")
    if not isinstance(delay, int) or delay < 0:
        raise PackageError(f"{folder / MANIFEST}: latent.decoder_delay_samples must be a whole number >= 0 (the VAE "
                           f"decoder's delay, part of the latency a host reports), not {delay!r}")
    drops = manifest["stream"].get("unconditional_drops", ["text"])
    if drops not in (["text"], ["text", "controls"]):
        raise PackageError(f"{folder / MANIFEST}: stream.unconditional_drops must be [\"text\"] or "
                           f"[\"text\", \"controls\"], not {drops!r}")
    weights = folder / manifest["weights"]["file"]
    if not weights.exists() or sha256(weights) != manifest["weights"]["sha256"]:
        raise PackageError(f"{weights}: missing or its sha256 differs from the manifest (the graphs' weights)")
    sizes = dimension_sizes(manifest)
    for name in GRAPHS:
        entry = manifest["graphs"].get(name)
        if entry is None:
            raise PackageError(f"{folder / MANIFEST}: graph {name!r} is not listed")
        _check_graph(folder, name, entry, sizes)
    prompts = folder / manifest["prompts"]["file"]
    if not prompts.exists() or sha256(prompts) != manifest["prompts"]["sha256"]:
        raise PackageError(f"{prompts}: missing or its sha256 differs from the manifest")
    if "fixtures" in manifest:
        try:
            check_fixtures(folder, manifest)
        except (ValueError, OSError) as error:
            raise PackageError(f"{folder}: golden fixtures fail: {error}") from None
    return manifest


def _check_graph(folder: Path, name: str, entry: dict, sizes: dict[str, int]) -> None:
    path = folder / entry["file"]
    if not path.exists():
        raise PackageError(f"{path}: missing (graph {name!r} of the manifest)")
    if sha256(path) != entry["sha256"]:
        raise PackageError(f"{path}: sha256 differs from the manifest (file changed or corrupt)")
    actual = graph_entry(path)
    for kind in ("inputs", "outputs"):
        if actual[kind] != entry[kind]:
            raise PackageError(f"{path}: {kind} differ from the manifest: graph has {actual[kind]}, "
                               f"manifest says {entry[kind]}")
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feeds = {i["name"]: np.zeros([sizes.get(d, d) if isinstance(d, str) else d for d in i["shape"]],
                                     dtype=i["dtype"]) for i in entry["inputs"]}
        outputs = session.run(None, feeds)
    except Exception as error:  # noqa: BLE001 - any runtime failure is a broken package
        raise PackageError(f"{path}: ONNX Runtime cannot run it ({error})") from None
    for spec, value in zip(entry["outputs"], outputs):
        expected = [sizes.get(d) if isinstance(d, str) else d for d in spec["shape"]]
        if len(expected) != value.ndim or any(e is not None and e != v for e, v in zip(expected, value.shape)):
            raise PackageError(f"{path}: output {spec['name']} has shape {list(value.shape)}, expected {spec['shape']} "
                               f"with {sizes}")
        if not np.isfinite(value).all():
            raise PackageError(f"{path}: output {spec['name']} is not finite on zero input")
