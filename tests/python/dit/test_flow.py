"""Rectified flow: the corruption path, the time grid and the solvers."""

import math

import pytest
import torch

from lmdm.dit.flow import corrupt, logit_normal_times, solve, time_grid


def test_corruption_follows_the_straight_path_and_its_velocity():
    clean, noise = torch.randn(3, 5), torch.randn(3, 5)
    t = torch.tensor([0.0, 0.5, 1.0])
    noisy, velocity = corrupt(clean, noise, t)
    assert torch.allclose(noisy[0], clean[0]) and torch.allclose(noisy[2], noise[2])
    assert torch.allclose(noisy[1], (clean[1] + noise[1]) / 2) and torch.allclose(velocity, noise - clean)


def test_euler_is_exact_on_a_straight_path():
    clean, noise = torch.randn(4), torch.randn(4)
    result = solve(lambda x, t: noise - clean, noise, time_grid(3))  # the ideal velocity of one sample
    assert torch.allclose(result, clean, atol=1e-6)


def test_heun_is_more_accurate_than_euler_on_a_curved_field():
    # dx/dt = x has x(0) = x(1) / e going backwards from t = 1 to 0
    exact = torch.tensor([1.0 / math.e])
    errors = {solver: float((solve(lambda x, t: x, torch.ones(1), time_grid(8), solver) - exact).abs())
              for solver in ("euler", "heun")}
    assert errors["heun"] < errors["euler"] / 5


def test_pingpong_recovers_the_sample_from_an_exact_field_and_renoises_between_steps():
    clean = torch.randn(4)
    draws = []

    def fresh() -> torch.Tensor:
        draws.append(torch.randn(4))
        return draws[-1]

    # the exact velocity of the straight path through x: (x - clean) / t, so x - t v = clean at every step
    result = solve(lambda x, t: (x - clean) / t, torch.randn(4), time_grid(4), "pingpong", fresh)
    assert torch.allclose(result, clean, atol=1e-6) and len(draws) == 3  # one draw per step before the last
    seen = []
    solve(lambda x, t: seen.append(x.clone()) or (x - clean) / t, torch.randn(4), time_grid(2), "pingpong",
          lambda: torch.zeros(4))
    assert torch.allclose(seen[1], 0.5 * clean, atol=1e-6)  # re-noised to t = 0.5 with (zero) fresh noise


def test_pingpong_without_a_noise_source_is_refused():
    with pytest.raises(ValueError, match="fresh noise"):
        solve(lambda x, t: x, torch.ones(1), time_grid(2), "pingpong")


def test_time_grid_runs_from_noise_to_data_and_shift_spends_more_steps_at_high_noise():
    plain, shifted = time_grid(4), time_grid(4, shift=3.0)
    assert plain[0] == shifted[0] == 1.0 and plain[-1] == shifted[-1] == 0.0 and len(plain) == 5
    assert all(s >= p for s, p in zip(shifted, plain))


def test_logit_normal_times_are_inside_the_unit_interval_and_centred():
    t = logit_normal_times(20_000, torch.Generator().manual_seed(0))
    assert 0 < float(t.min()) and float(t.max()) < 1 and abs(float(t.median()) - 0.5) < 0.02


def test_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="unknown solver"):
        solve(lambda x, t: x, torch.ones(1), time_grid(2), "rk4")
