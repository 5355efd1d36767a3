"""DiT training: latent cache, offline pre-training, fine-tuning each streaming variant from it, resume, DDP."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from safetensors.torch import load_file

from lmdm.conditioning.sketch import SKETCH_CONTROLS
from lmdm.dit.model import DiT, tiny_config
from lmdm.dit.train import TrainDiTConfig, drop_context, flow_loss, insert_rests, load_init_weights
from lmdm.dit.windows import LatentWindows
from lmdm.latents.cache import GUITAR_CONTROLS, GUITAR_LATENTS
from lmdm.latents.guitar_controls import GuitarControlsConfig, build_guitar_controls
from lmdm.latents.guitar_envelope import GuitarEnvelopeConfig, apply_frame_gain, build_guitar_envelope, envelope_gain_db
from lmdm.vae.model import VAE, save_vae
from lmdm.vae.model import tiny_config as tiny_vae_config

REPO = Path(__file__).resolve().parents[3]


def command(latent_data, run: Path, steps: int, *extra: str) -> list[str]:
    data, vae = latent_data
    return [sys.executable, "-m", "lmdm.dit.train", "--data", str(data), "--vae", str(vae), "--run-dir", str(run),
            "--model", "tiny", "--batch-size", "4", "--context-frames", "16", "--block-frames", "4",
            "--history-frames", "12", "--valid-split", "train", "--valid-every", "3", "--valid-batches", "1",
            "--log-every", "1", "--threads", "1", "--max-steps", str(steps), *extra]


def run(arguments: list[str]) -> dict:
    result = subprocess.run(arguments, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def offline_run(latent_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("offline") / "run"
    summary = run(command(latent_data, folder, 6))
    assert summary["step"] == 6
    return folder


@pytest.mark.parametrize("variant", ["outpaint", "encdec", "blockcausal"])
def test_each_variant_fine_tunes_from_the_offline_model(latent_data, offline_run, tmp_path, variant):
    summary = run(command(latent_data, tmp_path / variant, 4, "--variant", variant, "--init-from", str(offline_run)))
    assert summary["step"] == 4 and summary["offline_valid_loss"] > 0
    rows = [json.loads(line) for line in (tmp_path / variant / "metrics.jsonl").read_text().splitlines()]
    assert any("valid_loss" in row for row in rows) and (tmp_path / variant / "loss.png").exists()
    offline = load_file(offline_run / "checkpoint" / "ema.safetensors")
    tuned = DiT(tiny_config(variant=variant, latent_dim=4))
    new = set(tuned.state_dict()) - set(offline)
    assert new == ({"context_channels_in.weight"} if variant == "outpaint" else {"context_in.weight", "context_in.bias"})


def test_fine_tuning_starts_from_the_offline_weights(offline_run):
    model = DiT(tiny_config(variant="encdec", latent_dim=4))
    load_init_weights(model, offline_run)
    offline = load_file(offline_run / "checkpoint" / "ema.safetensors")
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in offline.items())
    assert torch.equal(model.context_in.weight, model.noisy_in.weight)  # W_c starts as W_x


def test_fine_tuning_refuses_weights_of_another_model(offline_run):
    with pytest.raises(ValueError, match="not a DiT of this size"):
        load_init_weights(DiT(tiny_config(variant="encdec", latent_dim=4, width=48)), offline_run)


def test_resumed_training_equals_uninterrupted(latent_data, tmp_path):
    run(command(latent_data, tmp_path / "straight", 6))
    run(command(latent_data, tmp_path / "resumed", 3))
    run(command(latent_data, tmp_path / "resumed", 6))
    for name in ("model", "ema"):
        straight = load_file(tmp_path / "straight" / "checkpoint" / f"{name}.safetensors")
        resumed = load_file(tmp_path / "resumed" / "checkpoint" / f"{name}.safetensors")
        assert all(torch.equal(straight[k], resumed[k]) for k in straight), name


def test_ddp_two_processes_stay_in_sync(latent_data, offline_run, tmp_path):
    arguments = command(latent_data, tmp_path / "ddp", 3, "--variant", "blockcausal", "--init-from", str(offline_run))
    summary = run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29541",
                   "-m", "lmdm.dit.train", *arguments[3:]])
    assert summary["step"] == 3 and summary["replicas_in_sync"] is True


def test_generate_streams_a_fine_tuned_run_into_audio_and_a_plot(latent_data, offline_run, tmp_path):
    _, vae = latent_data
    tuned = tmp_path / "blockcausal"
    run(command(latent_data, tuned, 2, "--variant", "blockcausal", "--init-from", str(offline_run)))
    clip = sorted((REPO / "assets" / "clips").glob("*.flac"))[0]
    out = tmp_path / "generated.wav"
    summary = run([sys.executable, "-m", "lmdm.streaming.generate", "--model", str(tuned), "--vae", str(vae),
                   "--prompt", "solo flute", "--sketch", str(clip), "--seconds", "2", "--context-frames", "16",
                   "--block-frames", "4", "--steps", "2", "--out", str(out), "--threads", "1"])
    audio, rate = soundfile.read(out)
    assert rate == 22050 and summary["blocks"] == 22 and abs(len(audio) / rate - 2.0) < 0.2
    assert np.isfinite(audio).all() and out.with_suffix(".png").stat().st_size > 5_000


@pytest.mark.parametrize("variant", ["offline", "blockcausal"])
def test_evaluate_scores_sketch_and_text_adherence_and_frechet_distance(latent_data, offline_run, tmp_path, variant):
    data, vae = latent_data
    model = offline_run
    if variant != "offline":
        model = tmp_path / variant
        run(command(latent_data, model, 2, "--variant", variant, "--init-from", str(offline_run)))
    classifier = [sys.executable, "-m", "lmdm.evaluation.classifier", "--data", str(data), "--run-dir", str(tmp_path / "judge"),
                  "--max-steps", "2", "--batch-size", "2", "--eval-split", "train", "--threads", "1"]
    assert subprocess.run(classifier, cwd=REPO, capture_output=True, timeout=600).returncode == 0
    result = subprocess.run([sys.executable, "-m", "lmdm.evaluation.evaluate", "--model", str(model), "--vae", str(vae),
                             "--classifier", str(tmp_path / "judge"), "--data", str(data), "--split", "train",
                             "--items", "2", "--seconds", "4.5", "--context-frames", "16", "--block-frames", "4",
                             "--steps", "2", "--instruments", "flute", "violin", "--out", str(tmp_path / "eval"),
                             "--threads", "1"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert scores["variant"] == variant and scores["items"] == 2
    assert -1 <= scores["sketch_adherence"]["loudness_r"] <= 1 and 0 <= scores["text_adherence_top1"] <= 1
    assert np.isfinite(scores["frechet_distance_classifier"]) and np.isfinite(scores["frechet_distance_aisfx_nonstandard_fad"])


def test_package_writes_a_model_folder_that_generate_can_load(latent_data, offline_run, tmp_path):
    data, vae = latent_data
    tuned = tmp_path / "run"
    run(command(latent_data, tuned, 2, "--variant", "encdec", "--init-from", str(offline_run)))
    judge = [sys.executable, "-m", "lmdm.evaluation.classifier", "--data", str(data), "--run-dir", str(tmp_path / "judge"),
             "--max-steps", "2", "--batch-size", "2", "--eval-split", "train", "--threads", "1"]
    assert subprocess.run(judge, cwd=REPO, capture_output=True, timeout=600).returncode == 0
    from lmdm.dit.files import load_dit
    from lmdm.dit.release import DiTPackageConfig, release_dit

    release_dit(DiTPackageConfig(run_dir=tuned, out=tmp_path / "model", classifier=tmp_path / "judge", evaluation_items=2,
                             evaluation_split="train", evaluation_seconds=4.5, evaluation_steps=2, threads=1))
    model, stats = load_dit(tmp_path / "model")
    assert model.config.variant == "encdec" and "latent_mean" in stats
    card = (tmp_path / "model" / "CARD.md").read_text()
    assert "variant `encdec`" in card and "reached after" in card and "non-standard FAD" in card


def test_non_finite_batches_are_skipped_not_learned(latent_data, tmp_path):
    import shutil

    from lmdm.latents.cache import cache_folder

    data, vae = latent_data
    corrupt = tmp_path / "data"
    shutil.copytree(cache_folder(data, vae), cache_folder(corrupt, vae))
    latents_path = cache_folder(corrupt, vae) / "train.latents.npy"
    latents = np.load(latents_path)
    latents[: len(latents) // 2] = np.nan  # half the windows carry NaNs
    np.save(latents_path, latents)
    arguments = command(latent_data, tmp_path / "run", 6)
    arguments[arguments.index("--data") + 1] = str(corrupt)
    run(arguments)
    meta = json.loads((tmp_path / "run" / "checkpoint" / "checkpoint.json").read_text())
    assert 0 < meta["skipped_nonfinite_steps"] <= 6
    weights = load_file(tmp_path / "run" / "checkpoint" / "model.safetensors")
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_a_damaged_latent_cache_is_a_clear_error_naming_the_file(latent_data, tmp_path):
    import shutil

    from lmdm.latents.cache import cache_folder

    data, vae = latent_data
    folder = cache_folder(tmp_path / "data", vae)
    shutil.copytree(cache_folder(data, vae), folder)
    latents_path = folder / "train.latents.npy"
    latents_path.write_bytes(latents_path.read_bytes()[:1000])  # a copy cut short
    with pytest.raises(ValueError, match="train.latents.npy cannot be read.*build the cache again"):
        LatentWindows(folder, "train", 16)


def test_a_streaming_model_trains_on_with_a_new_pitch_input(tmp_path):
    """--init-from a streaming model with the scalar pitch input: everything but the pitch input is
    kept, the sinusoidal one starts at zero output, so the model computes what it computed without pitch."""
    from lmdm.dit.files import save_dit

    torch.manual_seed(0)
    old = DiT(tiny_config(variant="blockcausal", latent_dim=4, pitch_features="scalar"))
    stats = tmp_path / "stats.json"
    stats.write_text("{}")
    save_dit(old, tmp_path / "old", stats, dtype=torch.float32)
    new = DiT(tiny_config(variant="blockcausal", latent_dim=4))
    load_init_weights(new, tmp_path / "old")
    kept = {k: v for k, v in old.state_dict().items() if not k.startswith("controls.projections.2.")}
    assert all(torch.equal(new.state_dict()[k], v) for k, v in kept.items())
    x, t, text = torch.randn(1, 6, 4), torch.tensor([0.5]), torch.randn(1, 384)
    values, present = torch.randn(1, 6, 3), torch.ones(1, 6, 3)
    no_pitch = present.clone()
    no_pitch[..., 2] = 0
    with torch.no_grad():
        assert torch.allclose(new(x, t, values, present, text), old(x, t, values * no_pitch, no_pitch, text), atol=1e-6)


def test_sinusoidal_pitch_separates_semitones_more_than_the_scalar():
    """Features one semitone apart are far apart for the sinusoidal input (the scalar moved them by ~1 %)."""
    from lmdm.dit.model import SinusoidalPitch

    pitch = SinusoidalPitch(tiny_config(pitch_unit_semitones=10.0))
    semitone = torch.tensor([[0.0, 0.1]])  # z-scores: 10 semitones per unit
    angles = semitone[..., None] * pitch.frequencies
    features = torch.cat([torch.sin(angles), torch.cos(angles)], -1)[0]
    cosine = torch.nn.functional.cosine_similarity(features[0], features[1], dim=0)
    assert cosine < 0.8
    octave = torch.tensor([[0.0, 1.2]])[..., None] * pitch.frequencies  # 12 semitones
    assert torch.allclose(torch.sin(octave[0, 1, 9]), torch.sin(octave[0, 0, 9]), atol=1e-5)  # period 12: same chroma


def test_context_dropout_hides_old_context_from_every_frame():
    config = TrainDiTConfig(variant="blockcausal", context_frames=8, block_frames=4, history_frames=4,
                            context_dropout=0.5, context_partial=0.5)
    from lmdm.dit.masks import window_mask

    base = window_mask("blockcausal", 12, 4, 4, 8)
    masks, no_context = drop_context(base, 12, config, 64, torch.Generator().manual_seed(0))
    masks = masks[:, 0]  # (B, T, T)
    target = masks[:, 12:, :12]  # what the target sees of the context
    seen = target[:, 0].sum(-1)
    assert set(seen.tolist()) <= {0, 4, 8} and 0 in seen.tolist() and 4 in seen.tolist()
    assert torch.equal(no_context, seen == 0)
    for mask, count in zip(masks, seen.tolist()):
        hidden = torch.arange(16) < 12 - count
        assert not (mask[:, hidden] & ~torch.eye(16, dtype=torch.bool)[:, hidden]).any()  # nobody reads them
        assert torch.equal(mask[:, ~hidden], base[:, ~hidden])  # the rest is the block-causal mask


def test_context_free_examples_are_scored_on_every_block_as_first_blocks():
    """start_blocks: a context-free example is all noisy, each block sees only itself, every frame is
    scored; the others keep their context and are scored on the last block; each example weighs the same."""
    config = TrainDiTConfig(variant="blockcausal", context_frames=8, block_frames=4, history_frames=4,
                            context_dropout=0.5, context_partial=0.0, context_noise=0.0, rest_probability=0.0,
                            control_dropout=0.0, caption_dropout=0.0)
    seen = {}

    def model(noisy, t, values, present, text, clean, is_context, mask, keep_text):
        seen.update(noisy=noisy, t=t, is_context=is_context, mask=mask, clean=clean)
        return noisy  # a velocity whose error the test can recompute from x_t, t and x

    latents = torch.randn(32, 16, 3)
    batch = {"latents": latents, "control_values": torch.zeros(32, 16, 3),
             "control_present": torch.ones(32, 16, 3), "text": torch.zeros(32, 8)}
    loss = flow_loss(model, config, batch, torch.Generator().manual_seed(0), train=True)
    starts = ~seen["is_context"].any(1)
    assert 0 < starts.sum() < 32 and seen["is_context"][~starts, :12].all()
    assert (seen["clean"][starts] == 0).all() and torch.equal(seen["clean"][~starts, :12], latents[~starts, :12])
    blocks = torch.arange(16) // 4
    assert torch.equal(seen["mask"][starts, 0], (blocks[:, None] == blocks[None]).expand(int(starts.sum()), -1, -1))
    t = seen["t"][:, None, None]
    target = (seen["noisy"] - (1 - t) * latents) / t - latents  # noise - x
    error = ((seen["noisy"] - target) ** 2).mean(-1)  # (B, T)
    per_example = torch.where(starts, error.mean(1), error[:, 12:].mean(1))
    assert torch.allclose(loss, per_example.mean(), rtol=1e-4)


def test_rollouts_put_the_models_own_block_into_the_context():
    """rollout_examples: that many examples with context get their newest context block sampled by the
    model (here a zero velocity, so the sample is its starting noise); nothing else changes."""
    config = TrainDiTConfig(variant="blockcausal", context_frames=8, block_frames=4, history_frames=4,
                            context_dropout=0.25, context_partial=0.0, context_noise=0.0, rest_probability=0.0,
                            control_dropout=0.0, caption_dropout=0.0, rollout_examples=3, rollout_steps=2)
    calls = []

    class Recorder(torch.nn.Module):
        def forward(self, noisy, t, values, present, text, clean, is_context, mask, keep_text=None):
            calls.append({"frames": noisy.shape[1], "batch": noisy.shape[0], "clean": clean,
                          "is_context": is_context, "grad": torch.is_grad_enabled(), "training": self.training})
            return torch.zeros_like(noisy)

    model = Recorder()

    latents = torch.randn(16, 16, 3)
    batch = {"latents": latents, "control_values": torch.zeros(16, 16, 3),
             "control_present": torch.ones(16, 16, 3), "text": torch.zeros(16, 8)}
    flow_loss(model, config, batch, torch.Generator().manual_seed(0), train=True)
    rollouts, main = calls[:-1], calls[-1]
    assert len(rollouts) == 2 and all(c["batch"] == 3 and c["frames"] == 12 and not c["grad"] for c in rollouts)
    assert not any(c["training"] for c in rollouts) and main["training"]  # sampled in eval mode, trained after
    assert main["frames"] == 16 and main["grad"]
    with_context = main["is_context"].any(1)
    replaced = ~torch.isclose(main["clean"][:, 8:12], latents[:, 8:12]).all(-1).all(-1) & with_context
    assert replaced.sum() == 3 and (main["clean"][~with_context] == 0).all()  # first blocks have no context
    assert torch.equal(main["clean"][with_context][:, :8], latents[with_context][:, :8])


def test_bf16_training_loss_matches_fp32_and_keeps_attention_in_fp32():
    """bf16 autocast (--precision bf16) changes the arithmetic, not the objective: the loss of one batch
    agrees with fp32's to within bfloat16's rounding; attention itself runs in float32."""
    from lmdm.dit.model import attention

    config = TrainDiTConfig(variant="blockcausal", context_frames=8, block_frames=4, history_frames=4)
    torch.manual_seed(0)
    model = DiT(tiny_config(variant="blockcausal", latent_dim=3))
    with torch.no_grad():  # away from the zero-initialised output, so the arithmetic shows in the loss
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    batch = {"latents": torch.randn(8, 16, 3), "control_values": torch.randn(8, 16, 3),
             "control_present": torch.ones(8, 16, 3), "text": torch.randn(8, 384)}
    losses = [flow_loss(model, TrainDiTConfig(**{**config.__dict__, "precision": precision}), batch,
                        torch.Generator().manual_seed(3), train=True).item() for precision in ("fp32", "bf16")]
    assert losses[0] == pytest.approx(losses[1], rel=0.02) and losses[0] != losses[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q = torch.randn(1, 2, 4, 8, dtype=torch.bfloat16)
        assert attention(q, q, q).dtype == torch.float32
    with pytest.raises(ValueError, match="precision"):
        TrainDiTConfig(precision="fp16")


def test_rests_write_silence_into_latents_and_controls():
    config = TrainDiTConfig(rest_probability=1.0, rest_frames=(3, 3))
    silence = (torch.full((4,), 7.0), torch.tensor([-5.0, -3.0, 0.0]), torch.tensor([1.0, 1.0, 0.0]))
    latents, values, present = torch.zeros(2, 10, 4), torch.zeros(2, 10, 3), torch.ones(2, 10, 3)
    latents, values, present = insert_rests(latents, values, present, silence, config, torch.Generator().manual_seed(1))
    for b in range(2):
        rest = (latents[b] == 7.0).all(-1)
        assert rest.sum() == 3 and (values[b, rest] == silence[1]).all() and (present[b, rest] == silence[2]).all()
        assert (latents[b, ~rest] == 0).all() and (present[b, ~rest] == 1).all()


def test_a_resumed_log_drops_the_steps_logged_after_the_checkpoint(tmp_path):
    """A run killed after its last checkpoint logged steps it trains again; the log keeps each step once."""
    from lmdm.training.distributed import MetricsLog

    log = MetricsLog(tmp_path, 0, ("loss",))
    for step in (25, 50, 75, 100):
        log.write(step, float(step), {"loss": 1.0})
    resumed = MetricsLog(tmp_path, 0, ("loss",), resume_step=50)
    resumed.write(75, 80.0, {"loss": 0.5})
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [25, 50, 75] and rows[-1]["loss"] == 0.5


def test_the_latent_cache_is_keyed_on_the_encoder_alone(tmp_path):
    """A VAE whose decoder changed keeps its latent cache; a new encoder gets its own."""
    from lmdm.latents.cache import cache_folder

    torch.manual_seed(0)
    vae = VAE(tiny_vae_config())
    save_vae(vae, tmp_path / "a")
    with torch.no_grad():
        vae.decoder.head.bias.add_(1.0)
    save_vae(vae, tmp_path / "b")
    with torch.no_grad():
        next(vae.encoder.parameters()).add_(1.0)
    save_vae(vae, tmp_path / "c")
    data = tmp_path / "data"
    folders = [cache_folder(data, tmp_path / name) for name in "abc"]
    assert folders[0] == folders[1] != folders[2]


def test_a_packed_cache_trains_without_the_vae_and_the_run_comes_back(latent_data, tmp_path):
    """The GPU-machine round trip (scripts/gpu_burst.sh): pack the cache, unpack it where no VAE is,
    train there on --latent-cache, send the run's EMA back in parts and continue from it here."""
    from lmdm.latents.cache import cache_folder
    from lmdm.latents.pack import pack, unpack
    from lmdm.training.run_transfer import receive, send

    data, vae = latent_data
    pack(cache_folder(data, vae), tmp_path / "cache.pack", vae)
    unpacked = unpack(tmp_path / "cache.pack", tmp_path / "gpu-data")
    away = tmp_path / "away"
    run(command(latent_data, away, 3, "--vae", str(tmp_path / "no-vae"), "--latent-cache", str(unpacked)))
    parts = send(away, tmp_path / "out", "away", part_mb=0.05)
    assert len(parts) > 2 and all(p.stat().st_size < 0.2e6 for p in parts)  # several weight parts and the logs
    back = receive(parts, tmp_path / "back")
    ema = load_file(away / "checkpoint" / "ema.safetensors")
    received = load_file(back / "checkpoint" / "ema.safetensors")
    assert received.keys() == ema.keys()
    assert all(torch.allclose(received[k], ema[k], rtol=1e-3, atol=1e-4) for k in ema)  # float16 on the way
    assert (back / "metrics.jsonl").read_text() == (away / "metrics.jsonl").read_text()
    refused = subprocess.run(command(latent_data, back, 4), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert refused.returncode != 0 and "start a new run with --init-from" in refused.stderr
    assert run(command(latent_data, tmp_path / "here", 2, "--init-from", str(back)))["step"] == 2
    with pytest.raises(ValueError, match="not the whole set"):
        receive(parts[1:], tmp_path / "partial")


def test_guitar_controls_play_the_same_notes_at_the_same_level(latent_data):
    data, vae = latent_data
    folder = build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    own, guitar = np.load(folder / "train.controls.npy"), np.load(folder / f"train.{GUITAR_CONTROLS}")
    assert guitar.shape == own.shape and np.isfinite(guitar).all()
    voiced = (own[:, 3] >= 0.5) & (guitar[:, 3] >= 0.5)
    assert voiced.mean() > 0.3
    # the same notes: pitch classes agree on most frames both call voiced (octave errors of either tracker aside)
    semitones = np.abs(own[voiced, 2] - guitar[voiced, 2]) % 12
    assert np.mean(np.minimum(semitones, 12 - semitones) < 0.5) > 0.7
    for example in json.loads((folder / "train.json").read_text())["examples"]:
        rows = slice(example["start"], example["end"])
        active = own[rows, 0] > -60
        # levelled to the target over its active frames, while the envelope is the guitar's own
        assert abs(np.mean(own[rows, 0][active]) - np.mean(guitar[rows, 0][active])) < 3.0
        assert not np.allclose(own[rows, 0], guitar[rows, 0], atol=1.0)
    assert build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1)) == folder  # built once


