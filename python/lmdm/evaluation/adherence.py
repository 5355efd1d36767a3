"""Adherence of a generated performance to the guitar that drove it, measured from outside the model.

Every measurement uses plain tools that share nothing with the model's own feature code
(lmdm.conditioning.controls, swift-f0), so a model cannot score by reproducing its features' quirks: librosa's
pYIN for pitch, frame RMS for loudness, the spectral centroid for brightness, spectral flatness of
1-8 kHz for noisiness, all at 22.05 kHz with a 512-sample hop (one frame per model latent). Signals
are analysed once (`analyse`, the costly part is pYIN) and every score is then a cheap function of
two analyses over a frame mask, so a stream, its 10-second windows and its first seconds are scored
from the same analyses. Used by bench/adherence_bench.py and scripts/demo.py.
"""

from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soxr
import torch

from .classifier import INSTRUMENTS, InstrumentClassifier

ANALYSIS_RATE = 22050  # the model's rate: above it a generated signal holds nothing to compare
HOP = 512  # 43 frames/s, one frame per latent
FRAME = 2048  # 93 ms: pYIN needs two periods of its lowest pitch (40 Hz: 50 ms)
PITCH_RANGE_HZ = (40.0, 2000.0)  # a cello an octave below the guitar's low E, up to a flute's or violin's top
# pYIN's HMM keeps even white noise "voiced" (at probability 0.01); on guitar renders with known notes
# its frames below 0.05 held the right pitch class a third of the time, those above 0.2 all of it.
VOICED_PROBABILITY = 0.1
ACTIVE_DBFS = -60.0  # a dry frame louder than this is playing (the data set calls a stem silent below it)
CENTS_TOLERANCE = 50.0  # within a quarter tone of the asked pitch counts as right
FLATNESS_BAND_HZ = (1000.0, 8000.0)  # where hiss and broadband noise show, above most harmonics' energy
MIN_SCORED_FRAMES = 43  # a second of frames: fewer give no stable correlation or accuracy


@dataclass(frozen=True)
class Analysis:
    """Per-frame measurements of one signal; frame i is centred at i * HOP samples at ANALYSIS_RATE."""

    rms_db: np.ndarray  # (F,) frame RMS, dBFS
    centroid_hz: np.ndarray  # (F,) spectral centroid
    flatness: np.ndarray  # (F,) spectral flatness of FLATNESS_BAND_HZ, 0 (tonal) to 1 (white noise); scored in dB
    f0_hz: np.ndarray  # (F,) pYIN fundamental, NaN where unvoiced (or not confidently voiced) or not analysed

    @property
    def frames(self) -> int:
        return len(self.rms_db)

    @property
    def voiced(self) -> np.ndarray:
        return ~np.isnan(self.f0_hz)

    def save(self, path: Path) -> None:
        np.savez(path, rms_db=self.rms_db, centroid_hz=self.centroid_hz, flatness=self.flatness, f0_hz=self.f0_hz)

    @classmethod
    def load(cls, path: Path) -> "Analysis":
        with np.load(path) as data:
            return cls(data["rms_db"], data["centroid_hz"], data["flatness"], data["f0_hz"])


def to_analysis_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    return audio if rate == ANALYSIS_RATE else soxr.resample(audio, rate, ANALYSIS_RATE).astype(np.float32)


def analyse(audio: np.ndarray, rate: int, pitch_spans: list[tuple[float, float]] | None = None) -> Analysis:
    """Measure a mono signal. pYIN runs only over pitch_spans (seconds; default: all of it): it costs
    about a third of real time, and input rests need no pitch."""
    y = to_analysis_rate(audio, rate)
    power = np.abs(librosa.stft(y, n_fft=FRAME, hop_length=HOP)) ** 2  # (bins, F)
    rms_db = 20 * np.log10(librosa.feature.rms(y=y, frame_length=FRAME, hop_length=HOP)[0] + 1e-10)
    centroid = librosa.feature.spectral_centroid(S=np.sqrt(power), sr=ANALYSIS_RATE, n_fft=FRAME)[0]
    bins = librosa.fft_frequencies(sr=ANALYSIS_RATE, n_fft=FRAME)
    band = power[(bins >= FLATNESS_BAND_HZ[0]) & (bins <= FLATNESS_BAND_HZ[1])] + 1e-12
    flatness = np.exp(np.mean(np.log(band), axis=0)) / np.mean(band, axis=0)
    f0 = np.full(len(rms_db), np.nan)
    for start, end in pitch_spans or [(0.0, len(y) / ANALYSIS_RATE)]:
        first, last = int(start * ANALYSIS_RATE) // HOP, min(len(rms_db), int(np.ceil(end * ANALYSIS_RATE / HOP)))
        segment = y[first * HOP:last * HOP]
        if last - first < 4:
            continue
        span_f0, voiced, probability = librosa.pyin(segment, fmin=PITCH_RANGE_HZ[0], fmax=PITCH_RANGE_HZ[1],
                                                    sr=ANALYSIS_RATE, frame_length=FRAME, hop_length=HOP)
        count = min(len(span_f0), last - first)
        confident = voiced[:count] & (probability[:count] >= VOICED_PROBABILITY)
        f0[first:first + count] = np.where(confident, span_f0[:count], np.nan)
    return Analysis(rms_db, centroid, flatness, f0)


