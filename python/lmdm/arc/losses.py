"""ARC's losses (Novack et al. 2025a): relativistic adversarial pairs and the contrastive term.

Scores come per window position (the discriminator's head scores every few frames); each pair compares
the same example's real and generated windows at the same position, re-noised with the same noise, so
what differs is only what the generator made of it.
- generator: softplus(D(real) - D(fake)), falling as its rollout scores above the real continuation;
- discriminator: softplus(D(fake) - D(real));
- contrastive: real audio under a condition that does not belong to it (another example's prompt; here
  also another example's sketch controls, so the discriminator must read the controls as well as the
  prompt) counts as the fake side: softplus(D(real, wrong) - D(real, right)). It keeps the conditioning
  meaningful to the discriminator, so the generator cannot trade adherence for realism.
"""

import torch
import torch.nn.functional as F


def relativistic(better: torch.Tensor, worse: torch.Tensor) -> torch.Tensor:
    """Mean softplus(worse - better): small when `better` scores above `worse` pairwise."""
    return F.softplus(worse - better).mean()


def noise_times(batch: int, log_snr_range: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """Times t of the rectified-flow path whose log-SNR, 2 log((1 - t) / t), is uniform in the range:
    t = sigmoid(-logSNR / 2); [-6, 2] gives t in [0.27, 0.95]."""
    low, high = log_snr_range
    log_snr = low + (high - low) * torch.rand(batch, generator=generator)
    return torch.sigmoid(-log_snr / 2)


def mismatched(x: torch.Tensor) -> torch.Tensor:
    """Each example paired with the next one's condition (the batch rolled by one)."""
    return torch.roll(x, 1, dims=0)
