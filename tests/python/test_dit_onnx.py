"""The LMDM's ONNX graphs (timestep, KV producer, KV consumer) match the PyTorch modules they come from."""

import numpy as np
import onnxruntime
import pytest
import torch

from lmdm.dit_onnx import ContextEncoderGraph, DenoiserGraph, TimestepGraph, example_inputs, export_graphs
from test_lmdm_streaming import random_model

GRAPHS = {"timestep": TimestepGraph, "context_encoder": ContextEncoderGraph, "denoiser": DenoiserGraph}


@pytest.fixture(scope="module", params=["encdec", "blockcausal"])
def exported(request, tmp_path_factory):
    model = random_model(request.param)
    return model, export_graphs(model, tmp_path_factory.mktemp(request.param), context_frames=8, frames=4)


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
