"""python -m lmdm.dit.train: offline pre-training and LMDM fine-tuning of the DiT; resumable, EMA, DDP.

    python -m lmdm.dit.train --variant offline --run-dir runs/dit-offline --max-minutes 60
    python -m lmdm.dit.train --variant blockcausal --init-from runs/dit-offline --run-dir runs/dit-blockcausal
    torchrun --nproc-per-node 2 -m lmdm.dit.train ...                      # DDP (gloo on CPU, NCCL on CUDA)

Trains on the latent cache of `--data` made with `--vae` (python -m lmdm.latents.build builds it). Rerunning
the same command resumes from the run's last checkpoint. Rectified flow with logit-normal times; the
loss is the velocity MSE on target frames (all frames for the offline model, the last block for the
streaming variants). Fine-tuning loads the EMA weights of `--init-from`: an offline model (only the
context projection is new; the offline model's validation loss on the same target frames is measured
first, and metrics.jsonl logs when the fine-tune reaches it), or a streaming model of the same variant
being trained further with new inputs (e.g. a new pitch representation, which starts at zero output).

Training corruptions that make a streaming model robust where it is played (the paper's stage 1 and
docs/lmdm.md "Levers"), drawn per example:
- context dropout: no context at all (`context_dropout`), or only the newest 1..C/B blocks
  (`context_partial`), the rest invisible to every frame: how a stream looks from its first block on,
  so a stream can start from nothing instead of continuing silence. A context-free example's window
  holds T/B such first blocks (`start_blocks`: all noisy, a block-diagonal mask, all scored), so the
  examples that teach the controls most carry T/B times the supervision at the same cost;
- context noise: the clean context mixed towards noise by up to `context_noise` (on the flow path),
  not told to the model, so it trusts the controls over imperfect context (its own output at inference);
- own context: for `rollout_examples` examples of a batch the newest context block is the model's own
  sampled generation of it (no gradient, `rollout_steps` steps), the context it meets at inference;
- rests: a span of the window (context and target) replaced by the latents and controls of silence
  (`rest_probability`), so silent input gives silence out rather than a drone;
- a player's sketch: for `guitar_controls` of the windows the controls are those of the same notes
  played on a clean guitar (lmdm.latents.guitar_controls), so the instrument's articulation has to come
  from the prompt, not from an envelope the target's own audio drew; with `guitar_envelope` those
  windows' targets are re-levelled onto the guitar's loudness curve (lmdm.latents.guitar_envelope), so
  the player's dynamics are learnt with the instrument's sound.
"""

import argparse
import copy
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..cli import add_config_arguments, config_from_args
from ..conditioning.sketch import corrupt_for_training, silence_controls
from ..latents.cache import normalise_latents, silence_latent, training_cache
from ..streaming.torch_streamer import StreamConfig
from ..training.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint
from ..training.distributed import (MetricsLog, distributed, replicas_in_sync, report_and_finish, require_same_model,
                                    warmup_learning_rate)
from ..training.loop import Schedule, run_loop
from ..training.precision import resolve_precision
from .files import keep_run_stats
from .flow import corrupt, logit_normal_times, solve, time_grid
from .masks import context_block_index, window_mask
from .model import CONFIGS, DiT
from .variants import Variant
from .windows import LatentWindows

NEW_PARAMETERS = {"context_in.weight", "context_in.bias", "context_channels_in.weight"}
PITCH_PREFIXES = ("controls.pitch.", "controls.projections.2.")  # the two pitch inputs (DiTConfig.pitch_features)


