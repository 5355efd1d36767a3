"""Test signals shared by the Python test files."""

import numpy as np


def guitar_like(samples: int, rate: int = 22050, notes: int = 1, period: float = 0.5) -> np.ndarray:
    """Plucked notes at 196 Hz and up (a new one every `period` seconds, cycling through `notes` semitones),
    so that loudness, and with notes > 1 pitch, move as a guitar's do."""
    t = np.arange(samples) / rate
    pitch = 196.0 * 2 ** (np.floor(t / period) % notes / 12)
    return (0.4 * np.exp(-3.0 * (t % period)) * np.sin(2 * np.pi * np.cumsum(pitch) / rate)).astype(np.float32)


def envelope_db(audio: np.ndarray, hop: int) -> np.ndarray:
    """Loudness envelope: mean power in dB per `hop` samples (a 1-d signal)."""
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop).astype(np.float64)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
