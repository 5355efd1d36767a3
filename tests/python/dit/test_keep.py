"""lmdm.dit.keep: a run's EMA generator kept as a float16 checkpoint folder that load_dit reads back."""

import json
from dataclasses import asdict

import torch
from safetensors.torch import save_file

from lmdm.dit.files import load_dit
from lmdm.dit.keep import keep
from random_models import random_model


def test_a_run_is_kept_as_its_ema_in_float16_with_config_stats_and_progress(tmp_path):
    model = random_model("blockcausal")
    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, run / "checkpoint" / "ema.safetensors")
    meta = {"trainer": "lmdm.arc.train", "step": 1234, "elapsed_seconds": 60.0, "model_config": asdict(model.config),
            "train_config": {"data": "data/lmdm-v2"}, "optimizer_layouts": {}}
    (run / "checkpoint" / "checkpoint.json").write_text(json.dumps(meta))
    (run / "stats.json").write_text(json.dumps({"latent_mean": [0.0], "latent_std": [1.0]}))
    (run / "metrics.jsonl").write_text('{"step": 1234}\n')

    result = keep(run, tmp_path / "kept")

    assert result["step"] == 1234
    assert set(result["files"]) == {"config.json", "model.safetensors", "stats.json", "training.json",
                                    "training-metrics.jsonl"}
    kept, stats = load_dit(tmp_path / "kept")
    assert stats == {"latent_mean": [0.0], "latent_std": [1.0]}
    for name, value in model.state_dict().items():
        torch.testing.assert_close(kept.state_dict()[name], value.half().float(), rtol=0, atol=0)
    training = json.loads((tmp_path / "kept" / "training.json").read_text())
    assert training == {key: meta[key] for key in ("trainer", "step", "elapsed_seconds", "train_config")}
