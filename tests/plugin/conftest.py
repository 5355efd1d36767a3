"""The plugin tests here check the shell (exact delay, parameters, state, layouts) with no model, so
the wet signal is the input itself; LMDM_MODEL points the plugin at a folder that does not exist.
Tests marked `with_model` get the package bundled into the plugin instead."""

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "with_model: run the plugin with its bundled model package")


@pytest.fixture(autouse=True)
def plugin_model(request, monkeypatch, tmp_path):
    if request.node.get_closest_marker("with_model") is None:
        monkeypatch.setenv("LMDM_MODEL", str(tmp_path / "no-model-for-shell-tests"))
    else:
        monkeypatch.delenv("LMDM_MODEL", raising=False)
