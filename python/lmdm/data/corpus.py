"""The music21 corpus as a list of pieces, each with a stable id and a split.

A multi-tune ABC file (the Essen and O'Neill collections hold thousands of tunes in a few files) is
expanded into one piece per tune, so tunes, not files, are the unit of the train/valid/test split.
The split of a piece is a hash of (seed, piece id): it never depends on which other pieces exist,
so adding a collection or changing the hours never moves a piece between splits.
"""

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "valid", "test")
_ABC_TUNE = re.compile(r"^X:\s*(\d+)", re.MULTILINE)


FOCUS_RENDITIONS = 1000  # the focus stream's renditions are numbered from here: new keys, new arrangements


@dataclass(frozen=True)
class Piece:
    piece_id: str  # "<collection>/<file stem>" plus "#<tune number>" for a tune inside an ABC file
    collection: str
    path: Path
    tune_number: int | None = None  # ABC "X:" number; None for single-piece files
    rendition: int = 0  # which arrangement of the piece: builds larger than the corpus play pieces again

    @property
    def is_focus(self) -> bool:
        """A rendition of the focus stream (DataConfig.focus_programs), numbered apart from the others."""
        return self.rendition >= FOCUS_RENDITIONS

    @property
    def key(self) -> str:
        """A file-system and tar-safe name for this rendition of the piece."""
        name = re.sub(r"[^A-Za-z0-9_-]+", "_", self.piece_id)
        return name if self.rendition == 0 else f"{name}_r{self.rendition}"


def core_corpus_dir() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def list_pieces(collections: tuple[str, ...], root: Path | None = None) -> list[Piece]:
    """Every piece of the given corpus folders, in a stable (sorted) order."""
    root = root or core_corpus_dir()
    pieces: list[Piece] = []
    for collection in collections:
        folder = root / collection
        if not folder.is_dir():
            raise FileNotFoundError(f"music21 corpus has no collection {collection!r} (looked in {folder})")
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and _is_score(p)):
            pieces.extend(_pieces_in_file(collection, root, path))
    return _one_encoding_each(pieces)


_ENCODING_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc", ".mid", ".midi")


def _one_encoding_each(pieces: list[Piece]) -> list[Piece]:
    """A few works ship in two encodings (bwv277.krn and bwv277.mxl): keep one, else a work could land
    in two splits' worth of data twice. MusicXML first: it carries part names and dynamics."""
    chosen: dict[str, Piece] = {}
    for piece in pieces:
        held = chosen.get(piece.piece_id)
        rank = _ENCODING_PREFERENCE.index(piece.path.suffix.lower())
        if held is None or rank < _ENCODING_PREFERENCE.index(held.path.suffix.lower()):
            chosen[piece.piece_id] = piece
    return sorted(chosen.values(), key=lambda p: p.piece_id)


def _is_score(path: Path) -> bool:
    return path.suffix.lower() in {".abc", ".mxl", ".xml", ".musicxml", ".krn", ".mid", ".midi"} \
        and not path.name.startswith(".")


def _pieces_in_file(collection: str, root: Path, path: Path) -> list[Piece]:
    stem = path.relative_to(root / collection).with_suffix("").as_posix()
    if path.suffix.lower() != ".abc":
        return [Piece(f"{collection}/{stem}", collection, path)]
    numbers = sorted({int(n) for n in _ABC_TUNE.findall(path.read_text(encoding="latin-1"))})
    if len(numbers) <= 1:
        return [Piece(f"{collection}/{stem}", collection, path)]
    return [Piece(f"{collection}/{stem}#{n}", collection, path, n) for n in numbers]


def unit_hash(seed: int, text: str) -> float:
    """A uniform number in [0, 1) from (seed, text), stable across runs, machines and Python versions."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def split_of(piece_id: str, seed: int, fractions: tuple[float, float, float]) -> str:
    u = unit_hash(seed, "split:" + piece_id)
    if u < fractions[0]:
        return "train"
    return "valid" if u < fractions[0] + fractions[1] else "test"
