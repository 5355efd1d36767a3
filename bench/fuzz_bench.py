"""Fuzz every parser of outside data with libFuzzer (tests/fuzz, docs/reliability.md) and report.

Per target: replays the committed regression inputs (tests/fuzz/regressions/<target>/: every crash
ever found, which must now pass), then fuzzes for --seconds from the seed corpus
(tests/fuzz/make_corpora.py) plus the corpus kept from earlier runs (<build>/fuzz-corpus), under
AddressSanitizer and UndefinedBehaviorSanitizer. Writes executions, coverage and crashes as JSON
(and a plot beside it); a crash leaves its input in <build>/fuzz-crashes/ and fails the run.

    make fuzz FUZZ_SECONDS=600                     # bench/results/fuzz.{json,png}
    make fuzz FUZZ_RUNS=10000000 FUZZ_SECONDS=86400 # issue 19's goal: 10 M executions per target
    .venv/bin/python bench/fuzz_bench.py --build-dir build-fuzz --seconds 5 --out build-fuzz/fuzz-smoke.json
"""

import argparse
import fcntl
import json
import os
import platform
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ("fuzz_state", "fuzz_manifest", "fuzz_prompts", "fuzz_safetensors", "fuzz_package", "fuzz_package_load",
           "fuzz_audio")
REGRESSIONS = REPO / "tests" / "fuzz" / "regressions"
# libvorbis (through libsndfile) leaks on some damaged Ogg files: not our code, reported and suppressed.
LSAN_SUPPRESSIONS = REPO / "tests" / "fuzz" / "lsan.supp"
# Per-target libFuzzer flags. fuzz_audio: libFuzzer's leak check after every input that allocates more
# than it frees ran on most inputs (libvorbis' leaks, suppressed above) and took three quarters of the
# time (566 inputs/s with it, 1,945 without); AddressSanitizer's memory checks stay on, and our reader
# owns everything through RAII (SndfilePtr, vectors).
TARGET_FLAGS = {"fuzz_audio": ["-detect_leaks=0"]}


def environment(seeds: Path) -> dict[str, str]:
    return os.environ | {"LMDM_FUZZ_PACKAGE": str(seeds / "package"),
                         "LSAN_OPTIONS": f"suppressions={LSAN_SUPPRESSIONS}:print_suppressions=0",
                         "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}


def replay(binary: Path, target: str, env: dict) -> dict:
    inputs = sorted((REGRESSIONS / target).glob("*")) if (REGRESSIONS / target).is_dir() else []
    if not inputs:
        return {"inputs": 0, "passed": True}
    result = subprocess.run([str(binary), *map(str, inputs)], env=env, capture_output=True, text=True, timeout=600)
    return {"inputs": len(inputs), "passed": result.returncode == 0,
            **({} if result.returncode == 0 else {"log_tail": result.stderr[-3000:]})}


def fuzz(binary: Path, target: str, seconds: int, build: Path, seeds: Path, env: dict, runs: int = 0) -> dict:
    corpus, crashes = build / "fuzz-corpus" / target, build / "fuzz-crashes"
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    before = set(crashes.glob(f"{target}-*"))
    flags = TARGET_FLAGS.get(target, []) + ([f"-runs={runs}"] if runs else [])
    command = [str(binary), f"-max_total_time={seconds}", "-print_final_stats=1", "-timeout=60", "-rss_limit_mb=4096",
               f"-artifact_prefix={crashes}/{target}-", *flags, str(corpus), str(seeds / target)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds * 3 + 300)
    log = result.stderr
    stat = lambda name: int(m.group(1)) if (m := re.search(rf"stat::{name}:\s+(\d+)", log)) else None
    done = re.findall(r"#\d+\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)", log)
    found = sorted(set(crashes.glob(f"{target}-*")) - before)
    executions = stat("number_of_executed_units")
    report = {"seconds_limit": seconds, "runs_limit": runs or None, "flags": flags, "executions": executions,
              "executions_per_second": stat("average_exec_per_sec"),
              "coverage_edges": int(done[-1][0]) if done else None, "features": int(done[-1][1]) if done else None,
              "corpus_files": len(list(corpus.iterdir())), "peak_rss_mb": stat("peak_rss_mb"),
              "crashes": [str(p.relative_to(REPO) if p.is_relative_to(REPO) else p) for p in found],
              "exit_code": result.returncode}
    if result.returncode != 0 or found:
        report["log_tail"] = log[-4000:]
    return report


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["targets"])
    runs = [report["targets"][n]["fuzz"] for n in names]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    left.barh(names, [r["executions"] or 0 for r in runs], color="tab:blue")
    left.set_xscale("log")
    left.set_xlabel(f"executions (this run; {report['seconds_per_target']} s per target)")
    right.barh(names, [r["coverage_edges"] or 0 for r in runs], color="tab:green")
    right.set_xlabel("coverage (edges)")
    for i, run in enumerate(runs):
        if run["crashes"]:
            left.annotate(f"{len(run['crashes'])} crash(es)", (1, i), color="tab:red")
    figure.suptitle("libFuzzer + ASan/UBSan over every parser of outside data")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def make_seeds(build: Path) -> Path:
    """The seed corpora (tests/fuzz/make_corpora.py, made once per build) under a lock: two runs started
    together, one target per core, both wrote the same folder at once and both failed (session 23)."""
    seeds = build / "fuzz-seeds"
    build.mkdir(parents=True, exist_ok=True)
    with open(build / "fuzz-seeds.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the second waits, then finds the corpora complete
        subprocess.run([sys.executable, str(REPO / "tests" / "fuzz" / "make_corpora.py"), "--out", str(seeds)],
                       check=True)
    return seeds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", type=Path, default=REPO / "build-fuzz")
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time per target (the limit with --runs)")
    parser.add_argument("--runs", type=int, default=0, help="stop a target after this many executions (0: time only)")
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--jobs", type=int, default=1, help="targets fuzzed at once")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "fuzz.json")
    args = parser.parse_args()
    build = args.build_dir.resolve()
    seeds = make_seeds(build)
    env = environment(seeds)

    def one(target: str) -> tuple[str, dict]:
        binary = build / target
        if not binary.exists():
            raise SystemExit(f"{binary} is missing: build the fuzz targets first (make fuzz does)")
        result = {"regressions": replay(binary, target, env),
                  "fuzz": fuzz(binary, target, args.seconds, build, seeds, env, args.runs)}
        line = result["fuzz"]
        print(f"{target}: {line['executions']} executions ({line['executions_per_second']}/s), coverage "
              f"{line['coverage_edges']}, {len(line['crashes'])} crash(es), regressions "
              f"{result['regressions']['inputs']} {'ok' if result['regressions']['passed'] else 'FAILED'}", flush=True)
        return target, result

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        targets = dict(pool.map(one, args.targets))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    report = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit,
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "seconds_per_target": args.seconds, "runs_per_target": args.runs or None, "jobs": args.jobs,
              "targets": targets}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    plot(report, args.out.with_suffix(".png"))
    failed = [t for t, r in targets.items()
              if r["fuzz"]["crashes"] or r["fuzz"]["exit_code"] != 0 or not r["regressions"]["passed"]]
    print(f"{args.out}: {'FAILED: ' + ', '.join(failed) if failed else 'no crashes'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
