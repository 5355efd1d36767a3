"""Natural-language captions from an example's metadata, in several templates.

Each example stores every template's sentence; training picks one at random, so the text encoder sees
varied wording for the same facts (instruments, texture, tempo, style, key) and cannot latch onto one
phrasing. Facts come from the arrangement, so a caption is never wrong about what is heard.
"""

import random
from dataclasses import dataclass

GENRES: dict[str, tuple[str, ...]] = {  # corpus folder -> how a musician would name the style
    "bach": ("Bach chorale", "baroque chorale", "four-part chorale"),
    "palestrina": ("Renaissance mass movement", "sacred Renaissance polyphony", "Palestrina motet"),
    "ryansMammoth": ("Irish fiddle tune", "Celtic dance tune", "folk reel"),
    "oneills1850": ("Irish folk tune", "Celtic melody", "Irish dance tune"),
    "airdsAirs": ("Scottish air", "Scottish folk tune", "Celtic air"),
    "essenFolksong": ("German folk song", "European folk melody", "folk song"),
    "trecento": ("medieval ballata", "fourteenth-century song", "trecento piece"),
    "monteverdi": ("Italian madrigal", "Monteverdi madrigal", "late Renaissance madrigal"),
    "josquin": ("Josquin motet", "Renaissance polyphony", "Franco-Flemish motet"),
    "beethoven": ("Beethoven string quartet", "classical chamber piece", "classical quartet movement"),
    "mozart": ("Mozart chamber piece", "classical chamber music", "Viennese classical piece"),
    "haydn": ("Haydn string quartet", "classical chamber music", "classical quartet movement"),
}
GROUP_NAMES = {2: "duo", 3: "trio", 4: "quartet", 5: "quintet", 6: "sextet", 7: "septet", 8: "octet"}


@dataclass(frozen=True)
class CaptionFacts:
    collection: str
    kind: str  # solo, chordal or ensemble
    instruments: tuple[str, ...]  # one per stem
    families: tuple[str, ...]  # one per stem
    key: str  # e.g. "D minor"
    bpm: float  # quarter notes per minute as played
    note_spacing_seconds: float  # median time between onsets, what "slow" or "fast" means to a listener


def tempo_word(note_spacing_seconds: float) -> str:
    if note_spacing_seconds > 0.45:
        return "slow"
    if note_spacing_seconds > 0.3:
        return "moderate"
    return "lively" if note_spacing_seconds > 0.18 else "fast"


def felt_bpm(note_spacing_seconds: float) -> float:
    """The beat a listener would tap: the most common note rate, halved or doubled into 60-180 bpm.

    The notated quarter-note tempo says little here (a folk tune in half notes at 497 quarter bpm).
    """
    bpm = 60.0 / note_spacing_seconds
    while bpm >= 180.0:
        bpm /= 2.0
    while bpm < 60.0:
        bpm *= 2.0
    return bpm


def captions(facts: CaptionFacts, rng: random.Random) -> list[str]:
    """Every template's caption for these facts (genre wording drawn from rng)."""
    genre = rng.choice(GENRES.get(facts.collection, ("piece",)))
    tempo = tempo_word(facts.note_spacing_seconds)
    players = _players(facts)
    bpm = int(round(felt_bpm(facts.note_spacing_seconds)))
    return [
        f"{_who(facts)}, {tempo} {genre} in {facts.key}",
        f"{genre} played by {players}, {tempo}, {facts.key}",
        f"{tempo} {genre} for {players} at {bpm} bpm",
        f"{players} performing a {genre} in {facts.key}",
        f"{_texture(facts)}, {tempo} tempo, {facts.key}",
    ]


def _who(facts: CaptionFacts) -> str:
    if facts.kind == "solo":
        return f"solo {facts.instruments[0]}"
    if facts.kind == "chordal":
        return f"{facts.instruments[0]} chords"
    return f"{_players(facts)} {GROUP_NAMES.get(len(facts.instruments), 'ensemble')}"


def _players(facts: CaptionFacts) -> str:
    names = list(dict.fromkeys(facts.instruments))  # unique, in part order
    if len(names) == 1:
        if facts.kind == "ensemble":
            return f"{names[0]}s"
        return f"{'an' if names[0][0] in 'aeiou' else 'a'} {names[0]}"
    return _listed(names)


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _texture(facts: CaptionFacts) -> str:
    families = list(dict.fromkeys(facts.families))
    if facts.kind == "solo":
        return f"monophonic {facts.families[0]} line"
    if facts.kind == "chordal":
        return f"chordal {facts.families[0]} part"
    group = GROUP_NAMES.get(len(facts.instruments), "ensemble")
    return f"{_listed(families)} {group}"


def transposed_key(tonic: str, mode: str, semitones: int) -> str:
    """The key name after transposition, spelled the way music21 spells it (e.g. "E-" -> "Eb")."""
    from music21 import key

    moved = key.Key(tonic.replace("b", "-") if len(tonic) > 1 else tonic, mode).transpose(semitones)
    return f"{moved.tonic.name.replace('-', 'b')} {moved.mode}"
