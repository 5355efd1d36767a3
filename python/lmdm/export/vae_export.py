"""`vae` export: the streaming encoder and decoder graphs, checked against PyTorch before success."""

from pathlib import Path

import numpy as np
import torch

from ..streaming.onnx_vae import OnnxVAEStream
from ..vae.model import VAE, load_vae
from .vae_graphs import export_streaming_graph

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
