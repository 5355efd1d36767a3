"""python -m lmdm.latents.guitar_controls: every example's sketch controls as a guitarist would give them.

    python -m lmdm.latents.guitar_controls --data data/lmdm-v1 --vae models/vae

The plugin computes its controls from a DI guitar; the latent cache computes them from the target
audio itself. A violin example's controls carry a violin's swell and sustain, so the model learns
"this envelope is a violin" and, fed a guitar's pluck-and-decay, plays a plucked violin (session 9's
benchmark: the judge heard harpsichord and pizzicato for violin and cello prompts). Here each example's
notes, the same arrangement re-derived from the data set's seed, are played again on a clean guitar
(program and soundfont drawn per piece, from the soundfonts the data set uses, so the benchmark's
third soundfont stays unheard), every part on the one guitar as a player would fold them. The render
is levelled so that, over the frames where the target plays, its A-weighted loudness equals the
target's on average (the frame-wise level the benchmark compares), so the wet still follows the
player's level; its controls are written beside the cache's as
`<split>.guitar_controls.npy`, row for row. Training draws them per example (`--guitar-controls p`),
so the prompt, not the sketch, has to say how the instrument articulates.
"""

import argparse
import json
import multiprocessing
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..cli import add_config_arguments, config_from_args
from ..conditioning.controls import ControlConfig, compute_controls
from ..data.arrange import arrange
from ..data.build import CONFIG
from ..data.config import DataConfig
from ..data.corpus import Piece, list_pieces
from ..data.examples import segment_bounds
from ..data.instruments import Instrument, by_program
from ..data.render import render_stem
from ..data.score import load_score
from ..data.shards import MANIFEST
from .cache import GUITAR_CONTROLS, SPLITS, cache_folder


@dataclass(frozen=True)
class GuitarControlsConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))  # selects the latent cache
    # Clean guitars, as the plugin's input and the benchmark's streams are (nylon, steel, jazz, clean electric).
    programs: tuple[int, ...] = (24, 25, 26, 27)
    seed: int = 0  # the guitar and soundfont of each piece
    workers: int = 0  # render processes; 0 = one per core


@dataclass(frozen=True)
class PieceTask:
    """One rendition of a piece and the cache rows its examples fill."""
    piece: Piece
    examples: tuple[dict, ...]  # {"segment", "start", "end"} per example: cache rows [start, end)
    target_loudness: tuple[np.ndarray, ...]  # per example: the target's loudness_db per frame, from the cache


def guitar_for(piece: Piece, config: GuitarControlsConfig, soundfonts: tuple[str, ...]) -> tuple[Instrument, str]:
    rng = random.Random(f"{config.seed}:guitar-controls:{piece.piece_id}:{piece.rendition}")
    return by_program(rng.choice(config.programs)), rng.choice(soundfonts)


ACTIVE_DB = -60.0  # target frames louder than this (the data set's silence threshold) set the guitar's level


def level_gain_db(target_db: np.ndarray, guitar_db: np.ndarray) -> float:
    """The gain that makes the guitar's loudness equal the target's on average over the target's active frames."""
    active = target_db > ACTIVE_DB
    if not active.any():
        return 0.0
    return float(np.mean(target_db[active]) - np.mean(guitar_db[active]))


