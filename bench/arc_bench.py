"""ARC-Forcing against its base: quality against steps and against compute per block (issue 17).

For an ARC-Forcing package (ping-pong sampling, no guidance: its manifest's defaults) at 1, 2 and 4
steps and its flow-matching base (Euler, guidance 2) at 4, 8 and 16 steps:
- the adherence benchmark (bench/adherence_bench.py, the exact plugin path; one tagged run per
  configuration into bench/results/arc/, over the streams and seeds asked: by default the melodies'
  2-minute stream and the looped phrase, four prompts, one seed) with its Fréchet distance to real
  renders on the classifier embedding;
- the engine's compute per block: the C++ LmdmModel (lmdm._engine, one ONNX Runtime thread as the
  plugin runs it) over `--cost-blocks` blocks of the same guitar stream, median and 90th percentile.
Writes bench/results/arc.json (every configuration's aggregates and cost) and arc.png (the metrics
against steps and against milliseconds per block).

    .venv/bin/python bench/arc_bench.py --arc PKG --base PKG [--arc-steps 1 2 4] [--base-steps 4 8 16]
        [--reuse bench/results/arc5/arc/adherence_base_{4,8,16}.json]   # the base's runs from an earlier benchmark

The cost wants a quiet machine: `--cost-only` measures it again over the adherence runs already written.
One seed judges the instrument on 88 crops (95 % interval about ±0.1, written beside the top-1): an
instrument gap wants `--seeds 0 1 2` at least (docs/lmdm.md, "How far one seed can be trusted").
"""

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
import numpy as np
import soundfile as sf
from scipy.stats import binomtest

from lmdm.cli import add_config_arguments, config_from_args
from lmdm.evaluation.adherence import to_analysis_rate

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PLOTTED = (("instrument_top1", "instrument top-1"), ("loudness_r", "loudness r"),
           ("pitch_class_accuracy", "pitch-class accuracy"), ("brightness_r", "brightness r"),
           ("first_3s_loudness_r", "first 3 s loudness r"), ("frechet", "Fréchet distance (classifier)"))


@dataclass(frozen=True)
class ArcBenchConfig:
    arc: Path = field(default_factory=lambda: Path("models/lmdm-live"))
    base: Path = field(default_factory=lambda: Path("models/lmdm-live"))
    arc_steps: tuple[int, ...] = (1, 2, 4)
    base_steps: tuple[int, ...] = (4, 8, 16)
    streams: tuple[str, ...] = ("monophonic", "monophonic-loop")
    seeds: tuple[int, ...] = (0,)
    # CFG for the ARC package (0: its manifest's, 1 for ARC packages). Above 1 its unconditional row, which
    # lacks the prompt and the sketch, is run too: guidance on the player's controls at twice the batch.
    arc_guidance: float = 0.0
    jobs: int = 1
    cost_blocks: int = 60
    cost_only: bool = False  # reuse the adherence runs in results/arc; measure the cost again (on a quiet machine)
    # Adherence runs taken from an earlier run's files (its arc/adherence_base_8.json ...: when only the ARC
    # package changed, so the base package, streams and seeds are the same); their cost is measured again here.
    reuse: tuple[Path, ...] = ()
    results: Path = field(default_factory=lambda: Path("bench/results"))


def adherence_run(package: Path, steps: int, guidance: float, tag: str, config: ArcBenchConfig) -> dict:
    """One adherence benchmark run of a package at a step count and guidance (0: the package's; its other
    settings the package's)."""
    folder = config.results / "arc"
    parameters = [f"steps={steps}"] + ([f"guidance={guidance}"] if guidance else [])
    command = [sys.executable, str(REPO / "bench" / "adherence_bench.py"), "--model", str(package),
               "--parameters", *parameters, "--seeds", *map(str, config.seeds), "--jobs", str(config.jobs),
               "--results", str(folder), "--tag", tag]
    if config.streams:
        command += ["--streams", *config.streams]
    subprocess.run(command, cwd=REPO, check=True)
    return json.loads((folder / f"adherence_{tag}.json").read_text())


def reused_run(path: Path, package: Path, config: ArcBenchConfig) -> dict:
    """An earlier adherence run of the same package, streams and seeds, copied (with its plots) beside this run's."""
    result = json.loads(path.read_text())
    earlier = result["config"]
    if (Path(earlier["model"]) != package or tuple(earlier["seeds"]) != config.seeds
            or tuple(earlier["streams"]) != config.streams):
        raise SystemExit(f"--reuse {path}: measured {earlier['model']} over {earlier['streams']} with seeds "
                         f"{earlier['seeds']}, not {package} over {list(config.streams)} with {list(config.seeds)}")
    folder = config.results / "arc"
    folder.mkdir(parents=True, exist_ok=True)
    tag = path.stem.removeprefix("adherence_")
    for source in (path, path.with_suffix(".png"), path.parent / f"adherence_spectrograms_{tag}.png"):
        if source.exists():
            shutil.copyfile(source, folder / source.name)
    return result


