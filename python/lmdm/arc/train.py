"""python -m lmdm.arc.train: ARC-Forcing post-training of a streaming LMDM (blockcausal or encdec); resumable, EMA, DDP.

    python -m lmdm.arc.train --init-from models/lmdm-blockcausal --run-dir runs/arc --max-minutes 60
    torchrun --nproc-per-node 2 -m lmdm.arc.train ...        # gradients all-reduced by hand (gloo / NCCL)

The paper's stage 2 (its stage 1 is lmdm.dit.train's fine-tune with context dropout), sized for this
CPU by configuration (the authors' GPU geometry: a 192-latent window, 12 rolled-out chunks of 48
latents, 1-5 steps; here 4 blocks of 16 after a 64-frame prefix, 1-4 steps). One step:
1. a batch of real windows: prefix (C frames) + continuation (`chunks` x B frames), with controls and
   a caption; the prefix visible whole, in part or not at all (rollout context dropout);
2. the generator rolls out the continuation block by block from the prefix (lmdm.arc.rollout: ping-pong,
   random steps, gradient through each block's last step, KV cache as the engine keeps it);
3. generated and real continuations, re-noised with the same noise at a log-SNR-uniform level, are
   scored by the discriminator (lmdm.arc.discriminator: the model cut at `exit_layer`, a ConvNeXt head)
   under the same prompt and controls; the generator steps on the relativistic loss through the
   frozen discriminator, then the discriminator on its relativistic loss plus the contrastive terms
   (lmdm.arc.losses). Optional terms for the generator: stage 1's flow-matching loss on the real
   windows (--flow-weight) and the frozen base model's guided denoising of its blocks as a target
   (--distill-weight, lmdm.arc.teacher); for the discriminator an approximate R1/R2 (--penalty-weight).
Prompts are always given (no caption dropout): the result is sampled without classifier-free
guidance, one pass per step. The run folder holds checkpoint/ (generator, its EMA, discriminator and
both optimizers), metrics.jsonl and loss.png; export it like any run (export/export_onnx.py lmdm
--model <run> --solver pingpong --steps 2 --guidance 1).
"""

import argparse
import copy
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..cli import add_config_arguments, config_from_args
from ..dit.files import keep_run_stats, load_dit
from ..dit.train import TrainDiTConfig, flow_loss, mixed_precision
from ..dit.variants import Variant
from ..dit.windows import LatentWindows
from ..latents.cache import training_cache
from ..streaming.torch_streamer import StreamConfig
from ..training.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint
from ..training.distributed import (MetricsLog, average_gradients, distributed, replicas_in_sync, report_and_finish,
                                    require_same_model)
from ..training.loop import Schedule, run_loop
from ..training.precision import resolve_precision
from .discriminator import Discriminator
from .losses import mismatched, noise_times, relativistic
from .loudness_probe import LoudnessProbe, fit_loudness_probe, loudness_loss
from .rollout import roll_out, visible_prefix
from .teacher import guided_targets