@dataclass(frozen=True)
class TrainDiTConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))  # selects the latent cache
    latent_cache: str = ""  # a cache folder to read instead (one unpacked where the VAE is absent)
    run_dir: Path = field(default_factory=lambda: Path("runs/dit-offline"))
    model: str = "small"  # a key of lmdm.dit.model.CONFIGS
    variant: str = "offline"  # offline | outpaint | encdec | blockcausal
    init_from: str = ""  # fine-tuning: a run dir (its EMA) or a shipped model folder with the offline weights
    context_frames: int = StreamConfig.context_frames  # C (1.5 s)
    block_frames: int = StreamConfig.block_frames  # B (0.37 s)
    history_frames: int = 48  # blockcausal: context before the window, so cached blocks keep their history
    batch_size: int = 16
    learning_rate: float = 3e-4
    warmup_steps: int = 500
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    caption_dropout: float = 0.1  # unconditional examples for classifier-free guidance
    control_dropout: float = 0.3  # per control and example
    smoothing_widths: tuple[int, ...] = (1, 1, 3, 5, 9, 17)  # median-filter widths in frames, drawn uniformly
    # streaming variants only (the module docstring says why); the paper's public stage 1: 0.2 / 0.3
    context_dropout: float = 0.2  # no context
    context_partial: float = 0.3  # only the newest 1..C/B blocks of context
    context_noise: float = 0.2  # context mixed towards noise by t ~ U(0, this)
    rest_probability: float = 0.2  # a span of silence (latents and controls) somewhere in the window
    rest_frames: tuple[int, int] = (8, 48)  # its length in frames, drawn uniformly (0.19 - 1.1 s)
    guitar_controls: float = 0.0  # share of train windows whose controls come from the notes played on a guitar
    own_brightness: bool = False  # those windows keep the target's own brightness (loudness and pitch: guitar)
    solo_weight: float = 1.0  # solo examples drawn this many times as often per frame as the rest
    guitar_envelope: bool = False  # guitar windows' targets take the guitar's loudness curve (their latents re-encoded)
    start_blocks: bool = True  # blockcausal: context-free examples are scored on every block of the window
    rollout_examples: int = 0  # blockcausal: this many examples per batch get their newest context block from
    rollout_steps: int = 4  # the model itself, sampled with this many Euler steps (no gradient)
    grad_clip: float = 1.0
    max_steps: int = 1_000_000
    max_minutes: float = 0.0  # stop (with a checkpoint) after this much wall time; 0 = no limit
    checkpoint_minutes: float = 5.0
    log_every: int = 25
    valid_every: int = 250
    valid_batches: int = 8
    valid_split: str = "valid"
    seed: int = 0
    threads: int = 0
    device: str = "cpu"
    # "bf16": training steps under bfloat16 autocast (weights, optimizer and validation stay float32);
    # 1.6x the steps per second on 2 cores with AMX (0.73 s against 1.1-1.3 s at batch 16, 2026-11-29).
    # "auto": bf16 where the device computes it natively, else fp32 (lmdm.training.precision)
    precision: str = "fp32"

    def __post_init__(self):
        object.__setattr__(self, "precision", resolve_precision(self.precision, self.device))

    @property
    def window_frames(self) -> int:
        history = self.history_frames if Variant(self.variant).incremental else 0
        return history + self.context_frames + self.block_frames

    @property
    def valid_window_frames(self) -> int:
        """Every variant is validated on the same windows (cut from the longest) and the same last block."""
        return self.history_frames + self.context_frames + self.block_frames


# ----------------------------------------------------------------------------- one batch


def flow_loss(model: torch.nn.Module, config: TrainDiTConfig, batch: dict, generator: torch.Generator,
              train: bool, silence: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
              device: torch.device | str = "cpu") -> torch.Tensor:
    """Velocity MSE on the target frames of a window batch, cut to this variant's window length.

    Times and noise are drawn for the whole batch window before cutting, so variants with different
    window lengths see the same noise on the same target frames (validation compares them). Training
    applies the corruptions of the module docstring; rests need `silence`: the normalised latent frame
    (D,) and control values and present flags (3,) of silent input. The batch comes on the CPU, where
    its random draws (CPU generator) and corruptions happen; then it moves to `device`, the model's."""
    frames, block, device = config.window_frames, config.block_frames, torch.device(device)
    values, present = batch["control_values"], batch["control_present"]
    latents = batch["latents"]
    streaming = Variant(config.variant).streaming
    if train and silence is not None and config.rest_probability > 0:
        latents, values, present = insert_rests(latents, values, present, silence, config, generator)
    if train:
        values, present = corrupt_for_training(values, present, generator, config.control_dropout,
                                               config.smoothing_widths)
    size = latents.shape[0]
    latents, values, present = latents.to(device), values.to(device), present.to(device)
    text = batch["text"].to(device) if batch["text"] is not None else None
    t = logit_normal_times(size, generator).to(device)
    noise = torch.randn(latents.shape, generator=generator).to(device)[:, -frames:]
    keep_text = (torch.rand(size, generator=generator) >= (config.caption_dropout if train else 0.0)).to(device)
    latents, values, present = latents[:, -frames:], values[:, -frames:], present[:, -frames:]
    noisy, target = corrupt(latents, noise, t)
    context = frames - block if streaming else 0
    is_context = torch.arange(frames, device=device) < context
    mask = window_mask(config.variant, context, frames - context, block, config.context_frames)
    clean = latents * is_context[:, None]
    scored = torch.zeros(size, frames, dtype=torch.bool, device=device)  # the frames each example is scored on
    scored[:, frames - block if streaming or not train else 0:] = True
    if train and streaming:
        mask, starts = drop_context(mask, context, config, size, generator)
        mask, starts = mask.to(device), starts.to(device)  # (B, 1, T, T), (B,)
        level = torch.rand(size, 1, 1, generator=generator).to(device) * config.context_noise
        context_noise = torch.randn(latents.shape, generator=generator).to(device)
        clean = ((1 - level) * latents + level * context_noise) * is_context[:, None]
        if config.rollout_examples and Variant(config.variant).incremental:
            own = torch.nonzero(~starts).flatten()[:config.rollout_examples]
            clean = roll_out_last_block(model, config, clean, values, present, text, own, generator)
        if config.start_blocks and Variant(config.variant).incremental:
            # A context-free example is a stream's first block; the rest of its window, unused context,
            # becomes more first blocks (all noisy, each seeing only itself), scored too.
            mask = torch.where(starts[:, None, None, None], block_diagonal(frames, block).to(device), mask)
            is_context = is_context[None] & ~starts[:, None]  # (B, T)
            clean = clean * is_context[..., None]
            scored = scored | starts[:, None]
    mask = mask.to(device)
    with mixed_precision(config, device, enabled=train):
        velocity = model(noisy, t, values, present, text, clean=clean,
                         is_context=is_context, mask=mask, keep_text=keep_text)
    # each example weighs the same, however many frames it is scored on
    error = ((velocity.float() - target) ** 2).mean(-1)  # (B, T)
    return ((error * scored).sum(1) / scored.sum(1)).mean()


