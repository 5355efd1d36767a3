"""Decode (and encode) cost of the streaming VAE as a real-time factor, ONNX Runtime vs PyTorch, one thread.

Exports the shipped VAE's streaming graphs to a temporary folder and times one call per block for
several block sizes (latents per call), on a single intra-op thread as the plugin's worker runs them.
RTF = seconds of compute / seconds of audio in the block; the issue's target is decoder RTF <= 0.05.
Writes bench/results/vae_decode.{json,png}.

    .venv/bin/python bench/vae_decode_bench.py [--model models/vae] [--repeats 200]
"""

import argparse
import json
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmdm.export.vae_graphs import export_streaming_graph  # noqa: E402
from lmdm.streaming.onnx_vae import OnnxVAEStream  # noqa: E402
from lmdm.vae.model import VAE, load_vae  # noqa: E402

from timing import median_seconds  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BLOCKS = (1, 4, 16, 32)  # latents per call: 23 ms ... 743 ms of audio


@torch.no_grad()
def measure(model: VAE, encoder: Path, decoder: Path, block: int, repeats: int) -> dict:
    c = model.config
    audio = np.random.default_rng(0).standard_normal((1, block * c.samples_per_latent)).astype(np.float32) * 0.1
    latents = np.random.default_rng(1).standard_normal((1, c.latent_dim, block)).astype(np.float32)
    seconds = block * c.samples_per_latent / c.sample_rate
    onnx_decode, onnx_encode = OnnxVAEStream(decoder, threads=1), OnnxVAEStream(encoder, threads=1)
    torch_state_decode, torch_state_encode = {}, {}
    z, x = torch.from_numpy(latents), torch.from_numpy(audio)
    times = {"onnx_decode": median_seconds(lambda: onnx_decode(latents), repeats, warmup=5),
             "onnx_encode": median_seconds(lambda: onnx_encode(audio), repeats, warmup=5),
             "torch_decode": median_seconds(lambda: model.decode(z, torch_state_decode), repeats, warmup=5),
             "torch_encode": median_seconds(lambda: model.encode(x, torch_state_encode), repeats, warmup=5)}
    return {"block_latents": block, "block_seconds": seconds} | {f"{k}_median_s": v for k, v in times.items()} | \
        {f"{k}_rtf": v / seconds for k, v in times.items()}


def plot(rows: list[dict], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 4))
    blocks = [r["block_latents"] for r in rows]
    for key, style in (("onnx_decode", "-o"), ("torch_decode", "--o"), ("onnx_encode", "-s"), ("torch_encode", "--s")):
        axis.plot(blocks, [r[f"{key}_rtf"] for r in rows], style, label=key.replace("_", " "))
    axis.axhline(0.05, color="grey", linestyle=":", label="decoder target (RTF 0.05)")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("latents per call (1 = 23 ms of audio)")
    axis.set_ylabel("real-time factor (1 thread)")
    axis.set_title("Streaming VAE cost, median per call")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "vae")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_vae(args.model)
    with tempfile.TemporaryDirectory() as folder:
        encoder = export_streaming_graph(model, "encoder", Path(folder) / "vae_encoder.onnx")
        decoder = export_streaming_graph(model, "decoder", Path(folder) / "vae_decoder.onnx")
        rows = [measure(model, encoder, decoder, block, args.repeats) for block in BLOCKS]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": platform.processor() or platform.machine(), "threads": 1, "commit": commit.strip(),
               "model": str(args.model.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model),
               "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vae_decode.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(rows, args.out / "vae_decode.png")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
