"""A DiT on disk: a shipped model folder, or a training run (its EMA weights), with its data statistics.

Shipped folder: model.safetensors (EMA weights, stored as float16 by default: half the size, and the
relative rounding of 5e-4 is far below what the EMA itself averages away), config.json (the DiTConfig), stats.json (latent
mean/std per channel and control statistics of the training data, without which its inputs and
outputs mean nothing). A run folder holds checkpoint/ema.safetensors and checkpoint.json, and the
statistics it trained with in stats.json (its starting model's when it fine-tunes one: the weights
expect that normalisation whatever data the fine-tune reads); a run from before that file existed
takes them from the latent cache named by its training config.
"""

import json
import os
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
    return model.eval(), json.loads(stats_path_of(folder).read_text())


def stats_path_of(folder: Path) -> Path:
    """The statistics file of a shipped folder or a training run (see the module's docstring)."""
    folder = Path(folder)
    if (folder / STATS).exists():
        return folder / STATS
    meta_path = folder / "checkpoint" / "checkpoint.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{folder} holds neither {STATS} nor a training run (checkpoint/)")
    train = json.loads(meta_path.read_text())["train_config"]
    return training_cache(Path(train["data"]), Path(train["vae"]), train.get("latent_cache", "")) / STATS


def keep_run_stats(run_dir: Path, init_from: str, cache: Path) -> dict:
    """The statistics a run trains with, written to run_dir once: its starting model's if it has one,
    else the latent cache's. A resumed run reads its own copy back."""
    own = Path(run_dir) / STATS
    if not own.exists():  # each DDP rank may get here: copy then rename, so none reads half a file
        own.parent.mkdir(parents=True, exist_ok=True)
        staging = own.with_name(f".{STATS}.{os.getpid()}")
        shutil.copy(stats_path_of(Path(init_from)) if init_from else cache / STATS, staging)
        os.replace(staging, own)
    return json.loads(own.read_text())
