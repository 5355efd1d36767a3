"""Configuration of a data-set build: one frozen dataclass, every default explained."""

from dataclasses import dataclass, field
from pathlib import Path

from .instruments import PALETTE


@dataclass(frozen=True)
class DataConfig:
    # 22.05 kHz mono: FluidSynth renders 150-380x real time here, the VAE and DiT sized for this CPU
    # run in real time on 2 cores at this rate, and a guitar's useful band ends below 11 kHz.
    sample_rate: int = 22050
    seed: int = 0  # every random choice derives from (seed, piece id): rebuilds are bit-identical
    train_hours: float = 10.0  # stop once the train split holds this much audio
    split_fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)  # train, valid, test, by piece
    solo_fraction: float = 0.5  # share of train hours from the single-melody collections (timbre/sketch tasks)
    # Extra train hours of single melodies played only by these General MIDI programs: more of the
    # instruments a model renders worst (the bowed strings had 5-7 minutes of solo lines in 10 h).
    focus_programs: tuple[int, ...] = ()
    focus_hours: float = 0.0
    max_renditions: int = 8  # a stream that runs out of pieces plays them again, newly arranged, up to this often
    max_piece_seconds: float = 90.0  # only a piece's opening is played: more pieces, more instrument draws
    max_example_seconds: float = 30.0  # longer pieces are cut into consecutive examples
    min_example_seconds: float = 4.0  # shorter leftovers are dropped
    tail_seconds: float = 1.0  # release/reverb tail rendered after the last note
    note_spacing_seconds: tuple[float, float] = (0.12, 0.6)  # median time between onsets is clamped to this
    tempo_scale: tuple[float, float] = (0.8, 1.25)  # random tempo factor range
    transpose_semitones: tuple[int, int] = (-5, 6)  # random transposition range (inclusive, exclusive)
    velocity_jitter: int = 12  # humanisation: +- MIDI velocity
    timing_jitter_seconds: float = 0.01  # humanisation: +- onset time
    peak_dbfs: tuple[float, float] = (-12.0, -1.0)  # random mix peak level range
    silence_dbfs: float = -60.0  # silent: a stem peaking below this, a mix segment with RMS below it
    soundfonts: tuple[str, ...] = (
        "/usr/share/sounds/sf2/FluidR3_GM.sf2",
        "/usr/share/sounds/sf2/TimGM6mb.sf2",
    )
    collections: tuple[str, ...] = (  # music21 corpus folders to draw pieces from
        "bach", "palestrina", "ryansMammoth", "oneills1850", "essenFolksong", "trecento",
        "monteverdi", "beethoven", "mozart", "haydn", "josquin", "airdsAirs",
    )
    solo_collections: tuple[str, ...] = (  # collections of single melodies: the pool solo examples come from
        "ryansMammoth", "oneills1850", "essenFolksong", "airdsAirs",
    )
    shard_megabytes: int = 256  # target size of one .tar shard
    workers: int = 0  # render processes; 0 = one per core
    output: Path = field(default_factory=lambda: Path("data/lmdm-v1"))

    def __post_init__(self):
        solo = {i.program for i in PALETTE if i.monophonic}
        if unknown := [p for p in self.focus_programs if p not in solo]:
            raise ValueError(f"focus programs {unknown} are not monophonic palette instruments "
                             f"(lmdm.data.instruments.PALETTE: {sorted(solo)})")
