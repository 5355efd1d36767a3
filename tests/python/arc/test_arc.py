"""ARC-Forcing: the differentiable rollout equals the streaming model, the discriminator, the losses, the trainer."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lmdm.arc.discriminator import Discriminator
from lmdm.arc.losses import noise_times, relativistic
from lmdm.arc.loudness_probe import fit_loudness_probe, loudness_loss, quadratic_features
from lmdm.arc.rollout import roll_out, visible_prefix
from lmdm.arc.teacher import guided_targets
from lmdm.dit.masks import window_mask
from lmdm.dit.model import DiT, tiny_config

REPO = Path(__file__).resolve().parents[3]


def random_model(seed: int = 0, variant: str = "blockcausal") -> DiT:
    torch.manual_seed(seed)
    model = DiT(tiny_config(variant=variant, latent_dim=4))
    for parameter in model.parameters():  # adaLN-zero would make a fresh model output zeros
        torch.nn.init.normal_(parameter, std=0.2)
    return model


def reference_block(model: DiT, context: torch.Tensor, noise: torch.Tensor, values, present, text,
                    block: int, window: int) -> torch.Tensor:
    """One Euler step from t = 1 by a masked pass, the definition: blockcausal over the whole history
    (its cached blocks were encoded with theirs), encdec over the last C frames only."""
    first = 0 if model.config.variant == "blockcausal" else max(0, context.shape[1] - window)
    context = context[:, first:]
    frames = context.shape[1] + block
    mask = window_mask(model.config.variant, context.shape[1], block, block, window)
    noisy = torch.cat([torch.zeros_like(context), noise], 1)
    clean = torch.cat([context, torch.zeros_like(noise)], 1)
    is_context = torch.arange(frames) < context.shape[1]
    v = model(noisy, torch.ones(1), values[:, first:first + frames], present[:, first:first + frames], text,
              clean=clean, is_context=is_context, mask=mask, positions=torch.arange(first, first + frames))
    return noise - v[:, -block:]


@pytest.mark.parametrize("variant", ["blockcausal", "encdec"])
@torch.no_grad()
def test_a_one_step_rollout_equals_the_streaming_model_block_by_block(variant):
    model, block, window, chunks = random_model(variant=variant), 4, 8, 3
    prefix = torch.randn(1, 8, 4)
    values, present = torch.randn(1, 8 + chunks * block, 3), torch.ones(1, 8 + chunks * block, 3)
    text = torch.randn(1, 384)
    generator = torch.Generator().manual_seed(5)
    rolled, steps = roll_out(model, prefix, torch.ones(1, 8, dtype=torch.bool), values, present, text, chunks, block,
                             window, 1, generator)
    assert steps == [1] * chunks
    replay = torch.Generator().manual_seed(5)  # the rollout's draws: the step count, then the block's noise
    context = prefix
    for chunk in range(chunks):
        torch.randint(1, 2, (1,), generator=replay)
        noise = torch.randn(1, block, 4, generator=replay)
        expected = reference_block(model, context, noise, values, present, text, block, window)
        assert torch.allclose(rolled[:, chunk * block:(chunk + 1) * block], expected, atol=1e-4)
        context = torch.cat([context, expected], 1)


def test_gradient_reaches_the_generator_through_every_block():
    model = random_model()
    prefix = torch.randn(2, 8, 4)
    values, present = torch.randn(2, 20, 3), torch.ones(2, 20, 3)
    rolled, steps = roll_out(model, prefix, torch.ones(2, 8, dtype=torch.bool), values, present, torch.randn(2, 384),
                             3, 4, 8, 3, torch.Generator().manual_seed(0))
    assert rolled.shape == (2, 12, 4) and all(1 <= s <= 3 for s in steps)
    for chunk in range(3):
        model.zero_grad()
        rolled[:, chunk * 4:(chunk + 1) * 4].sum().backward(retain_graph=True)
        assert model.noisy_in.weight.grad.abs().sum() > 0


def test_a_hidden_prefix_changes_nothing_it_hides():
    model = random_model()
    prefix = torch.randn(1, 8, 4)
    values, present = torch.randn(1, 12, 3), torch.ones(1, 12, 3)
    hidden = torch.zeros(1, 8, dtype=torch.bool)
    text = torch.randn(1, 384, generator=torch.Generator().manual_seed(1))
    run = lambda p: roll_out(model, p, hidden, values, present, text, 1, 4, 8, 2, torch.Generator().manual_seed(0))[0]
    with torch.no_grad():
        assert torch.allclose(run(prefix), run(torch.randn(1, 8, 4)), atol=1e-5)


def test_prefix_visibility_follows_the_dropout_probabilities():
    generator = torch.Generator().manual_seed(0)
    visible = visible_prefix(4000, 64, 16, 0.25, 0.1, generator)
    none, whole = (~visible.any(1)).float().mean(), visible.all(1).float().mean()
    assert abs(none - 0.25) < 0.03 and abs(whole - 0.65) < 0.03
    partial = visible[visible.any(1) & ~visible.all(1)]
    assert partial[:, -1].all() and set(partial.sum(1).tolist()) <= {16, 32, 48}  # the newest whole blocks


def test_the_discriminator_starts_from_the_generators_layers_and_scores_every_fourth_frame():
    model = random_model()
    discriminator = Discriminator(model, exit_layer=1, head_channels=8)
    assert len(discriminator.backbone.blocks) == 1
    assert torch.equal(discriminator.backbone.blocks[0].qkv.weight, model.blocks[0].qkv.weight)
    window, prefix = torch.randn(3, 16, 4), torch.randn(3, 8, 4)
    scores = discriminator(window, torch.full((3,), 0.5), prefix, torch.ones(3, 8, dtype=torch.bool),
                           torch.randn(3, 24, 3), torch.ones(3, 24, 3), torch.randn(3, 384))
    assert scores.shape == (3, 4)
    hidden = torch.zeros(3, 8, dtype=torch.bool)
    score = lambda p: discriminator(window, torch.full((3,), 0.5), p, hidden, torch.zeros(3, 24, 3),
                                    torch.ones(3, 24, 3), torch.zeros(3, 384))
    with torch.no_grad():  # a hidden prefix cannot sway the score
        assert torch.allclose(score(prefix), score(torch.randn(3, 8, 4)), atol=1e-5)
    with pytest.raises(ValueError, match="exit_layer"):
        Discriminator(model, exit_layer=3)


@pytest.mark.parametrize("text_guidance", [0.0, 1.5])
@torch.no_grad()
def test_the_teachers_target_is_its_guided_prediction_of_each_renoised_block_after_the_rollouts_context(
        text_guidance: float):
    model, block, window, chunks, guidance = random_model(3), 4, 8, 3, 2.5
    prefix, rollout = torch.randn(2, 8, 4), torch.randn(2, chunks * block, 4)
    values, present = torch.randn(2, 8 + chunks * block, 3), torch.ones(2, 8 + chunks * block, 3)
    text = torch.randn(2, 384)
    targets = guided_targets(model, prefix, torch.ones(2, 8, dtype=torch.bool), rollout, values, present, text, block,
                             window, guidance, (-2.0, 3.0), torch.Generator().manual_seed(4), text_guidance)
    replay = torch.Generator().manual_seed(4)  # the draws: every block's time, then each block's noise
    times = noise_times(chunks, (-2.0, 3.0), replay)
    context = prefix
    for chunk in range(chunks):  # the definition: one masked pass over everything before the block, per row
        s, frames = float(times[chunk]), context.shape[1] + block
        clean_block = rollout[:, chunk * block:(chunk + 1) * block]
        noisy_block = (1 - s) * clean_block + s * torch.randn(2, block, 4, generator=replay)
        mask = window_mask("blockcausal", context.shape[1], block, block, window)
        noisy = torch.cat([torch.zeros_like(context), noisy_block], 1)
        clean = torch.cat([context, torch.zeros_like(noisy_block)], 1)
        pass_ = lambda v, p, t: model(noisy, torch.full((2,), s), v, p, t, clean=clean,
                                      is_context=torch.arange(frames) < context.shape[1], mask=mask)[:, -block:]
        conditional = pass_(values[:, :frames], present[:, :frames], text)
        unconditional = pass_(torch.zeros_like(values[:, :frames]), torch.zeros_like(present[:, :frames]), None)
        promptless = pass_(values[:, :frames], present[:, :frames], None)  # the sketch without the prompt
        guided = unconditional + guidance * (conditional - unconditional) + text_guidance * (conditional - promptless)
        expected = noisy_block - s * guided
        assert torch.allclose(targets[:, chunk * block:(chunk + 1) * block], expected, atol=1e-4), chunk
        context = torch.cat([context, clean_block], 1)
    with pytest.raises(ValueError, match="block-causal"):
        guided_targets(random_model(variant="encdec"), prefix, torch.ones(2, 8, dtype=torch.bool), rollout, values,
                       present, text, block, window, guidance, (-2.0, 3.0), torch.Generator())


def test_the_loudness_read_out_recovers_a_planted_quadratic_form_and_scores_only_present_frames():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(6 + 21, generator=generator)

    def batch_of(index: int) -> dict:
        latents = torch.randn(4, 10, 6, generator=torch.Generator().manual_seed(index))
        values = torch.zeros(4, 10, 3)
        values[..., 0] = quadratic_features(latents) @ weight + 0.5
        present = torch.ones(4, 10, 3)
        present[:, ::3, 0] = 0.0  # absent frames carry no loudness to fit
        values[:, ::3, 0] = 100.0
        return {"latents": latents, "control_values": values, "control_present": present}

    probe = fit_loudness_probe(batch_of, 10, ridge=0.0)
    assert probe.r2 > 0.999
    torch.testing.assert_close(probe.weight, weight, atol=1e-4, rtol=1e-4)
    assert abs(probe.bias - 0.5) < 1e-4
    held_out = batch_of(99)
    exact = loudness_loss(probe, held_out["latents"], held_out["control_values"], held_out["control_present"])
    assert float(exact) < 1e-8  # the absent frames' 100 counts for nothing
    louder = held_out["control_values"].clone()
    louder[..., 0] += 1.0
    off = loudness_loss(probe, held_out["latents"], louder, held_out["control_present"])
    assert abs(float(off) - 1.0) < 1e-4


def test_relativistic_loss_and_noise_levels():
    high, low = torch.tensor([5.0]), torch.tensor([-5.0])
    assert relativistic(high, low) < 0.01 < relativistic(low, high)
    t = noise_times(10_000, (-6.0, 2.0), torch.Generator().manual_seed(0))
    assert 0.26 < t.min() and t.max() < 0.96  # sigmoid(1) .. sigmoid(3)


# ----------------------------------------------------------------------------- the trainer, end to end


@pytest.fixture(scope="module")
def blockcausal_model(latent_data, tmp_path_factory) -> Path:
    """A tiny random block-causal LMDM over the small data set's latents, as a shipped model folder."""
    from lmdm.dit.files import save_dit
    from lmdm.latents.cache import training_cache

    data, vae = latent_data
    stats = training_cache(data, vae) / "stats.json"
    latent_dim = len(json.loads(stats.read_text())["latent_mean"])
    torch.manual_seed(0)
    model = DiT(tiny_config(variant="blockcausal", latent_dim=latent_dim))
    for parameter in model.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    folder = tmp_path_factory.mktemp("blockcausal") / "model"
    save_dit(model.eval(), folder, stats)
    return folder


