#!/usr/bin/env python3
"""Export trained models as ONNX graphs for ONNX Runtime (the plugin's only way to run a model).

    python export/export_onnx.py vae --model models/vae --out build/onnx/vae

`vae` writes vae_encoder.onnx and vae_decoder.onnx in streaming form (every cache an explicit
state input/output, see lmdm/vae_onnx.py) and checks them against PyTorch on a few uneven blocks of
audio before reporting success. The LMDM package (context encoder, denoiser, features, manifest)
joins this command with the export issue.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from lmdm.vae import VAE, load_vae  # noqa: E402
from lmdm.vae_onnx import OnnxVAEStream, export_streaming_graph  # noqa: E402

PARITY_TOLERANCE = 1e-4  # the bound on |ONNX Runtime - PyTorch|


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    vae = commands.add_parser("vae", help="streaming vae_encoder.onnx and vae_decoder.onnx")
    vae.add_argument("--model", type=Path, default=Path("models/vae"), help="a shipped VAE or a training checkpoint")
    vae.add_argument("--out", type=Path, required=True, help="folder for the two graphs")
    args = parser.parse_args(argv)
    print(json.dumps(export_vae(args.model, args.out), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
