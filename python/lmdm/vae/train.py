"""python -m lmdm.vae.train: train the audio VAE; resumable, DDP under torchrun (gloo on CPU, NCCL on CUDA).

    python -m lmdm.vae.train --run-dir runs/vae --max-minutes 60            # background: nohup ... &
    torchrun --nproc-per-node 2 -m lmdm.vae.train --run-dir runs/vae        # DDP

Rerunning the same command resumes from the run's last checkpoint (written every few minutes and
at exit, atomically). Losses: multi-resolution STFT (auraloss: spectral convergence + log magnitude)
and a log-mel L1, plus a small KL term. Once reconstruction has converged (`--adversarial-start-step`) a
multi-scale STFT discriminator joins (hinge loss + feature matching), trained step for step with the VAE.
"""

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import auraloss
import torch
import torch.distributed as dist

from ..cli import add_config_arguments, config_from_args
from ..data.crops import CropSampler, build_cache
from ..training.checkpoint import load_checkpoint, recover_checkpoint, save_checkpoint
from ..training.distributed import (MetricsLog, distributed, replicas_in_sync, report_and_finish, require_same_model,
                                    warmup_learning_rate)
from ..training.loop import Schedule, run_loop
from .discriminator import DiscriminatorConfig, MultiScaleSTFTDiscriminator, discriminator_loss, generator_losses
from .model import CONFIGS, VAE, kl_divergence, load_vae, load_vae_config


@dataclass(frozen=True)
class TrainVAEConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))  # a built data set (python -m lmdm.data build)
    run_dir: Path = field(default_factory=lambda: Path("runs/vae"))  # checkpoints, logs and plots go here
    model: str = "small"  # a key of lmdm.vae.model.CONFIGS; ignored with init_from (its own config)
    init_from: str = ""  # a fresh run starts from this VAE (a shipped folder or a run's checkpoint)
    # Train the decoder alone: the latents, and every model trained on them, stay valid, so a better
    # decoder drops into the shipped packages without retraining the DiT.
    decoder_only: bool = False
    device: str = "cpu"  # or "cuda"
    batch_size: int = 8  # per process
    crop_seconds: float = 1.5  # long enough for several notes, short enough for 8 crops a step on 2 cores
    learning_rate: float = 5e-4
    betas: tuple[float, float] = (0.8, 0.99)  # the GAN-vocoder setting, ready for the adversarial stage
    weight_decay: float = 0.01
    warmup_steps: int = 200
    kl_weight: float = 1e-4  # keeps latents near N(0, I) without costing detail (the first calibration runs)
    mel_weight: float = 1.0
    grad_clip: float = 1.0  # both calibration runs diverged without it
    adversarial_start_step: int = 6000  # the spectral losses flatten around here (see the model card's curves)
    # The discriminator trains alone for this many steps before its loss reaches the generator: a fresh
    # discriminator against an already trained decoder (init_from) would otherwise push it anywhere.
    discriminator_lead_steps: int = 0
    adversarial_crops: int = 4  # of each batch: the discriminator triples a step's cost on 2 cores at 8 (measured)
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 2.0
    max_steps: int = 1_000_000
    max_minutes: float = 0.0  # stop (with a checkpoint) after this much wall time; 0 = no limit
    checkpoint_minutes: float = 5.0
    log_every: int = 25
    seed: int = 0
    threads: int = 0  # torch intra-op threads per process; 0 = torch's default


# ----------------------------------------------------------------------------- setup


class Losses(torch.nn.Module):
    def __init__(self, sample_rate: int, mel_weight: float):
        super().__init__()
        self.stft = auraloss.freq.MultiResolutionSTFTLoss(
            fft_sizes=[256, 512, 1024, 2048], hop_sizes=[64, 128, 256, 512], win_lengths=[256, 512, 1024, 2048])
        self.mel = auraloss.freq.MelSTFTLoss(sample_rate, fft_size=1024, hop_size=256, win_length=1024, n_mels=80,
                                             w_sc=0.0, w_log_mag=1.0, w_lin_mag=0.0)
        self.mel_weight = mel_weight

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        est, tgt = estimate[:, None], target[:, None]  # auraloss wants (B, 1, N)
        return {"stft": self.stft(est, tgt), "mel": self.mel(est, tgt) * self.mel_weight}


# ----------------------------------------------------------------------------- training


