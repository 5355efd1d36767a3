"""A DiT on disk: a shipped model folder, or a training run (its EMA weights), with its data statistics.

Shipped folder: model.safetensors (EMA weights, stored as float16 by default: half the size, and the
relative rounding of 5e-4 is far below what the EMA itself averages away), config.json (the DiTConfig), stats.json (latent
mean/std per channel and control statistics of the training data, without which its inputs and
outputs mean nothing). A run folder holds checkpoint/ema.safetensors and checkpoint.json; its
statistics come from the latent cache named by the run's training config.
"""

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..latents.cache import training_cache
from .model import DiT, DiTConfig

WEIGHTS, CONFIG, STATS = "model.safetensors", "config.json", "stats.json"


def save_dit(model: DiT, folder: Path, stats_path: Path, dtype: torch.dtype = torch.float16) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(dtype).contiguous().cpu() for k, v in model.state_dict().items()}, folder / WEIGHTS)
    (folder / CONFIG).write_text(json.dumps(asdict(model.config), indent=1) + "\n")
    shutil.copy(stats_path, folder / STATS)


def _config(fields: dict) -> DiTConfig:
    return DiTConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def load_dit(folder: Path) -> tuple[DiT, dict]:
    """(model in eval mode, stats) from a shipped folder or a training run."""
    folder = Path(folder)
    if (folder / CONFIG).exists():
        model = DiT(_config(json.loads((folder / CONFIG).read_text())))
        model.load_state_dict(load_file(folder / WEIGHTS))  # float16 files are widened to the model's float32
        return model.eval(), json.loads((folder / STATS).read_text())
    meta_path = folder / "checkpoint" / "checkpoint.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{folder} holds neither a DiT ({CONFIG}) nor a training run (checkpoint/)")
    meta = json.loads(meta_path.read_text())
    model = DiT(_config(meta["model_config"]))
    model.load_state_dict(load_file(folder / "checkpoint" / "ema.safetensors"))
    train = meta["train_config"]
    stats = json.loads((training_cache(Path(train["data"]), Path(train["vae"]), train.get("latent_cache", "")) / STATS)
                       .read_text())
    return model.eval(), stats