@dataclass(frozen=True)
class ArcConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))  # selects the latent cache
    latent_cache: str = ""  # a cache folder to read instead (one unpacked where the VAE is absent)
    run_dir: Path = field(default_factory=lambda: Path("runs/arc"))
    init_from: str = ""  # the LMDM to post-train (blockcausal or encdec): a shipped model folder or a run (its EMA)
    context_frames: int = StreamConfig.context_frames  # C, the prefix and the cache window
    block_frames: int = StreamConfig.block_frames  # B
    chunks: int = 4  # blocks rolled out per example; the discriminator judges all of them together
    max_block_steps: int = 4  # each block sampled with 1..this many ping-pong steps
    rollout_no_context: float = 0.25  # the authors' rollout context dropout
    rollout_partial_context: float = 0.1
    exit_layer: int = 0  # the discriminator's depth in the model's layers; 0: three quarters (12 of 16 in the recipe)
    head_channels: int = 64
    log_snr_range: tuple[float, float] = (-6.0, 2.0)
    text_contrastive_weight: float = 2.0  # the recipe's contrastive weight
    control_contrastive_weight: float = 1.0  # beyond the recipe: real audio under another example's sketch
    # Stabilisers beyond the recipe, off by default (docs/lmdm.md "ARC-Forcing" says what each run used):
    flow_weight: float = 0.0  # the generator also keeps stage 1's flow-matching loss on real windows, this much
    penalty_weight: float = 0.0  # approximate R1 / R2 (APT, Lin et al. 2025): D's change under a small input jitter,
    penalty_sigma: float = 0.01  # of this size, penalised as weight x E[(D(x + sigma e) - D(x))^2] / sigma^2
    # Beyond the recipe too, off by default: ADD's distillation term (lmdm.arc.teacher)
    distill_weight: float = 0.0  # the generator also moves its blocks towards the teacher's guided denoising of them
    teacher: str = ""  # that frozen teacher (lmdm.arc.teacher): a block-causal model folder or run; "": --init-from's
    teacher_guidance: float = StreamConfig.guidance  # as the base package plays
    teacher_text_guidance: float = 0.0  # a further push along the prompt alone (lmdm.arc.teacher); 0: none
    distill_log_snr_range: tuple[float, float] = (-2.0, 3.0)  # t in [0.18, 0.73]: not where one call only blurs
    # And the sketch's loudness held against the rollouts' (lmdm.arc.loudness_probe), off by default:
    loudness_weight: float = 0.0  # weight of the squared error of the rollout's read-out loudness
    probe_batches: int = 64  # real batches the read-out is fitted on (a fifth of them held out for its R^2)
    batch_size: int = 8
    generator_learning_rate: float = 1e-5
    discriminator_learning_rate: float = 1e-5
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.99
    # the training windows, as lmdm.dit.train draws them (lmdm.dit.windows)
    guitar_controls: float = 0.0
    own_brightness: bool = False
    solo_weight: float = 1.0
    guitar_envelope: bool = False
    max_steps: int = 1_000_000
    max_minutes: float = 0.0
    checkpoint_minutes: float = 5.0
    log_every: int = 10
    seed: int = 0
    threads: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # "bf16": autocast on the networks' passes (weights and optimizers float32); "auto"

    def __post_init__(self):
        object.__setattr__(self, "precision", resolve_precision(self.precision, self.device))
        if self.chunks < 1 or self.max_block_steps < 1:
            raise ValueError("chunks and max_block_steps must be at least 1")

    @property
    def window_frames(self) -> int:
        return self.context_frames + self.chunks * self.block_frames


def load_generator(config: ArcConfig, device: torch.device) -> tuple[torch.nn.Module, dict]:
    """The model to post-train, in training mode, and its latent statistics."""
    if not config.init_from:
        raise SystemExit("ARC-Forcing post-trains a model: give --init-from (a block-causal model folder or run)")
    model, stats = load_dit(Path(config.init_from))
    if not Variant(model.config.variant).routed:
        raise ValueError(f"{config.init_from} is a {model.config.variant} model; ARC-Forcing rolls out the cached "
                         "variants (blockcausal, encdec)")
    return model.train().requires_grad_(True).to(device), stats


def flow_anchor(config: ArcConfig, variant: str) -> TrainDiTConfig:
    """Stage 1's objective on the ARC windows (its history, context and block fill them exactly):
    velocity MSE on the last block with context dropout, every example captioned (ARC plays without
    guidance), controls as given."""
    history = config.window_frames - config.context_frames - config.block_frames
    return TrainDiTConfig(variant=variant, context_frames=config.context_frames, block_frames=config.block_frames,
                          history_frames=history, caption_dropout=0.0, control_dropout=0.0, smoothing_widths=(1,),
                          precision=config.precision)


def load_teacher(config: ArcConfig, generator_stats: dict, device: torch.device) -> torch.nn.Module | None:
    """The frozen teacher of the distillation term, when it is on; it must normalise latents as the generator does."""
    if not config.distill_weight:
        return None
    source = Path(config.teacher or config.init_from)
    teacher, stats = load_dit(source)
    if stats != generator_stats:
        raise ValueError(f"the teacher {source} normalises latents unlike the generator {config.init_from}")
    return teacher.eval().requires_grad_(False).to(device)


