"""lmdm.cli: flags from config dataclasses, and the command a model card quotes rebuilds the config."""

import argparse
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from lmdm.cli import add_config_arguments, command_line, config_from_args


@dataclass(frozen=True)
class Example:
    run_dir: Path = field(default_factory=lambda: Path("runs/x"))
    rate: float = 3e-4
    steps: int = 10
    widths: tuple[int, ...] = (1, 3)
    fused: bool = True
    name: str = "small"


def parse(arguments: list[str]) -> Example:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Example)
    return config_from_args(parser.parse_args(arguments), Example)


def test_flags_convert_to_the_fields_types():
    assert parse(["--rate", "0.1", "--widths", "5", "7", "--no-fused", "--run-dir", "a/b"]) == \
        Example(run_dir=Path("a/b"), rate=0.1, widths=(5, 7), fused=False)
    with pytest.raises(SystemExit):
        parse(["--steps", "ten"])


@pytest.mark.parametrize("config", [Example(), Example(rate=0.1, widths=(5,), fused=False, run_dir=Path("r"), name="big")])
def test_the_quoted_command_rebuilds_a_saved_config(config):
    saved = json.loads(json.dumps(asdict(config), default=str))  # as a run saves it
    command = command_line("python -m x", saved, Example)
    assert command.startswith("python -m x")
    assert parse(command.split()[3:]) == config
    assert "--steps" not in command  # a default is not repeated
