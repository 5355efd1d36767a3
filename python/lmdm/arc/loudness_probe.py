"""The loudness a latent frame carries, read by a line fitted on real latents: ARC's sketch term.

The adversarial term judges realism, the distillation follows the teacher, and neither asks a rollout's
loudness envelope to follow the sketch it was given: runs 6-8 lose loudness r to the base where the
prompt implies an envelope of its own (a clarinet's held tone over a plucked string, docs/lmdm.md
"Run 8"). Decoding every rollout to audio in the loop is too dear on this CPU, so the envelope is read
from the latents: a least-squares quadratic form of a normalised latent frame (loudness follows energy,
which is quadratic in the signal; a line alone explains about half of it: R^2 0.51 against 0.87 on
held-out windows of data/lmdm-v2) to that frame's normalised loudness control, fitted once on real
training windows, its R^2 measured on windows it was not fitted on. The term is the squared error
between the read-out of the rollout and the loudness control of the same frames, where present.
"""

from dataclasses import dataclass

import numpy as np
import torch

LOUDNESS = 0  # the loudness control's column in control_values (lmdm.conditioning.controls.CONTROL_NAMES)


@dataclass(frozen=True)
class LoudnessProbe:
    weight: torch.Tensor  # (D + D (D + 1) / 2,): on the frame's values, then on their pairwise products
    bias: float
    r2: float  # on held-out real windows

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, T, D) normalised latents -> (N, T) normalised loudness."""
        return quadratic_features(latents) @ self.weight.to(latents) + self.bias

    def to(self, device: torch.device) -> "LoudnessProbe":
        return LoudnessProbe(self.weight.to(device), self.bias, self.r2)


def quadratic_features(latents: torch.Tensor) -> torch.Tensor:
    """(N, T, D) -> (N, T, D + D (D + 1) / 2): each frame's values and the products of every pair of them."""
    dim = latents.shape[-1]
    rows, columns = torch.triu_indices(dim, dim, device=latents.device)
    return torch.cat([latents, latents[..., rows] * latents[..., columns]], -1)


def fit_loudness_probe(batch_of, batches: int, held_out: float = 0.2, ridge: float = 1e-3) -> LoudnessProbe:
    """Fit on the frames of `batches` real batches (`batch_of(index)` -> dict with latents, control_values,
    control_present); the last `held_out` share of them measures R^2."""
    features, targets = [], []
    for index in range(batches):
        batch = batch_of(index)
        present = batch["control_present"][..., LOUDNESS] > 0
        features.append(quadratic_features(batch["latents"].float())[present].double().numpy())
        targets.append(batch["control_values"][..., LOUDNESS][present].double().numpy())
    split = max(1, int(round(batches * (1 - held_out))))
    if split >= batches:
        raise ValueError(f"{batches} batches leave none held out to measure the probe on")
    x, y = np.concatenate(features[:split]), np.concatenate(targets[:split])
    design = np.hstack([x, np.ones((len(x), 1))])
    gram = design.T @ design + ridge * len(x) * np.eye(design.shape[1])
    solution = np.linalg.solve(gram, design.T @ y)
    x_test, y_test = np.concatenate(features[split:]), np.concatenate(targets[split:])
    residual = y_test - (x_test @ solution[:-1] + solution[-1])
    r2 = 1.0 - float(residual.var()) / max(float(y_test.var()), 1e-12)
    return LoudnessProbe(torch.from_numpy(solution[:-1]).float(), float(solution[-1]), r2)


def loudness_loss(probe: LoudnessProbe, latents: torch.Tensor, values: torch.Tensor,
                  present: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the read-out of latents (N, T, D) against their loudness control (N, T, 3),
    over the frames where it is present."""
    mask = (present[..., LOUDNESS] > 0).to(latents)
    error = (probe(latents) - values[..., LOUDNESS]) ** 2
    return (error * mask).sum() / mask.sum().clamp(min=1.0)
