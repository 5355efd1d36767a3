"""Random training windows of latent frames (with their sketch controls and a caption) from the latent cache.

A window is `frames` consecutive latent frames inside one example. Batches are drawn from a
generator seeded by (seed, rank, step), so a resumed run sees exactly the batches it would have
seen, and DDP ranks see different ones.

With `guitar_controls` > 0, that share of the windows takes its controls from the same notes played on a
clean guitar (lmdm.latents.guitar_controls) instead of from the target audio: the sketch a player gives.
With `own_brightness` such a window keeps the target's own brightness: loudness and pitch come from the
guitar, so the instrument's envelope cannot be read off the control, while the brightness contour stays
one the model can follow (the guitar's centroid says little about a flute's: r 0.24 on the train split).

With `guitar_envelope` such a window's latents are those of the target re-levelled onto the guitar's
loudness curve (lmdm.latents.guitar_envelope): the instrument's sound with the player's dynamics, so the
model learns to follow a pluck's decay without playing a plucked instrument.

`solo_weight` draws solo examples (one instrument, one line: what a player's sketch looks like) that many
times as often per frame as ensembles and chords.
"""

import json
from pathlib import Path

import numpy as np
import torch

from ..conditioning.controls import CONTROL_NAMES
from ..conditioning.sketch import normalise
from ..latents.cache import GUITAR_CONTROLS, GUITAR_LATENTS, normalise_latents

BRIGHTNESS = CONTROL_NAMES.index("brightness")  # its column in the cache's raw controls


def open_array(path: Path) -> np.ndarray:
    """A cache array, memory-mapped; a missing, truncated or damaged file is an error that names it."""
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} cannot be read ({error}): delete {path.parent} and build the cache again "
                         "(python -m lmdm.latents.build)") from error


class LatentWindows:
    def __init__(self, folder: Path, split: str, frames: int, guitar_controls: float = 0.0,
                 own_brightness: bool = False, solo_weight: float = 1.0, guitar_envelope: bool = False,
                 stats: dict | None = None):
        self.latents = open_array(folder / f"{split}.latents.npy")  # (N, D) float16
        self.controls = open_array(folder / f"{split}.controls.npy")  # (N, 4)
        self.text = np.array(open_array(folder / f"{split}.text.npy"))  # (captions, 384)
        index = json.loads((folder / f"{split}.json").read_text())
        # the normalisation: the cache's own unless the run keeps its starting model's (dit.files.keep_run_stats)
        self.stats = stats or json.loads((folder / "stats.json").read_text())
        self.examples = [e for e in index["examples"] if e["end"] - e["start"] >= frames]
        if not self.examples:
            raise ValueError(f"no {split} example in {folder} holds {frames} latent frames")
        starts = np.array([(e["end"] - e["start"] - frames + 1) * (solo_weight if e["kind"] == "solo" else 1.0)
                           for e in self.examples], dtype=np.float64)
        self.weights = starts / starts.sum()
        self.frames = frames
        self.guitar_controls = guitar_controls
        self.own_brightness = own_brightness
        self.guitar = None
        if guitar_controls > 0:
            path = folder / f"{split}.{GUITAR_CONTROLS}"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: build it with python -m lmdm.latents.guitar_controls")
            self.guitar = open_array(path)
        self.guitar_latents = None
        if guitar_envelope:
            path = folder / f"{split}.{GUITAR_LATENTS}"
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: build it with python -m lmdm.latents.guitar_envelope")
            self.guitar_latents = open_array(path)

    def batch(self, size: int, generator: np.random.Generator) -> dict[str, torch.Tensor]:
        """latents (B, T, D) normalised per channel, control values/present (B, T, 3), text (B, 384)."""
        picks = generator.choice(len(self.examples), size=size, p=self.weights)
        latents, controls, text = [], [], []
        for pick in picks:
            example = self.examples[pick]
            start = int(generator.integers(example["start"], example["end"] - self.frames + 1))
            target = self.latents
            # drawn only when asked, so runs without the guitar's controls keep their batches
            window = np.asarray(self.controls[start:start + self.frames], np.float32)
            if self.guitar is not None and generator.random() < self.guitar_controls:
                guitar = np.array(self.guitar[start:start + self.frames], np.float32)  # a copy: the cache is read-only
                if self.own_brightness:
                    guitar[:, BRIGHTNESS] = window[:, BRIGHTNESS]
                window = guitar
                target = self.latents if self.guitar_latents is None else self.guitar_latents
            latents.append(np.asarray(target[start:start + self.frames], np.float32))
            controls.append(window)
            text.append(self.text[example["captions"][int(generator.integers(len(example["captions"])))]])
        values, present = normalise(torch.from_numpy(np.stack(controls)), self.stats)
        return {"latents": normalise_latents(torch.from_numpy(np.stack(latents)), self.stats),
                "control_values": values, "control_present": present,
                "text": torch.from_numpy(np.stack(text))}
