"""An hour-long session of the plugin's engine in the headless host (issue 19, docs/reliability.md).

`lmdm_host soak` plays the bundled guitar clip looped through the shipped package, paced like a sound
card: two random parameter changes every callback (prompts, seed, steps, guidance, mix, feedback,
...), the package reloaded every --reload-seconds while the audio runs (as the plugin swaps it), the
buffer size changed every --resize-seconds (as a host re-prepares). Reports crashes (the exit code),
missed and invalid blocks, non-finite output and the resident memory's slope after warm-up, and writes
bench/results/soak.{json,png}. Run it on a quiet machine: misses are real-time misses.

    .venv/bin/python bench/soak_bench.py [--seconds 3600] [--build-dir build]
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOAL_MB_PER_HOUR = 1.0  # issue 19: resident memory growth after warm-up


def memory_slope(samples: list[list[float]], warm_up_seconds: float) -> float | None:
    """MB per hour of the resident memory after warm-up (least squares), None with too few samples."""
    kept = np.array([s for s in samples if s[0] >= warm_up_seconds])
    if len(kept) < 3:
        return None
    return float(np.polyfit(kept[:, 0], kept[:, 1], 1)[0] * 3600.0)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = np.array(report["host"]["resident_mb"])
    figure, axis = plt.subplots(figsize=(9, 3.6))
    axis.plot(samples[:, 0] / 60, samples[:, 1], color="tab:blue")
    axis.axvline(report["warm_up_seconds"] / 60, color="grey", linestyle=":", label="end of warm-up")
    axis.set_xlabel("minutes of audio")
    axis.set_ylabel("resident memory (MB)")
    slope, host = report["memory_slope_mb_per_hour"], report["host"]
    title = f"soak: {host['reloads']} reloads, {host['resizes']} buffer changes, {host['blocks_missed']} missed"
    axis.set_title(title + (f", slope {slope:+.2f} MB/h" if slope is not None else ""))
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=REPO / "build")
    parser.add_argument("--model", type=Path, default=REPO / "models" / "lmdm-live")
    parser.add_argument("--clip", type=Path, default=REPO / "assets" / "guitar_clip.flac")
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--reload-seconds", type=float, default=300.0)
    parser.add_argument("--resize-seconds", type=float, default=60.0)
    parser.add_argument("--warm-up-seconds", type=float, default=600.0,
                        help="memory before this is the allocators filling up, not growth")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    args = parser.parse_args()
    host = json.loads((args.build_dir / "lmdm_build.json").read_text())["lmdm_host"]
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "soak.json"
        command = [host, "soak", str(args.clip), "--model", str(args.model), "--seconds", str(args.seconds),
                   "--reload-seconds", str(args.reload_seconds), "--resize-seconds", str(args.resize_seconds),
                   "--report", str(report_path)]
        print(" ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        soak = json.loads(report_path.read_text()) if report_path.exists() else None
    warm_up = min(args.warm_up_seconds, args.seconds / 3)
    slope = memory_slope(soak["resident_mb"], warm_up) if soak else None
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                       text=True).stdout.strip(),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "command": command, "exit_code": result.returncode, "stderr_tail": result.stderr[-2000:],
              "warm_up_seconds": warm_up, "memory_slope_mb_per_hour": slope, "host": soak}
    passed = (result.returncode == 0 and soak is not None and soak["blocks_missed"] == 0
              and soak["blocks_invalid"] == 0 and soak["non_finite_samples"] == 0 and soak["reload_failures"] == 0
              and slope is not None and slope < GOAL_MB_PER_HOUR)
    report["goals_met"] = passed
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if soak:
        plot(report, args.out.with_suffix(".png"))
        print(f"{soak['audio_seconds']:.0f} s: exit {result.returncode}, {soak['reloads']} reloads, "
              f"{soak['resizes']} buffer changes, {soak['blocks_missed']} missed, {soak['blocks_invalid']} invalid, "
              f"{soak['non_finite_samples']} non-finite samples, memory {slope:+.2f} MB/h after warm-up"
              if slope is not None else "too short for a memory slope")
    else:
        print(f"the host failed (exit {result.returncode}): {result.stderr[-2000:]}")
    print(f"{args.out}: {'goals met' if passed else 'goals NOT met'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
