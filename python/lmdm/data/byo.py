"""Bring your own audio: a folder of recordings (+ optional captions CSV) becomes a data set.

The output has the same layout as a rendered build (shards, manifest, summary, card), with the
mix as the only audio per example (recordings have no stems). Files are read with `soundfile`,
mixed to mono and resampled with soxr; the split is a hash of (seed, relative path), so adding files
never moves old ones between splits. Unreadable, non-finite, silent or too-short files are skipped
with the reason logged and counted.
"""

import csv
import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from .build import CONFIG, SUMMARY, config_json, finish
from .config import DataConfig
from .corpus import Piece, split_of
from .examples import AUDIO_SUBTYPE, RECORD, RenderError, publish, rms_dbfs, segment_bounds

log = logging.getLogger("lmdm.data")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".opus"}


def read_captions(path: Path | None) -> dict[str, str]:
    """`file,caption` rows (file relative to the input folder; a header row is optional)."""
    if path is None:
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if len(r) >= 2]
    if rows and rows[0][0].strip().lower() == "file":
        rows = rows[1:]
    return {r[0].strip(): r[1].strip() for r in rows}


def build_from_folder(folder: Path, captions_csv: Path | None, config: DataConfig) -> dict:
    output, work = config.output, config.output / "work"
    if (output / SUMMARY).exists():
        log.info("%s is already built; nothing to do", output)
        return json.loads((output / SUMMARY).read_text())
    work.mkdir(parents=True, exist_ok=True)
    (output / CONFIG).write_text(json.dumps(config_json(config) | {"input": str(folder)}, indent=1))
    started = time.perf_counter()
    captions = read_captions(captions_csv)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) under {folder}")
    records = [_process_file(f, folder, captions, config, work) for f in tqdm(files, desc="audio files")]
    for record in (r for r in records if r["status"] == "skipped"):
        log.warning("skipped %s: %s", record["piece_id"], record["reason"])
    return finish(records, config, time.perf_counter() - started)


def _process_file(path: Path, folder: Path, captions: dict[str, str], config: DataConfig, work: Path) -> dict:
    relative = path.relative_to(folder).as_posix()
    piece = Piece(f"byo/{relative}", "byo", path)
    split = split_of(piece.piece_id, config.seed, config.split_fractions)
    if (work / piece.key / RECORD).exists():
        return json.loads((work / piece.key / RECORD).read_text())
    started = time.process_time()
    staging = work / f".staging-{piece.key}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        audio = _load_mono(path, config.sample_rate)
        examples = _write_examples(audio, piece, split, captions.get(relative), config, staging)
        record = {"piece_id": piece.piece_id, "split": split, "status": "ok", "examples": examples}
    except (RuntimeError, RenderError, sf.LibsndfileError) as error:
        record = {"piece_id": piece.piece_id, "split": split, "status": "skipped", "reason": str(error)[:200],
                  "examples": []}
    record["render_cpu_seconds"] = time.process_time() - started
    (staging / RECORD).write_text(json.dumps(record, indent=1))
    publish(staging, work / piece.key)
    return record


def _load_mono(path: Path, sample_rate: int) -> np.ndarray:
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for unreadable or unknown files
        raise RenderError(f"unreadable audio: {type(error).__name__}: {error}") from error
    if not np.isfinite(audio).all():
        raise RenderError("non-finite samples in the file")
    mono = audio.mean(axis=1)
    return mono if rate == sample_rate else soxr.resample(mono, rate, sample_rate, quality="VHQ").astype(np.float32)


def _write_examples(audio: np.ndarray, piece: Piece, split: str, caption: str | None, config: DataConfig,
                    folder: Path) -> list[dict]:
    if rms_dbfs(audio) < config.silence_dbfs:
        raise RenderError("silent file")
    text = caption or piece.path.stem.replace("_", " ").replace("-", " ")
    examples = []
    for index, (start, end) in enumerate(segment_bounds(len(audio), config)):
        if rms_dbfs(audio[start:end]) < config.silence_dbfs:
            continue
        key = f"{piece.key}-{index:02d}"
        sf.write(folder / f"{key}.mix.flac", audio[start:end], config.sample_rate, subtype=AUDIO_SUBTYPE)
        examples.append({
            "key": key, "piece_id": piece.piece_id, "collection": "byo", "title": piece.path.stem,
            "split": split, "sample_rate": config.sample_rate, "kind": "recording", "parts": [],
            "soundfont": "none", "captions": [text], "caption_source": "csv" if caption else "file name",
            "segment": index, "start_seconds": start / config.sample_rate,
            "seconds": (end - start) / config.sample_rate,
        })
    return examples
