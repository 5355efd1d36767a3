"""Command-line flags generated from a frozen config dataclass, converted and checked against field types.

Every field `foo_bar` becomes `--foo-bar`; tuples take several values. One definition of each
default (the dataclass) serves code, CLI and the JSON saved with results.
"""

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def add_config_arguments(parser: argparse.ArgumentParser, config_type: type) -> None:
    hints = typing.get_type_hints(config_type)
    group = parser.add_argument_group(f"{config_type.__name__} fields (defaults shown)")
    for field in dataclasses.fields(config_type):
        kind = hints[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        flag = "--" + field.name.replace("_", "-")
        if typing.get_origin(kind) is tuple:
            group.add_argument(flag, nargs="+", type=str, metavar="V", help=f"default: {' '.join(map(str, default))}")
        elif kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"default: {default}")
        else:
            group.add_argument(flag, type=str, metavar=kind.__name__.upper(), help=f"default: {default}")


def config_from_args(args: argparse.Namespace, config_type: type[T]) -> T:
    """The config with every flag given on the command line converted to its field's type."""
    hints = typing.get_type_hints(config_type)
    overrides = {}
    for field in dataclasses.fields(config_type):
        value = getattr(args, field.name, None)
        if value is not None:
            overrides[field.name] = _convert(field.name, value, hints[field.name])
    return config_type(**overrides)


def _convert(name: str, value: Any, kind: Any) -> Any:
    if typing.get_origin(kind) is tuple:
        item_types = typing.get_args(kind)
        types = [item_types[0]] * len(value) if item_types[-1] is Ellipsis else list(item_types)
        if len(types) != len(value):
            raise SystemExit(f"--{name.replace('_', '-')} takes {len(types)} values, got {len(value)}")
        return tuple(_convert(name, v, t) for v, t in zip(value, types))
    try:
        return kind(value)
    except ValueError:
        raise SystemExit(f"--{name.replace('_', '-')}: {value!r} is not a valid {kind.__name__}") from None


def command_line(program: str, saved: dict, config_type: type) -> str:
    """`program` with the flags that rebuild `saved` (a config saved as JSON) from `config_type`'s defaults:
    the exact command a model card quotes, with no flag that only repeats a default."""
    flags = []
    for field in dataclasses.fields(config_type):
        if field.name not in saved:
            continue
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        value = saved[field.name]
        if _as_json(value) == _as_json(default):
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, (list, tuple)):
            flags.append(f"{flag} {' '.join(map(str, value))}")
        else:
            flags.append(f"{flag} {value}")
    return " ".join([program, *flags])


def _as_json(value: Any) -> Any:
    """Tuples as lists, paths as strings: how a config reads back from its JSON."""
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value if isinstance(value, (bool, int, float, str, type(None))) else str(value)
