"""The model package: export_onnx.py writes it, --check validates it and refuses broken copies helpfully."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from lmdm.export.manifest import PackageError, check_package
from lmdm.streaming.onnx_streamer import OnnxStreamer
from lmdm.streaming.torch_streamer import StreamConfig, Streamer

REPO = Path(__file__).resolve().parents[3]
EXPORT = [sys.executable, str(REPO / "export" / "export_onnx.py")]


def check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*EXPORT, "--check", str(folder)], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_package_passes_check_and_describes_itself(package):
    folder, model = package
    result = check(folder)
    assert result.returncode == 0 and result.stdout.startswith("ok:"), result.stderr
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stream"]["variant"] == "blockcausal" and manifest["kv"]["layers"] == model.config.layers
    # starts from nothing
    assert len(manifest["stream"]["time_grid"]) == 4 and manifest["stream"]["start_latents"] == []
    denoiser = manifest["graphs"]["denoiser"]
    assert [i["name"] for i in denoiser["inputs"]][:2] == ["noisy", "control_values"]
    assert denoiser["inputs"][0]["shape"] == ["batch", "frames", 4]
    assert json.loads((folder / "prompts.json").read_text())["prompts"][0]["name"] == "flute"


def broken_copy(package, tmp_path, damage) -> str:
    folder = tmp_path / "broken"
    shutil.copytree(package[0], folder)
    damage(folder)
    result = check(folder)
    assert result.returncode == 1
    return result.stderr


def test_missing_graph_is_named(package, tmp_path):
    message = broken_copy(package, tmp_path, lambda f: (f / "denoiser.onnx").unlink())
    assert "denoiser.onnx: missing" in message


def test_changed_file_fails_its_hash(package, tmp_path):
    message = broken_copy(package, tmp_path, lambda f: (f / "timestep.onnx").open("ab").write(b"\0"))
    assert "timestep.onnx: sha256 differs" in message


def test_unknown_schema_version_is_refused(package, tmp_path):
    def bump(folder):
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps(manifest | {"schema_version": 99}))
    assert "schema_version 99" in broken_copy(package, tmp_path, bump)


def test_guidance_that_would_keep_the_prompt_is_refused(package, tmp_path):
    def drop_controls_only(folder):
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["stream"]["unconditional_drops"] = ["controls"]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "unconditional_drops must be" in broken_copy(package, tmp_path, drop_controls_only)


def test_a_package_without_its_decoder_delay_is_refused(package, tmp_path):
    def forget_delay(folder):
        manifest = json.loads((folder / "manifest.json").read_text())
        del manifest["latent"]["decoder_delay_samples"]
        (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "decoder_delay_samples must be" in broken_copy(package, tmp_path, forget_delay)


def test_graph_with_the_wrong_signature_is_refused(package, tmp_path):
    def swap(folder):  # a valid graph in the wrong place, with its hash updated: only the signature can tell
        shutil.copy(folder / "denoiser.onnx", folder / "context_encoder.onnx")
        manifest = json.loads((folder / "manifest.json").read_text())
        from lmdm.export.manifest import sha256
        manifest["graphs"]["context_encoder"]["sha256"] = sha256(folder / "context_encoder.onnx")
        (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "context_encoder.onnx: inputs differ from the manifest" in broken_copy(package, tmp_path, swap)


def test_not_a_package(tmp_path):
    with pytest.raises(PackageError, match="no manifest.json"):
        check_package(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(PackageError, match="not valid JSON"):
        check_package(tmp_path)


def test_package_streams_like_pytorch(package):
    folder, model = package
    streamer = OnnxStreamer.from_package(folder, seed=3)
    reference = Streamer(model, StreamConfig(8, 4, 3, guidance=streamer.config.guidance, seed=3))
    manifest = json.loads((folder / "manifest.json").read_text())
    start = np.array(manifest["stream"]["start_latents"], np.float32).reshape(-1, 4)  # from nothing
    prompt = np.array(json.loads((folder / "prompts.json").read_text())["prompts"][0]["embedding"], np.float32)
    streamer.set_prompt(prompt)
    reference.set_prompt(torch.from_numpy(prompt))
    zeros = np.zeros((len(start), 3), np.float32)
    streamer.start(start, zeros, zeros)
    reference.start(torch.from_numpy(start), torch.from_numpy(zeros), torch.from_numpy(zeros))
    rng = np.random.default_rng(1)
    for _ in range(10):
        values = rng.standard_normal((4, 3)).astype(np.float32)
        expected = reference.next_block(torch.from_numpy(values), torch.ones(4, 3)).numpy()
        got = streamer.next_block(values, np.ones((4, 3), np.float32))
        assert np.abs(got - expected).max() <= 1e-3 * max(1.0, float(np.abs(expected).max()))


def test_changed_weights_file_is_refused(package, tmp_path):
    message = broken_copy(package, tmp_path, lambda f: (f / "dit_weights.bin").open("r+b").write(b"\1\2\3"))
    assert "dit_weights.bin: missing or its sha256 differs" in message


def test_golden_fixtures_hold_and_catch_a_changed_graph(package, tmp_path):
    from lmdm.export.fixture_check import check_fixtures

    folder, _ = package
    manifest = json.loads((folder / "manifest.json").read_text())
    errors = check_fixtures(folder, manifest)
    assert set(errors) == {"features", "vae_decoder", "timestep", "context_encoder", "denoiser"}
    assert all(errors[name] <= manifest["fixtures"]["tolerance"][name] for name in errors)

    def perturb(folder):  # expected outputs that no longer match what the graph computes
        from safetensors.numpy import load_file, save_file
        path = folder / "fixtures" / "denoiser.safetensors"
        tensors = load_file(str(path))
        tensors["output.velocity"] = tensors["output.velocity"] + 0.01
        save_file(tensors, str(path))
    assert "golden fixtures fail: denoiser" in broken_copy(package, tmp_path, perturb)


@pytest.mark.parametrize("precision", ["int8", "fp16"])
def test_reduced_precision_package_passes_check_and_reports_its_quality_change(package, tmp_path, precision):
    folder, _ = package
    root = folder.parent
    result = subprocess.run([*EXPORT, "lmdm", "--model", str(root / "model"), "--vae", str(root / "vae"), "--out",
                             str(tmp_path / precision), "--context-frames", "8", "--block-frames", "4", "--steps", "3",
                             "--precision", precision], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert check(tmp_path / precision).returncode == 0
    manifest = json.loads((tmp_path / precision / "manifest.json").read_text())
    change = manifest["precision"]
    assert change["precision"] == precision
    assert change["blocks"] == 10 and 0 < change["latent_rms_change"] < change["latent_rms"]
    assert (tmp_path / precision / "dit_weights.bin").stat().st_size < (folder / "dit_weights.bin").stat().st_size
    decoder_size = [(f / "vae_decoder.onnx").stat().st_size for f in (folder, tmp_path / precision)]
    assert change["graphs"] == ["timestep", "context_encoder", "denoiser", "vae_decoder"]
    assert change["decoder_audio_rms"] > 0
    if precision == "fp16":  # the whole chain in float16 for a GPU: the decoder halves, its audio barely moves
        assert change["decoder_audio_snr_db"] > 40 and decoder_size[1] < 0.6 * decoder_size[0]
    else:  # the decoder's ConvNeXt blocks only (this tiny VAE's size is mostly its float32 inverse-DFT bases;
        # the real one's: 37.6 dB on this tone, half the size, 0.05 dB of log-mel change on instruments)
        nodes = onnx.load(str(tmp_path / precision / "vae_decoder.onnx")).graph.node
        assert change["decoder_audio_snr_db"] > 20 and any(n.op_type == "MatMulInteger" for n in nodes)
    fp32 = json.loads((folder / "manifest.json").read_text())
    for name, graph in manifest["graphs"].items():  # a host binds the same float32 tensors
        assert (graph["inputs"], graph["outputs"]) == (fp32["graphs"][name]["inputs"], fp32["graphs"][name]["outputs"])


def test_graphs_are_optimised_offline(package):
    manifest = json.loads((package[0] / "manifest.json").read_text())
    assert "ONNX Runtime" in manifest["optimization"]["tool"]
    for name, nodes in manifest["optimization"]["nodes"].items():
        assert nodes["nodes_after"] < nodes["nodes_before"], name