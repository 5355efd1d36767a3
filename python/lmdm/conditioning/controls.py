"""Sketch2Sound control features, one value per latent frame: loudness, brightness, pitch, pitch confidence.

Frame convention: audio is mono at `ControlConfig.sample_rate` (22050 Hz); frame i is centred on sample
i * hop (hop 512 = one latent frame, 43.07 frames/s), with zeros assumed outside the signal (librosa's
`center=True, pad_mode="constant"`), so n samples give n // hop + 1 frames. Zero padding rather than reflection
because a streaming plugin sees silence, not a mirror, before the first sample.

- loudness_db: A-weighted RMS in dB over a Hann window of n_fft samples. A-weighting is the IEC 61672 curve
  applied as per-bin gains on the power spectrum, normalised to exactly 0 dB at 1 kHz (IEC's +2.00 dB constant
  differs by < 0.001 dB). 0 dB is the level of a full-scale sine (AES17 dBFS), so a 1 kHz sine of amplitude a
  reads 20 log10(a). Floored at `loudness_floor_db` so silence is finite.
- brightness: spectral centroid (magnitude-weighted mean frequency, as librosa computes it) expressed in MIDI
  semitones, 69 + 12 log2(f / 440). A log-frequency scale because perceived brightness changes with frequency
  ratios, and semitones put brightness in the same unit as the pitch control. The centroid is clamped below at
  `brightness_min_hz`, the value silence (and DC) gets, where the centroid is undefined or 0 Hz.
- pitch_midi, pitch_confidence: swift-f0 (PyPI `swift-f0`, a 135 KB ONNX model, CNN on a 1024-point STFT at
  16 kHz, hop 256 = 62.5 frames/s, range 46.875-2093.75 Hz). Chosen because its whole front end (STFT) is
  inside its ONNX graph, so it runs in onnxruntime (the plugin's runtime) as shipped, at ~120x real time on
  one core. On chromatic FluidR3 scans of 9 instruments it was as accurate as torchfcpe (a 42 MB pickled
  torch model needing torchaudio stubs) or better: torchfcpe fails every note above ~1.1 kHz (MIDI 85).
  Its weak spots: a few octave errors (FluidR3 flute G#5, piano D#4/C5), nothing below 46.9 Hz, and pure
  sines get low, level-dependent confidence (0.5 at 220 Hz, ~0 at 55 Hz). Linear interpolation to 16 kHz put
  some frames octaves off where soxr's output did not, so our torch front end resamples with a polyphase
  windowed-sinc FIR (a strided conv1d, so it exports); the back end maps swift-f0's frames onto ours by linear
  interpolation (pitch in semitones, confidence linearly), zeroes confidence where the audio peaks below
  -60 dBFS (as the swift-f0 package does: the model answers digital silence with random voiced frames) and sets
  pitch to `unvoiced_pitch_midi` where confidence < `voicing_threshold` (0.5: swift-f0's calibration), so the
  control never carries the tracker's guesses in noise or silence.

Every part here exports to ONNX; lmdm.export.feature_graphs composes them with swift-f0's graph into the
package's features.onnx.
"""

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime
import torch
import torch.nn.functional as F

CONTROL_NAMES = ("loudness_db", "brightness", "pitch_midi", "pitch_confidence")

# swift-f0's model file: its packager is a third party, so we pin the exact weights we validated.
SWIFT_F0_SHA256 = "6385e8c2ebc3872e82c9ff5946228de44cd3be77a750ea53698b7dbfe94b0a22"
SWIFT_F0_RATE = 16000  # the model's input rate
SWIFT_F0_HOP = 256  # frame k is centred on 16 kHz sample k * 256 (its graph pads 512 each side of a 1024 window)
SWIFT_F0_FMIN, SWIFT_F0_FMAX = 46.875, 2093.75