def arc_step(generator: torch.nn.Module, discriminator: Discriminator, config: ArcConfig, batch: dict,
             rng: torch.Generator, device: torch.device, teacher: torch.nn.Module | None = None,
             probe: LoudnessProbe | None = None) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """One batch: the generator's loss (with the graph into the generator) and the discriminator's
    loss on the detached rollout (with the graph into the discriminator), plus what to log."""
    C = config.context_frames
    latents, values, present = (batch[k].to(device) for k in ("latents", "control_values", "control_present"))
    text = batch["text"].to(device)
    size = latents.shape[0]
    prefix, real = latents[:, :C], latents[:, C:]
    visible = visible_prefix(size, C, config.block_frames, config.rollout_no_context, config.rollout_partial_context,
                             rng).to(device)
    with mixed_precision(config, device):
        fake, _ = roll_out(generator, prefix, visible, values, present, text, config.chunks, config.block_frames, C,
                           config.max_block_steps, rng)
    fake = fake.float()
    t = noise_times(size, config.log_snr_range, rng).to(device)
    noise = torch.randn(real.shape, generator=rng).to(device)
    renoise = lambda x: (1 - t[:, None, None]) * x + t[:, None, None] * noise
    judged = lambda window, *condition: discriminator(window, t, prefix, visible, *condition).float()

    discriminator.requires_grad_(False)
    with mixed_precision(config, device):
        fake_scores = judged(renoise(fake), values, present, text)
        with torch.no_grad():
            real_scores = judged(renoise(real), values, present, text)
    generator_loss = relativistic(fake_scores, real_scores)
    discriminator.requires_grad_(True)

    # The discriminator's views in one pass: real, fake, real under another prompt, real under other
    # controls; with the penalty also real and fake jittered.
    wrong_values = torch.cat([values[:, :C], mismatched(values[:, C:])], 1)
    wrong_present = torch.cat([present[:, :C], mismatched(present[:, C:])], 1)
    windows = [renoise(real), renoise(fake.detach()), renoise(real), renoise(real)]
    if config.penalty_weight:
        jitter = torch.randn((2, *real.shape), generator=rng).to(device) * config.penalty_sigma
        windows += [windows[0] + jitter[0], windows[1] + jitter[1]]
    views = len(windows)
    repeat = lambda x: torch.cat([x] * views)
    with mixed_precision(config, device):
        scores = discriminator(torch.cat(windows), repeat(t), repeat(prefix), repeat(visible),
                               torch.cat([values, values, values, wrong_values] + [values] * (views - 4)),
                               torch.cat([present, present, present, wrong_present] + [present] * (views - 4)),
                               torch.cat([text, text, mismatched(text), text] + [text] * (views - 4))).float()
    real_d, fake_d, wrong_text_d, wrong_controls_d, *jittered = scores.chunk(views)
    contrastive_text = relativistic(real_d, wrong_text_d)
    contrastive_controls = relativistic(real_d, wrong_controls_d)
    discriminator_loss = (relativistic(real_d, fake_d) + config.text_contrastive_weight * contrastive_text
                          + config.control_contrastive_weight * contrastive_controls)
    logged = {"contrastive_text": contrastive_text.detach(), "contrastive_controls": contrastive_controls.detach(),
              "real_above_fake": (real_d > fake_d).float().mean().detach()}
    if jittered:
        change = ((jittered[0] - real_d) ** 2).mean() + ((jittered[1] - fake_d) ** 2).mean()
        penalty = change / config.penalty_sigma**2
        discriminator_loss = discriminator_loss + config.penalty_weight * penalty
        logged["penalty"] = penalty.detach()
    if config.flow_weight:
        flow = flow_loss(generator, flow_anchor(config, generator.config.variant), batch, rng, train=True,
                         device=device)
        generator_loss = generator_loss + config.flow_weight * flow
        logged["flow_loss"] = flow.detach()
    if teacher is not None:
        with mixed_precision(config, device):
            target = guided_targets(teacher, prefix, visible, fake.detach(), values, present, text, config.block_frames,
                                    C, config.teacher_guidance, config.distill_log_snr_range, rng,
                                    config.teacher_text_guidance).float()
        distill = ((fake - target) ** 2).mean()
        generator_loss = generator_loss + config.distill_weight * distill
        logged["distill_loss"] = distill.detach()
    if probe is not None:
        loudness = loudness_loss(probe, fake, values[:, C:], present[:, C:])
        generator_loss = generator_loss + config.loudness_weight * loudness
        logged["loudness_loss"] = loudness.detach()
    return generator_loss, discriminator_loss, logged