def test_windows_take_the_guitars_controls_only_when_asked(latent_data, tmp_path):
    data, vae = latent_data
    folder = build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    plain = LatentWindows(folder, "train", 32).batch(8, np.random.default_rng(3))
    never = LatentWindows(folder, "train", 32, guitar_controls=0.0).batch(8, np.random.default_rng(3))
    always = LatentWindows(folder, "train", 32, guitar_controls=1.0).batch(8, np.random.default_rng(3))
    assert torch.equal(plain["control_values"], never["control_values"])  # runs without the lever keep their batches
    assert not torch.equal(plain["control_values"], always["control_values"])
    assert always["latents"].shape == plain["latents"].shape
    assert run(command(latent_data, tmp_path / "run", 2, "--guitar-controls", "0.5"))["step"] == 2


def test_guitar_windows_can_keep_the_targets_own_brightness(latent_data):
    data, vae = latent_data
    folder = build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    # a share that never draws the guitar but spends the same random draws, so the windows are the same
    own = LatentWindows(folder, "train", 32, guitar_controls=1e-12).batch(8, np.random.default_rng(5))
    guitar = LatentWindows(folder, "train", 32, guitar_controls=1.0).batch(8, np.random.default_rng(5))
    mixed = LatentWindows(folder, "train", 32, guitar_controls=1.0, own_brightness=True).batch(
        8, np.random.default_rng(5))
    brightness = SKETCH_CONTROLS.index("brightness")
    others = [i for i in range(len(SKETCH_CONTROLS)) if i != brightness]
    assert torch.equal(mixed["control_values"][..., brightness], own["control_values"][..., brightness])
    assert torch.equal(mixed["control_values"][..., others], guitar["control_values"][..., others])
    assert not torch.equal(mixed["control_values"][..., brightness], guitar["control_values"][..., brightness])


