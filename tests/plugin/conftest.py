"""Fixtures of the plugin-host tests (the no-model default and `with_model` live in tests/conftest.py)."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def lv2(build_info):
    host = Path(build_info["binary_dir"]) / build_info["lv2_host"] if build_info["lv2_host"] else None
    if host is None or not host.exists():
        pytest.skip("no LV2 host on this platform")
    return host, build_info["lv2"], build_info["lv2_uri"]
