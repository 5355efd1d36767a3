"""The generative delay over the bundled guitar clip (`make demo`): dry, wet and mixed audio, a
spectrogram, the latency report, and the adherence benchmark's loudness r and pitch-class accuracy.

Runs the headless host (build/lmdm_host) in real time, exactly as a sound card would call the plugin
(its callback thread at real-time priority where the system grants it), with the shipped model package, wet only, then mixes dry and wet here (the host trims the reported
latency, as a DAW does, so the two are aligned).
"""

import argparse
import json
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from lmdm.evaluation import adherence  # noqa: E402

from summarise_report import summarise  # noqa: E402


def plot(dry: np.ndarray, wet: np.ndarray, rate: int, prompt: str, path: Path) -> None:
    figure, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for axis, audio, title in ((axes[0], dry, "dry: the guitar clip"), (axes[1], wet, f"wet: LMDM, prompt '{prompt}'")):
        axis.specgram(audio + 1e-9, NFFT=2048, Fs=rate, noverlap=1536, cmap="magma", vmin=-130)
        axis.set_ylim(0, 8000)
        axis.set_ylabel("Hz")
        axis.set_title(title)
    axes[1].set_xlabel("seconds")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def adherence_line(dry: np.ndarray, wet: np.ndarray, rate: int) -> str:
    """The benchmark's loudness r and pitch-class accuracy (bench/adherence_bench.py) over the clip."""
    dry_analysis, wet_analysis = adherence.analyse(dry, rate), adherence.analyse(wet, rate)
    everything = np.ones(dry_analysis.frames, bool)
    scores = adherence.span_scores(dry_analysis, wet_analysis, everything,
                                   adherence.octave_offset(dry_analysis, wet_analysis, everything))
    return (f"dry vs wet, frames where the guitar plays (lmdm.evaluation.adherence): loudness r = {scores['loudness_r']:.2f}, "
            f"pitch-class accuracy = {scores['pitch_class_accuracy']:.0%} (within 50 cents, any octave)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", type=Path, default=Path("build/lmdm_host"))
    parser.add_argument("--model", type=Path, default=Path("models/lmdm-live"))
    parser.add_argument("--clip", type=Path, default=Path("assets/guitar_clip.flac"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--prompt", default="violin", help="a prompt name from the package's prompts.json")
    parser.add_argument("--buffer", type=int, default=256)
    args = parser.parse_args()
    if not (args.model / "manifest.json").exists():
        raise SystemExit(f"no model package in {args.model}: run `make train-lmdm` (or pass --model)")
    names = [p["name"] for p in json.loads((args.model / "prompts.json").read_text())["prompts"]]
    if args.prompt not in names:
        raise SystemExit(f"unknown prompt {args.prompt!r}; the package offers: {', '.join(names)}")
    args.out.mkdir(parents=True, exist_ok=True)
    wet_path, report_path = args.out / "wet.wav", args.out / "latency_report.json"
    subprocess.run([str(args.host), "render", str(args.clip), str(wet_path), "--model", str(args.model),
                    "--buffer", str(args.buffer), "--pace", "realtime", "--rt-priority", "70", "--mix", "1", "--feedback", "0",
                    "--set", f"prompt_a={names.index(args.prompt)}", "--tail", "1", "--report", str(report_path)],
                   check=True)
    dry, rate = soundfile.read(args.clip, dtype="float32", always_2d=True)
    wet, _ = soundfile.read(wet_path, dtype="float32", always_2d=True)
    dry, wet = dry.mean(axis=1), wet.mean(axis=1)[: len(dry)]
    soundfile.write(args.out / "dry.wav", dry, rate, subtype="FLOAT")
    soundfile.write(args.out / "mixed.wav", 0.5 * (dry + wet), rate, subtype="FLOAT")
    plot(dry, wet, rate, args.prompt, args.out / "spectrogram.png")
    report = json.loads(report_path.read_text())
    print(summarise(report))
    print(adherence_line(dry, wet, rate))
    print(f"wrote {args.out}/dry.wav, wet.wav, mixed.wav, spectrogram.png, latency_report.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
