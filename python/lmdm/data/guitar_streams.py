"""Long held-out guitar streams for benchmarks: test-split phrases at spread levels, rests between them.

A stream is a plan (which piece, guitar, soundfont, level and time each phrase gets, and where the
rests fall) and its render. Plans come from test-split pieces only, so no model has trained on the
music; chordal streams fold every part of a multi-part piece onto one guitar (clips.merged_onto).
Phrases cycle through guitar programs and soundfonts, so one stream holds several timbres, and
their RMS levels are spread evenly over a range and shuffled, so level changes are not a trend.
Every choice comes from the seed: a plan is the same on every machine. Rendering is FluidSynth at
the plugin's rate (48 kHz), straight from the notes, so a transposed copy of a stream is the same
performance with other pitches, not a resampled one.
"""

import random
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .arrange import PlayedNote, Stem, arrange
from .build import piece_streams
from .clips import merged_onto
from .config import DataConfig
from .corpus import split_of
from .instruments import Instrument, by_program, octave_shift_into_range
from .render import render_stem
from .score import ScoreError, load_score

MUSESCORE_GENERAL = "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3"  # Debian musescore-general-soundfont-small
TAIL_SECONDS = 1.0  # release after a phrase's last note, before its rest begins
FADE_SECONDS = 0.05  # fade-out at the end of a phrase's tail, so the rest starts in true silence
MIN_PHRASE_SECONDS = 4.0  # a stream's last phrase is shortened to fit its length, but not below this


@dataclass(frozen=True)
class StreamConfig:
    seconds: float = 120.0  # each stream lasts at least this long (the last rest included)
    sample_rate: int = 48000  # the plugin's rate: the host is fed what a sound card would give it
    phrase_seconds: tuple[float, float] = (8.0, 14.0)  # a phrase's notes, drawn per phrase (its release follows)
    rest_seconds: tuple[float, float] = (3.0, 5.0)  # silence between phrases: long enough to hear a model stop
    level_dbfs: tuple[float, float] = (-40.0, -6.0)  # phrase RMS levels, spread evenly over this range
    # Clean guitars (nylon, steel, jazz, clean electric): the plugin is fed a DI guitar, before any amp.
    programs: tuple[int, ...] = (24, 25, 26, 27)
    # The two the training data uses, and one it never does.
    soundfonts: tuple[str, ...] = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                                   MUSESCORE_GENERAL)
    seed: int = 0  # phrase and rest lengths and the order of levels (pieces come in the data set's order)
    data: DataConfig = field(default_factory=DataConfig)  # splits, tempo rules, humanisation of the data set


@dataclass(frozen=True)
class Phrase:
    piece_id: str
    instrument: Instrument
    soundfont: str
    start: float  # seconds into the stream
    seconds: float  # audio length: notes, then TAIL_SECONDS of release
    level_dbfs: float  # RMS over the phrase's audio
    notes: tuple[PlayedNote, ...]  # times relative to the phrase's start


@dataclass(frozen=True)
class GuitarStream:
    name: str
    kind: str  # "monophonic" or "chordal"
    phrases: tuple[Phrase, ...]
    rests: tuple[tuple[float, float], ...]  # (start, end) seconds where the input is silent
    seconds: float

    def describe(self) -> dict:
        """The plan as JSON-ready data (notes left out: they are the pieces')."""
        phrases = [{k: v for k, v in asdict(p).items() if k not in ("notes", "instrument")}
                   | {"instrument": p.instrument.name, "program": p.instrument.program, "notes": len(p.notes)}
                   for p in self.phrases]
        return {"name": self.name, "kind": self.kind, "seconds": self.seconds, "phrases": phrases,
                "rests": [list(r) for r in self.rests]}