def render_piece(task: PieceTask, data: DataConfig, config: GuitarControlsConfig) -> list[np.ndarray]:
    """The controls (frames, 4) of each of the task's examples, played on the piece's guitar."""
    score = load_score(task.piece)
    arrangement = arrange(score, task.piece, data)
    guitar, soundfont = guitar_for(task.piece, config, data.soundfonts)
    total = int(round(arrangement.seconds * data.sample_rate))
    audio = np.sum([render_stem(replace(stem, instrument=guitar), soundfont, data.sample_rate, total)
                    for stem in arrangement.stems], axis=0)
    bounds = segment_bounds(total, data)
    controls = []
    for example, target_db in zip(task.examples, task.target_loudness):
        begin, end = bounds[example["segment"]]
        frames = example["end"] - example["start"]
        segment = audio[begin:begin + frames * ControlConfig().hop]  # what the cache's controls saw (whole latents)
        own = compute_controls(segment)[:frames]
        # One gain per example, so the guitar's own dynamics stay and only its overall level matches. The
        # controls are computed again at that level rather than shifted: the loudness floor and the pitch
        # tracker's silence gate depend on the absolute level, as they do in the plugin.
        gain_db = level_gain_db(target_db, own[:, 0])
        controls.append(compute_controls(segment * 10.0 ** (gain_db / 20.0))[:frames].astype(np.float32))
    return controls


def piece_tasks(data: Path, cache: Path, split: str, data_config: DataConfig) -> list[PieceTask]:
    """The split's examples grouped by the piece rendition they were cut from, in cache order."""
    manifest = {e["key"]: e for e in map(json.loads, (data / MANIFEST).read_text().splitlines()) if e}
    pieces = {p.piece_id: p for p in list_pieces(data_config.collections)}
    loudness = np.load(cache / f"{split}.controls.npy", mmap_mode="r")[:, 0]
    grouped: dict[tuple[str, int], list[dict]] = {}
    for example in json.loads((cache / f"{split}.json").read_text())["examples"]:
        meta = manifest[example["key"]]
        grouped.setdefault((meta["piece_id"], meta["rendition"]), []).append(
            {"segment": meta["segment"], "start": example["start"], "end": example["end"]})
    return [PieceTask(replace(pieces[piece_id], rendition=rendition), tuple(examples),
                      tuple(np.array(loudness[e["start"]:e["end"]]) for e in examples))
            for (piece_id, rendition), examples in grouped.items()]


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run(job: tuple[PieceTask, DataConfig, GuitarControlsConfig]) -> tuple[PieceTask, list[np.ndarray]]:
    return job[0], render_piece(*job)


def _results(jobs: list, workers: int) -> Iterator[tuple[PieceTask, list[np.ndarray]]]:
    if workers == 1:
        yield from map(_run, jobs)
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_init) as pool:
        yield from pool.imap_unordered(_run, jobs, chunksize=1)


def build_guitar_controls(config: GuitarControlsConfig) -> Path:
    """Write <split>.guitar_controls.npy into the cache of `data` and `vae` for each split that lacks it."""
    cache = cache_folder(config.data, config.vae)
    if not (cache / "stats.json").exists():
        raise FileNotFoundError(f"no latent cache at {cache}: build it first (python -m lmdm.latents.build)")
    data_config = _data_config(config.data)
    for split in SPLITS:
        path = cache / f"{split}.{GUITAR_CONTROLS}"
        if path.exists() or not (cache / f"{split}.json").exists():
            continue
        controls = np.lib.format.open_memmap(path.with_suffix(".staging.npy"), mode="w+", dtype=np.float32,
                                             shape=np.load(cache / f"{split}.controls.npy", mmap_mode="r").shape)
        tasks = piece_tasks(config.data, cache, split, data_config)
        jobs = [(task, data_config, config) for task in tasks]
        for task, rendered in tqdm(_results(jobs, config.workers or os.cpu_count() or 1), total=len(jobs),
                                   desc=f"guitar controls {split}", mininterval=10):
            for example, values in zip(task.examples, rendered):
                controls[example["start"]:example["end"]] = values
        controls.flush()
        del controls
        path.with_suffix(".staging.npy").rename(path)  # appears whole or not at all
    return cache


def _data_config(data: Path) -> DataConfig:
    """The config the data set was built with (its arrangement rules and soundfonts)."""
    saved = json.loads((data / CONFIG).read_text())
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k != "output"}
    return DataConfig(**fields, output=data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.latents.guitar_controls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, GuitarControlsConfig)
    print(build_guitar_controls(config_from_args(parser.parse_args(argv), GuitarControlsConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