def mixed_precision(config: TrainDiTConfig, device: torch.device, enabled: bool = True) -> torch.autocast:
    """bfloat16 autocast where `--precision bf16` asks for it (training passes only), else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and config.precision == "bf16")


@torch.no_grad()
def roll_out_last_block(model: torch.nn.Module, config: TrainDiTConfig, clean: torch.Tensor, values: torch.Tensor,
                        present: torch.Tensor, text: torch.Tensor, chosen: torch.Tensor,
                        generator: torch.Generator) -> torch.Tensor:
    """The chosen examples' newest context block replaced by the model's own generation of it: sampled
    (`rollout_steps` Euler steps, conditional) from the context before it, as at inference, where
    every context block is the model's output. clean (B, T, D) with the target zeroed -> the same."""
    if not len(chosen):
        return clean
    frames, block = config.window_frames, config.block_frames
    context = frames - block  # the rolled-out block ends where the target begins
    own_context = context - block
    is_context = torch.arange(context, device=clean.device) < own_context
    mask = window_mask("blockcausal", own_context, block, block, config.context_frames).to(clean.device)
    given = clean[chosen, :context] * is_context[:, None]
    controls = values[chosen, :context], present[chosen, :context]
    prompt = text[chosen] if text is not None else None

    def velocity(x: torch.Tensor, time: float) -> torch.Tensor:
        noisy = torch.cat([torch.zeros_like(given[:, :own_context]), x], 1)
        t = torch.full((len(chosen),), time, device=clean.device)
        with mixed_precision(config, clean.device):
            v = model(noisy, t, *controls, prompt, clean=given, is_context=is_context, mask=mask)
        return v[:, own_context:].float()

    noise = torch.randn(len(chosen), block, clean.shape[-1], generator=generator).to(clean.device)
    was_training = model.training
    model.eval()
    generated = solve(velocity, noise, time_grid(config.rollout_steps))
    model.train(was_training)
    clean = clean.clone()
    clean[chosen, own_context:context] = generated
    return clean


