"""Turn a parsed score into a concrete performance: instruments, tempo, key, humanised note times.

Every random choice comes from a generator seeded by (seed, piece id), so an arrangement is the
same on every machine and in every process, whatever order pieces are rendered in.
"""

import random
import statistics
from dataclasses import dataclass, replace

from .config import DataConfig
from .corpus import Piece, unit_hash
from .instruments import PALETTE, Instrument, by_program, octave_shift_into_range
from .score import Part, Score, ScoreError

MAX_PARTS = 8  # a few Palestrina pieces have more voices; more stems add render time, not variety


@dataclass(frozen=True)
class PlayedNote:
    start: float  # seconds
    end: float  # seconds
    pitch: int  # MIDI note after transposition and octave shift
    velocity: int


@dataclass(frozen=True)
class Stem:
    part_name: str
    instrument: Instrument
    notes: tuple[PlayedNote, ...]


@dataclass(frozen=True)
class Arrangement:
    kind: str  # "solo" (one monophonic line), "chordal" (one part with chords) or "ensemble" (several parts)
    stems: tuple[Stem, ...]
    tempo_factor: float
    bpm: float  # quarter-note tempo after scaling
    transpose: int  # semitones applied to the whole piece (before per-part octave shifts)
    soundfont: str
    peak_dbfs: float
    seconds: float  # render length: last note end plus the release tail
    note_spacing_seconds: float  # median time between onsets as written (before humanisation)


def rng_for(config: DataConfig, piece: Piece, purpose: str) -> random.Random:
    rendition = f":{piece.rendition}" if piece.rendition else ""  # rendition 0 keeps the plain name
    return random.Random(int(unit_hash(config.seed, f"{purpose}:{piece.piece_id}{rendition}") * 2**53))


def arrange(score: Score, piece: Piece, config: DataConfig,
            palette: tuple[Instrument, ...] | None = None) -> Arrangement:
    """A random performance of the score; instruments are drawn from palette (default: performers_of)."""
    palette = palette or performers_of(piece, config)
    rng = rng_for(config, piece, "arrange")
    tempo_factor = rng.uniform(*config.tempo_scale)
    transpose = rng.randrange(*config.transpose_semitones)
    bpm = _playable_bpm(score, config) * tempo_factor
    spacing = _median_spacing_quarters(score)
    parts = _opening(score, config.max_piece_seconds * bpm / 60.0)[:MAX_PARTS]
    used: set[int] = set()
    stems = []
    for part in parts:
        instrument, shift = _pick_instrument(part.notes, transpose, rng, used, palette)
        used.add(instrument.program)
        stems.append(Stem(part.name, instrument, _perform(part.notes, transpose + shift, 60.0 / bpm, config, rng)))
    seconds = max(n.end for s in stems for n in s.notes) + config.tail_seconds
    return Arrangement(
        kind=_kind(parts),
        stems=tuple(stems),
        tempo_factor=tempo_factor,
        bpm=bpm,
        transpose=transpose,
        soundfont=rng.choice(config.soundfonts),
        peak_dbfs=rng.uniform(*config.peak_dbfs),
        seconds=seconds,
        note_spacing_seconds=(spacing or 1.0) * 60.0 / bpm,
    )


def performers_of(piece: Piece, config: DataConfig) -> tuple[Instrument, ...]:
    """The instruments a rendition may draw: the focus stream's only the focus programs, the rest the palette.
    Derived from the piece alone, so whoever arranges it again (lmdm.latents.guitar_controls) gets the same notes."""
    return tuple(by_program(p) for p in config.focus_programs) if piece.is_focus else PALETTE


def _playable_bpm(score: Score, config: DataConfig) -> float:
    """The score's tempo, changed only as far as needed to bring its median note spacing into range.

    Notated tempi are unreliable here: Essen tunes are notated in half notes under music21's
    default 120 bpm, which would play them at a funeral pace.
    """
    median_quarters = _median_spacing_quarters(score)
    if median_quarters is None:
        return score.quarter_bpm
    seconds = median_quarters * 60.0 / score.quarter_bpm
    low, high = config.note_spacing_seconds
    return median_quarters * 60.0 / min(max(seconds, low), high)


def _opening(score: Score, quarters: float) -> tuple[Part, ...]:
    """The parts cut to notes starting within the first `quarters` (parts silent there are dropped)."""
    cut = (Part(p.name, tuple(replace(n, duration=min(n.duration, quarters - n.onset)) for n in p.notes
                              if n.onset < quarters)) for p in score.parts)
    return tuple(p for p in cut if p.notes)


def _median_spacing_quarters(score: Score) -> float | None:
    onsets = sorted({n.onset for part in score.parts for n in part.notes})
    spacings = [b - a for a, b in zip(onsets, onsets[1:])]
    return statistics.median(spacings) if spacings else None


def _kind(parts) -> str:
    if len(parts) > 1:
        return "ensemble"
    return "solo" if parts[0].is_monophonic else "chordal"


def _pick_instrument(notes, transpose: int, rng: random.Random, used: set[int], palette: tuple[Instrument, ...]):
    """A random palette instrument whose range holds the part (after an octave shift), new ones first."""
    low, high = min(n.pitch for n in notes) + transpose, max(n.pitch for n in notes) + transpose
    fitting = [(i, s) for i in palette if (s := octave_shift_into_range(low, high, i)) is not None]
    if not fitting:
        raise ScoreError(f"part range {low}-{high} fits no instrument")
    fresh = [(i, s) for i, s in fitting if i.program not in used] or fitting
    return rng.choice(fresh)


def _perform(notes, shift: int, seconds_per_quarter: float, config: DataConfig,
             rng: random.Random) -> tuple[PlayedNote, ...]:
    """Notes in seconds with humanised onsets and velocities; a note never ends before it starts."""
    played = []
    for note in notes:
        start = max(0.0, note.onset * seconds_per_quarter + rng.uniform(-1, 1) * config.timing_jitter_seconds)
        end = max(start + 0.02, (note.onset + note.duration) * seconds_per_quarter)
        velocity = min(127, max(1, note.velocity + rng.randint(-config.velocity_jitter, config.velocity_jitter)))
        played.append(PlayedNote(start, end, note.pitch + shift, velocity))
    return tuple(played)
