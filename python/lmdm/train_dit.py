"""python -m lmdm.train_dit: offline pre-training and LMDM fine-tuning of the DiT; resumable, EMA, DDP.

    python -m lmdm.train_dit --variant offline --run-dir runs/dit-offline --max-minutes 60
    python -m lmdm.train_dit --variant blockcausal --init-from runs/dit-offline --run-dir runs/dit-blockcausal
    torchrun --nproc-per-node 2 -m lmdm.train_dit ...                      # DDP (gloo on CPU, NCCL on CUDA)

Trains on the latent cache of `--data` made with `--vae` (python -m lmdm.latents builds it). Rerunning
the same command resumes from the run's last checkpoint. Rectified flow with logit-normal times; the
loss is the velocity MSE on target frames (all frames for the offline model, the last block for the
streaming variants). Fine-tuning loads the offline EMA weights (only the context projection is new)
and first measures the offline model's validation loss on the same target frames, then logs when the
fine-tuned model reaches it (`reached_offline_valid` in metrics.jsonl, with wall seconds).
"""

import argparse
import copy
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from tqdm import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .cli import add_config_arguments, config_from_args
from .dit import CONFIGS, DiT
from .flow import corrupt, logit_normal_times
from .latents import cache_folder
from .masks import window_mask
from .sketch import corrupt_for_training
from .training import (MetricsLog, distributed, replicas_in_sync, report_and_finish, require_same_model,
                       warmup_learning_rate)
from .windows import LatentWindows

NEW_PARAMETERS = {"context_in.weight", "context_in.bias", "context_channels_in.weight"}


@dataclass(frozen=True)
class TrainDiTConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))  # selects the latent cache
    run_dir: Path = field(default_factory=lambda: Path("runs/dit-offline"))
    model: str = "small"  # a key of lmdm.dit.CONFIGS
    variant: str = "offline"  # offline | outpaint | encdec | blockcausal
    init_from: str = ""  # fine-tuning: a run dir (its EMA) or a shipped model folder with the offline weights
    context_frames: int = 64  # C (1.5 s)
    block_frames: int = 16  # B (0.37 s)
    history_frames: int = 48  # blockcausal: context before the window, so cached blocks keep their history
    batch_size: int = 16
    learning_rate: float = 3e-4
    warmup_steps: int = 500
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    caption_dropout: float = 0.1  # unconditional examples for classifier-free guidance
    control_dropout: float = 0.3  # per control and example
    smoothing_widths: tuple[int, ...] = (1, 1, 3, 5, 9, 17)  # median-filter widths in frames, drawn uniformly
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

    @property
    def window_frames(self) -> int:
        history = self.history_frames if self.variant == "blockcausal" else 0
        return history + self.context_frames + self.block_frames

    @property
    def valid_window_frames(self) -> int:
        """Every variant is validated on the same windows (cut from the longest) and the same last block."""
        return self.history_frames + self.context_frames + self.block_frames


# ----------------------------------------------------------------------------- one batch


def flow_loss(model: torch.nn.Module, config: TrainDiTConfig, batch: dict, generator: torch.Generator,
              train: bool) -> torch.Tensor:
    """Velocity MSE on the target frames of a window batch, cut to this variant's window length.

    Times and noise are drawn for the whole batch window before cutting, so variants with different
    window lengths see the same noise on the same target frames (validation compares them)."""
    frames, block = config.window_frames, config.block_frames
    values, present = batch["control_values"], batch["control_present"]
    if train:
        values, present = corrupt_for_training(values, present, generator, config.control_dropout,
                                               config.smoothing_widths)
    size, device = batch["latents"].shape[0], batch["latents"].device
    t = logit_normal_times(size, generator).to(device)
    noise = torch.randn(batch["latents"].shape, generator=generator).to(device)[:, -frames:]
    keep_text = (torch.rand(size, generator=generator) >= (config.caption_dropout if train else 0.0)).to(device)
    latents, values, present = batch["latents"][:, -frames:], values[:, -frames:], present[:, -frames:]
    noisy, target = corrupt(latents, noise, t)
    context = 0 if config.variant == "offline" else frames - block
    is_context = torch.arange(frames, device=device) < context
    mask = window_mask(config.variant, context, frames - context, block, config.context_frames).to(device)
    velocity = model(noisy, t, values.to(device), present.to(device), batch["text"], clean=latents * is_context[:, None],
                     is_context=is_context, mask=mask, keep_text=keep_text)
    scored = slice(0, frames) if config.variant == "offline" and train else slice(frames - block, frames)
    return F.mse_loss(velocity[:, scored], target[:, scored])


@torch.no_grad()
def validation_loss(model: torch.nn.Module, config: TrainDiTConfig, windows: LatentWindows) -> float:
    """Mean loss on the last block of fixed windows with fixed noise and times (same for every variant)."""
    model.eval()
    losses = []
    for index in range(config.valid_batches):
        batch = windows.batch(config.batch_size, np.random.default_rng([config.seed, 10_000, index]))
        losses.append(flow_loss(model, config, batch, torch.Generator().manual_seed(index), train=False).item())
    model.train()
    return float(np.mean(losses))