class _Trainer:
    """The VAE, its discriminator, their optimizers and one training step; DDP-wrapped when world > 1."""

    def __init__(self, config: TrainVAEConfig, device: torch.device, world: int):
        self.config = config
        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.model_config = load_vae_config(Path(config.init_from)) if config.init_from else CONFIGS[config.model]()
        self.model = VAE(self.model_config).to(device)
        if config.init_from:  # replaced by the checkpoint's weights when the run resumes
            self.model.load_state_dict(load_vae(Path(config.init_from)).state_dict())
        if config.decoder_only:
            self.model.encoder.requires_grad_(False)
        self.discriminator = MultiScaleSTFTDiscriminator(DiscriminatorConfig()).to(device)
        self.optimizer = self._adamw(self.model)
        self.discriminator_optimizer = self._adamw(self.discriminator)
        wrap = torch.nn.parallel.DistributedDataParallel if world > 1 else (lambda m: m)
        self.trained, self.trained_discriminator = wrap(self.model), wrap(self.discriminator)
        self.losses = Losses(self.model_config.sample_rate, config.mel_weight).to(device)
        self.trim = self.model_config.decoder_delay  # the last samples of a decode lack their overlap-add partners

    def _adamw(self, module: torch.nn.Module) -> torch.optim.Optimizer:
        c = self.config
        trained = [p for p in module.parameters() if p.requires_grad]
        return torch.optim.AdamW(trained, lr=c.learning_rate, betas=c.betas, weight_decay=c.weight_decay)

    @property
    def models(self) -> dict:
        return {"model": self.model, "discriminator": self.discriminator}

    @property
    def optimizers(self) -> dict:
        return {"optimizer": self.optimizer, "discriminator_optimizer": self.discriminator_optimizer}

    def step(self, audio: torch.Tensor, step: int) -> dict[str, float]:
        adversarial = step >= self.config.adversarial_start_step
        discriminating = step >= self.config.adversarial_start_step - self.config.discriminator_lead_steps
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = warmup_learning_rate(self.config.learning_rate, self.config.warmup_steps, step)
        reconstruction, mean, logvar = self.trained(audio)
        estimate, target = reconstruction[:, :-self.trim], audio[:, :-self.trim]
        terms = self.losses(estimate, target)
        if not self.config.decoder_only:  # a frozen encoder's KL is a constant
            terms["kl"] = kl_divergence(mean, logvar) * self.config.kl_weight
        crops = self.config.adversarial_crops
        if adversarial:
            terms |= self._generator_terms(estimate[:crops], target[:crops])
        loss = sum(terms.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if not torch.isfinite(grad_norm):  # a non-finite step is dropped (all-reduced: every rank agrees)
            self.optimizer.zero_grad(set_to_none=True)
        self.optimizer.step()
        values = {k: v.item() for k, v in terms.items()} | {"loss": loss.item(), "grad_norm": grad_norm.item()}
        if discriminating:
            values["discriminator"] = self._discriminator_step(estimate[:crops].detach(), target[:crops])
        return values

    def _generator_terms(self, estimate: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        # The bare module, frozen: the generator's backward must neither touch nor all-reduce D's gradients.
        self.discriminator.requires_grad_(False)
        adversarial, matching = generator_losses(self.discriminator(target), self.discriminator(estimate))
        self.discriminator.requires_grad_(True)
        return {"adversarial": adversarial * self.config.adversarial_weight,
                "feature_matching": matching * self.config.feature_matching_weight}

    def _discriminator_step(self, estimate: torch.Tensor, target: torch.Tensor) -> float:
        both = self.trained_discriminator(torch.cat([target, estimate]))  # one pass, so DDP reduces once
        half = target.shape[0]
        loss = discriminator_loss([(logits[:half], [f[:half] for f in fs]) for logits, fs in both],
                                  [(logits[half:], [f[half:] for f in fs]) for logits, fs in both])
        self.discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if not torch.isfinite(torch.nn.utils.clip_grad_norm_(self.discriminator.parameters(), self.config.grad_clip)):
            self.discriminator_optimizer.zero_grad(set_to_none=True)
        self.discriminator_optimizer.step()
        return loss.item()


def train(config: TrainVAEConfig) -> dict:
    rank, world = distributed(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device(config.device)
    trainer = _Trainer(config, device, world)
    checkpoint = config.run_dir / "checkpoint"
    step, elapsed = 0, 0.0
    if recover_checkpoint(checkpoint):
        meta = load_checkpoint(checkpoint, trainer.models, trainer.optimizers, device)
        require_same_model(meta, asdict(trainer.model_config))
        step, elapsed = meta["step"], meta["elapsed_seconds"]
    if rank == 0:
        build_cache(config.data, "train")
    if world > 1:
        dist.barrier()
    samples = trainer.model_config.samples_per_latent
    crop = round(config.crop_seconds * trainer.model_config.sample_rate / samples)
    sampler = CropSampler(build_cache(config.data, "train"), crop * samples, seed=config.seed, stream=rank)
    log = MetricsLog(config.run_dir, rank, ("stft", "mel", "kl", "adversarial", "feature_matching", "discriminator"),
                     resume_step=step)

    def train_step(step: int, elapsed: float) -> dict[str, float]:
        return trainer.step(torch.from_numpy(sampler.batch(config.batch_size, step)).to(device), step)  # (B, N)

    schedule = Schedule(config.max_steps, config.max_minutes, config.checkpoint_minutes, config.log_every)
    end = run_loop("vae", schedule, train_step,
                   lambda step, elapsed: _save(config, trainer, step, elapsed, rank, log),
                   log, step, elapsed, show_progress=rank == 0)
    in_sync = all(replicas_in_sync(m, world) for m in trainer.models.values())
    return {"step": end.step, "elapsed_seconds": end.elapsed_seconds, "replicas_in_sync": in_sync}


def _save(config, trainer: _Trainer, step: int, elapsed: float, rank: int, log: MetricsLog) -> None:
    if rank != 0:
        return
    meta = {"step": step, "elapsed_seconds": elapsed, "model_config": asdict(trainer.model_config),
            "train_config": json.loads(json.dumps(asdict(config), default=str))}
    save_checkpoint(config.run_dir / "checkpoint", trainer.models, trainer.optimizers, meta)
    log.plot()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.vae.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, TrainVAEConfig)
    report_and_finish(train(config_from_args(parser.parse_args(argv), TrainVAEConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