# ----------------------------------------------------------------------------- frame masks


def active(dry: Analysis) -> np.ndarray:
    """Frames where the dry signal plays."""
    return dry.rms_db > ACTIVE_DBFS


def seconds_mask(frames: int, start: float, end: float) -> np.ndarray:
    """Frames whose centre lies in [start, end) seconds."""
    times = np.arange(frames) * HOP / ANALYSIS_RATE
    return (times >= start) & (times < end)


def windows(frames: int, seconds: float) -> list[tuple[float, float]]:
    """Consecutive (start, end) windows of `seconds` covering the frames (the last one may be shorter)."""
    total = frames * HOP / ANALYSIS_RATE
    return [(start, min(start + seconds, total)) for start in np.arange(0.0, total, seconds)]


# ----------------------------------------------------------------------------- scores


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r, NaN when there are too few frames or either side is constant."""
    if len(a) < MIN_SCORED_FRAMES or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def cents_apart(wet_hz: np.ndarray, dry_hz: np.ndarray) -> np.ndarray:
    return 1200 * np.log2(wet_hz / dry_hz)


def pitch_class_error(cents: np.ndarray) -> np.ndarray:
    """Distance in cents to the nearest octave of the target: 0 to 600."""
    return np.abs((cents + 600) % 1200 - 600)


def octave_offset(dry: Analysis, wet: Analysis, frames: np.ndarray) -> int:
    """The median octave of wet - dry over frames voiced in both: a flute may play a guitar line an
    octave up, and raw pitch accuracy grants it that one offset per stream and prompt."""
    both = frames & dry.voiced & wet.voiced
    if not both.any():
        return 0
    return int(np.median(np.round(cents_apart(wet.f0_hz[both], dry.f0_hz[both]) / 1200)))


def span_scores(dry: Analysis, wet: Analysis, frames: np.ndarray, octave: int) -> dict[str, float]:
    """Every frame score of wet against dry over the frames selected (restricted to active dry frames).

    Pitch scores count over frames the dry is voiced in; a wet frame without pitch there counts as
    wrong. Accuracies and correlations are NaN when fewer than MIN_SCORED_FRAMES frames qualify.
    """
    playing = frames & active(dry)
    dry_voiced = playing & dry.voiced
    both = dry_voiced & wet.voiced
    cents = cents_apart(wet.f0_hz[both], dry.f0_hz[both])
    voiced_count = int(dry_voiced.sum())

    def share(hits: int) -> float:
        return hits / voiced_count if voiced_count >= MIN_SCORED_FRAMES else float("nan")

    def median(values: np.ndarray) -> float:
        return float(np.median(values)) if playing.sum() >= MIN_SCORED_FRAMES else float("nan")

    return {
        "active_seconds": float(playing.sum() * HOP / ANALYSIS_RATE),
        "loudness_r": correlation(dry.rms_db[playing], wet.rms_db[playing]),
        "brightness_r": correlation(np.log(dry.centroid_hz[playing] + 1), np.log(wet.centroid_hz[playing] + 1)),
        "pitch_class_accuracy": share(int((pitch_class_error(cents) <= CENTS_TOLERANCE).sum())),
        "raw_pitch_accuracy": share(int((np.abs(cents - 1200 * octave) <= CENTS_TOLERANCE).sum())),
        "voicing_recall": share(int(both.sum())),
        "level_difference_db": median(wet.rms_db[playing] - dry.rms_db[playing]),
        "flatness_wet_db": median(10 * np.log10(wet.flatness[playing])),
        "flatness_dry_db": median(10 * np.log10(dry.flatness[playing])),
    }


def envelope_lag_seconds(dry: Analysis, wet: Analysis, max_seconds: float = 1.0) -> float:
    """The shift of the wet's loudness envelope that best matches the dry's (positive: the wet is late).
    Near 0 when the output is aligned, as the host's latency trimming should leave it; a check on the
    alignment every other score assumes."""
    reach = int(max_seconds * ANALYSIS_RATE / HOP)
    frames = min(dry.frames, wet.frames)
    a, b = np.maximum(dry.rms_db[:frames], -100), np.maximum(wet.rms_db[:frames], -100)
    scores = [correlation(a[max(0, -lag):frames - max(0, lag)], b[max(0, lag):frames - max(0, -lag)])
              for lag in range(-reach, reach + 1)]
    if np.all(np.isnan(scores)):
        return float("nan")
    return float((int(np.nanargmax(scores)) - reach) * HOP / ANALYSIS_RATE)


def pitch_shift(original: Analysis, shifted: Analysis, frames: np.ndarray, expected: float) -> dict[str, float]:
    """How far the wet of a transposed input moved from the wet of the original, in semitones.

    `raw` is the median over frames voiced in both; `folded` the median with each frame's difference
    folded into the octave centred on `expected` (an octave jump is forgiven); `agreement` the share
    of those frames within half a semitone of `expected`, folded. Folding alone would mislead: two
    unrelated pitch tracks give folded differences spread evenly over the octave, whose median is
    `expected`, so the raw median (and agreement, 1/12 by chance) are what can fail.
    """
    both = frames & original.voiced & shifted.voiced
    if both.sum() < MIN_SCORED_FRAMES:
        return {"raw": float("nan"), "folded": float("nan"), "agreement": float("nan"), "frames": int(both.sum())}
    semitones = cents_apart(shifted.f0_hz[both], original.f0_hz[both]) / 100
    folded = (semitones - expected + 6) % 12 - 6 + expected
    return {"raw": float(np.median(semitones)), "folded": float(np.median(folded)),
            "agreement": float(np.mean(np.abs(folded - expected) <= 0.5)), "frames": int(both.sum())}


def rest_levels_dbfs(audio: np.ndarray, rate: int, rests: list[tuple[float, float]], skip: float) -> list[float]:
    """RMS dBFS of the output over each input rest, from `skip` seconds after it begins (the block
    that still held the phrase's end) to its end; NaN for a rest shorter than the skip."""
    levels = []
    for start, end in rests:
        segment = audio[int((start + skip) * rate):int(end * rate)]
        levels.append(20 * np.log10(np.sqrt(np.mean(np.square(segment, dtype=np.float64))) + 1e-10)
                      if len(segment) else float("nan"))
    return levels


# ----------------------------------------------------------------------------- instrument judge


def active_crops(dry: Analysis, seconds: float, min_active: float = 0.8) -> list[float]:
    """Start times of back-to-back crops of `seconds` in which the dry plays for at least min_active of the frames."""
    length = int(round(seconds * ANALYSIS_RATE / HOP))
    playing = active(dry)
    return [first * HOP / ANALYSIS_RATE for first in range(0, dry.frames - length + 1, length)
            if playing[first:first + length].mean() >= min_active]


def crops_of(audio: np.ndarray, starts: list[float], seconds: float) -> list[np.ndarray]:
    """The whole `seconds` crops of audio (at ANALYSIS_RATE) starting at these times."""
    samples = int(seconds * ANALYSIS_RATE)
    crops = [audio[int(s * ANALYSIS_RATE):int(s * ANALYSIS_RATE) + samples] for s in starts]
    return [c for c in crops if len(c) == samples]


@torch.no_grad()
def crop_embeddings(classifier: InstrumentClassifier, audio: np.ndarray, starts: list[float],
                    seconds: float) -> np.ndarray:
    """The classifier's embedding (the layer its heads read) of each crop, (crops, width)."""
    crops = crops_of(audio, starts, seconds)
    if not crops:
        return np.zeros((0, classifier.embed.out_features), np.float32)
    return classifier.embedding(torch.from_numpy(np.stack(crops).astype(np.float32))).numpy()


@torch.no_grad()
def judged_instruments(classifier: InstrumentClassifier, audio: np.ndarray, starts: list[float],
                       seconds: float) -> list[str]:
    """The classifier's top-1 instrument for each crop of audio (at ANALYSIS_RATE)."""
    crops = crops_of(audio, starts, seconds)
    if not crops:
        return []
    logits = classifier(torch.from_numpy(np.stack(crops).astype(np.float32)))["instruments"]
    return [INSTRUMENTS[int(i)] for i in logits.argmax(dim=1)]
