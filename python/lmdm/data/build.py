"""Build the rendered corpus data set: order pieces, render them in parallel, stop at the hours asked, pack.

Two streams are rendered one after the other: single melodies ("solo") up to solo_fraction of the
train hours, then multi-part pieces ("ensemble") up to the rest; then, if asked, a third ("focus"):
single melodies again, newly arranged for the focus instruments only, for focus_hours more. Hours,
not piece counts, because a Palestrina movement lasts ten folk tunes. Determinism: each stream's order is fixed by the seed,
results are consumed in that order (whatever finishes first), and a stream stops at the first piece
that brings its train hours to target, so the set of examples, and every byte of the shards,
depends only on the config. Pieces rendered past a stop point by busy workers are not used.
"""

import json
import logging
import multiprocessing
import os
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

from tqdm import tqdm

from .card import write_card
from .config import DataConfig
from .corpus import FOCUS_RENDITIONS, SPLITS, Piece, list_pieces, split_of
from .examples import process_piece
from .shards import MANIFEST, ShardWriter, example_members
from .summary import summarise

log = logging.getLogger("lmdm.data")
SUMMARY = "summary.json"
CONFIG = "config.json"


def config_json(config: DataConfig) -> dict:
    return json.loads(json.dumps(asdict(config), default=str))


def build(config: DataConfig, keep_work: bool = False) -> dict:
    """Build (or finish building) the data set in config.output; returns the summary."""
    output, work = config.output, config.output / "work"
    if (output / SUMMARY).exists():
        summary = json.loads((output / SUMMARY).read_text())
        _require_same_config(summary["config"], config, output)
        log.info("%s is already built; nothing to do", output)
        return summary
    _prepare_output(config, output, work)
    started = time.perf_counter()
    streams = piece_streams(config)
    records = []
    for name, hours in stream_hours(config, streams).items():
        records += _render_until_enough(streams[name], name, hours, config, work)
    return finish(records, config, time.perf_counter() - started, keep_work)


def finish(records: list[dict], config: DataConfig, wall_seconds: float, keep_work: bool = False) -> dict:
    """Pack the finished records' examples into shards, write manifest, card and summary; returns the summary."""
    output, work = config.output, config.output / "work"
    examples = [e for r in records if r["status"] == "ok" for e in r["examples"]]
    shards = pack(examples, work, output, config.shard_megabytes * 2**20)
    summary = summarise(records, examples, shards, config_json(config), wall_seconds)
    write_card(summary, examples, output)
    (output / SUMMARY).write_text(json.dumps(summary, indent=1))  # written last: marks the build complete
    if not keep_work:
        shutil.rmtree(work)
    return summary


def piece_streams(config: DataConfig) -> dict[str, list[Piece]]:
    """Pieces of the single-melody collections ("solo") and of the rest ("ensemble"), each shuffled by the
    seed; with focus programs, the single melodies again ("focus") in their own order and renditions."""
    pieces = list_pieces(config.collections)
    streams = {"solo": [p for p in pieces if p.collection in config.solo_collections],
               "ensemble": [p for p in pieces if p.collection not in config.solo_collections]}
    if config.focus_programs and config.focus_hours > 0:
        streams["focus"] = [replace(p, rendition=FOCUS_RENDITIONS) for p in streams["solo"]]
    for name, stream in streams.items():
        random.Random(f"{config.seed}:{name}").shuffle(stream)
    return streams


def stream_hours(config: DataConfig, streams: dict[str, list[Piece]]) -> dict[str, float]:
    """Train hours asked of each stream: solo_fraction of them from solos, all of them if one stream is
    empty; the focus stream's are extra."""
    share = {"solo": config.solo_fraction, "ensemble": 1.0 - config.solo_fraction}
    if not (streams["solo"] and streams["ensemble"]):
        share = {name: 1.0 if streams[name] else 0.0 for name in share}
    return {name: config.train_hours * share[name] for name in share} | (
        {"focus": config.focus_hours} if "focus" in streams else {})