def drop_context(mask: torch.Tensor, context: int, config: TrainDiTConfig, batch: int,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example, hide all context (context_dropout) or all but its newest 1..C/B blocks
    (context_partial) from every frame, as at the start of a stream: (T, T) -> (B, 1, T, T), and
    which examples have no context at all (B,) bool.
    A hidden frame still sees itself, so its own (unused) attention row is defined."""
    frames = mask.shape[0]
    draw = torch.rand(batch, generator=generator)
    blocks = torch.randint(1, config.context_frames // config.block_frames + 1, (batch,), generator=generator)
    no_context = draw < config.context_dropout
    first_visible = torch.where(no_context, torch.full_like(blocks, context),
                                torch.where(draw < config.context_dropout + config.context_partial,
                                            context - blocks * config.block_frames, torch.zeros_like(blocks)))
    visible = torch.arange(frames)[None, :] >= first_visible[:, None]  # (B, T) keys that exist
    own = torch.eye(frames, dtype=torch.bool)
    return ((mask[None] & visible[:, None, :]) | own[None])[:, None], no_context


def block_diagonal(frames: int, block: int) -> torch.Tensor:
    """(T, T): each frame attends only its own block, blocks counted from the end as in the streaming cache."""
    index = context_block_index(frames, block)
    return index[:, None] == index[None, :]


def insert_rests(latents: torch.Tensor, values: torch.Tensor, present: torch.Tensor,
                 silence: tuple[torch.Tensor, torch.Tensor, torch.Tensor], config: TrainDiTConfig,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """With rest_probability per example, a span of rest_frames frames becomes silence: the latents of
    silence and the controls silent input gives. latents (B, T, D), values/present (B, T, 3)."""
    latents, values, present = latents.clone(), values.clone(), present.clone()
    batch, frames = latents.shape[:2]
    chosen = torch.rand(batch, generator=generator) < config.rest_probability
    lengths = torch.randint(config.rest_frames[0], config.rest_frames[1] + 1, (batch,), generator=generator)
    for b in torch.nonzero(chosen).flatten().tolist():
        length = min(int(lengths[b]), frames)
        start = int(torch.randint(0, frames - length + 1, (1,), generator=generator))
        latents[b, start:start + length] = silence[0].to(latents.dtype)
        values[b, start:start + length] = silence[1]
        present[b, start:start + length] = silence[2]
    return latents, values, present


@torch.no_grad()
def validation_loss(model: torch.nn.Module, config: TrainDiTConfig, windows: LatentWindows) -> float:
    """Mean loss on the last block of fixed windows with fixed noise and times (same for every variant)."""
    model.eval()
    losses = []
    for index in range(config.valid_batches):
        batch = windows.batch(config.batch_size, np.random.default_rng([config.seed, 10_000, index]))
        losses.append(flow_loss(model, config, batch, torch.Generator().manual_seed(index), train=False,
                                device=next(model.parameters()).device).item())
    model.train()
    return float(np.mean(losses))


# ----------------------------------------------------------------------------- setup


def build_model(config: TrainDiTConfig, latent_dim: int, stats: dict, device: torch.device) -> DiT:
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    # the pitch control's z-score unit in semitones, for SinusoidalPitch's periods
    model = DiT(CONFIGS[config.model](variant=config.variant, latent_dim=latent_dim,
                                      pitch_unit_semitones=stats["pitch_midi"]["std"])).to(device)
    if config.variant != "offline":
        if not config.init_from:
            raise SystemExit("fine-tuning a streaming variant needs --init-from (the offline run or model)")
        load_init_weights(model, Path(config.init_from))
    return model


def load_init_weights(model: DiT, source: Path) -> None:
    """A fine-tune's starting weights (EMA of a run, or a shipped model folder): an offline DiT (only the
    context projection is new, initialised from W_x) or a streaming DiT of the same variant. Either
    may have the other pitch input (DiTConfig.pitch_features): the new one then starts at zero output."""
    path = offline_weights_path(source)
    weights = load_file(path)
    own = model.state_dict()
    pitch = lambda name: name.startswith(PITCH_PREFIXES)
    dropped = [k for k in weights if pitch(k) and k not in own]
    weights = {k: v for k, v in weights.items() if k not in dropped}
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as error:  # shapes differ
        raise ValueError(f"{path} is not a DiT of this size: {error}") from None
    if unexpected or any(not (k in NEW_PARAMETERS or pitch(k)) for k in missing):
        raise ValueError(f"{path} is not a DiT of this size and variant: missing {missing}, unexpected {unexpected}")
    if Variant(model.config.variant).routed and "context_in.weight" in missing:
        model.init_context_from_noisy()


def offline_weights_path(source: Path) -> Path:
    return source / "checkpoint" / "ema.safetensors" if (source / "checkpoint").exists() else source / "model.safetensors"


def offline_reference_loss(config: TrainDiTConfig, windows: LatentWindows, device: torch.device) -> float | None:
    """The offline model's validation loss on the fine-tuning run's target frames (whole window noisy);
    None when --init-from is not an offline model with this run's inputs (nothing to compare with)."""
    offline = DiT(CONFIGS[config.model](variant="offline", latent_dim=windows.latents.shape[1],
                                        pitch_unit_semitones=windows.stats["pitch_midi"]["std"])).to(device)
    try:
        offline.load_state_dict(load_file(offline_weights_path(Path(config.init_from))))
    except RuntimeError:
        return None
    return validation_loss(offline, replace(config, variant="offline"), windows)


