"""Random fixed-length crops of a split's mixes, from a one-time int16 cache of the shards.

Training the VAE wants millions of short random crops; decoding FLAC from tar shards for each one
would cost more CPU than the model on two cores. So a split's mixes are decoded once into one int16
array (10 h = 1.6 GB) next to the data set, memory-mapped by every training process.
"""

import json
from pathlib import Path

import numpy as np

from .loader import ShardDataset

CACHE_FOLDER = "cache"


def build_cache(root: Path, split: str) -> Path:
    """Decode the split's mixes into cache/<split>_mix.int16.npy + offsets json (once); returns the npy path."""
    folder = root / CACHE_FOLDER
    audio_path, index_path = folder / f"{split}_mix.int16.npy", folder / f"{split}_mix.json"
    if index_path.exists():
        return audio_path
    folder.mkdir(exist_ok=True)
    chunks, starts, keys, position = [], [], [], 0
    for example in ShardDataset(root, split):
        pcm = np.round(np.clip(example["mix"], -1, 1) * 32767).astype(np.int16)
        chunks.append(pcm)
        starts.append(position)
        keys.append(example["meta"]["key"])
        position += len(pcm)
    staging = audio_path.with_suffix(".staging.npy")
    np.save(staging, np.concatenate(chunks) if chunks else np.zeros(0, np.int16))
    staging.rename(audio_path)
    index_path.write_text(json.dumps({"starts": starts + [position], "keys": keys}))
    return audio_path


class CropSampler:
    """Crops of `samples` samples from random examples (weighted by length), skipping near-silent ones."""

    def __init__(self, audio_path: Path, samples: int, seed: int, stream: int = 0, silence_dbfs: float = -50.0):
        self.audio = np.load(audio_path, mmap_mode="r")
        starts = json.loads(audio_path.with_name(audio_path.name.replace(".int16.npy", ".json")).read_text())["starts"]
        self.bounds = np.array([(a, b) for a, b in zip(starts, starts[1:]) if b - a >= samples])
        if len(self.bounds) == 0:
            raise ValueError(f"no example in {audio_path} is as long as {samples} samples")
        lengths = self.bounds[:, 1] - self.bounds[:, 0] - samples + 1
        self.weights = lengths / lengths.sum()
        self.samples, self.seed, self.stream = samples, seed, stream
        self.silence = 10 ** (silence_dbfs / 20) * 32767

    def crop(self, rng: np.random.Generator) -> np.ndarray:
        for _ in range(20):  # rests inside pieces: a few retries find sound
            start, end = self.bounds[rng.choice(len(self.bounds), p=self.weights)]
            offset = int(rng.integers(start, end - self.samples + 1))
            pcm = np.asarray(self.audio[offset: offset + self.samples], dtype=np.float32)
            if np.sqrt(np.mean(pcm**2)) > self.silence:
                break
        return pcm / 32768.0

    def batch(self, size: int, step: int) -> np.ndarray:
        """The batch of a training step: a function of (seed, stream, step), so a resumed run sees the
        same crops as an uninterrupted one, and each DDP rank (stream) its own."""
        rng = np.random.default_rng([self.seed, self.stream, step])
        return np.stack([self.crop(rng) for _ in range(size)])
