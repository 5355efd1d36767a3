"""Stream examples from a built data set's tar shards, split across processes, machines and loader workers.

Each reader takes every n-th shard, where n = world size x DataLoader workers, so together the readers
see every example exactly once per epoch and no two read the same file. Shards are read front to
back (no random access), which suits network file systems and object stores alike.
"""

import io
import json
import random
import tarfile
from collections.abc import Iterator
from pathlib import Path

import soundfile as sf
import torch

from .build import SUMMARY


def shard_paths(root: Path, split: str) -> list[Path]:
    summary = json.loads((root / SUMMARY).read_text())
    return [root / name for name in summary["shards"][split]]


class ShardError(ValueError):
    """A shard that cannot be read: missing, truncated or damaged."""


def read_shard(path: Path) -> Iterator[dict]:
    """Examples of one shard: {"meta": dict, "mix": float32 array, "stems": [float32 arrays]}.
    Raises ShardError naming the shard when it cannot be read to its end."""
    current: dict | None = None
    try:
        with tarfile.open(path, "r") as tar:
            for member in tar:
                key, _, kind = member.name.partition(".")
                data = tar.extractfile(member).read()
                if kind == "json":
                    if current is not None:
                        yield current
                    current = {"meta": json.loads(data), "mix": None, "stems": []}
                elif kind == "mix.flac":
                    current["mix"] = sf.read(io.BytesIO(data), dtype="float32")[0]
                elif kind.startswith("stem"):
                    current["stems"].append(sf.read(io.BytesIO(data), dtype="float32")[0])
    except (OSError, EOFError, tarfile.TarError, ValueError, RuntimeError, TypeError) as error:
        raise ShardError(f"{path} cannot be read ({type(error).__name__}: {error}): restore it, or build the "
                         "data set again (python -m lmdm.data build into a new --output)") from error
    if current is not None:
        yield current


class ShardDataset(torch.utils.data.IterableDataset):
    """One split of a data set, for `torch.utils.data.DataLoader` (any number of workers) under DDP."""

    def __init__(self, root: Path, split: str, rank: int = 0, world_size: int = 1, shuffle_seed: int | None = None):
        self.paths = shard_paths(Path(root), split)
        self.rank, self.world_size, self.shuffle_seed = rank, world_size, shuffle_seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle the shard order (the same on every rank, so the partition stays disjoint)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict]:
        paths = list(self.paths)
        if self.shuffle_seed is not None:
            random.Random(self.shuffle_seed + self.epoch).shuffle(paths)
        info = torch.utils.data.get_worker_info()
        workers, worker = (info.num_workers, info.id) if info else (1, 0)
        readers, reader = self.world_size * workers, self.rank * workers + worker
        for path in paths[reader::readers]:
            yield from read_shard(path)

