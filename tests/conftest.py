"""Shared fixtures: where the build put the engine module, the host tool and the plugins."""

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD_DIR = Path(os.environ.get("LMDM_BUILD_DIR", REPO / "build"))


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


def pytest_configure(config):
    config.addinivalue_line("markers", "with_model: run the plugin with its bundled model package")


@pytest.fixture(autouse=True)
def plugin_model(request, monkeypatch, tmp_path):
    """Plugin tests check the shell (exact delay, parameters, state) with no model, so the wet signal
    is the input itself: LMDM_MODEL points the plugin at a folder that does not exist. Tests marked
    `with_model` get the package bundled into the plugin. Hosts started as subprocesses inherit it."""
    if request.node.get_closest_marker("with_model") is None:
        monkeypatch.setenv("LMDM_MODEL", str(tmp_path / "no-model-for-shell-tests"))
    else:
        monkeypatch.delenv("LMDM_MODEL", raising=False)

