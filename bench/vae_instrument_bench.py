"""The VAE's ceiling on instrument identity: does the instrument judge still name an instrument after
the audio went through the VAE and back?

The generative delay's every sound comes out of the VAE decoder, so a timbre the round trip loses
(a violin the judge calls harpsichord once encoded and decoded) is lost for every model trained on
those latents, however well the DiT learns. This scores the adherence benchmark's real renders (the
test-split melodies and chordal reductions played by each prompt's instrument, training soundfonts;
`bench/adherence_bench.py`) as rendered and after each VAE's round trip (whole-sequence encode to the
posterior means, decode), with the same judge (`models/classifier`) on the same 3-s crops.

    .venv/bin/python bench/vae_instrument_bench.py [--vaes models/vae runs/x/checkpoint ...] [--tag NAME]

Writes bench/results/vae_instruments[_<tag>].{json,png}.
"""

import argparse
import json
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import lmdm.evaluation.adherence as adherence
from lmdm.cli import add_config_arguments, config_from_args
from lmdm.evaluation.classifier import load_classifier
from lmdm.vae.evaluate import reconstruct
from lmdm.vae.model import VAE, load_vae

from adherence_bench import (ANALYSIS_CODE, BenchConfig, code_digest, material_key_of, prepare_material,
                             reference_renders, streams_of)
from adherence_report import share

STREAMS = ("monophonic", "chordal")  # the streams whose real renders the adherence benchmark judges


@dataclass(frozen=True)
class VAEInstrumentConfig:
    vaes: tuple[Path, ...] = (Path("models/vae"),)  # shipped folders or training checkpoints
    classifier: Path = field(default_factory=lambda: Path("models/classifier"))
    instruments: tuple[str, ...] = ("flute", "violin", "cello", "clarinet")  # the adherence benchmark's prompts
    results: Path = field(default_factory=lambda: Path("bench/results"))
    tag: str = ""


def round_trip(vae: VAE, audio: np.ndarray) -> np.ndarray:
    """Encode to the posterior means and decode, sample-aligned; the tail the latents cannot hold stays silent."""
    usable = len(audio) // vae.config.samples_per_latent * vae.config.samples_per_latent
    return np.pad(reconstruct(vae, audio[:usable].astype(np.float32)), (0, len(audio) - usable))


def judged(classifier, audio: np.ndarray, crops: list[float], label: str) -> dict:
    names = adherence.judged_instruments(classifier, audio, crops, 3.0)
    return {"top1": share(names, label), "crops": len(names), "most_named": Counter(names).most_common(3)}


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = list(report["scores"])
    figure, axes = plt.subplots(1, len(STREAMS), figsize=(6 * len(STREAMS), 3.8), sharey=True, squeeze=False)
    for axis, stream in zip(axes[0], STREAMS):
        instruments = list(report["scores"][sources[0]][stream])
        width = 0.8 / len(sources)
        for index, source in enumerate(sources):
            values = [report["scores"][source][stream][i]["top1"] for i in instruments]
            axis.bar(np.arange(len(instruments)) + index * width, values, width, label=source)
        axis.set_xticks(np.arange(len(instruments)) + 0.4 - width / 2, instruments)
        axis.axhline(0.5, color="grey", lw=0.8, ls="--")
        axis.set_title(f"{stream}: judge's top-1 on real renders")
        axis.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("share of 3-s crops named right")
    axes[0][-1].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, VAEInstrumentConfig)
    config = config_from_args(parser.parse_args(argv), VAEInstrumentConfig)
    started = time.perf_counter()
    torch.set_num_threads(2)
    bench = BenchConfig()
    folder = bench.cache / f"material-{material_key_of(bench)}"
    streams = [s for s in streams_of(bench) if s.name in STREAMS]
    dry = prepare_material(streams, folder, code_digest(*ANALYSIS_CODE))
    classifier = load_classifier(config.classifier)
    real = {s.name: reference_renders(s, list(config.instruments), folder) for s in streams}
    crops = {s.name: adherence.active_crops(dry[s.name], 3.0) for s in streams}
    scores = {"real renders": {name: {label: judged(classifier, audio, crops[name], label)
                                      for label, audio in renders.items()} for name, renders in real.items()}}
    for path in config.vaes:
        vae = load_vae(path)
        scores[str(path)] = {name: {label: judged(classifier, round_trip(vae, audio), crops[name], label)
                                    for label, audio in renders.items()} for name, renders in real.items()}
    means = {source: {name: float(np.mean([v["top1"] for v in by_label.values()])) for name, by_label in s.items()}
             for source, s in scores.items()}
    report = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
              "config": json.loads(json.dumps(config.__dict__, default=str)), "material": str(folder),
              "scores": scores, "mean_top1": means, "seconds": round(time.perf_counter() - started, 1)}
    suffix = f"_{config.tag}" if config.tag else ""
    config.results.mkdir(parents=True, exist_ok=True)
    (config.results / f"vae_instruments{suffix}.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, config.results / f"vae_instruments{suffix}.png")
    for source, by_stream in scores.items():
        for name, by_label in by_stream.items():
            row = ", ".join(f"{label} {v['top1']:.2f}" for label, v in by_label.items())
            print(f"{source:>28} {name:>10}: {row} (mean {means[source][name]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