def _prepare_output(config: DataConfig, output: Path, work: Path) -> None:
    missing = [f for f in config.soundfonts if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"soundfont(s) not found: {missing}; install Debian's fluid-soundfont-gm "
                                "and timgm6mb-soundfont (make setup does)")
    work.mkdir(parents=True, exist_ok=True)
    saved = output / CONFIG
    if saved.exists():  # resuming: the partial work must come from the same config
        _require_same_config(json.loads(saved.read_text()), config, output)
    else:
        saved.write_text(json.dumps(config_json(config), indent=1))
    _attach_log_file(output / "build.log")


def _require_same_config(saved: dict, config: DataConfig, output: Path) -> None:
    saved = config_json(DataConfig()) | saved  # a field added since that build held its default then
    if saved != config_json(config):
        changed = sorted(k for k in saved if saved[k] != config_json(config).get(k))
        raise ValueError(f"{output} holds a build with a different config (differs in {changed}); "
                         "choose another --output or delete it")


def _render_until_enough(pieces: list[Piece], name: str, hours: float, config: DataConfig,
                         work: Path) -> Iterator[dict]:
    """Records of the pieces in order, up to the first that brings the train split to `hours`."""
    target = hours * 3600.0
    if target <= 0:
        return
    # After the corpus, its pieces again in new arrangements: hundreds of hours from ~200 h of scores.
    renditions = [replace(p, rendition=p.rendition + r) for r in range(config.max_renditions) for p in pieces]
    tasks = [(p, split_of(p.piece_id, config.seed, config.split_fractions), config, work) for p in renditions]
    train_seconds = 0.0
    with tqdm(total=round(target), unit="s", desc=f"{name} train audio") as bar, _results(tasks, config) as results:
        for record in results:
            if record["status"] == "skipped":
                log.warning("skipped %s: %s", record["piece_id"], record["reason"])
            yield record
            if record["split"] == "train":
                seconds = sum(e["seconds"] for e in record["examples"])
                bar.update(round(min(seconds, target - train_seconds)))
                train_seconds += seconds
            if train_seconds >= target:
                return
    log.warning("%s pieces exhausted at %.2f of %.2f train hours", name, train_seconds / 3600, hours)


class _results:
    """Ordered results of process_piece over the tasks: in-process for one worker, else a process pool."""

    def __init__(self, tasks: list, config: DataConfig):
        self.tasks, self.workers = tasks, config.workers or os.cpu_count() or 1
        self.pool = None

    def __enter__(self) -> Iterator[dict]:
        if self.workers == 1:
            return (process_piece(*task) for task in self.tasks)
        self.pool = multiprocessing.get_context("spawn").Pool(self.workers)
        return self.pool.imap(_process_task, self.tasks, chunksize=1)

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.terminate()  # pieces still rendering past the stop point are not needed
            self.pool.join()


def _process_task(task: tuple) -> dict:
    return process_piece(*task)


def pack(examples: list[dict], work: Path, output: Path, shard_bytes: int) -> dict[str, list[str]]:
    """Write each split's shards and the manifest; returns the shard names per split."""
    shard_names: dict[str, list[str]] = {}
    lines = []
    for split in SPLITS:
        writer = ShardWriter(output, split, shard_bytes)
        for example in (e for e in examples if e["split"] == split):
            piece_folder = work / _piece_key_of(example)
            shard = writer.add(example_members(example, piece_folder))
            lines.append(json.dumps(example | {"shard": shard}, sort_keys=True))
        writer.close()
        shard_names[split] = writer.names
    (output / MANIFEST).write_text("\n".join(lines) + "\n")
    return shard_names


def _piece_key_of(example: dict) -> str:
    return example["key"].rsplit("-", 1)[0]


def _attach_log_file(path: Path) -> None:
    if not any(isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve() for h in log.handlers):
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
