"""Render stems with FluidSynth in-process: one fresh synth per stem, float output, mix = sum of stems.

A fresh synth per stem is what makes renders repeatable and lets stems add up to the mix exactly
(a reused synth carries voices and effect tails over from the stem before). Reverb and chorus are off: they would make
stems depend on render history, and the plugin's input (a DI guitar) is dry too. Notes are fed
straight to the synth between sample-exact render calls, so no MIDI file is written.
"""

import ctypes
import functools

import numpy as np

from .arrange import PlayedNote, Stem

SYNTH_GAIN = 0.2  # FluidSynth's default; the mix is normalised to the arrangement's peak level afterwards
_MAX_CHUNK = 1 << 16  # render long silent stretches in chunks so buffers stay small


def render_stem(stem: Stem, soundfont: str, sample_rate: int, total_samples: int) -> np.ndarray:
    """One stem as mono float32 of exactly total_samples samples."""
    import fluidsynth

    synth = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate), **{
        "synth.reverb.active": 0, "synth.chorus.active": 0, "synth.cpu-cores": 1})
    try:
        font = synth.sfload(soundfont)
        if font < 0:
            raise RuntimeError(f"FluidSynth could not load soundfont {soundfont}")
        synth.program_select(0, font, 0, stem.instrument.program)
        return _play(synth, _events(stem.notes, sample_rate), total_samples)
    finally:
        synth.delete()


def _events(notes: tuple[PlayedNote, ...], sample_rate: int) -> list[tuple[int, int, int, int]]:
    """(sample, order, pitch, velocity) sorted so that note-offs precede note-ons at the same sample."""
    events = []
    for note in notes:
        events.append((round(note.start * sample_rate), 1, note.pitch, note.velocity))
        events.append((round(note.end * sample_rate), 0, note.pitch, 0))
    events.sort()
    return events


def _play(synth, events, total_samples: int) -> np.ndarray:
    out = np.zeros(total_samples, dtype=np.float32)
    position = 0
    for sample, is_on, pitch, velocity in events:
        if sample >= total_samples:  # notes past a clip's end: queueing them would only fill FluidSynth's event ring
            break
        position = _write(synth, out, position, sample)
        if is_on:
            synth.noteon(0, pitch, velocity)
        else:
            synth.noteoff(0, pitch)
    _write(synth, out, position, total_samples)
    return out


@functools.cache
def _write_float_function():
    """fluid_synth_write_float with a real prototype (pyfluidsynth only wraps the int16 variant)."""
    import fluidsynth

    prototype = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int,
                                 ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
    return prototype(("fluid_synth_write_float", fluidsynth._fl))


def _write(synth, out: np.ndarray, start: int, end: int) -> int:
    """Render samples [start, end) into out (left and right averaged: some GM presets are panned)."""
    write_float = _write_float_function()
    while start < end:
        count = min(end - start, _MAX_CHUNK)
        left = np.zeros(count, dtype=np.float32)
        right = np.zeros(count, dtype=np.float32)
        write_float(
            synth.synth, count,
            left.ctypes.data_as(ctypes.c_void_p), 0, 1,
            right.ctypes.data_as(ctypes.c_void_p), 0, 1)
        out[start:start + count] = 0.5 * (left + right)
        start += count
    return start
