"""Headless latency benchmark: the engine paced like a sound card at several buffer sizes.

Runs `lmdm_host render --pace realtime` over the bundled clip (looped to --seconds) at each buffer
size with the shipped model package (the generative delay at its default steps; --model none for
the pass-through shell), collects the JSON reports into bench/results/latency.json and plots
audio-thread time per callback against the callback budget, plus worker time per block against the
worker's headroom, into bench/results/latency.png. The goals (issues 7 and 18) are checked and written
beside the numbers: worker p99 <= 50 % of the block, no misses and no blocks shortened to meet their
deadline (fewer steps), audio-thread p99 <= 2 % of the buffer, delay <= 400 ms. The simulated audio
thread runs at SCHED_FIFO (--rt-priority) as JACK, PipeWire and DAWs run theirs: at normal priority
the busy worker on 2 cores can preempt it for milliseconds (seen: 2 calls of 50,000 over budget).

    .venv/bin/python bench/latency_bench.py [--seconds 600] [--buffers 64 256 1024] [--model models/lmdm-live]
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=REPO / "build")
    parser.add_argument("--clip", type=Path, default=REPO / "assets" / "guitar_clip.flac")
    parser.add_argument("--seconds", type=float, default=600.0, help="audio per buffer size (the clip is looped)")
    parser.add_argument("--model", default=str(REPO / "models" / "lmdm-live"), help="model package, or 'none'")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads for the model")
    parser.add_argument("--provider", default="cpu",
                        help="execution provider asked for (cuda: the GPU build, bench/gpu_check.sh); the report "
                             "says which one ran")
    parser.add_argument("--rt-priority", type=int, default=70,
                        help="SCHED_FIFO priority of the simulated audio thread, as sound-card threads get (0: normal)")
    parser.add_argument("--buffers", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from the existing JSON")
    return parser.parse_args()


def run_one(host: Path, clip: Path, buffer_size: int, seconds: float, model: str, threads: int,
            rt_priority: int, provider: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        model_args = [] if model == "none" else ["--model", model, "--threads", str(threads), "--provider", provider]
        subprocess.run([str(host), "render", str(clip), str(Path(tmp) / "out.wav"), "--pace", "realtime",
                        "--buffer", str(buffer_size), "--min-seconds", str(seconds), "--report", str(report),
                        "--rt-priority", str(rt_priority), *model_args], check=True)
        return json.loads(report.read_text()) | {"goals": goals(json.loads(report.read_text()))}


def goals(run: dict) -> dict:
    block_ms = 1000.0 * run["block_frames"] / run["sample_rate"]
    headroom_ms = 1000.0 * run.get("headroom_frames", run["block_frames"]) / run["sample_rate"]
    return {"worker_p99_fraction_of_block": run["worker_ms"]["p99"] / block_ms,
            "worker_p99_within_half_block": run["worker_ms"]["p99"] <= 0.5 * block_ms,
            "worker_p99_fraction_of_headroom": run["worker_ms"]["p99"] / headroom_ms,
            "no_misses": run["blocks_missed"] == 0,
            "no_shortened_blocks": run.get("blocks_shortened", 0) == 0,
            "latency_within_400_ms": run["latency_ms"] <= 400.0,
            "audio_p99_fraction_of_buffer": run["audio_thread_us"]["p99"] / run["callback_budget_us"],
            "audio_p99_within_2_percent": run["audio_thread_us"]["p99"] <= 0.02 * run["callback_budget_us"]}


def plot(runs: list[dict], path: Path) -> None:
    fig, (ax_audio, ax_worker) = plt.subplots(1, 2, figsize=(11, 4))
    labels = [str(r["buffer_size"]) for r in runs]
    x = range(len(runs))
    for key, offset in (("p50", -0.25), ("p99", 0.0), ("max", 0.25)):
        ax_audio.bar([i + offset for i in x], [r["audio_thread_us"][key] for r in runs], width=0.25, label=key)
    ax_audio.plot(list(x), [r["callback_budget_us"] for r in runs], "k_", markersize=30, label="budget (buffer period)")
    ax_audio.set_yscale("log")
    ax_audio.set_ylim(top=30 * max(r["callback_budget_us"] for r in runs))
    ax_audio.set_xticks(list(x), labels)
    ax_audio.set_xlabel("host buffer (frames @ %d Hz)" % runs[0]["sample_rate"])
    ax_audio.set_ylabel("audio-thread time per callback (µs)")
    ax_audio.legend(loc="upper left", fontsize=8, ncol=2)
    ax_worker.bar([i - 0.15 for i in x], [r["worker_ms"]["p50"] for r in runs], width=0.3, label="p50")
    ax_worker.bar([i + 0.15 for i in x], [r["worker_ms"]["p99"] for r in runs], width=0.3, label="p99")
    ax_worker.set_xticks(list(x), labels)
    ax_worker.set_xlabel("host buffer (frames)")
    ax_worker.set_ylabel("worker time per block (ms)")
    block_ms = 1000.0 * runs[0]["block_frames"] / runs[0]["sample_rate"]
    ax_worker.axhline(0.5 * block_ms, color="k", linestyle="--", linewidth=1, label="goal: half a block")
    headroom_ms = 1000.0 * runs[0].get("headroom_frames", runs[0]["block_frames"]) / runs[0]["sample_rate"]
    ax_worker.axhline(headroom_ms, color="r", linestyle=":", linewidth=1, label="headroom (deadline)")
    ax_worker.set_title("%s; block = %d frames (%.0f ms)" % (runs[0].get("processor", "?"), runs[0]["block_frames"],
                                                            block_ms), fontsize=9)
    ax_worker.legend()
    fig.suptitle("LMDM engine, paced in real time (audio thread %s): delay %s ms, misses %s, shortened %s, "
                 "callbacks over budget %s" % (
                     runs[0].get("audio_thread_scheduling", "?"),
                     ", ".join("%.0f" % r["latency_ms"] for r in runs),
                     ", ".join(str(r["blocks_missed"]) for r in runs),
                     ", ".join(str(r.get("blocks_shortened", "?")) for r in runs),
                     ", ".join(str(r.get("callbacks_over_budget", "?")) for r in runs)), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    args = parse_args()
    if args.replot:
        plot(json.loads((args.out / "latency.json").read_text())["runs"], args.out / "latency.png")
        return
    host = args.build_dir / "lmdm_host"
    runs = [run_one(host, args.clip, b, args.seconds, args.model, args.threads, args.rt_priority, args.provider)
            for b in args.buffers]
    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "engine latency, real-time paced",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": len(os.sched_getaffinity(0))},
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                 text=True).stdout.strip(),
        "model": args.model,
        "provider_asked": args.provider,
        "runs": runs,
    }
    (args.out / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(runs, args.out / "latency.png")
    for r in runs:
        a = r["audio_thread_us"]
        print(f"buffer {r['buffer_size']:5d} ({r['provider']}): audio thread p50 {a['p50']:.1f} us, "
              f"p99 {a['p99']:.1f} us, "
              f"max {a['max']:.1f} us (budget {r['callback_budget_us']:.0f} us, {r['callbacks_over_budget']} over); "
              f"latency {r['latency_ms']:.1f} ms; "
              f"missed {r['blocks_missed']}, shortened {r.get('blocks_shortened', 0)}; "
              f"worker p99 {r['worker_ms']['p99']:.1f} ms "
              f"({100 * r['goals']['worker_p99_fraction_of_block']:.0f} % of the block)")
    print(f"wrote {args.out / 'latency.json'} and {args.out / 'latency.png'}")


if __name__ == "__main__":
    main()
