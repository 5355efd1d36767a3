"""The streaming LMDM as three ONNX graphs: time modulations, the KV producer and the KV consumer.

The host owns all state (the KV ring, the noise, the Euler update, CFG mixing); each graph is a pure
function of its inputs, batch = CFG batch (cond, uncond):
- `timestep.onnx`: t (B,) -> adaLN parameters of every layer at t, (L, B, 6W) and (B, 2W). They depend
  on t alone: a host runs it once per time of its grid (and t = 0 for context frames) at load time.
- `context_encoder.onnx` (KV producer): n clean context frames + their controls + positions, the
  prompt, the current cache and which of its slots are valid -> the frames' keys and values per layer,
  (L, B, H, n, Dh), for the host to write into its ring. encdec: the C context frames with no valid
  slot; blockcausal: the newest block against the C - B cached frames before it.
- `denoiser.onnx` (KV consumer): x_t of n target frames, their controls and positions, the prompt,
  the cache and its valid slots, the modulations of this step's t -> velocity (B, n, D).
The prompt enters as a sentence embedding (B, 384) and a 0/1 flag per batch row (0 = the unconditional
prompt), so one graph serves both CFG branches.
"""

from pathlib import Path

import torch
from torch import nn

from ..dit.model import KV, DiT

OPSET = 18


def _cache_mask(valid: torch.Tensor, frames: int) -> torch.Tensor:
    """(frames, C + frames) bool: the valid cache slots, then the new frames among themselves."""
    cached = (valid > 0.5)[None].expand(frames, -1)
    return torch.cat([cached, torch.ones(frames, frames, dtype=torch.bool, device=valid.device)], dim=1)


def _text_kv(model: DiT, text: torch.Tensor, use_text: torch.Tensor) -> list[KV]:
    return model.text_kv(model.text_tokens(text, text.shape[0], use_text > 0.5))


def _past(keys: torch.Tensor, values: torch.Tensor) -> list[KV]:
    return [(keys[layer], values[layer]) for layer in range(keys.shape[0])]


class TimestepGraph(nn.Module):
    def __init__(self, model: DiT):
        super().__init__()
        self.model = model

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        modulations, out_modulation = self.model.time_modulations(t)
        return torch.stack([m[:, 0] for m in modulations]), out_modulation[:, 0]


class ContextEncoderGraph(nn.Module):
    def __init__(self, model: DiT):
        super().__init__()
        self.model = model

    def forward(self, latents, control_values, control_present, positions, text, use_text, cache_keys,
                cache_values, cache_valid, modulations) -> tuple[torch.Tensor, torch.Tensor]:
        frames = latents.shape[1]
        is_context = torch.ones(frames, dtype=torch.bool, device=latents.device)
        h = self.model.frame_inputs(None, latents, is_context, control_values, control_present)
        layers = [modulations[layer][:, None] for layer in range(modulations.shape[0])]
        _, kv = self.model.run_blocks(h, layers, positions, _text_kv(self.model, text, use_text),
                                      _cache_mask(cache_valid, frames), _past(cache_keys, cache_values))
        return torch.stack([k for k, _ in kv]), torch.stack([v for _, v in kv])


class DenoiserGraph(nn.Module):
    def __init__(self, model: DiT):
        super().__init__()
        self.model = model

    def forward(self, noisy, control_values, control_present, positions, text, use_text, cache_keys, cache_values,
                cache_valid, modulations, out_modulation) -> torch.Tensor:
        frames = noisy.shape[1]
        is_context = torch.zeros(frames, dtype=torch.bool, device=noisy.device)
        h = self.model.frame_inputs(noisy, None, is_context, control_values, control_present)
        layers = [modulations[layer][:, None] for layer in range(modulations.shape[0])]
        h, _ = self.model.run_blocks(h, layers, positions, _text_kv(self.model, text, use_text),
                                     _cache_mask(cache_valid, frames), _past(cache_keys, cache_values))
        return self.model.velocity_out(h, out_modulation[:, None])