# ----------------------------------------------------------------------------- setup


def build_model(config: TrainDiTConfig, latent_dim: int, device: torch.device) -> DiT:
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    model = DiT(CONFIGS[config.model](variant=config.variant, latent_dim=latent_dim)).to(device)
    if config.variant != "offline":
        if not config.init_from:
            raise SystemExit("fine-tuning a streaming variant needs --init-from (the offline run or model)")
        load_offline_weights(model, Path(config.init_from))
    return model


def load_offline_weights(model: DiT, source: Path) -> None:
    """The offline EMA weights into a streaming variant; only the context projection may be missing."""
    path = offline_weights_path(source)
    try:
        missing, unexpected = model.load_state_dict(load_file(path), strict=False)
    except RuntimeError as error:  # shapes differ
        raise ValueError(f"{path} is not an offline DiT of this size: {error}") from None
    if unexpected or set(missing) - NEW_PARAMETERS:
        raise ValueError(f"{path} is not an offline DiT of this size: missing {missing}, unexpected {unexpected}")
    if model.config.variant in ("encdec", "blockcausal"):
        model.init_context_from_noisy()


def offline_weights_path(source: Path) -> Path:
    return source / "checkpoint" / "ema.safetensors" if (source / "checkpoint").exists() else source / "model.safetensors"


def offline_reference_loss(config: TrainDiTConfig, windows: LatentWindows, device: torch.device) -> float:
    """The offline model's validation loss on the fine-tuning run's target frames (whole window noisy)."""
    offline = DiT(CONFIGS[config.model](variant="offline", latent_dim=windows.latents.shape[1])).to(device)
    offline.load_state_dict(load_file(offline_weights_path(Path(config.init_from))))
    return validation_loss(offline, replace(config, variant="offline"), windows)


# ----------------------------------------------------------------------------- the loop


def train(config: TrainDiTConfig) -> dict:
    rank, world = distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    folder = cache_folder(config.data, config.vae)
    train_windows = LatentWindows(folder, "train", config.window_frames)
    valid_windows = LatentWindows(folder, config.valid_split, config.valid_window_frames)
    model = build_model(config, train_windows.latents.shape[1], device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=(0.9, 0.99),
                                  weight_decay=config.weight_decay)
    meta = {"step": 0, "elapsed_seconds": 0.0}
    checkpoint = config.run_dir / "checkpoint"
    if checkpoint.exists():
        meta = load_checkpoint(checkpoint, {"model": model, "ema": ema}, {"optimizer": optimizer}, device)
        require_same_model(meta, asdict(model.config))
    if config.variant != "offline" and "offline_valid_loss" not in meta:
        meta["offline_valid_loss"] = offline_reference_loss(config, valid_windows, device)
    trained = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    log = MetricsLog(config.run_dir, rank, ("loss", "valid_loss", "grad_norm"))
    step, started = meta["step"], time.perf_counter() - meta["elapsed_seconds"]
    last_save = time.perf_counter()
    bar = tqdm(total=config.max_steps, initial=step, desc=f"dit {config.variant}", disable=rank != 0,
               dynamic_ncols=True, mininterval=0.1 if sys.stderr.isatty() else 60)
    while step < config.max_steps:
        batch = train_windows.batch(config.batch_size, np.random.default_rng([config.seed, rank, step]))
        generator = torch.Generator().manual_seed(int(np.random.default_rng([config.seed, rank, step, 1]).integers(2**62)))
        for group in optimizer.param_groups:
            group["lr"] = warmup_learning_rate(config.learning_rate, config.warmup_steps, step)
        loss = flow_loss(trained, config, {k: v.to(device) for k, v in batch.items()}, generator, train=True)
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
        step += 1
        bar.update(1)
        values = {"loss": loss.item(), "grad_norm": grad_norm.item()}
        if step % config.valid_every == 0:
            values["valid_loss"] = validation_loss(ema, config, valid_windows)
            reference = meta.get("offline_valid_loss")
            if reference is not None and "reached_offline_valid_seconds" not in meta and values["valid_loss"] <= reference:
                meta["reached_offline_valid_seconds"] = time.perf_counter() - started
                meta["reached_offline_valid_step"] = step
                values["reached_offline_valid"] = True
        if step % config.log_every == 0 or "valid_loss" in values:
            log.write(step, time.perf_counter() - started, values)
            bar.set_postfix(loss=f"{values['loss']:.3f}", refresh=False)
        out_of_time = config.max_minutes and time.perf_counter() - started >= config.max_minutes * 60
        if time.perf_counter() - last_save >= config.checkpoint_minutes * 60 or out_of_time:
            _save(config, model, ema, optimizer, meta, step, time.perf_counter() - started, rank, log)
            last_save = time.perf_counter()
        if out_of_time:
            break
    _save(config, model, ema, optimizer, meta, step, time.perf_counter() - started, rank, log)
    bar.close()
    return {"step": step, "elapsed_seconds": time.perf_counter() - started,
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
    parser = argparse.ArgumentParser(prog="python -m lmdm.train_dit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, TrainDiTConfig)
    report_and_finish(train(config_from_args(parser.parse_args(argv), TrainDiTConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
