"""aiSFX embeddings (ISMIR 2022, the `aisfx` package: a CNN trained on sound-effect libraries, weights in
the wheel) for a Fréchet distance that no project code trained: reported as a *non-standard FAD*.

The package's own network code and checkpoint are used; the front end follows its librosa path
(44.1 kHz, peak-normalised, 96 HTK mel bands, window 2048, hop 1024, log10(10^4 x + 1), min-max
scaled by the paper's constants) in blocks of 100 frames (2.3 s) with 50 % overlap. The checkpoint
is a pickle; it is read with torch's weights-only unpickler, allowing the one numpy scalar type it holds.
"""

from functools import lru_cache

import librosa
import numpy as np
import soxr
import torch

RATE, N_FFT, HOP, MELS, BLOCK = 44100, 2048, 1024, 96, 100
SPEC_MAX = 9.457798957824707  # aisfx.preprocessing, spec_norm="original"


@lru_cache(maxsize=1)
def _network() -> torch.nn.Module:
    from aisfx.inference import get_path_modelWeights
    from aisfx.models.cnn2d import EmbeddingNet
    from numpy._core.multiarray import scalar

    allowed = [(scalar, "numpy.core.multiarray.scalar"), np.dtype, np.dtypes.Int64DType]
    with torch.serialization.safe_globals(allowed):
        weights, _ = torch.load(get_path_modelWeights(), map_location="cpu", weights_only=True)
    network = EmbeddingNet("max", 3, 1, 64)
    network.load_state_dict({k.removeprefix("embedding_net."): v for k, v in weights.items()
                             if k.startswith("embedding_net.")})
    return network.eval()


def _blocks(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    audio = soxr.resample(audio, sample_rate, RATE, quality="HQ") if sample_rate != RATE else audio
    audio = audio / max(float(np.abs(audio).max()), 1e-9)
    mel = librosa.feature.melspectrogram(y=audio, sr=RATE, n_mels=MELS, norm=1.0, fmin=0.0, fmax=22050.0, htk=True,
                                         power=2.0, n_fft=N_FFT, hop_length=HOP)
    spec = (np.log10(mel * 10000.0 + 1) / SPEC_MAX).T  # (frames, 96)
    starts = range(0, spec.shape[0] - BLOCK + 1, BLOCK // 2)
    return np.stack([spec[s:s + BLOCK] for s in starts]) if len(starts) else np.zeros((0, BLOCK, MELS))


@torch.no_grad()
def aisfx_embeddings(clips: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """(blocks over all clips, 512) embeddings; clips shorter than one block (2.3 s) give none."""
    blocks = [b for clip in clips for b in _blocks(clip.astype(np.float32), sample_rate)]
    if not blocks:
        raise ValueError("no clip is long enough for one aiSFX block (2.3 s)")
    return _network()(torch.from_numpy(np.stack(blocks)).float()).numpy()
