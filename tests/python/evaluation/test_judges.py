"""The evaluation judges: Fréchet distance and the instrument classifier."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from lmdm.evaluation.aisfx_embedding import aisfx_embeddings
from lmdm.evaluation.classifier import load_classifier
from lmdm.evaluation.frechet import classifier_embeddings, frechet_distance

REPO = Path(__file__).resolve().parents[3]


def test_frechet_distance_of_gaussians_matches_the_closed_form():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20_000, 3))
    b = rng.standard_normal((20_000, 3)) * 2.0 + 1.0  # mean shift 1 per dim, std 2
    # |mu|^2 = 3; trace: 3 * (1 + 4 - 2 * sqrt(1 * 4)) = 3
    assert abs(frechet_distance(a, b) - 6.0) < 0.2
    assert frechet_distance(a, a) < 1e-6


def test_classifier_trains_reports_and_embeds(small_dataset, tmp_path):
    command = [sys.executable, "-m", "lmdm.evaluation.classifier", "--data", str(small_dataset), "--run-dir", str(tmp_path),
               "--max-steps", "4", "--batch-size", "4", "--eval-split", "train", "--threads", "1"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test"]["examples"] > 0 and 0 <= report["test"]["texture_accuracy"] <= 1
    model = load_classifier(tmp_path)
    clips = [np.random.default_rng(i).standard_normal(int(22050 * 4.5)).astype(np.float32) * 0.1 for i in range(2)]
    assert classifier_embeddings(model, clips).shape == (4, 128)  # 3-s crops at 0 and 1.5 s of each 4.5-s clip


def test_aisfx_embeddings_tell_tones_from_noise():
    rng = np.random.default_rng(0)
    t = np.arange(22050 * 5) / 22050
    tones = [0.3 * np.sin(2 * np.pi * f * t) for f in (220, 262, 330, 392, 440, 523)]
    noise = [0.1 * rng.standard_normal(len(t)) for _ in range(6)]
    a, b, c = aisfx_embeddings(tones[:3], 22050), aisfx_embeddings(tones[3:], 22050), aisfx_embeddings(noise, 22050)
    assert a.shape == (9, 512)  # three 2.3-s blocks (50 % overlap) per 5-s clip
    assert np.linalg.norm(a.mean(0) - b.mean(0)) < np.linalg.norm(a.mean(0) - c.mean(0))
