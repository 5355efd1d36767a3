"""Fixtures shared by several test files."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lmdm.data.build import build
from lmdm.data.config import DataConfig
from lmdm.dit.files import load_dit, save_dit
from lmdm.dit.model import DiT, tiny_config
from lmdm.latents.build import LatentCacheConfig, build_latent_cache
from lmdm.vae.model import VAE, save_vae
from lmdm.vae.model import tiny_config as tiny_vae_config

REPO = Path(__file__).resolve().parents[2]
EXPORT = [sys.executable, str(REPO / "export" / "export_onnx.py")]


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A 36-second data set (two collections): enough crops for a few VAE steps and an evaluation run."""
    root = tmp_path_factory.mktemp("small-data") / "data"
    build(DataConfig(output=root, collections=("bach", "essenFolksong"), train_hours=0.01, workers=2))
    return root


@pytest.fixture(scope="session")
def latent_data(small_dataset, tmp_path_factory) -> tuple[Path, Path]:
    """The small data set's latent cache made by a tiny random VAE: (data folder, VAE folder)."""
    torch.manual_seed(0)
    vae = tmp_path_factory.mktemp("vae") / "vae"
    save_vae(VAE(tiny_vae_config()), vae)
    folder = build_latent_cache(LatentCacheConfig(data=small_dataset, vae=vae, threads=1))
    assert json.loads((folder / "stats.json").read_text())["train_frames"] > 1000
    return small_dataset, vae


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> tuple[Path, DiT]:
    """A blockcausal package of a tiny random DiT and VAE (C = 8, B = 4, 3 steps), and the DiT as loaded."""
    root = tmp_path_factory.mktemp("package")
    torch.manual_seed(0)
    save_vae(VAE(tiny_vae_config()), root / "vae")
    model = DiT(tiny_config(variant="blockcausal", latent_dim=4))
    for parameter in model.parameters():  # adaLN-zero would make a fresh model output zeros
        torch.nn.init.normal_(parameter, std=0.2)
    stats = {"latent_mean": [0.1] * 4, "latent_std": [2.0] * 4, "loudness_db": {"mean": -30.0, "std": 12.0},
             "brightness": {"mean": 80.0, "std": 10.0}, "pitch_midi": {"mean": 60.0, "std": 12.0}}
    (root / "stats.json").write_text(json.dumps(stats))
    save_dit(model.eval(), root / "model", root / "stats.json")
    result = subprocess.run([*EXPORT, "lmdm", "--model", str(root / "model"), "--vae", str(root / "vae"), "--out",
                             str(root / "pkg"), "--context-frames", "8", "--block-frames", "4", "--steps", "3"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "pkg", load_dit(root / "model")[0]
