"""Per-graph latency in ONNX Runtime and the whole per-block chain as a real-time factor, beside PyTorch.

Builds a model package from a DiT (default: the small config with random weights, whose cost equals
a trained one's) and the VAE, then times what a host does per block: features of the block's input
audio, one context_encoder call (blockcausal: the new block), S denoiser calls (CFG batch 2) and one
vae_decoder call, each in ONNX Runtime and as the PyTorch equivalent, on `--threads` intra-op threads.
Writes bench/results/onnx_chain.{json,png}.

    .venv/bin/python bench/onnx_chain_bench.py [--model models/lmdm-blockcausal] [--vae models/vae]
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402

from lmdm.conditioning.controls import compute_controls  # noqa: E402
from lmdm.dit.files import load_dit, save_dit  # noqa: E402
from lmdm.dit.model import DiT, small_config  # noqa: E402
from lmdm.export.manifest import check_package, dimension_sizes  # noqa: E402
from lmdm.export.model_package import export_lmdm  # noqa: E402
from lmdm.streaming.torch_streamer import StreamConfig, Streamer  # noqa: E402
from lmdm.vae.model import load_vae  # noqa: E402

from timing import median_seconds  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def block_chain_ms(graph_ms: dict[str, float], steps: int) -> float:
    """One block as the engine runs it: features, one context_encoder call, S denoiser calls and the
    VAE decoder (the timestep graph runs once per grid time at load, not per block)."""
    return graph_ms["features"] + graph_ms["context_encoder"] + steps * graph_ms["denoiser"] + graph_ms["vae_decoder"]


def median_ms(call, repeats: int) -> float:
    return median_seconds(call, repeats, warmup=3) * 1e3


def onnx_times(folder: Path, manifest: dict, threads: int, repeats: int) -> dict[str, float]:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    # Idle pool threads must sleep, not spin: several sessions (and torch) take turns on few cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sizes = dimension_sizes(manifest)
    rng = np.random.default_rng(0)
    times = {}
    for name, entry in manifest["graphs"].items():
        session = onnxruntime.InferenceSession(str(folder / entry["file"]), options, providers=["CPUExecutionProvider"])
        feeds = {i["name"]: (rng.standard_normal([sizes.get(d, d) if isinstance(d, str) else d for d in i["shape"]])
                             * 0.1).astype(i["dtype"]) for i in entry["inputs"]}
        if "cache_valid" in feeds:
            feeds["cache_valid"][:] = 1
        if "use_text" in feeds:
            feeds["use_text"][:] = 1
        times[name] = median_ms(lambda: session.run(None, feeds), repeats)
    return times


@torch.no_grad()
def torch_times(model: DiT, vae, manifest: dict, threads: int, repeats: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    s = manifest["stream"]
    c, b = s["context_frames"], s["block_frames"]
    streamer = Streamer(model, StreamConfig(c, b, s["default_steps"], guidance=s["default_guidance"]))
    streamer.set_prompt(torch.randn(model.config.text_dim))
    streamer.start(torch.randn(c, model.config.latent_dim), torch.zeros(c, 3), torch.ones(c, 3))
    audio = (np.random.default_rng(0).standard_normal(b * vae.config.samples_per_latent) * 0.1).astype(np.float32)
    latents, state = torch.randn(1, vae.config.latent_dim, b), {}
    return {"features": median_ms(lambda: compute_controls(audio), repeats),
            "lmdm_block": median_ms(lambda: streamer.next_block(torch.zeros(b, 3), torch.ones(b, 3)), repeats),
            "vae_decoder": median_ms(lambda: vae.decode(latents, state), repeats)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="a packaged DiT; default: small, random weights")
    parser.add_argument("--vae", type=Path, default=REPO / "models" / "vae")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model_folder = args.model
        if model_folder is None:
            torch.manual_seed(0)
            model = DiT(small_config(variant="blockcausal"))
            for p in model.parameters():  # adaLN-zero starts at exact zeros: give every weight a value
                torch.nn.init.normal_(p, std=0.02)
            stats = {"latent_mean": [0.0] * 32, "latent_std": [1.0] * 32, "loudness_db": {"mean": -30, "std": 12},
                     "brightness": {"mean": 80, "std": 10}, "pitch_midi": {"mean": 60, "std": 12}}
            (scratch / "stats.json").write_text(json.dumps(stats))
            model_folder = scratch / "model"
            save_dit(model.eval(), model_folder, scratch / "stats.json")
        export_lmdm(model_folder, args.vae, scratch / "package", 64, 16, 8, 2.0)
        manifest = check_package(scratch / "package")
        onnx_ms = onnx_times(scratch / "package", manifest, args.threads, args.repeats)
        model, _ = load_dit(model_folder)
        torch_ms = torch_times(model, load_vae(args.vae), manifest, args.threads, args.repeats)
    s = manifest["stream"]
    block_ms = s["block_frames"] / manifest["latent"]["rate"] * 1e3
    steps = s["default_steps"]
    onnx_chain = block_chain_ms(onnx_ms, steps)
    torch_chain = torch_ms["features"] + torch_ms["lmdm_block"] + torch_ms["vae_decoder"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit.strip(),
               "machine": platform.processor() or platform.machine(), "threads": args.threads,
               "model": str(args.model or "small DiT, random weights"), "variant": s["variant"],
               "context_frames": s["context_frames"], "block_frames": s["block_frames"], "steps": steps,
               "guidance_batch": 2, "block_ms": block_ms, "onnx_ms": onnx_ms, "torch_ms": torch_ms,
               "onnx_chain_ms": onnx_chain, "torch_chain_ms": torch_chain,
               "onnx_chain_rtf": onnx_chain / block_ms, "torch_chain_rtf": torch_chain / block_ms}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "onnx_chain.json").write_text(json.dumps(results, indent=1) + "\n")
    figure, axis = plt.subplots(figsize=(7, 4))
    parts = [("features", onnx_ms["features"], torch_ms["features"]),
             ("context + S denoiser", onnx_ms["context_encoder"] + steps * onnx_ms["denoiser"], torch_ms["lmdm_block"]),
             ("vae_decoder", onnx_ms["vae_decoder"], torch_ms["vae_decoder"])]
    for column, label in enumerate(("ONNX Runtime", "PyTorch")):
        bottom = 0.0
        for name, *values in parts:
            axis.bar(column, values[column], bottom=bottom, label=name if column == 0 else None)
            bottom += values[column]
    axis.axhline(block_ms, color="grey", linestyle=":", label=f"block duration ({block_ms:.0f} ms)")
    axis.set_xticks([0, 1], ["ONNX Runtime", "PyTorch"])
    axis.set_ylabel(f"ms per block ({args.threads} threads)")
    axis.set_title(f"Per-block chain, {s['variant']} C={s['context_frames']} B={s['block_frames']} S={steps}, CFG")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out / "onnx_chain.png", dpi=100)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
