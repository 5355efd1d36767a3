"""The LMDM's ONNX graphs (timestep, KV producer, KV consumer) match the PyTorch modules they come from."""

import numpy as np
import onnxruntime
import pytest
import torch
from random_models import random_model

from lmdm.export.dit_graphs import ContextEncoderGraph, DenoiserGraph, TimestepGraph, example_inputs, export_graphs

GRAPHS = {"timestep": TimestepGraph, "context_encoder": ContextEncoderGraph, "denoiser": DenoiserGraph}


@pytest.fixture(scope="module", params=["encdec", "blockcausal"])
def exported(request, tmp_path_factory):
    model = random_model(request.param)
    return model, export_graphs(model, tmp_path_factory.mktemp(request.param), batch=2, context_frames=8, frames=4)


@pytest.mark.parametrize("graph", list(GRAPHS))
@pytest.mark.parametrize("cache, frames", [(8, 4), (20, 7)])  # the exported sizes and others: axes are dynamic
def test_graph_matches_pytorch(exported, graph, cache, frames):
    model, paths = exported
    inputs = example_inputs(model, 2, cache, frames)[graph]
    if "cache_valid" in inputs:
        inputs["cache_valid"][: cache // 3] = 0  # some slots empty, as in a ring that is filling up
    with torch.no_grad():
        expected = GRAPHS[graph](model)(*inputs.values())
    expected = expected if isinstance(expected, tuple) else (expected,)
    session = onnxruntime.InferenceSession(str(paths[graph]), providers=["CPUExecutionProvider"])
    outputs = session.run(None, {name: value.numpy() for name, value in inputs.items()})
    for output, reference in zip(outputs, expected):
        assert output.shape == tuple(reference.shape)
        scale = float(reference.abs().max())
        assert scale > 0.1 and np.abs(output - reference.numpy()).max() <= 1e-5 * max(1.0, scale)


def test_unconditional_rows_ignore_the_prompt(exported):
    model, paths = exported
    inputs = {k: v.numpy() for k, v in example_inputs(model, 2, 8, 4)["denoiser"].items()}
    inputs["use_text"] = np.array([1.0, 0.0], np.float32)
    session = onnxruntime.InferenceSession(str(paths["denoiser"]), providers=["CPUExecutionProvider"])
    first = session.run(None, inputs)[0]
    inputs["text"] = inputs["text"] * -1
    second = session.run(None, inputs)[0]
    assert not np.allclose(first[0], second[0]) and np.allclose(first[1], second[1])


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_onnx_streamer_reproduces_the_pytorch_streamer(exported, guidance, tmp_path):
    from lmdm.streaming.onnx_streamer import OnnxStreamer
    from lmdm.streaming.torch_streamer import StreamConfig, Streamer

    model, paths = exported
    c = model.config
    config = StreamConfig(context_frames=8, block_frames=4, steps=3, guidance=guidance, seed=7)
    rng = np.random.default_rng(0)
    context = rng.standard_normal((8, c.latent_dim)).astype(np.float32)
    context_values = rng.standard_normal((8, 3)).astype(np.float32)
    prompt = rng.standard_normal(c.text_dim).astype(np.float32)
    controls = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(12)]
    reference = Streamer(model, config)
    reference.set_prompt(torch.from_numpy(prompt))
    reference.start(torch.from_numpy(context), torch.from_numpy(context_values), torch.ones(8, 3))
    onnx = OnnxStreamer(paths["denoiser"].parent, c.variant, c.layers, c.heads, c.head_dim, c.latent_dim,
                        c.text_dim, config)
    onnx.set_prompt(prompt)
    onnx.start(context, context_values, np.ones((8, 3), np.float32))
    for block_controls in controls:  # 12 blocks: the ring wraps several times
        expected = reference.next_block(torch.from_numpy(block_controls), torch.ones(4, 3)).numpy()
        got = onnx.next_block(block_controls, np.ones((4, 3), np.float32))
        assert np.abs(got - expected).max() <= 1e-3 * max(1.0, float(np.abs(expected).max()))
