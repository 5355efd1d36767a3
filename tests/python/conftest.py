"""Fixtures shared by several test files."""

import json
from pathlib import Path

import pytest
import torch
from tiny_package import make_tiny_package

from lmdm.data.build import build
from lmdm.data.config import DataConfig
from lmdm.dit.model import DiT
from lmdm.latents.build import LatentCacheConfig, build_latent_cache
from lmdm.vae.model import VAE, save_vae
from lmdm.vae.model import tiny_config as tiny_vae_config


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
    return make_tiny_package(tmp_path_factory.mktemp("package"))
