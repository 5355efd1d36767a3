"""Rectified flow (the OT path): corruption, the velocity target, training times, and ODE solvers.

x_t = (1 - t) x0 + t eps, v = eps - x0; sampling integrates dx/dt = v from t = 1 (noise) to t = 0.
"""

from collections.abc import Callable

import torch

Velocity = Callable[[torch.Tensor, float], torch.Tensor]  # (x_t, t) -> v


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


def solve(velocity: Velocity, noise: torch.Tensor, grid: list[float], solver: str = "euler") -> torch.Tensor:
    """Integrate from grid[0] to grid[-1] with Euler or Heun (Heun's correction skipped on a step to t = 0)."""
    if solver not in ("euler", "heun"):
        raise ValueError(f"unknown solver {solver!r}: euler or heun")
    x = noise
    for t, t_next in zip(grid[:-1], grid[1:]):
        v = velocity(x, t)
        x_next = x + (t_next - t) * v
        if solver == "heun" and t_next > 0:
            x_next = x + (t_next - t) * 0.5 * (v + velocity(x_next, t_next))
        x = x_next
    return x
