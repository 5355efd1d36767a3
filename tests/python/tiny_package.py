"""A blockcausal model package of a tiny random DiT and VAE: the package fixture of the Python tests and
the seed package of the fuzz targets (tests/fuzz/make_corpora.py)."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from lmdm.dit.files import load_dit, save_dit
from lmdm.dit.model import DiT, tiny_config
from lmdm.vae.model import VAE, save_vae
from lmdm.vae.model import tiny_config as tiny_vae_config

REPO = Path(__file__).resolve().parents[2]
EXPORT = [sys.executable, str(REPO / "export" / "export_onnx.py")]


def make_tiny_package(root: Path) -> tuple[Path, DiT]:
    """root/pkg: C = 8, B = 4, 3 steps; returns it and the DiT as loaded back."""
    torch.manual_seed(0)
    save_vae(VAE(tiny_vae_config()), root / "vae")
    model = DiT(tiny_config(variant="blockcausal", latent_dim=4))
    for parameter in model.parameters():  # adaLN-zero would make a fresh model output zeros
        torch.nn.init.normal_(parameter, std=0.2)
    stats = {"latent_mean": [0.1] * 4, "latent_std": [2.0] * 4, "loudness_db": {"mean": -30.0, "std": 12.0},
             "brightness": {"mean": 80.0, "std": 10.0}, "pitch_midi": {"mean": 60.0, "std": 12.0}}
    (root / "stats.json").write_text(json.dumps(stats))
    save_dit(model.eval(), root / "model", root / "stats.json")
    result = subprocess.run([*EXPORT, "lmdm", "--model", str(root / "model"), "--vae", str(root / "vae"), "--out",
                             str(root / "pkg"), "--context-frames", "8", "--block-frames", "4", "--steps", "3"],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"exporting the tiny package failed:\n{result.stderr[-3000:]}")
    return root / "pkg", load_dit(root / "model")[0]