@dataclass(frozen=True)
class ControlConfig:
    sample_rate: int = 22050  # the VAE's audio rate
    hop: int = 512  # samples per latent frame: 43.07 frames/s
    n_fft: int = 2048  # 93 ms Hann window: bins of 10.8 Hz resolve the A-weighting slope below 100 Hz
    loudness_floor_db: float = -100.0  # silence reads this rather than -inf
    brightness_min_hz: float = 20.0  # silence/DC centroid is clamped here (MIDI 15.5), the darkest value
    voicing_threshold: float = 0.5  # swift-f0 calibrates confidence so that voiced <=> confidence >= 0.5
    unvoiced_pitch_midi: float = 0.0  # pitch of unvoiced frames: 8.2 Hz, far below any tracked pitch
    # (voicing_threshold=0 keeps the tracker's raw estimate in every frame, as the sine tests need)
    silence_peak: float = 1e-3  # frames whose audio (+-1 hop) peaks below this get confidence 0 (swift-f0's gate)
    resampler_half_width: int = 32  # FIR half length in input samples (about 23 zero crossings at 16 kHz)
    resampler_rolloff: float = 0.92  # cutoff / 8 kHz: flat (0.1 dB) to 6.7 kHz, -3 dB at 7.2 kHz, -34 dB at 8 kHz,
    resampler_beta: float = 9.0  # < -90 dB above 8.5 kHz: only 8-8.25 kHz folds back (to 7.75-8 kHz, far above f0)

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop + 1


def hz_to_midi(hz: torch.Tensor) -> torch.Tensor:
    return 69.0 + 12.0 * torch.log2(hz / 440.0)


def a_weighting_db(freqs: np.ndarray) -> np.ndarray:
    """IEC 61672 A-weighting in dB, normalised to 0 dB at 1 kHz; -inf at 0 Hz."""

    def r_a(f: np.ndarray) -> np.ndarray:
        f2 = np.asarray(f, np.float64) ** 2
        return 12194.0**2 * f2**2 / ((f2 + 20.6**2) * np.sqrt((f2 + 107.7**2) * (f2 + 737.9**2)) * (f2 + 12194.0**2))

    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(r_a(freqs) / r_a(np.array(1000.0)))


