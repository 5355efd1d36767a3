"""The VAE evaluation: its metrics and references measure what they claim, and the command runs end to end."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lmdm.vae.evaluate import Metrics, reference_codec, seam_flux_ratio, si_sdr, streaming_check
from lmdm.vae.model import VAE, save_vae, tiny_config

REPO = Path(__file__).resolve().parents[3]
RATE = 22050


def tone(seconds: float = 2.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * hz * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_si_sdr_reads_the_signal_to_noise_ratio():
    clean = tone()
    noise = np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2)) / 10  # 20 dB below the signal
    assert si_sdr(clean, clean + noise) == pytest.approx(20.0, abs=0.3)
    assert si_sdr(clean, 0.5 * clean) > 100  # scale-invariant


def test_metrics_rank_a_good_codec_above_a_band_limited_one():
    # Two tones over a -50 dBFS noise floor (as rooms and reverb give music): log-spectral metrics punish
    # noise in empty bands, so without a floor 8-bit mu-law's noise would look worse than losing a tone.
    noise_floor = 0.003 * np.random.default_rng(0).standard_normal(2 * RATE).astype(np.float32)
    audio = tone(hz=3000.0) + tone(hz=220.0) + noise_floor
    metrics = Metrics(RATE)
    fine = metrics(audio, reference_codec(audio, RATE, 8, RATE))
    coarse = metrics(audio, reference_codec(audio, RATE, None, 1378))  # 689 Hz bandwidth loses the 3 kHz tone
    assert coarse["mel_db"] > fine["mel_db"] + 3
    assert fine["mrstft"] < coarse["mrstft"] and fine["si_sdr_db"] > 25 > coarse["si_sdr_db"]
    assert fine["loudness_db"] < 0.5 < coarse["loudness_db"]


def test_seam_flux_ratio_sees_clicks():
    audio = tone(hz=330.0)
    seams = np.arange(2048, len(audio), 2048)
    assert seam_flux_ratio(audio, seams) == pytest.approx(1.0, abs=0.3)
    clicked = audio.copy()
    clicked[seams] += 0.5
    assert seam_flux_ratio(clicked, seams) > 3


def test_streaming_check_of_a_model_finds_no_seams():
    torch.manual_seed(0)
    result = streaming_check(VAE(tiny_config()).eval(), tone(seconds=512 * 40 / RATE), block=3)
    # A pure tone leaves most STFT bins at the float32 rounding level of the DFT, which the encoder's
    # log (floor 1e-5) magnifies; matrix products of different block shapes round differently, so the
    # streamed latents differ by ~1e-3 relative here (1e-6 on noise: test_vae). A broken cache gives O(1).
    assert result["encoder_max_relative"] < 5e-3 and result["decoder_max_abs"] < 1e-5
    assert result["flux_seam_ratio_streamed"] == pytest.approx(result["flux_seam_ratio_whole"], rel=1e-3)


def test_eval_command_writes_scores_plots_and_examples(small_dataset, tmp_path):
    torch.manual_seed(0)
    save_vae(VAE(tiny_config()), tmp_path / "vae")
    command = [sys.executable, "-m", "lmdm.vae.evaluate", "--model", str(tmp_path / "vae"), "--data", str(small_dataset),
               "--out", str(tmp_path / "out"), "--split", "train", "--max-items", "2", "--stream-items", "1",
               "--stream-blocks", "4", "--example-items", "1", "--example-seconds", "2", "--threads", "1"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert scores["test"]["items"] == 2 and scores["guitar_clips"]["items"] == len(list((REPO / "assets/clips").glob("*.flac")))
    assert set(scores["test"]) >= {"vae", "mulaw8_22k", "mulaw8_2.8k", "float_1.4k"}
    assert scores["test"]["mulaw8_22k"]["mel_db"]["mean"] < scores["test"]["float_1.4k"]["mel_db"]["mean"]
    assert (tmp_path / "out" / "reconstructions.png").stat().st_size > 10_000
    assert len(list((tmp_path / "out" / "examples").glob("*.flac"))) == 4  # (1 test item + 1 clip) x (original, vae)
