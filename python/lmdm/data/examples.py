"""One piece in, its training examples out: parse, arrange, render stems, level, cut, write.

A piece's result lands in the work folder as one directory (FLAC files + record.json) that appears
by an atomic rename, or as a record of why it was skipped. A build that is killed therefore finds
every finished piece intact on restart and renders only the rest. Nothing here raises on bad input:
every failure becomes a skip record with a reason.
"""

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf

from .arrange import Arrangement, arrange, rng_for
from .captions import CaptionFacts, captions, felt_bpm, transposed_key
from .config import DataConfig
from .corpus import Piece
from .render import render_stem
from .score import Score, ScoreError, load_score

RECORD = "record.json"
AUDIO_SUBTYPE = "PCM_16"  # 16-bit FLAC: stems still sum to the mix within a few LSB (tests check -80 dB)


def rms_dbfs(audio: np.ndarray) -> float:
    return 10.0 * math.log10(float(np.mean(np.square(audio, dtype=np.float64))) + 1e-20)


def process_piece(piece: Piece, split: str, config: DataConfig, work: Path) -> dict:
    """The piece's record (from a previous run if there is one), rendering it first if needed."""
    done = work / piece.key / RECORD
    if done.exists():
        return json.loads(done.read_text())
    started, cpu_started = time.perf_counter(), time.process_time()
    staging = work / f".staging-{piece.key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        record = _render_examples(piece, split, config, staging)
    except (ScoreError, RenderError) as error:
        record = _skip(piece, split, str(error))
    except Exception as error:  # a bug or a library failure on one piece must not end the build
        record = _skip(piece, split, f"unexpected {type(error).__name__}: {str(error)[:160]}")
    record["render_wall_seconds"] = time.perf_counter() - started
    record["render_cpu_seconds"] = time.process_time() - cpu_started
    (staging / RECORD).write_text(json.dumps(record, indent=1))
    publish(staging, work / piece.key)
    return record


class RenderError(ValueError):
    """A render that produced unusable audio (silent, non-finite, too short)."""


def _skip(piece: Piece, split: str, reason: str) -> dict:
    return {"piece_id": piece.piece_id, "split": split, "status": "skipped", "reason": reason, "examples": []}


def publish(staging: Path, final: Path) -> None:
    """Move a finished staging folder into place in one rename, so readers never see half a result."""
    if final.exists():  # another run finished the same piece first; its result is identical
        shutil.rmtree(staging)
    else:
        staging.rename(final)


def _render_examples(piece: Piece, split: str, config: DataConfig, folder: Path) -> dict:
    score = load_score(piece)
    arrangement = arrange(score, piece, config)
    total = int(round(arrangement.seconds * config.sample_rate))
    stems = [render_stem(stem, arrangement.soundfont, config.sample_rate, total) for stem in arrangement.stems]
    for stem, audio in zip(arrangement.stems, stems):
        if not np.isfinite(audio).all():
            raise RenderError(f"non-finite samples in the {stem.instrument.name} stem")
        # peak, not RMS: a part that plays three notes in ninety seconds is quiet, not broken
        if 20 * math.log10(float(np.max(np.abs(audio))) + 1e-20) < config.silence_dbfs:
            raise RenderError(f"silent render of program {stem.instrument.program} ({stem.instrument.name})")
    gain = _level(stems, arrangement.peak_dbfs)
    stems = [audio * gain for audio in stems]
    mix = np.sum(stems, axis=0)
    facts = _caption_facts(piece, score, arrangement)
    shared = _metadata(piece, split, score, arrangement, facts, gain, config)
    examples = []
    for index, (start, end) in enumerate(segment_bounds(total, config)):
        if rms_dbfs(mix[start:end]) < config.silence_dbfs:
            continue  # a long rest inside a piece; the segment teaches nothing
        key = f"{piece.key}-{index:02d}"
        sf.write(folder / f"{key}.mix.flac", mix[start:end], config.sample_rate, subtype=AUDIO_SUBTYPE)
        for part, audio in enumerate(stems):
            sf.write(folder / f"{key}.stem{part}.flac", audio[start:end], config.sample_rate, subtype=AUDIO_SUBTYPE)
        examples.append(shared | {"key": key, "segment": index, "start_seconds": start / config.sample_rate,
                                  "seconds": (end - start) / config.sample_rate})
    if not examples:
        raise RenderError("every segment silent")
    return {"piece_id": piece.piece_id, "split": split, "status": "ok", "examples": examples}


def _level(stems: list[np.ndarray], peak_dbfs: float) -> float:
    """Gain that puts the mix peak at peak_dbfs without any stem exceeding it either."""
    peak = max(float(np.max(np.abs(np.sum(stems, axis=0)))), *(float(np.max(np.abs(s))) for s in stems))
    return 10.0 ** (peak_dbfs / 20.0) / peak


def segment_bounds(total: int, config: DataConfig) -> list[tuple[int, int]]:
    """Equal consecutive cuts no longer than the maximum; a piece shorter than the minimum is refused."""
    if total < config.min_example_seconds * config.sample_rate:
        raise RenderError(f"too short ({total / config.sample_rate:.1f} s)")
    count = math.ceil(total / (config.max_example_seconds * config.sample_rate))
    bounds = [round(i * total / count) for i in range(count + 1)]
    return list(zip(bounds, bounds[1:]))


def _caption_facts(piece: Piece, score: Score, arrangement: Arrangement) -> CaptionFacts:
    return CaptionFacts(
        collection=piece.collection,
        kind=arrangement.kind,
        instruments=tuple(s.instrument.name for s in arrangement.stems),
        families=tuple(s.instrument.family for s in arrangement.stems),
        key=transposed_key(score.key_tonic, score.key_mode, arrangement.transpose),
        bpm=arrangement.bpm,
        note_spacing_seconds=arrangement.note_spacing_seconds,
    )


def _metadata(piece: Piece, split: str, score: Score, arrangement: Arrangement, facts: CaptionFacts,
              gain: float, config: DataConfig) -> dict:
    return {
        "piece_id": piece.piece_id,
        "rendition": piece.rendition,
        "collection": piece.collection,
        "title": score.title,
        "split": split,
        "sample_rate": config.sample_rate,
        "kind": arrangement.kind,
        "parts": [{"name": s.part_name, "program": s.instrument.program, "instrument": s.instrument.name,
                   "family": s.instrument.family, "notes": len(s.notes)} for s in arrangement.stems],
        "bpm": round(arrangement.bpm, 3),
        "felt_bpm": round(felt_bpm(arrangement.note_spacing_seconds), 1),
        "tempo_factor": round(arrangement.tempo_factor, 4),
        "key": facts.key,
        "original_key": f"{score.key_tonic} {score.key_mode}",
        "transpose": arrangement.transpose,
        "soundfont": Path(arrangement.soundfont).name,
        "peak_dbfs": round(arrangement.peak_dbfs, 3),
        "gain": gain,
        "captions": captions(facts, rng_for(config, piece, "caption")),
        "caption_facts": asdict(facts),
    }