def test_solo_weight_draws_solo_examples_more_often(latent_data):
    data, vae = latent_data
    folder = build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    plain, solo = LatentWindows(folder, "train", 32), LatentWindows(folder, "train", 32, solo_weight=4.0)
    is_solo = np.array([e["kind"] == "solo" for e in plain.examples])
    assert 0 < is_solo.sum() < len(is_solo)  # the fixture holds both kinds
    share, boosted = plain.weights[is_solo].sum(), solo.weights[is_solo].sum()
    assert boosted == pytest.approx(4 * share / (4 * share + (1 - share)))


def test_the_envelope_gain_moves_the_target_part_of_the_way_to_the_guitar():
    target = np.array([-20.0, -20.0, -30.0, -90.0, -20.0, -90.0])
    guitar = np.array([-10.0, -40.0, -30.0, -20.0, -95.0, -95.0])
    gain = envelope_gain_db(target, guitar, GuitarEnvelopeConfig(depth=0.5, max_cut_db=40.0, max_boost_db=6.0))
    # half the difference, the boost capped (+10 -> +6 -> +3), a guitar rest under a held note cut at most 40 dB,
    # and a frame silent in both left alone
    assert gain == pytest.approx([3.0, -10.0, 0.0, 3.0, -20.0, 0.0])
    full = envelope_gain_db(target[:3], guitar[:3], GuitarEnvelopeConfig(depth=1.0, max_boost_db=12.0))
    assert target[:3] + full == pytest.approx(guitar[:3])  # depth 1: the guitar's envelope
    audio = np.ones(4 * 8, np.float32)
    louder = apply_frame_gain(audio, np.array([0.0, 20.0, 20.0, 20.0]), hop=8)
    assert louder[0] == pytest.approx(1.0) and louder[8:] == pytest.approx(10.0)  # frame k centred on sample k x hop
    assert 1.0 < louder[4] < 10.0  # linear between frames, no step


