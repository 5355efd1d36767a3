"""The VAE: shapes, streaming equals whole-sequence processing, checkpoints, resume after a kill, DDP."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmdm.training.checkpoint import load_checkpoint, save_checkpoint
from lmdm.vae.model import VAE, VAEConfig, dft_bases, inverse_dft_bases, overlap_add, tiny_config

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def model() -> VAE:
    torch.manual_seed(0)
    return VAE(tiny_config()).eval()


@pytest.fixture(scope="module")
def dataset(small_dataset) -> Path:
    return small_dataset


def test_rates_and_shapes(model):
    config = model.config
    assert config.samples_per_latent == 512 and abs(config.latent_rate - 43.066) < 1e-3
    audio = torch.randn(3, 512 * 20) * 0.1
    mean, logvar = model.encode(audio)
    assert mean.shape == logvar.shape == (3, config.latent_dim, 20)
    assert model.decode(mean).shape == audio.shape
    reconstruction, _, _ = model(audio)
    assert reconstruction.shape == audio.shape and torch.isfinite(reconstruction).all()


@torch.no_grad()
def test_streaming_encoder_equals_whole_sequence(model):
    audio = torch.randn(2, 512 * 30) * 0.1
    whole, _ = model.encode(audio)
    state, parts, position = {}, [], 0
    for latents in (1, 4, 2, 7, 1, 15):  # uneven blocks: the cache, not the block size, carries context
        parts.append(model.encode(audio[:, position: position + 512 * latents], state)[0])
        position += 512 * latents
    assert torch.allclose(torch.cat(parts, dim=2), whole, atol=1e-6)


@torch.no_grad()
def test_streaming_decoder_equals_whole_sequence_delayed(model):
    z = torch.randn(2, model.config.latent_dim, 30)
    whole = model.decode(z)
    state, parts, position = {}, [], 0
    for latents in (3, 1, 8, 2, 16):
        parts.append(model.decode(z[:, :, position: position + latents], state))
        position += latents
    streamed = torch.cat(parts, dim=1)
    delay = model.config.decoder_delay
    assert streamed.shape == whole.shape
    assert torch.allclose(streamed[:, delay:], whole[:, :-delay], atol=1e-6)
    assert torch.all(streamed[:, :delay].abs() < 1e30)  # the pre-roll is the start of the first frames' fade-in


def test_causal_no_future_leaks_into_past_latents(model):
    audio = torch.randn(1, 512 * 10) * 0.1
    changed = audio.clone()
    changed[:, 512 * 6:] = 0.5  # alter the future from latent 6 on
    with torch.no_grad():
        a, _ = model.encode(audio)
        b, _ = model.encode(changed)
    assert torch.equal(a[:, :, :6], b[:, :, :6]) and not torch.equal(a[:, :, 6:], b[:, :, 6:])


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path, model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 512 * 4))[0].pow(2).mean().backward()
    optimizer.step()
    save_checkpoint(tmp_path / "ckpt", {"model": model}, {"optimizer": optimizer}, {"step": 1})
    expected_noise = torch.randn(5)
    fresh = VAE(tiny_config())
    fresh_optimizer = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    meta = load_checkpoint(tmp_path / "ckpt", {"model": fresh}, {"optimizer": fresh_optimizer})
    assert meta["step"] == 1 and torch.equal(torch.randn(5), expected_noise)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)
    saved, restored = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert saved.keys() == restored.keys()
    for index, values in saved.items():
        assert all(torch.equal(value, restored[index][key]) for key, value in values.items())
    assert not any(p.suffix == ".pkl" or p.suffix == ".pt" for p in (tmp_path / "ckpt").iterdir())


def _train_command(dataset: Path, run: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "lmdm.vae.train", "--data", str(dataset), "--run-dir", str(run), "--model", "tiny",
            "--batch-size", "2", "--crop-seconds", "0.5", "--max-steps", str(steps), "--log-every", "1",
            "--threads", "1", *extra]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoint" / "model.safetensors")


def test_killed_training_resumes_exactly(dataset, tmp_path):
    steps = 30
    straight = tmp_path / "straight"
    subprocess.run(_train_command(dataset, straight, steps), cwd=REPO, check=True, capture_output=True)
    killed = tmp_path / "killed"
    process = subprocess.Popen(_train_command(dataset, killed, steps, "--checkpoint-minutes", "0"), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    meta = killed / "checkpoint" / "checkpoint.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (meta.exists() and json.loads(meta.read_text())["step"] >= 5):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    stopped_at = json.loads(meta.read_text())["step"]
    assert 5 <= stopped_at < steps
    subprocess.run(_train_command(dataset, killed, steps), cwd=REPO, check=True, capture_output=True)
    assert json.loads(meta.read_text())["step"] == steps
    for name, tensor in _weights(straight).items():  # same crops, same noise, same updates
        assert torch.equal(tensor, _weights(killed)[name]), name


def test_ddp_two_processes_stay_in_sync(dataset, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29533",
               "-m", "lmdm.vae.train", *_train_command(dataset, tmp_path / "ddp", 4)[3:]]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["step"] == 4 and summary["replicas_in_sync"] is True


def test_default_model_size_and_delay():
    config = VAEConfig()
    assert config.decoder_delay == 768 and config.latent_dim <= 64
    assert 4e6 < sum(p.numel() for p in VAE(config).parameters()) < 10e6  # under the ~40 MB package bound


def test_dft_bases_and_overlap_add_match_torch_fft():
    """The export-friendly STFT pieces compute exactly what torch.fft and F.fold do."""
    frames = torch.randn(2, 9, 1024, dtype=torch.float32)
    real, imaginary = dft_bases(1024)
    spectrum = torch.fft.rfft(frames.double(), dim=-1)
    assert torch.allclose(frames @ real, spectrum.real.float(), atol=2e-3)
    assert torch.allclose(frames @ imaginary, spectrum.imag.float(), atol=2e-3)
    cosine, sine = inverse_dft_bases(1024)
    assert torch.allclose(spectrum.real.float() @ cosine + spectrum.imag.float() @ sine, frames, atol=1e-5)
    folded = torch.nn.functional.fold(frames.transpose(1, 2), output_size=(1, 8 * 256 + 1024), kernel_size=(1, 1024),
                                      stride=(1, 256))[:, 0, 0]
    assert torch.allclose(overlap_add(frames, 256), folded, atol=1e-6)


def test_decoder_only_fine_tune_keeps_the_encoder_and_trains_the_decoder(dataset, tmp_path):
    base = tmp_path / "base"
    subprocess.run(_train_command(dataset, base, 3), cwd=REPO, check=True, capture_output=True)
    tuned = tmp_path / "tuned"
    subprocess.run(_train_command(dataset, tuned, 6, "--init-from", str(base / "checkpoint"), "--decoder-only",
                                  "--adversarial-start-step", "3", "--discriminator-lead-steps", "2"),
                   cwd=REPO, check=True, capture_output=True)
    before, after = _weights(base), _weights(tuned)
    encoder = [name for name in before if name.startswith("encoder.")]
    decoder = [name for name in before if name.startswith("decoder.")]
    assert encoder and decoder
    assert all(torch.equal(before[name], after[name]) for name in encoder)  # the latents stay valid
    assert any(not torch.equal(before[name], after[name]) for name in decoder)
    rows = [json.loads(line) for line in (tuned / "metrics.jsonl").read_text().splitlines()]
    logged = {row["step"] - 1: row for row in rows}  # a row is logged after its step, under the next number
    assert not any("kl" in row for row in logged.values())
    assert "discriminator" not in logged[0] and "discriminator" in logged[1]  # from step 3 - 2
    assert "adversarial" not in logged[2] and "adversarial" in logged[3]  # the generator meets it after the lead