def silence(config: TrainDiTConfig, folder: Path, stats: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The normalised latent frame (D,) of digital silence and the controls silent input gives: what a
    rest is made of."""
    return (normalise_latents(torch.from_numpy(silence_latent(folder, config.vae)), stats), *silence_controls(stats))


# ----------------------------------------------------------------------------- the loop


def train(config: TrainDiTConfig) -> dict:
    rank, world = distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    folder = training_cache(config.data, config.vae, config.latent_cache)
    stats = keep_run_stats(config.run_dir, config.init_from, folder)
    train_windows = LatentWindows(folder, "train", config.window_frames, config.guitar_controls,
                                  config.own_brightness, config.solo_weight, config.guitar_envelope, stats)
    valid_windows = LatentWindows(folder, config.valid_split, config.valid_window_frames, stats=stats)
    model = build_model(config, train_windows.latents.shape[1], train_windows.stats, device)
    rest = silence(config, folder, train_windows.stats) if config.rest_probability > 0 else None
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.99),
                                  weight_decay=config.weight_decay)
    meta = {"step": 0, "elapsed_seconds": 0.0}
    checkpoint = config.run_dir / "checkpoint"
    if recover_checkpoint(checkpoint):
        if json.loads((checkpoint / "checkpoint.json").read_text()).get("received_without_optimizer"):
            raise ValueError(f"{config.run_dir} holds only a run's EMA weights (lmdm.training.run_transfer receive), not a "
                             f"whole checkpoint: start a new run with --init-from {config.run_dir}")
        meta = load_checkpoint(checkpoint, {"model": model, "ema": ema}, {"optimizer": optimizer}, device)
        require_same_model(meta, asdict(model.config))
    if config.variant != "offline" and "offline_valid_loss" not in meta:  # None: not an offline start
        meta["offline_valid_loss"] = offline_reference_loss(config, valid_windows, device)
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    log = MetricsLog(config.run_dir, rank, ("loss", "valid_loss", "grad_norm"), resume_step=meta["step"])

    def train_step(step: int, elapsed: float) -> dict[str, float]:
        batch = train_windows.batch(config.batch_size, np.random.default_rng([config.seed, rank, step]))
        generator = torch.Generator().manual_seed(int(np.random.default_rng([config.seed, rank, step, 1]).integers(2**62)))
        for group in optimizer.param_groups:
            group["lr"] = warmup_learning_rate(config.learning_rate, config.warmup_steps, step)
        loss = flow_loss(trained, config, batch, generator, train=True, silence=rest, device=device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if not torch.isfinite(grad_norm):  # all-reduced, so every rank skips the same step
            meta["skipped_nonfinite_steps"] = meta.get("skipped_nonfinite_steps", 0) + 1
            optimizer.zero_grad(set_to_none=True)
        optimizer.step()
        with torch.no_grad():
            for averaged, current in zip(ema.parameters(), model.parameters()):
                averaged.lerp_(current, 1 - config.ema_decay)
        values = {"loss": loss.item(), "grad_norm": grad_norm.item()}
        if (step + 1) % config.valid_every == 0:
            values["valid_loss"] = validation_loss(ema, config, valid_windows)
            reference = meta.get("offline_valid_loss")
            if reference is not None and "reached_offline_valid_seconds" not in meta and values["valid_loss"] <= reference:
                meta["reached_offline_valid_seconds"] = elapsed
                meta["reached_offline_valid_step"] = step + 1
                values["reached_offline_valid"] = True
        return values

    schedule = Schedule(config.max_steps, config.max_minutes, config.checkpoint_minutes, config.log_every,
                        always_logged=("valid_loss",))
    end = run_loop(f"dit {config.variant}", schedule, train_step,
                   lambda step, elapsed: _save(config, model, ema, optimizer, meta, step, elapsed, rank, log),
                   log, meta["step"], meta["elapsed_seconds"], show_progress=rank == 0)
    return {"step": end.step, "elapsed_seconds": end.elapsed_seconds,
            "replicas_in_sync": replicas_in_sync(model, world), "offline_valid_loss": meta.get("offline_valid_loss"),
            "reached_offline_valid_seconds": meta.get("reached_offline_valid_seconds")}


def _save(config, model, ema, optimizer, meta: dict, step: int, elapsed: float, rank: int, log: MetricsLog) -> None:
    if rank != 0:
        return
    meta = meta | {"step": step, "elapsed_seconds": elapsed, "model_config": asdict(model.config),
                   "train_config": json.loads(json.dumps(asdict(config), default=str))}
    meta.pop("optimizer_layouts", None)
    save_checkpoint(config.run_dir / "checkpoint", {"model": model, "ema": ema}, {"optimizer": optimizer}, meta)
    log.plot()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.dit.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, TrainDiTConfig)
    report_and_finish(train(config_from_args(parser.parse_args(argv), TrainDiTConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