def test_guitar_envelope_latents_change_only_the_chosen_kinds_and_feed_only_guitar_windows(latent_data, tmp_path):
    data, vae = latent_data
    build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    folder = build_guitar_envelope(GuitarEnvelopeConfig(data=data, vae=vae, threads=1))
    latents, enveloped = np.load(folder / "train.latents.npy"), np.load(folder / f"train.{GUITAR_LATENTS}")
    assert enveloped.shape == latents.shape and enveloped.dtype == latents.dtype and np.isfinite(enveloped).all()
    examples = json.loads((folder / "train.json").read_text())["examples"]
    for kind in ("solo", "ensemble"):
        rows = np.concatenate([np.arange(e["start"], e["end"]) for e in examples if e["kind"] == kind])
        changed = np.abs(enveloped[rows].astype(np.float32) - latents[rows].astype(np.float32)).mean()
        assert (changed > 1e-3) if kind == "solo" else (changed == 0.0)  # only the chosen kinds are re-levelled
    before = (folder / f"train.{GUITAR_LATENTS}").stat().st_mtime_ns
    assert build_guitar_envelope(GuitarEnvelopeConfig(data=data, vae=vae, threads=1)) == folder
    assert (folder / f"train.{GUITAR_LATENTS}").stat().st_mtime_ns == before  # built once

    plain = LatentWindows(folder, "train", 32, guitar_controls=1e-12, guitar_envelope=True).batch(
        8, np.random.default_rng(7))
    guitar = LatentWindows(folder, "train", 32, guitar_controls=1.0).batch(8, np.random.default_rng(7))
    both = LatentWindows(folder, "train", 32, guitar_controls=1.0, guitar_envelope=True).batch(
        8, np.random.default_rng(7))
    assert torch.equal(plain["latents"], guitar["latents"])  # own-control windows keep the target as it is
    assert torch.equal(both["control_values"], guitar["control_values"])
    assert not torch.equal(both["latents"], guitar["latents"])
    assert run(command(latent_data, tmp_path / "run", 2, "--guitar-controls", "0.5", "--guitar-envelope"))["step"] == 2


def test_guitar_envelope_windows_need_their_latents(latent_data, tmp_path):
    data, vae = latent_data
    folder = build_guitar_controls(GuitarControlsConfig(data=data, vae=vae, workers=1))
    (folder / f"train.{GUITAR_LATENTS}").unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError, match="lmdm.latents.guitar_envelope"):
        LatentWindows(folder, "train", 32, guitar_controls=0.5, guitar_envelope=True)
