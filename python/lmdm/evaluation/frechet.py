"""Fréchet distance between two sets of audio embeddings (the FAD recipe, any embedding).

FD = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), with the Gaussian fitted to each set's
embeddings of overlapping crops. Which embedding is used changes the number's scale, so every
report names it (a number from the in-project classifier is not comparable to a VGGish FAD).
"""

import numpy as np
import scipy.linalg
import torch

from .classifier import SAMPLE_RATE, InstrumentClassifier


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """a (N, d), b (M, d) embeddings -> Fréchet distance of their Gaussian fits."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = scipy.linalg.sqrtm(cov_a @ cov_b, disp=False)
    root = root.real  # numerical noise can leave tiny imaginary parts
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@torch.no_grad()
def classifier_embeddings(model: InstrumentClassifier, clips: list[np.ndarray], seconds: float = 3.0,
                          hop_seconds: float = 1.5) -> np.ndarray:
    """Embeddings of every `seconds` crop (hop `hop_seconds`) of every clip at the model rate."""
    size, hop = int(seconds * SAMPLE_RATE), int(hop_seconds * SAMPLE_RATE)
    crops = [clip[start:start + size] for clip in clips for start in range(0, len(clip) - size + 1, hop)]
    if not crops:
        raise ValueError(f"no clip is {seconds} s long")
    batches = [model.embedding(torch.from_numpy(np.stack(crops[i:i + 64]).astype(np.float32)))
               for i in range(0, len(crops), 64)]
    return torch.cat(batches).numpy()
