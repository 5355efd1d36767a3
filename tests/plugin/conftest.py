"""The plugin tests here check the shell (exact delay, parameters, state, layouts) with no model, so
the wet signal is the input itself; LMDM_MODEL points the plugin at a folder that does not exist.
Tests marked `with_model` get the package bundled into the plugin instead."""

from pathlib import Path

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "with_model: run the plugin with its bundled model package")


@pytest.fixture(autouse=True)
def plugin_model(request, monkeypatch, tmp_path):
    if request.node.get_closest_marker("with_model") is None:
        monkeypatch.setenv("LMDM_MODEL", str(tmp_path / "no-model-for-shell-tests"))
    else:
        monkeypatch.delenv("LMDM_MODEL", raising=False)


@pytest.fixture(scope="session")
def lv2(build_info):
    host = Path(build_info["binary_dir"]) / build_info["lv2_host"] if build_info["lv2_host"] else None
    if host is None or not host.exists():
        pytest.skip("no LV2 host on this platform")
    return host, build_info["lv2"], build_info["lv2_uri"]
