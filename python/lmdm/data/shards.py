"""Pack examples into WebDataset-style tar shards plus a JSON-lines manifest.

A shard holds whole examples (`<key>.json`, `<key>.mix.flac`, `<key>.stem<i>.flac`, consecutive
members), so a reader streams it front to back and several processes or machines can each take a
disjoint set of shards. Tar headers carry no time, owner or host, so equal inputs give equal bytes.
"""

import io
import json
import tarfile
from pathlib import Path

MANIFEST = "manifest.jsonl"


def example_members(example: dict, source: Path) -> list[tuple[str, bytes]]:
    """The (member name, bytes) of one example, metadata first."""
    key = example["key"]
    members = [(f"{key}.json", json.dumps(example, sort_keys=True).encode())]
    members.append((f"{key}.mix.flac", (source / f"{key}.mix.flac").read_bytes()))
    for part in range(len(example.get("parts", []))):
        members.append((f"{key}.stem{part}.flac", (source / f"{key}.stem{part}.flac").read_bytes()))
    return members


class ShardWriter:
    """Writes `<split>-NNNNNN.tar` files, starting a new one when the current one passes max_bytes."""

    def __init__(self, folder: Path, split: str, max_bytes: int):
        self.folder, self.split, self.max_bytes = folder, split, max_bytes
        self.index, self.size, self.tar = -1, 0, None
        self.names: list[str] = []

    def add(self, members: list[tuple[str, bytes]]) -> str:
        """Append one example's members; returns the shard's file name."""
        if self.tar is None or self.size >= self.max_bytes:
            self._next()
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            self.tar.addfile(info, io.BytesIO(data))
            self.size += len(data) + 512
        return self.names[-1]

    def _next(self) -> None:
        self.close()
        self.index += 1
        name = f"{self.split}-{self.index:06d}.tar"
        self.names.append(name)
        self.tar = tarfile.open(self.folder / name, "w", format=tarfile.GNU_FORMAT)
        self.size = 0

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar = None


def read_manifest(root: Path) -> list[dict]:
    with open(root / MANIFEST) as lines:
        return [json.loads(line) for line in lines if line.strip()]
