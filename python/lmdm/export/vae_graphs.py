"""The VAE's streaming ONNX graphs (vae_encoder.onnx, vae_decoder.onnx); lmdm.streaming.onnx_vae runs them.

A streaming graph is a pure function: (block, state...) -> (result, next state...). Every cache the
PyTorch model keeps in its StreamState dict (left context of each causal convolution, the STFT
framing overlap, the decoder's pending overlap-add tail) becomes an explicit input `state.<key>` and
output `next_state.<key>`, zeros at the start of a stream. So a host (the C++ engine, `OnnxVAEStream`)
owns the memory, can reset a stream by zeroing it, and calls the graph with any number of latents.
"""

import json
from dataclasses import asdict
from pathlib import Path

import onnx
import torch
from torch import nn

from ..vae.model import VAE, StreamState

OPSET = 18
STATE_IN, STATE_OUT = "state.", "next_state."
# The decoder's ConvNeXt blocks (their pointwise MLPs) hold most of its arithmetic and are what int8
# quantises. The head (log-magnitude and phase) and the inverse-DFT bases carry the spectrum straight to
# the samples: quantising them as well cost another 10 dB of audio SNR for 0.3 ms more
# (bench/decoder_precision_bench.py), so they stay float32.
INT8_DECODER_PARTS = ("/decoder/latent_blocks/", "/decoder/frame_blocks/")


def state_layout(model: VAE, part: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape (batch 1) of every cache the encoder or decoder keeps, found by streaming one block."""
    state: StreamState = {}
    with torch.no_grad():
        if part == "encoder":
            model.encode(torch.zeros(1, model.config.samples_per_latent), state)
        else:
            model.decode(torch.zeros(1, model.config.latent_dim, 1), state)
    return {key: tuple(value.shape) for key, value in state.items()}


class _StreamingGraph(nn.Module):
    """Adapts encode/decode with a StreamState dict to positional tensors in a fixed key order."""

    def __init__(self, model: VAE, part: str):
        super().__init__()
        self.model, self.part = model, part
        self.keys = list(state_layout(model, part))

    def forward(self, block: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = dict(zip(self.keys, states))
        if self.part == "encoder":
            result = self.model.encode(block, state)[0]  # the mean: the deterministic latent
        else:
            result = self.model.decode(block, state)
        return (result, *(state[key] for key in self.keys))


def _metadata(model: VAE, part: str) -> dict[str, str]:
    c = model.config
    return {"lmdm.part": f"vae_{part}", "lmdm.vae_config": json.dumps(asdict(c)),
            "lmdm.samples_per_latent": str(c.samples_per_latent), "lmdm.decoder_delay": str(c.decoder_delay),
            "lmdm.state_keys": json.dumps(state_layout(model, part))}


def export_streaming_graph(model: VAE, part: str, path: Path) -> Path:
    """Write vae_encoder.onnx or vae_decoder.onnx (opset 18, dynamic batch and block length)."""
    model = model.eval()
    c = model.config
    graph = _StreamingGraph(model, part)
    layout = state_layout(model, part)
    if part == "encoder":
        block, block_axes, output, output_axes = torch.zeros(1, 4 * c.samples_per_latent), {1: "samples"}, \
            "latents", {2: "latent_frames"}
        input_name = "audio"
    else:
        block, block_axes, output, output_axes = torch.zeros(1, c.latent_dim, 4), {2: "latent_frames"}, \
            "audio", {1: "samples"}
        input_name = "latents"
    states = [torch.zeros(shape) for shape in layout.values()]
    inputs = [input_name] + [STATE_IN + key for key in layout]
    outputs = [output] + [STATE_OUT + key for key in layout]
    axes = {input_name: {0: "batch"} | block_axes, output: {0: "batch"} | output_axes}
    axes |= {name: {0: "batch"} for name in inputs[1:] + outputs[1:]}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(graph, (block, *states), str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    proto = onnx.load(str(path))
    for key, value in _metadata(model, part).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def quantize_decoder_int8(path: Path, parts: tuple[str, ...] = INT8_DECODER_PARTS) -> list[str]:
    """Dynamic int8 quantisation (ONNX Runtime's quantizer) of the MatMuls under `parts` of an exported
    vae_decoder.onnx, in place; returns the quantised nodes' names (none found is an error: the module
    paths the names come from have changed)."""
    import shutil
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    nodes = [node.name for node in onnx.load(str(path)).graph.node
             if node.op_type == "MatMul" and node.name.startswith(parts)]
    if not nodes:
        raise ValueError(f"{path}: no MatMul under {parts} to quantise")
    with tempfile.TemporaryDirectory() as scratch:
        quantized = Path(scratch) / Path(path).name
        quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         nodes_to_quantize=nodes)
        shutil.move(str(quantized), str(path))
    return nodes