class WindowGraph(nn.Module):
    """One pass over a whole window with every frame at the step's t (outpaint: the context as extra
    channels): what the outpaint baseline runs S times per block. For benchmarks and as a reference."""

    def __init__(self, model: DiT):
        super().__init__()
        self.model = model

    def forward(self, noisy, clean, control_values, control_present, positions, text, use_text, modulations,
                out_modulation) -> torch.Tensor:
        is_context = clean.abs().sum((0, 2)) > 0  # outpaint reads the context channels where they are given
        h = self.model.frame_inputs(noisy, clean, is_context, control_values, control_present)
        layers = [modulations[layer][:, None] for layer in range(modulations.shape[0])]
        h, _ = self.model.run_blocks(h, layers, positions, _text_kv(self.model, text, use_text), None)
        return self.model.velocity_out(h, out_modulation[:, None])


def export_window_graph(model: DiT, path, batch: int = 2, frames: int = 80) -> Path:
    c = model.config
    inputs = {"noisy": torch.randn(batch, frames, c.latent_dim), "clean": torch.randn(batch, frames, c.latent_dim),
              "control_values": torch.randn(batch, frames, len(c.controls)),
              "control_present": torch.ones(batch, frames, len(c.controls)),
              "positions": torch.arange(frames, dtype=torch.float32), "text": torch.randn(batch, c.text_dim),
              "use_text": torch.ones(batch), "modulations": torch.randn(c.layers, batch, 6 * c.width) * 0.1,
              "out_modulation": torch.randn(batch, 2 * c.width) * 0.1}
    framed = {0: "batch", 1: "frames"}
    axes = {"noisy": framed, "clean": framed, "control_values": framed, "control_present": framed,
            "positions": {0: "frames"}, "text": {0: "batch"}, "use_text": {0: "batch"}, "modulations": {1: "batch"},
            "out_modulation": {0: "batch"}, "velocity": framed}
    with torch.no_grad():
        torch.onnx.export(WindowGraph(model.eval()), tuple(inputs.values()), str(path), input_names=list(inputs),
                          output_names=["velocity"], dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    return Path(path)


def example_inputs(model: DiT, batch: int, context_frames: int, frames: int) -> dict[str, dict[str, torch.Tensor]]:
    """Inputs of each graph, named, with the shapes a host uses (for export and for tests)."""
    c = model.config
    controls = len(c.controls)
    cache = (c.layers, batch, c.heads, context_frames, c.head_dim)
    shared = {"control_values": torch.randn(batch, frames, controls), "control_present": torch.ones(batch, frames, controls),
              "positions": torch.arange(frames, dtype=torch.float32) + context_frames,
              "text": torch.randn(batch, c.text_dim), "use_text": torch.ones(batch),
              "cache_keys": torch.randn(cache), "cache_values": torch.randn(cache),
              "cache_valid": torch.ones(context_frames)}
    modulations = torch.randn(c.layers, batch, 6 * c.width) * 0.1
    return {"timestep": {"t": torch.full((batch,), 0.5)},
            "context_encoder": {"latents": torch.randn(batch, frames, c.latent_dim), **shared,
                                "modulations": modulations},
            "denoiser": {"noisy": torch.randn(batch, frames, c.latent_dim), **shared, "modulations": modulations,
                         "out_modulation": torch.randn(batch, 2 * c.width) * 0.1}}


OUTPUTS = {"timestep": ["modulations", "out_modulation"], "context_encoder": ["new_keys", "new_values"],
           "denoiser": ["velocity"]}
DYNAMIC = {"batch": 0}


def export_graphs(model: DiT, folder, batch: int, context_frames: int, frames: int) -> dict:
    """Write the three graphs (dynamic batch, frame count and cache length) into `folder`, their weights
    stored once in SHARED_WEIGHTS beside them; returns the graph paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    graphs = {"timestep": TimestepGraph(model), "context_encoder": ContextEncoderGraph(model),
              "denoiser": DenoiserGraph(model)}
    axes_of = {"t": {0: "batch"}, "latents": {0: "batch", 1: "frames"}, "noisy": {0: "batch", 1: "frames"},
               "control_values": {0: "batch", 1: "frames"}, "control_present": {0: "batch", 1: "frames"},
               "positions": {0: "frames"}, "text": {0: "batch"}, "use_text": {0: "batch"},
               "cache_keys": {1: "batch", 3: "cache"}, "cache_values": {1: "batch", 3: "cache"},
               "cache_valid": {0: "cache"}, "modulations": {1: "batch"}, "out_modulation": {0: "batch"},
               "new_keys": {1: "batch", 3: "frames"}, "new_values": {1: "batch", 3: "frames"},
               "velocity": {0: "batch", 1: "frames"}}
    paths = {}
    model = model.eval()
    for name, graph in graphs.items():
        inputs = example_inputs(model, batch, context_frames, frames)[name]
        path = folder / f"{name}.onnx"
        names = list(inputs) + OUTPUTS[name]
        with torch.no_grad():
            torch.onnx.export(graph, tuple(inputs.values()), str(path), input_names=list(inputs),
                              output_names=OUTPUTS[name], dynamic_axes={n: axes_of[n] for n in names},
                              opset_version=OPSET, dynamo=False)
        paths[name] = path
    share_weights(list(paths.values()))
    return paths


SHARED_WEIGHTS = "dit_weights.bin"


def share_weights(paths: list, weights_name: str = SHARED_WEIGHTS) -> Path:
    """Move the graphs' large initializers into one external-data file, each distinct tensor stored once.

    The three graphs hold the same transformer weights; stored inline they triple the package. Tensors
    are matched by content (the exporter names transposed copies differently), aligned to 64 bytes."""
    import hashlib

    import onnx
    from onnx import external_data_helper, numpy_helper

    folder = Path(paths[0]).parent
    stored: dict[str, tuple[int, int]] = {}
    with open(folder / weights_name, "wb") as blob:
        for path in paths:
            model = onnx.load(str(path))
            for tensor in model.graph.initializer:
                array = numpy_helper.to_array(tensor)
                raw = array.tobytes()
                if len(raw) < 4096:  # small constants stay inline
                    continue
                key = hashlib.sha256(raw + f"{array.dtype}{array.shape}".encode()).hexdigest()
                if key not in stored:
                    blob.write(b"\0" * (-blob.tell() % 64))
                    stored[key] = (blob.tell(), len(raw))
                    blob.write(raw)
                offset, length = stored[key]
                for field in ("float_data", "int64_data", "int32_data", "double_data"):
                    tensor.ClearField(field)
                tensor.raw_data = b"\0"  # set_external_data wants the field present; it is cleared next
                external_data_helper.set_external_data(tensor, weights_name, offset, length)
                tensor.ClearField("raw_data")
                tensor.data_location = onnx.TensorProto.EXTERNAL
            onnx.save_model(model, str(path))
    return folder / weights_name


def quantize_int8(paths: list) -> None:
    """Dynamic int8 quantisation of the graphs' MatMul/Gemm weights (ONNX Runtime's quantizer), in place,
    then their weights shared again (the three graphs quantise the same matrices identically)."""
    import shutil
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            quantized = Path(scratch) / Path(path).name
            quantize_dynamic(str(path), str(quantized), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])
            shutil.move(str(quantized), str(path))
    share_weights(list(paths))


def convert_graph_fp16(path: Path) -> None:
    """float16 weights and arithmetic inside one graph (for GPUs), in place; inputs and outputs stay
    float32, so a host binds the same tensors as for the float32 package."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    onnx.save(convert_float_to_float16(onnx.load(str(path)), keep_io_types=True), str(path))


def convert_fp16(paths: list) -> None:
    """The DiT graphs in float16 (convert_graph_fp16), their weights shared again."""
    for path in paths:
        convert_graph_fp16(Path(path))
    share_weights(list(paths))
