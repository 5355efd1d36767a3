"""Rectified flow (the OT path): corruption, the velocity target, training times, and ODE solvers.

x_t = (1 - t) x0 + t eps, v = eps - x0; sampling integrates dx/dt = v from t = 1 (noise) to t = 0.
Solvers: Euler and Heun integrate the ODE; ping-pong (the few-step sampler of adversarially post-trained
models, ARC / Stable Audio Open Small) predicts the clean sample x0 = x_t - t v at each time of the grid
and re-noises it to the next time with fresh noise, so a model trained to jump to x0 in one call is
sampled the way it was trained (lmdm.arc).
"""

from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, float], torch.Tensor]  # (x_t, t) -> v
FreshNoise = Callable[[], torch.Tensor]  # a new draw shaped like the sample (ping-pong's re-noising)
SOLVERS = ("euler", "heun", "pingpong")


def corrupt(clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, velocity target) for clean (B, ...), noise like clean, t (B,)."""
    t = t.view(-1, *([1] * (clean.dim() - 1)))
    return (1 - t) * clean + t * noise, noise - clean


def logit_normal_times(batch: int, generator: torch.Generator | None = None, device="cpu") -> torch.Tensor:
    """t = sigmoid(N(0, 1)): more training where the velocity is hardest to predict (SD3, Esser et al.)."""
    return torch.sigmoid(torch.randn(batch, generator=generator, device=device))


def time_grid(steps: int, shift: float = 1.0) -> list[float]:
    """steps + 1 times from 1 to 0; shift > 1 spends more steps at high noise (SD3's timestep shift)."""
    grid = [1 - i / steps for i in range(steps + 1)]
    return [shift * t / (1 + (shift - 1) * t) for t in grid]


def solve(velocity: Velocity, noise: torch.Tensor, grid: list[float], solver: str = "euler",
          fresh_noise: FreshNoise | None = None) -> torch.Tensor:
    """Integrate from grid[0] to grid[-1] with Euler or Heun (Heun's correction skipped on a step to t = 0),
    or sample by ping-pong, which draws `fresh_noise()` once per step before the last."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}: one of {SOLVERS}")
    if solver == "pingpong" and fresh_noise is None:
        raise ValueError("the ping-pong sampler needs a source of fresh noise")
    x = noise
    for t, t_next in zip(grid[:-1], grid[1:]):
        v = velocity(x, t)
        if solver == "pingpong":
            clean = x - t * v
            x = clean if t_next <= 0 else (1 - t_next) * clean + t_next * fresh_noise()
            continue
        x_next = x + (t_next - t) * v
        if solver == "heun" and t_next > 0:
            x_next = x + (t_next - t) * 0.5 * (v + velocity(x_next, t_next))
        x = x_next
    return x
