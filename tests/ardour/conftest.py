"""Fixtures of the Ardour tests (the no-model default and `with_model` live in tests/conftest.py)."""

import shutil

import pytest


@pytest.fixture(scope="session")
def ardour_tools():
    missing = [tool for tool in ("ardour7-lua", "ardour7-export") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"Ardour 7 session tools not installed ({', '.join(missing)}; Debian: apt install ardour)")
