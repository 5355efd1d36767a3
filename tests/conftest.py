"""Shared fixtures: where the build put the engine module, the host tool and the plugins."""

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_DIR = Path(os.environ.get("LMDM_BUILD_DIR", REPO / "build"))
sys.path.insert(0, str(REPO / "python"))


@pytest.fixture(scope="session")
def build_info() -> dict:
    path = BUILD_DIR / "lmdm_build.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: build first (make build)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def engine_module():
    from lmdm import _engine

    return _engine


@pytest.fixture(scope="session")
def vst3_path(build_info) -> str:
    path = Path(build_info["vst3"])
    assert path.is_dir(), f"VST3 bundle not built: {path}"
    return str(path)


@pytest.fixture(scope="session")
def guitar_clip() -> Path:
    return REPO / "assets" / "guitar_clip.flac"