def plan_stream(kind: str, config: StreamConfig) -> GuitarStream:
    """A stream of test-split phrases: monophonic melodies, or chordal reductions of multi-part pieces."""
    rng = random.Random(f"{config.seed}:guitar-stream:{kind}")
    data = replace(config.data, transpose_semitones=(0, 1))  # the score's key: transposed copies are made explicitly
    pool = piece_streams(data)["solo" if kind == "monophonic" else "ensemble"]
    pieces = (p for p in pool if split_of(p.piece_id, data.seed, data.split_fractions) == "test")
    drafts, rests, position = [], [], 0.0
    while position < config.seconds:
        guitar = by_program(config.programs[len(drafts) % len(config.programs)])
        wanted = rng.uniform(*config.phrase_seconds)
        room = config.seconds - position - TAIL_SECONDS - config.rest_seconds[0]
        length = min(wanted, max(room, MIN_PHRASE_SECONDS))
        notes = _phrase_notes(pieces, kind, guitar, data, length)
        if notes is None:
            raise ValueError(f"the test split ran out of {kind} pieces of {length:.0f} s")
        piece_id, notes = notes
        seconds = length + TAIL_SECONDS
        drafts.append((piece_id, guitar, config.soundfonts[len(drafts) % len(config.soundfonts)], position,
                       seconds, notes))
        rest = rng.uniform(*config.rest_seconds)
        rests.append((position + seconds, position + seconds + rest))
        position += seconds + rest
    levels = list(np.linspace(*config.level_dbfs, len(drafts)))
    rng.shuffle(levels)
    phrases = tuple(Phrase(piece_id, guitar, font, start, seconds, float(level), notes)
                    for (piece_id, guitar, font, start, seconds, notes), level in zip(drafts, levels))
    return GuitarStream(kind, kind, phrases, tuple(rests), position)


def transposed(stream: GuitarStream, semitones: int) -> GuitarStream:
    """The same performance with every note moved by `semitones` (before rendering, not resampled)."""
    phrases = tuple(replace(p, notes=tuple(replace(n, pitch=n.pitch + semitones) for n in p.notes))
                    for p in stream.phrases)
    return replace(stream, name=f"{stream.name}{semitones:+d}", phrases=phrases)


def played_by(stream: GuitarStream, instrument: Instrument, soundfonts: tuple[str, ...]) -> GuitarStream:
    """The stream's phrases played by another instrument (each phrase moved by octaves into its range),
    with soundfonts cycling over phrases: a real performance of the same melodies, for reference."""
    phrases = []
    for index, phrase in enumerate(stream.phrases):
        pitches = [n.pitch for n in phrase.notes]
        shift = octave_shift_into_range(min(pitches), max(pitches), instrument) or 0
        notes = tuple(replace(n, pitch=n.pitch + shift) for n in phrase.notes)
        phrases.append(replace(phrase, instrument=instrument, soundfont=soundfonts[index % len(soundfonts)],
                               notes=notes))
    return replace(stream, name=f"{stream.name}@{instrument.name}", phrases=tuple(phrases))


def render_stream(stream: GuitarStream, sample_rate: int) -> np.ndarray:
    """Mono float32 audio of the whole stream: each phrase at its level, digital silence in the rests."""
    audio = np.zeros(int(round(stream.seconds * sample_rate)), dtype=np.float32)
    fade = np.linspace(1.0, 0.0, int(FADE_SECONDS * sample_rate), dtype=np.float32)
    for phrase in stream.phrases:
        total = int(round(phrase.seconds * sample_rate))
        stem = Stem("phrase", phrase.instrument, phrase.notes)
        sound = render_stem(stem, phrase.soundfont, sample_rate, total)
        sound[-len(fade):] *= fade
        rms = float(np.sqrt(np.mean(np.square(sound, dtype=np.float64))))
        sound *= 10 ** (phrase.level_dbfs / 20) / max(rms, 1e-12)
        start = int(round(phrase.start * sample_rate))
        audio[start:start + total] = sound
    return audio


def _phrase_notes(pieces, kind: str, guitar: Instrument, data: DataConfig,
                  length: float) -> tuple[str, tuple[PlayedNote, ...]] | None:
    """The next usable piece's opening `length` seconds on this guitar, or None when none is left."""
    for piece in pieces:
        try:
            score = load_score(piece)
            if kind == "chordal":
                if len(score.parts) < 3:
                    continue
                score = merged_onto(score, guitar)
            elif len(score.parts) != 1 or not score.parts[0].is_monophonic:
                continue
            arrangement = arrange(score, piece, data, palette=(guitar,))
        except ScoreError:
            continue
        if arrangement.seconds - data.tail_seconds < length:
            continue
        notes = tuple(replace(n, end=min(n.end, length)) for n in arrangement.stems[0].notes if n.start < length)
        return piece.piece_id, notes
    return None

