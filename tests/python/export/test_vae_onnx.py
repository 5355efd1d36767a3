"""The VAE's streaming ONNX graphs match PyTorch, carry their state explicitly, and the export CLI checks them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch

from lmdm.export.vae_export import PARITY_TOLERANCE, vae_parity
from lmdm.export.vae_graphs import (INT8_DECODER_PARTS, STATE_IN, STATE_OUT, export_streaming_graph,
                                    quantize_decoder_int8, state_layout)
from lmdm.streaming.onnx_vae import OnnxVAEStream
from lmdm.vae.model import VAE, VAEConfig, load_vae, save_vae, tiny_config

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", params=["tiny", "small"])
def exported(request, tmp_path_factory) -> tuple[VAE, Path, Path]:
    torch.manual_seed(0)
    model = VAE(tiny_config() if request.param == "tiny" else VAEConfig()).eval()
    folder = tmp_path_factory.mktemp(request.param)
    return (model, export_streaming_graph(model, "encoder", folder / "vae_encoder.onnx"),
            export_streaming_graph(model, "decoder", folder / "vae_decoder.onnx"))


def test_onnx_matches_pytorch_streaming_within_tolerance(exported):
    model, encoder, decoder = exported
    parity = vae_parity(model, encoder, decoder, seed=3)
    assert max(parity.values()) <= PARITY_TOLERANCE, parity


def test_graph_inputs_and_outputs_name_every_cache(exported):
    model, encoder, decoder = exported
    for part, path, block in (("encoder", encoder, "audio"), ("decoder", decoder, "latents")):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        layout = state_layout(model, part)
        assert [i.name for i in session.get_inputs()] == [block] + [STATE_IN + k for k in layout]
        assert [o.name for o in session.get_outputs()][1:] == [STATE_OUT + k for k in layout]
        metadata = session.get_modelmeta().custom_metadata_map
        assert metadata["lmdm.part"] == f"vae_{part}"
        assert int(metadata["lmdm.samples_per_latent"]) == model.config.samples_per_latent


def test_reset_restarts_the_stream(exported):
    model, _, decoder = exported
    stream = OnnxVAEStream(decoder)
    latents = np.random.default_rng(0).standard_normal((1, model.config.latent_dim, 5)).astype(np.float32)
    first = stream(latents)
    assert not np.allclose(stream(latents), first)  # the second call continues from the first's state
    stream.reset()
    assert np.array_equal(stream(latents), first)


def test_dynamic_batch(exported):
    model, encoder, _ = exported
    session = onnxruntime.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
    layout = state_layout(model, "encoder")
    audio = np.random.default_rng(1).standard_normal((3, 2 * model.config.samples_per_latent)).astype(np.float32)
    states = {STATE_IN + k: np.zeros((3, *shape[1:]), np.float32) for k, shape in layout.items()}
    latents = session.run(None, {"audio": audio} | states)[0]
    with torch.no_grad():
        expected = model.encode(torch.from_numpy(audio))[0].numpy()
    assert latents.shape == (3, model.config.latent_dim, 2) and np.abs(latents - expected).max() <= PARITY_TOLERANCE


def test_int8_decoder_quantises_the_blocks_only_and_streams_the_same_state(exported, tmp_path):
    import onnx

    model, _, decoder = exported
    quantized = tmp_path / "vae_decoder.onnx"
    quantized.write_bytes(decoder.read_bytes())
    names = quantize_decoder_int8(quantized)
    blocks = model.config.decoder_latent_blocks + model.config.decoder_frame_blocks
    assert len(names) == 2 * blocks and all(n.startswith(INT8_DECODER_PARTS) for n in names)  # two MLP layers each
    graph = onnx.load(str(quantized)).graph
    float_matmuls = [n.name for n in graph.node if n.op_type == "MatMul"]
    assert len(float_matmuls) == 3 and not any(n.startswith(INT8_DECODER_PARTS) for n in float_matmuls)  # head, iDFT
    assert sum(n.op_type == "MatMulInteger" for n in graph.node) == len(names)
    latents = np.random.default_rng(2).standard_normal((1, model.config.latent_dim, 12)).astype(np.float32)
    reference, reduced = OnnxVAEStream(decoder), OnnxVAEStream(quantized)
    for start in (0, 4, 8):  # streamed: the state passes through the quantised graph unchanged in layout
        expected, got = reference(latents[..., start:start + 4]), reduced(latents[..., start:start + 4])
        assert got.shape == expected.shape and 0 < np.abs(got - expected).max() < 0.1 * np.abs(expected).max()
    with pytest.raises(ValueError, match="no MatMul"):
        quantize_decoder_int8(quantized, ("/decoder/renamed_blocks/",))


def test_export_cli_round_trip(tmp_path):
    torch.manual_seed(1)
    save_vae(VAE(tiny_config()), tmp_path / "vae")
    assert load_vae(tmp_path / "vae").config == tiny_config()
    result = subprocess.run([sys.executable, str(REPO / "export" / "export_onnx.py"), "vae", "--model",
                             str(tmp_path / "vae"), "--out", str(tmp_path / "onnx")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert max(report["parity"].values()) <= PARITY_TOLERANCE
    assert (tmp_path / "onnx" / "vae_encoder.onnx").exists() and (tmp_path / "onnx" / "vae_decoder.onnx").exists()


def test_load_vae_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a VAE"):
        load_vae(tmp_path)
