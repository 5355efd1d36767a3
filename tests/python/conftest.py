"""Fixtures shared by several test files."""

from pathlib import Path

import pytest

from lmdm.data.build import build
from lmdm.data.config import DataConfig


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> Path:
    """A 36-second data set (two collections): enough crops for a few VAE steps and an evaluation run."""
    root = tmp_path_factory.mktemp("small-data") / "data"
    build(DataConfig(output=root, collections=("bach", "essenFolksong"), train_hours=0.01, workers=2))
    return root
