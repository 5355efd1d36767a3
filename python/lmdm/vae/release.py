"""python -m lmdm.vae.release: turn a VAE training run into the shipped models/vae folder and its card.

    python -m lmdm.vae.release --run-dir runs/vae --out models/vae

Copies the weights (no optimizer, no discriminator) as safetensors + config.json, the training curves,
runs the evaluation (lmdm.vae.evaluate) and the ONNX export with its parity check into a temporary
folder, and writes CARD.md from what it measured. Hand-written listening notes in the output
folder's NOTES.md are included in the card verbatim.
"""

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..cli import add_config_arguments, command_line, config_from_args
from ..export.vae_export import export_vae
from ..training.distributed import parameter_count
from .evaluate import REFERENCES, VAEEvalConfig, evaluate_vae
from .model import VAEConfig, load_vae, load_vae_config, save_vae
from .train import TrainVAEConfig


@dataclass(frozen=True)
class VAEPackageConfig:
    run_dir: Path = field(default_factory=lambda: Path("runs/vae"))
    out: Path = field(default_factory=lambda: Path("models/vae"))
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    threads: int = 2
    card_only: bool = False  # re-render CARD.md from the saved training.json and eval.json (after editing NOTES.md)


def release_vae(config: VAEPackageConfig) -> dict:
    if config.card_only:
        training = json.loads((config.out / "training.json").read_text())
        scores = json.loads((config.out / "eval.json").read_text())
        (config.out / "CARD.md").write_text(render_card(config, training, scores, training["onnx_parity"]))
        return {"training": training, "parity": training["onnx_parity"]}
    checkpoint = config.run_dir / "checkpoint"
    meta = json.loads((checkpoint / "checkpoint.json").read_text())
    model = load_vae(checkpoint)
    save_vae(model, config.out)
    for name in ("loss.png", "metrics.jsonl"):
        shutil.copy(config.run_dir / name, config.out / ("training-" + name))
    scores = evaluate_vae(VAEEvalConfig(model=config.out, data=config.data, out=config.out, threads=config.threads))
    with tempfile.TemporaryDirectory() as folder:
        parity = export_vae(config.out, Path(folder))["parity"]
    data_summary = (config.data / "manifest.jsonl").read_bytes()
    training = {"steps": meta["step"], "wall_hours": meta["elapsed_seconds"] / 3600, "config": meta["train_config"],
                "parameters": parameter_count(model), "data_manifest_sha256": hashlib.sha256(data_summary).hexdigest(),
                "onnx_parity": parity, "cpu_cores": os.cpu_count()}
    (config.out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    card = render_card(config, training, scores, parity)
    (config.out / "CARD.md").write_text(card)
    return {"training": training, "parity": parity}


def _metric_table(block: dict, vae: VAEConfig) -> list[str]:
    float16_kbits = vae.latent_dim * vae.latent_rate * 16 / 1000
    names = {"vae": f"**this VAE** ({vae.latent_dim} x {vae.latent_rate:.0f} Hz latents; {float16_kbits:.0f} kbit/s as "
                    "float16)",
             "mulaw8_22k": "8-bit mu-law, 22.05 kHz (176 kbit/s)",
             "mulaw8_2.8k": "8-bit mu-law at 2.76 kHz (22 kbit/s, the same budget)",
             "float_1.4k": "float audio at 1,378 Hz (as many numbers/s as the latents)"}
    lines = ["| codec | MR-STFT | mel dB | SI-SDR dB | loudness dB |", "|---|---|---|---|---|"]
    for key in ("vae", *REFERENCES):
        m = block[key]
        lines.append(f"| {names[key]} | {m['mrstft']['mean']:.3f} | {m['mel_db']['mean']:.2f} "
                     f"(median {m['mel_db']['median']:.2f}) | {m['si_sdr_db']['mean']:.1f} | "
                     f"{m['loudness_db']['mean']:.2f} |")
    return lines


def render_card(config: VAEPackageConfig, training: dict, scores: dict, parity: dict) -> str:
    t = training["config"]
    vae = load_vae_config(config.out)
    data = json.loads((config.data / "config.json").read_text()) if (config.data / "config.json").exists() else {}
    hours = f"{data['train_hours']:g} h rendered music21 corpus, " if "train_hours" in data else ""
    cores = training.get("cpu_cores") or os.cpu_count()  # released on the machine that trained
    command = (command_line("python -m lmdm.vae.train", t, TrainVAEConfig)
               + f"  # model {t['model']}, batch {t['batch_size']} x {t['crop_seconds']} s, lr {t['learning_rate']}")
    stream_rows = ["| latents per block | encoder max abs (relative) | decoder max abs | decoder RMS | "
                   "seam flux ratio streamed / whole |", "|---|---|---|---|---|"]
    for block, s in scores["streaming"].items():
        stream_rows.append(f"| {block} | {s['encoder_max_abs']:.2e} ({s['encoder_max_relative']:.1e}) | "
                           f"{s['decoder_max_abs']:.2e} | {s['decoder_rms']:.2e} | "
                           f"{s['flux_seam_ratio_streamed']:.4f} / {s['flux_seam_ratio_whole']:.4f} |")
    notes = config.out / "NOTES.md"
    lines = [
        "# Model card: LMDM audio VAE", "",
        "A causal frame-rate KL-VAE (log-magnitude STFT in, ConvNeXt blocks, Vocos-style magnitude + phase head, "
        "inverse STFT out) that streams exactly; see `python/lmdm/vae/model.py` and docs/ARCHITECTURE.md.", "",
        f"- Files: `model.safetensors` ({training['parameters'] / 1e6:.2f} M parameters, float32), `config.json`.",
        f"- Rate: {vae.sample_rate:,} Hz mono in and out; latents {vae.latent_dim} channels at "
        f"{vae.latent_rate:.2f} frames/s ({vae.samples_per_latent} samples each); streaming decode delay "
        f"{vae.decoder_delay} samples ({1000 * vae.decoder_delay / vae.sample_rate:.0f} ms).",
        f"- Data: `{config.data}` train split ({hours}docs/data.md), manifest sha256 "
        f"`{training['data_manifest_sha256'][:16]}...`.",
        f"- Training: `{command}`; {training['steps']:,} steps, {training['wall_hours']:.2f} h wall on {cores} "
        "CPU cores; curves in `training-loss.png`, log in `training-metrics.jsonl`.",
        "- Packaged by `python -m lmdm.vae.release` (this card, the evaluation and the ONNX parity check).", "",
        f"## Quality on the held-out {scores['split']} split ({scores['test']['items']} examples, means)", "",
        "Rerun: `python -m lmdm.vae.evaluate --model models/vae --out models/vae`. Lower is better except SI-SDR.", "",
        *_metric_table(scores["test"], vae), "",
        f"On the bundled guitar clips (`assets/clips`, {scores['guitar_clips']['items']} clips; the plugin's input):", "",
        *_metric_table(scores["guitar_clips"], vae), "",
        "![reconstructions](reconstructions.png)", "",
        "Audio: `examples/*.original.flac` next to `examples/*.vae.flac` (first 8 s).", "",
        "## Streaming", "",
        "Block-by-block encoding and decoding (cached state) against whole-sequence processing, on the first "
        "test examples; seam flux = mean spectral flux of frames at block boundaries over the other frames, for "
        "the streamed decode and, as control, for the whole-sequence decode at the same positions.", "",
        *stream_rows, "",
        f"ONNX (`export/export_onnx.py vae`): ONNX Runtime vs PyTorch max abs difference, encoder "
        f"{parity['encoder_max_abs']:.1e}, decoder {parity['decoder_max_abs']:.1e} (bound 1e-4). Decode cost: "
        "`bench/results/vae_decode.json`.", "",
    ]
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.vae.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, VAEPackageConfig)
    print(json.dumps(release_vae(config_from_args(parser.parse_args(argv), VAEPackageConfig)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
