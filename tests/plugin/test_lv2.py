"""The LV2 bundle in a small liblilv host (tests/plugin/lv2_host.c): exact delay, parameters."""

import numpy as np
import pytest

from lv2_run import run_lv2


def fixed_latency(sample_rate: int) -> int:
    """The pass-through shell's latency without the host buffer: a block of the default model (8192
    samples at 22.05 kHz), a whole block of headroom, the 5-ms decision fade."""
    model_block = int(8192 * sample_rate / 22050 + 0.5)
    return 2 * model_block + int(0.005 * sample_rate + 0.5)


@pytest.mark.parametrize("sample_rate,block", [(44100, 64), (48000, 256), (96000, 1024)])
def test_output_is_the_input_delayed_by_the_reported_latency(lv2, tmp_path, sample_rate, block):
    audio = np.random.default_rng(3).uniform(-1, 1, (2, 2 * sample_rate)).astype(np.float32)
    out, report = run_lv2(lv2, tmp_path, audio, sample_rate, block, {"feedback": 0.0})
    latency = report["latency"]
    assert latency == fixed_latency(sample_rate) + block
    np.testing.assert_array_equal(out[:, :latency], 0.0)
    np.testing.assert_array_equal(out[:, latency:], audio[:, :-latency])


def test_parameters_set_by_patch_messages_take_effect(lv2, tmp_path):
    impulse = np.zeros((2, 170000), np.float32)  # room for four echoes at 48 kHz
    impulse[:, 0] = 1.0
    out, report = run_lv2(lv2, tmp_path, impulse, 48000, 256, {"mix": 1.0, "feedback": 0.5})
    latency = report["latency"]
    np.testing.assert_allclose(out[0, latency * np.arange(1, 5)], [1.0, 0.5, 0.25, 0.125], rtol=1e-5)
    # JUCE maps the plugin's bypass parameter to LV2's standard lv2:enabled control port.
    bypassed, _ = run_lv2(lv2, tmp_path, impulse, 48000, 256, {"feedback": 0.9}, {"enabled": 0.0})
    assert np.count_nonzero(np.abs(bypassed[0]) > 1e-6) == 1


def test_a_host_announcing_more_than_it_sends_gets_the_delay_of_what_it_sends(lv2, tmp_path):
    # Ardour's LV2 hosting announces 8,192 frames whatever its period. After a second of real-time audio
    # the plugin prepares for the 256-frame buffers it gets and reports the shorter latency, once; then
    # the output is the input delayed by exactly that. A freewheeling render keeps the announced one.
    rate, block, announced = 48000, 256, 8192
    audio = np.random.default_rng(5).uniform(-1, 1, (2, 5 * rate)).astype(np.float32)
    out, report = run_lv2(lv2, tmp_path, audio, rate, block, {"feedback": 0.0}, announce=announced, paced=True)
    assert report["first_latency"] == fixed_latency(rate) + announced
    assert report["latency"] == fixed_latency(rate) + block
    assert rate <= report["changed_at"] <= 2 * rate, report  # a second of listening, a quarter second of timer
    latency = report["latency"]
    settled = report["changed_at"] + block + latency  # the engine restarted within a buffer of the change
    np.testing.assert_array_equal(out[:, settled:], audio[:, settled - latency:-latency])

    _, offline = run_lv2(lv2, tmp_path, audio, rate, block, {"feedback": 0.0}, announce=announced)
    assert offline["latency"] == offline["first_latency"] == fixed_latency(rate) + announced
    assert offline["changed_at"] == -1