def block_cost_ms(package: Path, steps: int, guidance: float, blocks: int) -> dict[str, float]:
    """Compute time of the engine's whole per-block chain (features, encoder, denoiser steps, decoder)."""
    from lmdm import _engine

    model = _engine.LmdmModel(str(package), threads=1)
    model.set_settings(steps=steps, guidance=guidance)
    model.set_prompt(model.prompt_embedding(1))
    stream = sorted((REPO / "out" / "adherence").glob("material-*/monophonic.wav"))
    source = stream[0] if stream else REPO / "assets" / "guitar_clip.flac"
    audio, rate = sf.read(source, dtype="float32", always_2d=True)
    audio = to_analysis_rate(audio.mean(1), rate)
    size = model.block_samples
    times = []
    for index in range(blocks + 3):  # the first blocks warm ONNX Runtime up
        block = np.ascontiguousarray(audio[(index * size) % (len(audio) - size):][:size])
        started = time.perf_counter()
        model.process(block)
        if index >= 3:
            times.append(1000 * (time.perf_counter() - started))
    return {"median_ms": float(np.median(times)), "p90_ms": float(np.percentile(times, 90)), "blocks": blocks}


def instrument_interval(played: list[dict]) -> dict:
    """How sure the instrument top-1 is: its crops and 95 % Wilson interval. About 88 crops per seed put
    ±0.1 around a top-1 of 0.6, wider than most gaps between two models; more seeds narrow it."""
    crops = sum(r["instrument"]["crops"] for r in played)
    if not crops:
        return {"instrument_crops": 0, "instrument_top1_interval95": None}
    right = round(sum(r["instrument"]["top1"] * r["instrument"]["crops"] for r in played))
    interval = binomtest(right, crops).proportion_ci(confidence_level=0.95, method="wilson")
    return {"instrument_crops": crops, "instrument_top1_interval95": [float(interval.low), float(interval.high)]}


def summary(result: dict) -> dict:
    overall = result["aggregates"]["overall"]
    keep = ("instrument_top1", "loudness_r", "brightness_r", "pitch_class_accuracy", "level_difference_db",
            "flatness_wet_db", "first_3s_loudness_r", "first_3s_level_difference_db", "rest_max_dbfs",
            "drift_loop_loudness_r", "drift_loop_pitch_class_accuracy")
    out = {k: overall.get(k) for k in keep}
    played = [r for r in result["runs"] if r["kind"] != "loop"]
    out.update(instrument_interval(played))
    out["instrument_top1_by_prompt"] = {}
    for prompt in dict.fromkeys(r["prompt"] for r in played):
        runs = [r["instrument"] for r in played if r["prompt"] == prompt and r["instrument"]["crops"]]
        crops = sum(i["crops"] for i in runs)
        out["instrument_top1_by_prompt"][prompt] = sum(i["top1"] * i["crops"] for i in runs) / crops if crops else None
    out["frechet"] = result["aggregates"].get("frechet_classifier", {}).get("distance")
    return out


def plot(rows: list[dict], path: Path) -> None:
    figure, axes = plt.subplots(2, len(PLOTTED), figsize=(4 * len(PLOTTED), 7))
    for column, (metric, label) in enumerate(PLOTTED):
        for model, marker in (("arc", "o-"), ("base", "s--")):
            chosen = [r for r in rows if r["model"] == model]
            values = [r["scores"].get(metric) for r in chosen]
            guidance = chosen[0].get("guidance") if chosen else None
            legend = f"{model}, guidance {guidance:g}" if guidance else model
            axes[0, column].plot([r["steps"] for r in chosen], values, marker, label=legend)
            axes[1, column].plot([r["cost"]["median_ms"] for r in chosen], values, marker, label=legend)
        axes[0, column].set(title=label, xlabel="steps", xscale="log", xticks=[1, 2, 4, 8, 16],
                            xticklabels=["1", "2", "4", "8", "16"])
        axes[1, column].set(xlabel="engine ms per block (median)")
        axes[0, column].legend()
    figure.suptitle("ARC-Forcing (ping-pong; its manifest's guidance unless labelled) against its base "
                    "(Euler, guidance 2)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, ArcBenchConfig)
    config = config_from_args(parser.parse_args(argv), ArcBenchConfig)
    rows = []
    compared = (("arc", config.arc, config.arc_steps, config.arc_guidance),
                ("base", config.base, config.base_steps, 0.0))
    for model, package, step_counts, guidance in compared:
        for steps in step_counts:
            tag = f"{model}_{steps}" + (f"_g{guidance:g}" if guidance else "")
            reused = [path for path in config.reuse if path.name == f"adherence_{tag}.json"]
            written = config.results / "arc" / f"adherence_{tag}.json"
            result = (reused_run(reused[0], package, config) if reused
                      else json.loads(written.read_text()) if config.cost_only
                      else adherence_run(package, steps, guidance, tag, config))
            rows.append({"model": model, "package": str(package), "steps": steps, "guidance": guidance or None,
                         "manifest_stream": {k: json.loads((package / "manifest.json").read_text())["stream"][k]
                                             for k in ("solver", "default_guidance", "default_steps")},
                         "scores": summary(result),
                         "cost": block_cost_ms(package, steps, guidance, config.cost_blocks)})
            print(json.dumps(rows[-1]), flush=True)
    config.results.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": "arc-forcing steps", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "config": json.loads(json.dumps(asdict(config), default=str)), "rows": rows}
    (config.results / "arc.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(rows, config.results / "arc.png")
    print(f"wrote {config.results}/arc.json, arc.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
