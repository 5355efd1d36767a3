"""A corpus piece reduced to what rendering needs: per-part note lists, a tempo and a key.

Notes are kept in quarter-note time; tempo scaling and humanisation happen later (arrange.py), so
one parse serves every arrangement. Ties are merged (a tied note is one long note, as a player
would play it) and repeats are not expanded (their markup is unreliable across the corpus).
"""

from dataclasses import dataclass

from .corpus import Piece


@dataclass(frozen=True)
class Note:
    onset: float  # quarter notes from the start of the piece
    duration: float  # quarter notes
    pitch: int  # MIDI note number
    velocity: int  # MIDI velocity, 1-127


@dataclass(frozen=True)
class Part:
    name: str
    notes: tuple[Note, ...]

    @property
    def is_monophonic(self) -> bool:
        return all(b.onset >= a.onset + a.duration - 1e-6 for a, b in zip(self.notes, self.notes[1:]))


@dataclass(frozen=True)
class Score:
    title: str
    parts: tuple[Part, ...]  # only parts that hold notes
    quarter_bpm: float  # the score's first tempo mark (music21's default 120 when there is none)
    key_tonic: str  # e.g. "F#"
    key_mode: str  # "major" or "minor"


class ScoreError(ValueError):
    """A piece that cannot be used; the message is the reason logged and counted in the summary."""


DEFAULT_VELOCITY = 80


def load_score(piece: Piece) -> Score:
    from music21 import converter

    try:
        parsed = converter.parse(piece.path, number=piece.tune_number) if piece.tune_number is not None \
            else converter.parse(piece.path)
    except Exception as error:  # music21 raises many exception types on malformed files
        raise ScoreError(f"unparsable score: {type(error).__name__}: {str(error)[:120]}") from error
    if not hasattr(parsed, "parts"):
        raise ScoreError(f"not a score: {type(parsed).__name__}")
    parts = [p for p in (_part_notes(i, part) for i, part in enumerate(parsed.parts or [parsed])) if p.notes]
    if not parts:
        raise ScoreError("no notes in any part")
    return Score(_title(parsed, piece), tuple(parts), _quarter_bpm(parsed), *_key(parsed))


def _part_notes(index: int, part) -> Part:
    notes: list[Note] = []
    for element in part.stripTies().flatten().notes:
        onset, duration = float(element.offset), float(element.quarterLength)
        if duration <= 0:  # grace notes carry no time of their own
            continue
        velocity = element.volume.velocity if element.volume.velocity is not None else DEFAULT_VELOCITY
        for pitch in getattr(element, "pitches", ()):
            notes.append(Note(onset, duration, int(round(pitch.ps)), int(velocity)))
    notes.sort(key=lambda n: (n.onset, n.pitch))
    return Part(str(part.partName or f"part {index + 1}"), tuple(notes))


def _quarter_bpm(parsed) -> float:
    boundaries = parsed.metronomeMarkBoundaries()
    bpm = boundaries[0][2].getQuarterBPM() if boundaries else None
    return float(bpm) if bpm and 20 <= bpm <= 400 else 120.0


def _key(parsed) -> tuple[str, str]:
    try:
        key = parsed.analyze("key")
        return key.tonic.name.replace("-", "b"), key.mode
    except Exception:  # analysis fails on pieces without pitch content it understands
        return "C", "major"


def _title(parsed, piece: Piece) -> str:
    title = parsed.metadata.title if parsed.metadata is not None else None
    return str(title) if title else piece.piece_id.split("/")[-1]
