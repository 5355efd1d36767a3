"""Renders assets/guitar_clip.flac: a 13-second nylon-guitar phrase (arpeggios, then a melody).

The clip is committed; this script documents how it was made and remakes it:
    apt-get install fluidsynth fluid-soundfont-gm && .venv/bin/python scripts/make_demo_clip.py
The notes are written here (an A minor - F - C - G progression), rendered by FluidSynth with the
FluidR3 General MIDI soundfont (MIT licence), program 24 (acoustic nylon guitar), 48 kHz mono.
"""

import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

OUTPUT = Path(__file__).resolve().parents[1] / "assets" / "guitar_clip.flac"
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
SAMPLE_RATE = 48000
TICKS_PER_BEAT = 480
TEMPO_US_PER_BEAT = 400_000  # 150 BPM: 8 bars in 12.8 s
NYLON_GUITAR = 24

# (start beat, duration in beats, MIDI note, velocity)
CHORDS = {"Am": [45, 52, 57, 60, 64], "F": [41, 48, 53, 57, 60], "C": [48, 52, 55, 60, 64], "G": [43, 50, 55, 59, 62]}
MELODY = [(0, 1, 69), (1, 0.5, 72), (1.5, 0.5, 71), (2, 1, 69), (3, 1, 64),
          (4, 1.5, 65), (5.5, 0.5, 67), (6, 2, 69), (8, 1, 67), (9, 1, 64), (10, 2, 62), (12, 3, 64)]


def notes() -> list[tuple[float, float, int, int]]:
    events = []
    for bar, name in enumerate(["Am", "F", "C", "G"]):  # bars 0-3: arpeggios in eighth notes
        pattern = CHORDS[name] + CHORDS[name][-2:0:-1]
        for step, pitch in enumerate(pattern[:8]):
            events.append((4 * bar + 0.5 * step, 1.5, pitch, 70 + 8 * (step == 0)))
    for start, length, pitch in MELODY:  # bars 4-7: a melody over sustained bass notes
        events.append((16 + start, length, pitch, 90))
    for bar, bass in enumerate([45, 41, 48, 45]):
        events.append((16 + 4 * bar, 3.5, bass, 75))
    return events


def variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.insert(0, (value & 0x7F) | 0x80)
    return bytes(out)


def midi_file(events: list[tuple[float, float, int, int]]) -> bytes:
    timeline = []
    for start, length, pitch, velocity in events:
        timeline.append((round(start * TICKS_PER_BEAT), 0x90, pitch, velocity))
        timeline.append((round((start + length) * TICKS_PER_BEAT), 0x80, pitch, 0))
    timeline.sort(key=lambda e: (e[0], e[1]))  # note-offs (0x80) before note-ons at the same tick
    track = bytes([0, 0xFF, 0x51, 3]) + TEMPO_US_PER_BEAT.to_bytes(3, "big") + bytes([0, 0xC0, NYLON_GUITAR])
    now = 0
    for tick, status, pitch, velocity in timeline:
        track += variable_length(tick - now) + bytes([status, pitch, velocity])
        now = tick
    track += bytes([0, 0xFF, 0x2F, 0])
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(track)) + track


def render(midi: bytes) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        midi_path, wav_path = Path(tmp) / "clip.mid", Path(tmp) / "clip.wav"
        midi_path.write_bytes(midi)
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav_path),
                        SOUNDFONT, str(midi_path)], check=True)
        audio, rate = sf.read(wav_path, dtype="float32")
    assert rate == SAMPLE_RATE
    return audio.mean(axis=1) if audio.ndim == 2 else audio


if __name__ == "__main__":
    audio = render(midi_file(notes()))[: 13 * SAMPLE_RATE]
    audio *= 0.5 / np.max(np.abs(audio))  # peak at -6 dBFS
    fade = np.linspace(1.0, 0.0, SAMPLE_RATE // 10)
    audio[-fade.size:] *= fade
    OUTPUT.parent.mkdir(exist_ok=True)
    sf.write(OUTPUT, audio, SAMPLE_RATE, subtype="PCM_16")
    print(f"wrote {OUTPUT} ({audio.size / SAMPLE_RATE:.1f} s)")