def _power_spectrum(audio: torch.Tensor, window: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, N) -> (B, n_fft // 2 + 1, frames) power, frames centred on multiples of hop with zero padding."""
    padded = F.pad(audio[:, None], (n_fft // 2, n_fft // 2))[:, 0]  # (B, N + n_fft)
    if torch.onnx.is_in_onnx_export():
        # The legacy exporter cannot trace complex tensors; the real/imag form is deprecated in eager mode.
        spec = torch.stft(padded, n_fft, hop, window=window, center=False, return_complex=False)
        return spec.pow(2).sum(-1)
    spec = torch.stft(padded, n_fft, hop, window=window, center=False, return_complex=True)
    return spec.real.pow(2) + spec.imag.pow(2)


class ControlFeatures(torch.nn.Module):
    """Loudness (A-weighted dB) and brightness (centroid in MIDI semitones) per frame; torch only, exports to ONNX."""

    def __init__(self, config: ControlConfig = ControlConfig()) -> None:
        super().__init__()
        self.config = config
        bins = config.n_fft // 2 + 1
        freqs = np.fft.rfftfreq(config.n_fft, 1.0 / config.sample_rate)
        window = torch.hann_window(config.n_fft, dtype=torch.float64)
        # Parseval: a one-sided bin holds half the energy of its +/- pair, except DC and Nyquist. Dividing by
        # n_fft * sum(w^2) gives the window-weighted mean square; x2 makes a full-scale sine 0 dB.
        one_sided = np.full(bins, 2.0)
        one_sided[0] = one_sided[-1] = 1.0
        gain = 10.0 ** (a_weighting_db(freqs) / 10.0) * one_sided * 2.0 / (config.n_fft * float((window**2).sum()))
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("loudness_gain", torch.tensor(gain, dtype=torch.float32), persistent=False)  # (bins,)
        self.register_buffer("freqs", torch.tensor(freqs, dtype=torch.float32), persistent=False)  # (bins,)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, N) in [-1, 1] -> (B, frames, 2): loudness_db, brightness (MIDI)."""
        c = self.config
        power = _power_spectrum(audio, self.window, c.n_fft, c.hop)  # (B, bins, frames)
        mean_square = torch.einsum("bkt,k->bt", power, self.loudness_gain)  # (B, frames), 1.0 = full-scale sine
        floor = 10.0 ** (c.loudness_floor_db / 10.0)
        loudness = 10.0 * torch.log10(mean_square.clamp_min(floor))
        magnitude = power.sqrt()
        # A silent frame has 0/tiny = 0 Hz, then the clamp gives it brightness_min_hz.
        centroid = torch.einsum("bkt,k->bt", magnitude, self.freqs) / magnitude.sum(1).clamp_min(1e-20)
        brightness = hz_to_midi(centroid.clamp_min(c.brightness_min_hz))
        return torch.stack([loudness, brightness], dim=-1)  # (B, frames, 2)


def _resampler_weights(up: int, down: int, half_width: int, rolloff: float, beta: float) -> torch.Tensor:
    """Polyphase windowed-sinc filter: row p makes output sample up*m + p from input samples down*m + q - half_width."""
    fc = 0.5 * rolloff * min(1.0, up / down)  # cutoff in cycles per input sample
    phase = np.arange(up)[:, None] * down / up  # (up, 1): output sample's position within its block, input samples
    t = np.arange(down + 2 * half_width)[None, :] - half_width - phase  # (up, K): tap offset from the output time
    kaiser = np.i0(beta * np.sqrt(np.clip(1 - (t / half_width) ** 2, 0, 1))) * (np.abs(t) < half_width)
    taps = 2 * fc * np.sinc(2 * fc * t) * kaiser
    taps /= taps.sum(axis=1, keepdims=True)  # unit DC gain in every phase: no ripple at the block rate
    return torch.tensor(taps, dtype=torch.float32)[:, None, :]  # (up, 1, K) conv1d weight


class PitchFrontEnd(torch.nn.Module):
    """Resamples to swift-f0's 16 kHz and measures each frame's peak for the silence gate; exports to ONNX."""

    def __init__(self, config: ControlConfig = ControlConfig()) -> None:
        super().__init__()
        self.config = config
        g = math.gcd(SWIFT_F0_RATE, config.sample_rate)
        self.up, self.down = SWIFT_F0_RATE // g, config.sample_rate // g  # 320, 441
        weight = _resampler_weights(self.up, self.down, config.resampler_half_width, config.resampler_rolloff,
                                    config.resampler_beta)
        self.register_buffer("weight", weight, persistent=False)
        # Zeros after the end so swift-f0 always has a frame past our last frame's position (the back end
        # interpolates between two); with this padding at least one is spare for every length.
        self.right_pad = config.resampler_half_width + self.down + math.ceil(3 * SWIFT_F0_HOP * self.down / self.up)

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio (B, N) -> audio_16k (B, M) with output sample j at input time j * down / up, frame_peak (B, frames)."""
        h, hop = self.config.resampler_half_width, self.config.hop
        padded = F.pad(audio[:, None], (h, self.right_pad))  # (B, 1, N + h + right_pad)
        blocks = F.conv1d(padded, self.weight, stride=self.down)  # (B, up, blocks)
        audio_16k = blocks.transpose(1, 2).reshape(audio.shape[0], -1)  # (B, blocks * up), interleaves the phases
        # Peak over [i*hop - hop, i*hop + hop): covers the swift-f0 frames frame i interpolates between.
        # Zero padding (not max_pool's -inf padding) also handles N = 0.
        frame_peak = F.max_pool1d(F.pad(audio.abs()[:, None], (hop, hop)), 2 * hop, hop)[:, 0]  # (B, N // hop + 1)
        return audio_16k, frame_peak


class PitchBackEnd(torch.nn.Module):
    """Maps swift-f0's 62.5 Hz frames onto ours, gates silence and unvoiced frames; exports to ONNX."""

    def __init__(self, config: ControlConfig = ControlConfig()) -> None:
        super().__init__()
        self.config = config
        # Our frame i sits at swift-f0 frame i * hop * 16000 / (sample_rate * 256) = i * 640 / 441: exact integers.
        g = math.gcd(config.hop * SWIFT_F0_RATE, config.sample_rate * SWIFT_F0_HOP)
        self.num, self.den = config.hop * SWIFT_F0_RATE // g, config.sample_rate * SWIFT_F0_HOP // g

    def forward(self, pitch_hz: torch.Tensor, confidence: torch.Tensor, frame_peak: torch.Tensor) -> torch.Tensor:
        """pitch_hz, confidence (B, F) from swift-f0, frame_peak (B, frames) -> (B, frames, 2): midi, confidence."""
        c = self.config
        position = torch.arange(frame_peak.shape[1], device=frame_peak.device) * self.num  # (frames,) int64
        # PitchFrontEnd's right padding guarantees swift-f0 frame left + 1 exists for every frame.
        left = position // self.den  # (frames,)
        frac = (position - left * self.den).float() / self.den  # (frames,)
        right = left + 1
        midi = hz_to_midi(pitch_hz.float().clamp(SWIFT_F0_FMIN, SWIFT_F0_FMAX))  # (B, F)
        midi = midi[:, left] * (1 - frac) + midi[:, right] * frac  # (B, frames)
        conf = confidence[:, left] * (1 - frac) + confidence[:, right] * frac
        conf = torch.where(frame_peak < c.silence_peak, torch.zeros_like(conf), conf)
        midi = torch.where(conf < c.voicing_threshold, torch.full_like(midi, c.unvoiced_pitch_midi), midi)
        return torch.stack([midi, conf], dim=-1)  # (B, frames, 2)


def swift_f0_model_path() -> Path:
    """The swift-f0 package's ONNX file, after checking it is the one we validated."""
    import swift_f0

    path = Path(swift_f0.__file__).parent / "model.onnx"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SWIFT_F0_SHA256:
        raise RuntimeError(f"{path} has sha256 {digest}, expected {SWIFT_F0_SHA256}: a different swift-f0 model")
    return path


class PitchTracker:
    """Pitch (MIDI) and confidence per frame: torch front end -> swift-f0 in onnxruntime -> torch back end."""

    def __init__(self, config: ControlConfig = ControlConfig(), threads: int | None = None) -> None:
        self.front, self.back = PitchFrontEnd(config), PitchBackEnd(config)
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(str(swift_f0_model_path()), options,
                                                    providers=["CPUExecutionProvider"])

    @torch.no_grad()
    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, N) -> (B, frames, 2): pitch_midi, pitch_confidence."""
        audio_16k, frame_peak = self.front(audio)
        limits = {"fmin": np.array(SWIFT_F0_FMIN, np.float32), "fmax": np.array(SWIFT_F0_FMAX, np.float32)}
        # swift-f0's graph takes one signal at a time
        outputs = [self.session.run(None, {"audio": row[None].numpy(), **limits}) for row in audio_16k]
        pitch_hz = torch.from_numpy(np.concatenate([p for p, _ in outputs]))  # (B, F) float64
        confidence = torch.from_numpy(np.concatenate([c for _, c in outputs]))  # (B, F)
        return self.back(pitch_hz, confidence, frame_peak)


@functools.lru_cache(maxsize=4)
def _modules(config: ControlConfig) -> tuple[ControlFeatures, PitchTracker]:
    return ControlFeatures(config), PitchTracker(config)


@torch.no_grad()
def compute_controls(audio: np.ndarray | torch.Tensor, config: ControlConfig = ControlConfig()) -> np.ndarray:
    """Mono audio (N,) or (B, N) at config.sample_rate -> float32 (..., frames, 4) in CONTROL_NAMES order."""
    x = torch.as_tensor(audio, dtype=torch.float32)
    batch = x[None] if x.ndim == 1 else x  # (B, N)
    features, pitch = _modules(config)
    controls = torch.cat([features(batch), pitch(batch)], dim=-1)  # (B, frames, 4)
    return (controls[0] if x.ndim == 1 else controls).numpy()
