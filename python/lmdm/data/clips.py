"""Guitar clips for the demo and the tests: monophonic and chordal guitar lines from test-split pieces.

Test-split pieces only, so no model has trained on the music it is demonstrated with. Chordal clips
play every part of a multi-part piece on one guitar (notes folded by octaves into the guitar's
range), the way a guitarist would reduce a chorale. Each clip ships its notes so later tests can
score pitch and onset following.
"""

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from .arrange import arrange
from .build import piece_streams
from .config import DataConfig
from .corpus import split_of
from .examples import AUDIO_SUBTYPE, rms_dbfs
from .instruments import GUITARS, Instrument
from .render import render_stem
from .score import Note, Part, Score, ScoreError, load_score

FADE_SECONDS = 0.05  # fade-out where a clip is cut mid-note, so it ends without a click


def make_clips(config: DataConfig, output: Path, monophonic: int = 3, chordal: int = 2,
               seconds: tuple[float, float] = (10.0, 25.0)) -> list[dict]:
    """Render the clips into output (FLAC + clips.json); returns their metadata."""
    output.mkdir(parents=True, exist_ok=True)
    config = replace(config, transpose_semitones=(0, 1))  # keep the score's key: clips are references
    wanted = {"solo": monophonic, "chordal": chordal}
    clips: list[dict] = []
    streams = piece_streams(config)
    candidates = [("solo", p) for p in streams["solo"]] + [("chordal", p) for p in streams["ensemble"]]
    for kind, piece in candidates:
        if wanted[kind] == 0 or split_of(piece.piece_id, config.seed, config.split_fractions) != "test":
            continue
        guitar = GUITARS[len(clips) % len(GUITARS)]
        clip = _render_clip(piece, kind, guitar, config, output, seconds)
        if clip is not None:
            clips.append(clip)
            wanted[kind] -= 1
        if not any(wanted.values()):
            break
    (output / "clips.json").write_text(json.dumps(clips, indent=1))
    return clips


def _render_clip(piece, kind: str, guitar: Instrument, config: DataConfig, output: Path,
                 seconds: tuple[float, float]) -> dict | None:
    try:
        score = load_score(piece)
    except ScoreError:
        return None
    if kind == "chordal":
        if len(score.parts) < 3:
            return None
        score = merged_onto(score, guitar)
    elif not score.parts[0].is_monophonic:
        return None
    arrangement = arrange(score, piece, config, palette=(guitar,))
    length = min(arrangement.seconds, seconds[1])
    if length < seconds[0]:
        return None
    total = int(round(length * config.sample_rate))
    audio = render_stem(arrangement.stems[0], arrangement.soundfont, config.sample_rate, total)
    audio *= 10 ** (arrangement.peak_dbfs / 20) / max(float(np.max(np.abs(audio))), 1e-9)
    fade = int(FADE_SECONDS * config.sample_rate)
    audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    if rms_dbfs(audio) < config.silence_dbfs:
        return None
    name = f"{kind}-{guitar.name.replace(' ', '_')}-{piece.key}"
    sf.write(output / f"{name}.flac", audio, config.sample_rate, subtype=AUDIO_SUBTYPE)
    notes = [[round(n.start, 4), round(min(n.end, length), 4), n.pitch]
             for n in arrangement.stems[0].notes if n.start < length]
    return {"file": f"{name}.flac", "piece_id": piece.piece_id, "kind": kind, "program": guitar.program,
            "instrument": guitar.name, "soundfont": Path(arrangement.soundfont).name,
            "sample_rate": config.sample_rate, "seconds": total / config.sample_rate,
            "bpm": round(arrangement.bpm, 2), "notes": notes}


def merged_onto(score: Score, guitar: Instrument) -> Score:
    """All parts as one, each note folded by octaves into the guitar's range."""
    def fold(pitch: int) -> int:
        octaves = math.ceil(max(0, guitar.low - pitch) / 12) - math.ceil(max(0, pitch - guitar.high) / 12)
        return pitch + 12 * octaves

    notes = sorted((Note(n.onset, n.duration, fold(n.pitch), n.velocity) for p in score.parts for n in p.notes),
                   key=lambda n: (n.onset, n.pitch))
    return replace(score, parts=(Part("all parts", tuple(notes)),))