def train(config: ArcConfig) -> dict:
    rank, world = distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    torch.manual_seed(config.seed)  # the discriminator head starts the same on every rank
    folder = training_cache(config.data, config.vae, config.latent_cache)
    windows = LatentWindows(folder, "train", config.window_frames, config.guitar_controls, config.own_brightness,
                            config.solo_weight, config.guitar_envelope,
                            keep_run_stats(config.run_dir, config.init_from, folder))
    generator, generator_stats = load_generator(config, device)
    exit_layer = config.exit_layer or max(1, generator.config.layers * 3 // 4)
    discriminator = Discriminator(generator, exit_layer, config.head_channels).to(device)
    teacher = load_teacher(config, generator_stats, device)  # after the head, whose initial draw it would shift
    probe = None
    if config.loudness_weight:  # fitted the same on every rank and on every resume: drawn from its own seeds
        probe = fit_loudness_probe(lambda index: windows.batch(config.batch_size,
                                                               np.random.default_rng([config.seed, 7, index])),
                                   config.probe_batches).to(device)
        if rank == 0:
            print(f"loudness read-out: R^2 {probe.r2:.3f} on held-out real windows", flush=True)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    adamw = lambda model, lr: torch.optim.AdamW(model.parameters(), lr=lr, betas=config.betas,
                                                weight_decay=config.weight_decay)
    generator_optimizer = adamw(generator, config.generator_learning_rate)
    discriminator_optimizer = adamw(discriminator, config.discriminator_learning_rate)
    meta = {"step": 0, "elapsed_seconds": 0.0}
    checkpoint = config.run_dir / "checkpoint"
    models = {"model": generator, "ema": ema, "discriminator": discriminator}
    optimizers = {"optimizer": generator_optimizer, "discriminator_optimizer": discriminator_optimizer}
    if recover_checkpoint(checkpoint):
        meta = load_checkpoint(checkpoint, models, optimizers, device)
        require_same_model(meta, asdict(generator.config))
    log = MetricsLog(config.run_dir, rank, ("generator_loss", "discriminator_loss", "real_above_fake"),
                     resume_step=meta["step"])

    def update(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(model, world)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if torch.isfinite(grad_norm):  # the same on every rank (averaged gradients)
            optimizer.step()
        else:
            meta["skipped_nonfinite_steps"] = meta.get("skipped_nonfinite_steps", 0) + 1
        return grad_norm

    def train_step(step: int, elapsed: float) -> dict[str, float]:
        batch = windows.batch(config.batch_size, np.random.default_rng([config.seed, rank, step]))
        rng = torch.Generator().manual_seed(int(np.random.default_rng([config.seed, rank, step, 1]).integers(2**62)))
        generator_loss, discriminator_loss, logged = arc_step(generator, discriminator, config, batch, rng, device,
                                                              teacher, probe)
        generator_norm = update(generator, generator_optimizer, generator_loss)
        discriminator_norm = update(discriminator, discriminator_optimizer, discriminator_loss)
        with torch.no_grad():
            for averaged, current in zip(ema.parameters(), generator.parameters()):
                averaged.lerp_(current, 1 - config.ema_decay)
        return {"generator_loss": generator_loss.item(), "discriminator_loss": discriminator_loss.item(),
                "generator_grad_norm": generator_norm.item(), "discriminator_grad_norm": discriminator_norm.item(),
                **{k: v.item() for k, v in logged.items()}}

    def save(step: int, elapsed: float) -> None:
        if rank != 0:
            return
        saved = meta | {"step": step, "elapsed_seconds": elapsed, "model_config": asdict(generator.config),
                        "discriminator_exit_layer": exit_layer,
                        "train_config": json.loads(json.dumps(asdict(config), default=str)),
                        "trainer": "lmdm.arc.train"}
        saved.pop("optimizer_layouts", None)
        save_checkpoint(checkpoint, models, optimizers, saved)
        log.plot()

    schedule = Schedule(config.max_steps, config.max_minutes, config.checkpoint_minutes, config.log_every)
    end = run_loop("arc-forcing", schedule, train_step, save, log, meta["step"], meta["elapsed_seconds"],
                   show_progress=rank == 0)
    return {"step": end.step, "elapsed_seconds": end.elapsed_seconds,
            "replicas_in_sync": replicas_in_sync(generator, world) and replicas_in_sync(discriminator, world)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.arc.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, ArcConfig)
    report_and_finish(train(config_from_args(parser.parse_args(argv), ArcConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