def arc_command(latent_data, model: Path, run: Path, steps: int) -> list[str]:
    data, vae = latent_data
    return [sys.executable, "-m", "lmdm.arc.train", "--data", str(data), "--vae", str(vae), "--init-from", str(model),
            "--run-dir", str(run), "--context-frames", "8", "--block-frames", "4", "--chunks", "2",
            "--max-block-steps", "2", "--head-channels", "8", "--batch-size", "2", "--log-every", "1",
            "--threads", "1", "--max-steps", str(steps)]


def run(arguments: list[str]) -> dict:
    result = subprocess.run(arguments, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_arc_training_logs_both_players_and_a_resumed_run_equals_an_uninterrupted_one(latent_data, blockcausal_model,
                                                                                      tmp_path):
    from safetensors.torch import load_file

    run(arc_command(latent_data, blockcausal_model, tmp_path / "straight", 4))
    run(arc_command(latent_data, blockcausal_model, tmp_path / "resumed", 2))
    summary = run(arc_command(latent_data, blockcausal_model, tmp_path / "resumed", 4))
    assert summary["step"] == 4
    rows = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert all(np.isfinite(row[key]) for row in rows for key in ("generator_loss", "discriminator_loss",
                                                                  "contrastive_text", "real_above_fake"))
    assert (tmp_path / "resumed" / "loss.png").exists()
    for name in ("ema", "discriminator"):
        straight = load_file(tmp_path / "straight" / "checkpoint" / f"{name}.safetensors")
        resumed = load_file(tmp_path / "resumed" / "checkpoint" / f"{name}.safetensors")
        assert all(torch.equal(straight[k], resumed[k]) for k in straight), name
    start, trained = (load_file(path) for path in (blockcausal_model / "model.safetensors",
                                                   tmp_path / "straight" / "checkpoint" / "model.safetensors"))
    assert any(not torch.equal(start[k].float(), trained[k]) for k in start)  # the generator moved


def test_the_flow_anchor_and_the_jitter_penalty_are_logged_and_change_the_updates(latent_data, blockcausal_model,
                                                                                  tmp_path):
    from safetensors.torch import load_file

    plain = tmp_path / "plain"
    run(arc_command(latent_data, blockcausal_model, plain, 2))
    stabilised = tmp_path / "stabilised"
    run(arc_command(latent_data, blockcausal_model, stabilised, 2)
        + ["--flow-weight", "1", "--penalty-weight", "0.1", "--penalty-sigma", "0.05"])
    rows = [json.loads(line) for line in (stabilised / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(row["flow_loss"]) and row["flow_loss"] > 0 for row in rows)
    assert all(np.isfinite(row["penalty"]) and row["penalty"] > 0 for row in rows)
    for name in ("model", "discriminator"):  # both players' updates differ from the plain run's
        a, b = (load_file(run_dir / "checkpoint" / f"{name}.safetensors") for run_dir in (plain, stabilised))
        assert any(not torch.equal(a[k], b[k]) for k in a), name


@pytest.mark.parametrize("flags, logged", [
    (["--distill-weight", "1"], "distill_loss"),  # the teacher: --init-from's model
    (["--loudness-weight", "1", "--probe-batches", "5"], "loudness_loss"),
])
def test_a_generator_term_is_logged_and_moves_only_the_generator(latent_data, blockcausal_model, tmp_path, flags,
                                                                  logged):
    """The teacher's distillation and the loudness read-out add to the generator's loss alone."""
    from safetensors.torch import load_file

    plain, added = tmp_path / "plain", tmp_path / "added"
    run(arc_command(latent_data, blockcausal_model, plain, 1))
    run(arc_command(latent_data, blockcausal_model, added, 1) + flags)
    rows = [json.loads(line) for line in (added / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite(row[logged]) and row[logged] > 0 for row in rows)
    weights = lambda run_dir, name: load_file(run_dir / "checkpoint" / f"{name}.safetensors")
    a, b = weights(plain, "model"), weights(added, "model")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    a, b = weights(plain, "discriminator"), weights(added, "discriminator")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the first step's rollout and judgement are the plain run's


def test_arc_ddp_two_processes_stay_in_sync(latent_data, blockcausal_model, tmp_path):
    arguments = arc_command(latent_data, blockcausal_model, tmp_path / "ddp", 2)
    summary = run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29543",
                   "-m", "lmdm.arc.train", *arguments[3:]])
    assert summary["step"] == 2 and summary["replicas_in_sync"] is True


def test_an_arc_run_exports_as_a_pingpong_package_that_streams(latent_data, blockcausal_model, tmp_path):
    from lmdm.streaming.live import LiveDelay

    _, vae = latent_data
    run(arc_command(latent_data, blockcausal_model, tmp_path / "arc", 1))
    out = tmp_path / "pkg"
    result = subprocess.run([sys.executable, str(REPO / "export" / "export_onnx.py"), "lmdm",
                             "--model", str(tmp_path / "arc"), "--vae", str(vae), "--out", str(out),
                             "--context-frames", "8", "--block-frames", "4", "--steps", "2", "--guidance", "1",
                             "--solver", "pingpong"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    stream = json.loads((out / "manifest.json").read_text())["stream"]
    assert (stream["solver"], stream["default_steps"], stream["default_guidance"]) == ("pingpong", 2, 1.0)
    delay = LiveDelay(out)
    outputs = [delay.process(np.zeros(delay.block_samples, np.float32)) for _ in range(3)]
    assert all(np.isfinite(o).all() for o in outputs)
