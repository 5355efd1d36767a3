"""The curated General MIDI palette instruments are drawn from, with playable ranges.

Families follow the issue's list (strings, woodwinds, brass, keys, guitars, plucked, synth
leads/pads, voices). Ranges are MIDI notes an instrument plays well in FluidR3/TimGM6mb; a part is
shifted by octaves into its instrument's range so no note falls outside the samples.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Instrument:
    program: int  # General MIDI program, 0-based
    name: str
    family: str
    low: int  # lowest comfortable MIDI note
    high: int  # highest comfortable MIDI note
    monophonic: bool = True  # plays one line (False: keys, guitars, pads can take chords)


PALETTE: tuple[Instrument, ...] = (
    Instrument(40, "violin", "strings", 55, 100),
    Instrument(41, "viola", "strings", 48, 88),
    Instrument(42, "cello", "strings", 36, 76),
    Instrument(43, "contrabass", "strings", 28, 60),
    Instrument(48, "string ensemble", "strings", 36, 96, False),
    Instrument(45, "pizzicato strings", "strings", 36, 96, False),
    Instrument(73, "flute", "woodwinds", 60, 96),
    Instrument(68, "oboe", "woodwinds", 58, 91),
    Instrument(71, "clarinet", "woodwinds", 50, 91),
    Instrument(70, "bassoon", "woodwinds", 34, 72),
    Instrument(74, "recorder", "woodwinds", 60, 96),
    Instrument(65, "alto saxophone", "woodwinds", 49, 81),
    Instrument(66, "tenor saxophone", "woodwinds", 44, 76),
    Instrument(56, "trumpet", "brass", 54, 84),
    Instrument(57, "trombone", "brass", 40, 72),
    Instrument(60, "french horn", "brass", 41, 77),
    Instrument(58, "tuba", "brass", 28, 58),
    Instrument(0, "acoustic grand piano", "keys", 21, 108, False),
    Instrument(4, "electric piano", "keys", 28, 103, False),
    Instrument(6, "harpsichord", "keys", 29, 89, False),
    Instrument(19, "church organ", "keys", 24, 96, False),
    Instrument(11, "vibraphone", "keys", 53, 89, False),
    Instrument(12, "marimba", "keys", 45, 96, False),
    Instrument(24, "nylon guitar", "guitars", 40, 84, False),
    Instrument(25, "steel guitar", "guitars", 40, 84, False),
    Instrument(26, "jazz guitar", "guitars", 40, 84, False),
    Instrument(27, "clean electric guitar", "guitars", 40, 86, False),
    Instrument(29, "overdriven guitar", "guitars", 40, 86, False),
    Instrument(30, "distortion guitar", "guitars", 40, 86, False),
    Instrument(46, "harp", "plucked", 24, 103, False),
    Instrument(105, "banjo", "plucked", 48, 84, False),
    Instrument(107, "koto", "plucked", 48, 91, False),
    Instrument(80, "square lead", "synth leads", 36, 96),
    Instrument(81, "sawtooth lead", "synth leads", 36, 96),
    Instrument(89, "warm pad", "synth pads", 36, 96, False),
    Instrument(90, "polysynth pad", "synth pads", 36, 96, False),
    Instrument(52, "choir", "voices", 40, 84, False),
    Instrument(53, "voice oohs", "voices", 43, 81),
)

GUITARS: tuple[Instrument, ...] = tuple(i for i in PALETTE if i.family == "guitars")


def by_program(program: int) -> Instrument:
    return next(i for i in PALETTE if i.program == program)


def octave_shift_into_range(low: int, high: int, instrument: Instrument) -> int | None:
    """Semitones (a multiple of 12) that move notes [low, high] into the instrument's range, or None."""
    for octaves in (0, -1, 1, -2, 2, -3, 3):
        shift = 12 * octaves
        if instrument.low <= low + shift and high + shift <= instrument.high:
            return shift
    return None
