"""python -m lmdm.dit.release: a DiT / LMDM training run -> a shipped model folder with its card.

    python -m lmdm.dit.release --run-dir runs/dit-blockcausal --out models/lmdm-blockcausal

Copies the EMA weights, the DiT config and the data statistics (dit_files), the training curves and
log, runs the evaluation (lmdm.evaluation.evaluate) unless one is given, and writes CARD.md from what was measured.
Hand-written notes in the output folder's NOTES.md are included verbatim.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..cli import add_config_arguments, command_line, config_from_args
from ..evaluation.evaluate import EvaluateConfig, evaluate_generations
from ..training.distributed import parameter_count
from .files import load_dit, save_dit, stats_path_of
from .train import TrainDiTConfig


@dataclass(frozen=True)
class DiTPackageConfig:
    run_dir: Path = field(default_factory=lambda: Path("runs/dit-blockcausal"))
    out: Path = field(default_factory=lambda: Path("models/lmdm-blockcausal"))
    classifier: Path = field(default_factory=lambda: Path("models/classifier"))
    evaluation_items: int = 24
    evaluation_split: str = "test"
    evaluation_seconds: float = 6.0
    evaluation_steps: int = 8
    threads: int = 2
    card_only: bool = False  # re-render CARD.md (after editing NOTES.md) from the folder's JSON files


def release_dit(config: DiTPackageConfig) -> dict:
    if config.card_only:
        training, scores = (json.loads((config.out / name).read_text()) for name in ("training.json", "evaluation.json"))
        (config.out / "CARD.md").write_text(render_card(config, training, scores))
        return {"training": training, "evaluation": scores}
    meta = json.loads((config.run_dir / "checkpoint" / "checkpoint.json").read_text())
    train = meta["train_config"]
    model, _ = load_dit(config.run_dir)
    save_dit(model, config.out, stats_path_of(config.run_dir))
    for name in ("loss.png", "metrics.jsonl"):
        shutil.copy(config.run_dir / name, config.out / ("training-" + name))
    scores = evaluate_generations(replace(EvaluateConfig(), model=config.out, vae=Path(train["vae"]), classifier=config.classifier,
                              data=Path(train["data"]), out=config.out, items=config.evaluation_items,
                              split=config.evaluation_split, seconds=config.evaluation_seconds,
                              steps=config.evaluation_steps,
                              context_frames=train["context_frames"], block_frames=train["block_frames"],
                              threads=config.threads))
    valid = [json.loads(line)["valid_loss"] for line in (config.run_dir / "metrics.jsonl").read_text().splitlines()
             if "valid_loss" in line]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    training = {"variant": model.config.variant, "steps": meta["step"], "wall_hours": meta["elapsed_seconds"] / 3600,
                "final_valid_loss": valid[-1] if valid else None, "packaged_at_commit": commit,
                "cpu_cores": os.cpu_count(),
                "parameters": parameter_count(model), "config": train,
                "offline_valid_loss": meta.get("offline_valid_loss"),
                "reached_offline_valid_hours": (meta["reached_offline_valid_seconds"] / 3600
                                                if "reached_offline_valid_seconds" in meta else None),
                "weights_sha256": hashlib.sha256((config.out / "model.safetensors").read_bytes()).hexdigest()}
    (config.out / "training.json").write_text(json.dumps(training, indent=1) + "\n")
    (config.out / "CARD.md").write_text(render_card(config, training, scores))
    return {"training": training, "evaluation": scores}


def render_card(config: DiTPackageConfig, training: dict, scores: dict) -> str:
    t, s = training["config"], scores["sketch_adherence"]
    command = command_line("python -m lmdm.dit.train", t, TrainDiTConfig)
    judge = json.loads((config.classifier / "report.json").read_text())["test"]
    chance = 1 / len(scores["instruments_asked"])
    fine_tune = ""
    cores = training.get("cpu_cores") or os.cpu_count()  # packaged on the machine that trained (this CPU)
    if training["offline_valid_loss"] is not None:
        reached = training["reached_offline_valid_hours"]
        fine_tune = (f"- Fine-tuned from the offline model; its validation loss on the same target frames: "
                     f"{training['offline_valid_loss']:.4f}; reached after "
                     + (f"{reached:.2f} h wall on {cores} cores ({cores * reached:.2f} CPU-hours)."
                        if reached is not None else "— not reached in this run."))
    lines = [
        f"# Model card: LMDM DiT, variant `{training['variant']}`", "",
        f"- Files: `model.safetensors` (EMA weights stored as float16, {training['parameters'] / 1e6:.2f} M "
        "parameters), `config.json`, `stats.json` (latent and control normalisation). Needs the VAE in `models/vae`.",
        f"- Data: latents of `{t['data']}` train split encoded by `{t['vae']}` (docs/data.md).",
        f"- Training: `{command}`; {training['steps']:,} steps, {training['wall_hours']:.2f} h wall, batch "
        f"{t['batch_size']}, C = {t['context_frames']}, B = {t['block_frames']} latent frames, on {cores} cores "
        f"(`--device {t.get('device', 'cpu')}`); curves in `training-loss.png`, log in `training-metrics.jsonl`.",
        f"- Final validation loss (velocity MSE on target frames): {training['final_valid_loss']:.4f}."
        if training.get("final_valid_loss") is not None else None,
        f"- Packaged at commit `{training['packaged_at_commit']}` by `python -m lmdm.dit.release --run-dir "
        f"{config.run_dir} --out {config.out}`." if training.get("packaged_at_commit") else None,
        fine_tune, "",
        f"## Evaluation ({scores['items']} test-split sketches of {scores['seconds']:.1f} s, {scores['steps']} steps, "
        f"CFG {scores['guidance']})", "",
        "Rerun: `python -m lmdm.evaluation.evaluate --model <this folder> --out <folder>`.", "",
        "| measure | value |", "|---|---|",
        f"| loudness r (sketch vs output) | {s['loudness_r']:.3f} |",
        f"| brightness r | {s['brightness_r']:.3f} |",
        f"| pitch within 1 semitone (frames voiced in both) | {s['pitch_within_semitone']:.3f} |",
        f"| text adherence: classifier top-1 on 'solo <instrument>' (chance {chance:.3f}) | "
        f"{scores['text_adherence_top1']:.3f} |",
        f"| Fréchet distance, classifier embedding | {scores['frechet_distance_classifier']:.2f} |",
        f"| Fréchet distance, aiSFX embedding (non-standard FAD) | "
        f"{scores['frechet_distance_aisfx_nonstandard_fad']:.2f} |", "",
        f"The judge (`models/classifier`) names the solo instrument of held-out audio correctly "
        f"{judge['solo_instrument_top1']:.0%} of the time ({judge['instrument_classes']} classes), so text adherence "
        f"is bounded by it. Fréchet distances use {scores['items']} clips per side: comparable between these models, not "
        "with published figures. Prompts for the sketch measures are the examples' own captions.", "",
    ]
    notes = config.out / "NOTES.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    return "\n".join(line for line in lines if line is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.dit.release", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, DiTPackageConfig)
    print(json.dumps(release_dit(config_from_args(parser.parse_args(argv), DiTPackageConfig))["training"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
