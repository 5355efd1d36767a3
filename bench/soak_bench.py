"""An hour-long session of the plugin's engine in the headless host (issue 19, docs/reliability.md).

`lmdm_host soak` plays the bundled guitar clip looped through the shipped package, paced like a sound
card: two random parameter changes every callback (prompts, seed, steps, guidance, mix, feedback,
...), the package reloaded every --reload-seconds while the audio runs (as the plugin swaps it), the
buffer size changed every --resize-seconds (as a host re-prepares). Reports crashes (the exit code),
missed and invalid blocks, non-finite output and the resident memory's slope after warm-up, and writes
bench/results/soak.{json,png}. Run it on a quiet machine: misses are real-time misses. The warm-up
(its misses count like any others) reloads every --warm-up-reload-seconds: glibc's heap settles into
its fragmentation only after ~15-20 reloads, which an hour at one reload per 5 minutes never reaches,
so without it the slope would measure that fill rather than growth.

The host logs every miss, shortened block, reload and buffer change with its time and the resident
memory then; the report sorts the misses into those soon after a re-prepare (a reload or a buffer
change) and the rest, gives the resident memory at each reload, and the worker's time per block
(median, p99, slowest) against the block's length.

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
AFTER_PREPARE_SECONDS = 2.0  # a miss this soon after a reload or buffer change is counted as caused by it
AFTER_LATE_CALLBACK_SECONDS = 1.0  # a miss this soon after the audio loop woke late is listed with it
LOST_BLOCKS = ("missed", "shortened", "skipped", "invalid")


def memory_slope(samples: list[list[float]], warm_up_seconds: float) -> float | None:
    """MB per hour of the resident memory after warm-up (least squares), None with too few samples."""
    kept = np.array([s for s in samples if s[0] >= warm_up_seconds])
    if len(kept) < 3:
        return None
    return float(np.polyfit(kept[:, 0], kept[:, 1], 1)[0] * 3600.0)


def reload_slope(events: list[dict], warm_up_seconds: float) -> float | None:
    """MB per reload of the resident memory at the reloads after warm-up (least squares), None with too few."""
    kept = [e["resident_mb"] for e in events if e["kind"] == "reload" and e["seconds"] >= warm_up_seconds]
    if len(kept) < 3:
        return None
    return float(np.polyfit(np.arange(len(kept)), kept, 1)[0])


def summarise_events(events: list[dict]) -> dict:
    """Each kind of lost block counted, split by whether it came within AFTER_PREPARE_SECONDS of a re-prepare."""
    prepares = [e["seconds"] for e in events if e["kind"] in ("reload", "resize")]
    summary = {}
    for kind in LOST_BLOCKS:
        after = steady = 0
        for event in (e for e in events if e["kind"] == kind):
            since = [event["seconds"] - t for t in prepares if t <= event["seconds"]]
            if since and min(since) <= AFTER_PREPARE_SECONDS:
                after += int(event["value"])
            else:
                steady += int(event["value"])
        summary[kind] = {"after_prepare": after, "steady": steady}
    # The audio loop woke late and then caught up faster than real time: a block decided meanwhile may
    # be missed although the worker kept to the deadline it was given.
    late = [e for e in events if e["kind"] == "late_callback"]
    summary["late_callbacks"] = {"count": len(late), "max_ms": max((e["value"] for e in late), default=0.0)}
    missed_after_late = 0
    for event in (e for e in events if e["kind"] == "missed"):
        if any(0.0 <= event["seconds"] - e["seconds"] <= AFTER_LATE_CALLBACK_SECONDS for e in late):
            missed_after_late += int(event["value"])
    summary["missed"]["after_late_callback"] = missed_after_late
    reloads = [e for e in events if e["kind"] == "reload"]
    # A leak grows the heap in use; memory the allocator retains grows its free part.
    for key in ("resident_mb", "heap_in_use_mb", "heap_free_mb"):
        summary[f"{key}_at_reloads"] = [round(e[key], 1) for e in reloads]
    return summary


def summarise_worker(worker_ms: list[list[float]], block_ms: float) -> dict:
    """The worker's time per block: quantiles, as a share of the block, and the slowest blocks with their time."""
    if not worker_ms:
        return {}
    times = np.array(worker_ms)
    ms = times[:, 1]
    slowest = np.argsort(ms)[::-1][:10]
    return {"blocks": len(ms), "block_ms": round(block_ms, 2), "median_ms": float(np.median(ms)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "p99_share_of_block": float(np.percentile(ms, 99) / block_ms),
            "slowest": [[round(float(times[i, 0]), 2), round(float(ms[i]), 1)] for i in slowest]}


def fold_shortened(soak: dict) -> list[int]:
    """Blocks shortened per minute of audio; their events leave the log, which an hour's thousands would swell."""
    shortened = [e for e in soak["events"] if e["kind"] == "shortened"]
    per_minute = [0] * (int(soak["audio_seconds"] // 60) + 1)
    for event in shortened:
        per_minute[int(event["seconds"] // 60)] += int(event["value"])
    soak["events"] = [e for e in soak["events"] if e["kind"] != "shortened"]
    return per_minute


def plot(report: dict, worker_ms: list[list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    host, slope = report["host"], report["memory_slope_mb_per_hour"]
    samples = np.array(host["resident_mb"])
    figure, (memory, worker) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    memory.plot(samples[:, 0] / 60, samples[:, 1], color="tab:blue")
    memory.axvline(report["warm_up_seconds"] / 60, color="grey", linestyle=":", label="end of warm-up")
    reloads = [e["seconds"] / 60 for e in host["events"] if e["kind"] == "reload"]
    for i, minute in enumerate(reloads):
        memory.axvline(minute, color="tab:green", alpha=0.3, label="reload" if i == 0 else None)
    memory.set_ylabel("resident memory (MB)")
    title = f"soak: {host['reloads']} reloads, {host['resizes']} buffer changes, {host['blocks_missed']} missed"
    memory.set_title(title + (f", slope {slope:+.2f} MB/h" if slope is not None else ""))
    memory.legend(loc="lower right")
    if worker_ms:
        times = np.array(worker_ms)
        worker.plot(times[:, 0] / 60, times[:, 1], ".", markersize=1.5, color="tab:blue", label="worker, per block")
        worker.axhline(report["worker"]["block_ms"], color="black", linestyle="--", label="one block")
    top = report["worker"].get("block_ms", 1.0) * 1.1
    missed = [e["seconds"] / 60 for e in host["events"] if e["kind"] == "missed"]
    shortened = [minute for minute, count in enumerate(report["shortened_per_minute"]) if count]
    for minutes, colour, label in ((missed, "tab:red", "missed"), (shortened, "tab:orange", "shortened (that minute)")):
        if minutes:
            worker.plot(minutes, [top] * len(minutes), "v", color=colour, label=label)
    worker.set_yscale("log")
    worker.set_xlabel("minutes of audio")
    worker.set_ylabel("ms")
    worker.legend(loc="lower right", fontsize=8)
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
    parser.add_argument("--warm-up-reload-seconds", type=float, default=20.0,
                        help="reload this often during the warm-up (0: on the normal schedule): glibc's heap"
                             " reaches its steady fragmentation after ~15-20 reloads (bench/results/soak-reloads)")
    parser.add_argument("--rt-priority", type=int, default=70,
                        help="SCHED_FIFO priority of the audio thread, as JACK and DAWs give theirs (0: none)")
    parser.add_argument("--pace", choices=("realtime", "offline"), default="realtime",
                        help="offline: as fast as the machine goes, for the memory over many reloads (misses"
                             " then mean nothing: an offline host waits for each block)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    args = parser.parse_args()
    host = json.loads((args.build_dir / "lmdm_build.json").read_text())["lmdm_host"]
    warm_up = min(args.warm_up_seconds, args.seconds / 3)
    with tempfile.TemporaryDirectory() as folder:
        report_path = Path(folder) / "soak.json"
        command = [host, "soak", str(args.clip), "--model", str(args.model), "--seconds", str(args.seconds),
                   "--reload-seconds", str(args.reload_seconds), "--resize-seconds", str(args.resize_seconds),
                   "--warm-up-seconds", str(warm_up), "--warm-up-reload-seconds", str(args.warm_up_reload_seconds),
                   "--pace", args.pace, "--rt-priority", str(args.rt_priority), "--report", str(report_path)]
        print(" ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True)
        soak = json.loads(report_path.read_text()) if report_path.exists() else None
    slope = memory_slope(soak["resident_mb"], warm_up) if soak else None
    worker_ms = soak.pop("worker_ms", []) if soak else []  # 20,000 pairs an hour: summarised, not kept
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                       text=True).stdout.strip(),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "command": command, "exit_code": result.returncode, "stderr_tail": result.stderr[-2000:],
              "warm_up_seconds": warm_up, "memory_slope_mb_per_hour": slope,
              "memory_slope_mb_per_reload": reload_slope(soak["events"], warm_up) if soak else None, "host": soak}
    passed = (args.pace == "realtime" and result.returncode == 0 and soak is not None and soak["blocks_missed"] == 0
              and soak["blocks_invalid"] == 0 and soak["non_finite_samples"] == 0 and soak["reload_failures"] == 0
              and slope is not None and slope < GOAL_MB_PER_HOUR)
    report["goals_met"] = passed
    if soak:
        report["lost_blocks"] = summarise_events(soak["events"])
        report["worker"] = summarise_worker(worker_ms, 1000.0 * soak["block_frames"] / soak["sample_rate"])
        report["shortened_per_minute"] = fold_shortened(soak)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    if soak:
        plot(report, worker_ms, args.out.with_suffix(".png"))
        print(f"{soak['audio_seconds']:.0f} s: exit {result.returncode}, {soak['reloads']} reloads, "
              f"{soak['resizes']} buffer changes, {soak['blocks_missed']} missed, {soak['blocks_invalid']} invalid, "
              f"{soak['non_finite_samples']} non-finite samples, memory {slope:+.2f} MB/h after warm-up, "
              f"{report['memory_slope_mb_per_reload'] or 0:+.3f} MB per reload, {soak['memory_trims']} trims by the"
              f" worker (slowest {soak['slowest_trim_ms']:.1f} ms)"
              if slope is not None else "too short for a memory slope")
    else:
        print(f"the host failed (exit {result.returncode}): {result.stderr[-2000:]}")
    print(f"{args.out}: {'goals met' if passed else 'goals NOT met'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
