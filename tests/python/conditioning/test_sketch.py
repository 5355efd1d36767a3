"""Sketch controls as the model reads them: normalisation, smoothing, training dropout."""

import torch

from lmdm.conditioning.sketch import corrupt_for_training, median_smooth, normalise

STATS = {"loudness_db": {"mean": -30.0, "std": 10.0}, "brightness": {"mean": 80.0, "std": 5.0},
         "pitch_midi": {"mean": 60.0, "std": 12.0}}


def test_normalise_z_scores_and_marks_pitch_present_only_when_voiced():
    raw = torch.tensor([[-30.0, 85.0, 72.0, 0.9], [-10.0, 80.0, 40.0, 0.1]])
    values, present = normalise(raw, STATS)
    assert torch.allclose(values[0], torch.tensor([0.0, 1.0, 1.0]))
    assert present[:, :2].eq(1).all() and present[:, 2].tolist() == [1.0, 0.0]
    assert values[1, 2] == 0  # an unvoiced frame's pitch carries no value


def test_median_smoothing_removes_spikes_and_keeps_steps():
    values = torch.zeros(20, 1)
    values[10:] = 1.0
    values[4] = 5.0  # a one-frame spike
    smoothed = median_smooth(values, 5)
    assert smoothed[4, 0] == 0 and smoothed[:8].eq(0).all() and smoothed[12:].eq(1).all()
    assert torch.equal(median_smooth(values, 1), values)


def test_training_corruption_drops_whole_controls_per_example():
    values, present = torch.randn(64, 30, 3), torch.ones(64, 30, 3)
    generator = torch.Generator().manual_seed(0)
    corrupted_values, corrupted_present = corrupt_for_training(values, present, generator, 0.5, (1,))
    per_control = corrupted_present.mean(1)  # each example keeps a control everywhere or nowhere
    assert set(per_control.unique().tolist()) == {0.0, 1.0}
    assert 0.3 < float(per_control.mean()) < 0.7
    assert corrupted_values[corrupted_present == 0].eq(0).all()
    kept = corrupted_present == 1
    assert torch.equal(corrupted_values[kept], values[kept])  # width 1: untouched where kept
