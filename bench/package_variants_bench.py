"""What offline optimisation and reduced precision do to a model package: size, load time, speed, quality.

Exports the shipped LMDM four ways (float32 as exported, float32 optimised offline, int8 optimised,
fp16 optimised), then measures for each: the package's size on disk, the time to create every
graph's ONNX Runtime session (what a plugin pays when it loads the model), per-graph latency and
the whole per-block chain on this CPU (`--threads`, the plugin's default is 1), and the latent
change against float32 over 10 fed-back blocks (measured by the exporter into the manifest).
fp16 is meant for GPUs: its CPU time here is not what a GPU does, only its quality change carries
over. Writes bench/results/package_variants.{json,png}.

    .venv/bin/python bench/package_variants_bench.py [--model models/lmdm-blockcausal] [--threads 1]
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import onnxruntime  # noqa: E402

from lmdm.export.manifest import check_package  # noqa: E402
from lmdm.export.model_package import export_lmdm  # noqa: E402

from onnx_chain_bench import block_chain_ms, onnx_times  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

VARIANTS = {"fp32 as exported": ("fp32", False), "fp32 optimised": ("fp32", True),
            "int8 optimised (shipped)": ("int8", True), "fp16 optimised (GPU)": ("fp16", True)}


def package_megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def load_ms(folder: Path, manifest: dict, threads: int, repeats: int = 5) -> float:
    """Median over `repeats` of creating every graph's session, as the plugin does on load."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    totals = []
    for _ in range(repeats):
        started = time.perf_counter()
        for entry in manifest["graphs"].values():
            onnxruntime.InferenceSession(str(folder / entry["file"]), options, providers=["CPUExecutionProvider"])
        totals.append((time.perf_counter() - started) * 1e3)
    return sorted(totals)[len(totals) // 2]


def measure(model: Path, vae: Path, folder: Path, precision: str, optimize: bool, threads: int, repeats: int) -> dict:
    export_lmdm(model, vae, folder, 64, 16, 8, 2.0, precision, optimize)
    manifest = check_package(folder)
    graph_ms = onnx_times(folder, manifest, threads, repeats)
    steps = manifest["stream"]["default_steps"]
    change = manifest.get("precision", {})
    return {"precision": precision, "optimised": optimize, "megabytes": package_megabytes(folder),
            "load_ms": load_ms(folder, manifest, threads), "graph_ms": graph_ms,
            "chain_ms": block_chain_ms(graph_ms, steps),
            "chain_rtf": block_chain_ms(graph_ms, steps) / (manifest["stream"]["block_frames"] / manifest["latent"]["rate"] * 1e3),
            "latent_rms_change": change.get("latent_rms_change", 0.0),
            "latent_max_abs_change": change.get("latent_max_abs_change", 0.0),
            "latent_rms": change.get("latent_rms"),
            "nodes": {k: v["nodes_after"] for k, v in manifest.get("optimization", {}).get("nodes", {}).items()}}


def plot(results: dict, path: Path) -> None:
    names = list(results["variants"])
    runs = list(results["variants"].values())
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    panels = [("chain_ms", f"ms per block ({results['threads']} thread(s), CPU)"), ("load_ms", "session creation (ms)"),
              ("megabytes", "package size (MB)")]
    for axis, (key, label) in zip(axes, panels):
        axis.bar(range(len(runs)), [r[key] for r in runs], color=["#999", "#4a7", "#37c", "#c73"])
        axis.set_xticks(range(len(runs)), [n.replace(" (", "\n(") for n in names], fontsize=7)
        axis.set_ylabel(label)
    axes[0].set_ylim(top=1.25 * max(r["chain_ms"] for r in runs))  # room for the labels
    for i, r in enumerate(runs):
        if r["latent_rms"]:
            axes[0].annotate(f"latent RMS change\n{100 * r['latent_rms_change'] / r['latent_rms']:.1f} %",
                             (i, r["chain_ms"]), ha="center", va="bottom", fontsize=7)
    figure.suptitle(f"Model package variants of {results['model']} (ONNX Runtime {results['onnxruntime']})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "models" / "lmdm-blockcausal")
    parser.add_argument("--vae", type=Path, default=REPO / "models" / "vae")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    variants = {}
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, (precision, optimize)) in enumerate(VARIANTS.items()):
            variants[name] = measure(args.model, args.vae, Path(scratch) / str(index), precision, optimize,
                                     args.threads, args.repeats)
            print(name, json.dumps({k: v for k, v in variants[name].items() if k != "graph_ms"}))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit.strip(),
               "machine": platform.processor() or platform.machine(), "threads": args.threads,
               "onnxruntime": onnxruntime.__version__, "model": str(args.model.relative_to(REPO)
                                                                   if args.model.is_relative_to(REPO) else args.model),
               "variants": variants}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "package_variants.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out / "package_variants.png")
    print(f"wrote {args.out / 'package_variants.json'} and {args.out / 'package_variants.png'}")


if __name__ == "__main__":
    main()
