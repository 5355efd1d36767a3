"""Per-block cost of the three streaming variants: wall time and FLOPs, beside the paper's theory.

For context C, block B and steps S, a block costs S*(C+B) frame-passes with outpaint, C + S*B with
encdec (context encoded once, S steps over the target) and B + S*B with blockcausal (only the new
block encoded). This runs each variant's real streaming code (lmdm.streaming.torch_streamer, KV-cached) with the
small DiT (random weights: cost does not depend on training) and CFG batched cond/uncond, counts
FLOPs with torch's FlopCounterMode, and times the median block; then the same blocks through the ONNX
graphs in ONNX Runtime (outpaint: S passes of one window graph; encdec/blockcausal: the KV producer
once and the KV consumer S times), the runtime the plugin uses. It also gives the two rooflines of
the cost model: FLOPs at the measured matmul peak, and weights read once per pass at the
measured memory bandwidth. Writes bench/results/lmdm_stream.{json,png}.

    .venv/bin/python bench/lmdm_stream_bench.py [--model small] [--threads 2] [--blocks 12]
"""

import argparse
import json
import platform
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from lmdm.dit.model import CONFIGS, DiT  # noqa: E402
from lmdm.export.dit_graphs import example_inputs, export_graphs, export_window_graph  # noqa: E402
from lmdm.streaming.torch_streamer import StreamConfig, Streamer  # noqa: E402
from lmdm.training.distributed import parameter_count  # noqa: E402

from timing import median_seconds  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("outpaint", "encdec", "blockcausal")
SETTINGS = [(32, 8, 8), (64, 16, 8), (128, 32, 8), (64, 16, 4), (64, 16, 16), (32, 16, 8), (128, 16, 8)]  # (C, B, S)
LATENT_RATE = 22050 / 512


def theory_frames(variant: str, c: int, b: int, s: int) -> int:
    return {"outpaint": s * (c + b), "encdec": c + s * b, "blockcausal": b + s * b}[variant]


def passes_per_block(variant: str, s: int) -> int:
    """Network passes per block (each reads every weight once)."""
    return s if variant == "outpaint" else s + 1


def measure_peak_matmul(threads: int) -> float:
    """FLOP/s of a large fp32 matmul on these threads: the compute roofline."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    started = time.perf_counter()
    for _ in range(20):
        a @ b
    return 20 * 2 * 1024**3 / (time.perf_counter() - started)


def measure_bandwidth() -> float:
    """Bytes/s of reading a 256 MB buffer: the memory roofline."""
    buffer = torch.ones(64 * 1024 * 1024)
    buffer.sum()
    started = time.perf_counter()
    for _ in range(5):
        buffer.sum()
    return 5 * buffer.numel() * 4 / (time.perf_counter() - started)


def stream(model: DiT, c: int, b: int, s: int, blocks: int) -> tuple[float, float]:
    """(median seconds per block, FLOPs of one block) of the KV-cached streamer."""
    streamer = Streamer(model, StreamConfig(context_frames=c, block_frames=b, steps=s, guidance=2.0))
    controls = len(model.config.controls)
    streamer.set_prompt(torch.randn(model.config.text_dim))
    streamer.start(torch.randn(c, model.config.latent_dim), torch.zeros(c, controls), torch.ones(c, controls))
    step = lambda: streamer.next_block(torch.zeros(b, controls), torch.ones(b, controls))
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    return median_seconds(step, blocks, warmup=2), float(counter.get_total_flops())


class OnnxBlocks:
    """One block of each variant run through its ONNX graphs in ONNX Runtime (the plugin's runtime)."""

    def __init__(self, models: dict[str, DiT], folder: Path, threads: int):
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # Idle pool threads must sleep, not spin: several sessions (and torch) take turns on few cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        load = lambda path: onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.models, self.sessions = models, {}
        for variant in ("encdec", "blockcausal"):
            paths = export_graphs(models[variant], folder / variant, batch=2, context_frames=64, frames=16)
            self.sessions[variant] = {name: load(path) for name, path in paths.items()}
        self.sessions["outpaint"] = {"window": load(export_window_graph(models["outpaint"], folder / "window.onnx"))}

    def block(self, variant: str, c: int, b: int, s: int):
        model = self.models[variant]
        if variant == "outpaint":
            window = {k: v.numpy() for k, v in example_inputs(model, 2, c, c + b)["denoiser"].items()}
            feeds = {"noisy": window["noisy"], "clean": window["noisy"] * (np.arange(c + b) < c)[None, :, None],
                     **{k: window[k] for k in ("control_values", "control_present", "text", "use_text",
                                               "modulations", "out_modulation")},
                     "positions": np.arange(c + b, dtype=np.float32)}
            session = self.sessions["outpaint"]["window"]
            return lambda: [session.run(None, feeds) for _ in range(s)]
        encoded = c if variant == "encdec" else b
        encode = {k: v.numpy() for k, v in example_inputs(model, 2, c, encoded)["context_encoder"].items()}
        if variant == "encdec":
            encode["cache_valid"][:] = 0  # the context attends only itself
        denoise = {k: v.numpy() for k, v in example_inputs(model, 2, c, b)["denoiser"].items()}
        sessions = self.sessions[variant]
        return lambda: ([sessions["denoiser"].run(None, denoise) for _ in range(s)],
                        sessions["context_encoder"].run(None, encode))


def onnx_block_ms(runner: OnnxBlocks, variant: str, c: int, b: int, s: int, blocks: int) -> float:
    return median_seconds(runner.block(variant, c, b, s), blocks, warmup=2) * 1e3


def plot(rows: list[dict], path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    labels = [f"C{r['context']} B{r['block']} S{r['steps']}" for r in rows if r["variant"] == "outpaint"]
    x = range(len(labels))
    for offset, variant in zip((-0.27, 0, 0.27), VARIANTS):
        times = [r["median_block_ms"] for r in rows if r["variant"] == variant]
        left.bar([i + offset for i in x], times, width=0.27, label=variant)
    left.set_xticks(list(x), labels, rotation=30, fontsize=8)
    left.set_ylabel("ms per block (median)")
    left.set_yscale("log")
    left.legend(fontsize=8)
    left.set_title("Per-block wall time (PyTorch), CFG batch 2")
    for variant in ("encdec", "blockcausal"):
        measured = [r["speedup_vs_outpaint"] for r in rows if r["variant"] == variant]
        onnx = [r["onnx_speedup_vs_outpaint"] for r in rows if r["variant"] == variant]
        theory = [r["theory_speedup_vs_outpaint"] for r in rows if r["variant"] == variant]
        right.plot(list(x), measured, "o-", label=f"{variant} PyTorch")
        right.plot(list(x), onnx, "s-", label=f"{variant} ONNX Runtime")
        right.plot(list(x), theory, "x--", label=f"{variant} theory")
    right.set_xticks(list(x), labels, rotation=30, fontsize=8)
    right.set_ylabel("speedup over outpaint")
    right.legend(fontsize=8)
    right.set_title("Measured vs theoretical speedup")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak, bandwidth = measure_peak_matmul(args.threads), measure_bandwidth()
    models = {v: DiT(CONFIGS[args.model](variant=v)).eval() for v in VARIANTS}
    weight_bytes = parameter_count(models["blockcausal"]) * 4
    scratch = tempfile.TemporaryDirectory()
    runner = OnnxBlocks(models, Path(scratch.name), args.threads)
    rows = []
    for c, b, s in SETTINGS:
        for variant in VARIANTS:
            seconds, flops = stream(models[variant], c, b, s, args.blocks)
            onnx_ms = onnx_block_ms(runner, variant, c, b, s, args.blocks)
            rows.append({"variant": variant, "context": c, "block": b, "steps": s, "median_block_ms": seconds * 1e3,
                         "onnx_median_block_ms": onnx_ms, "onnx_real_time_factor": onnx_ms / 1e3 / (b / LATENT_RATE),
                         "gflops_per_block": flops / 1e9, "theory_frames": theory_frames(variant, c, b, s),
                         "flop_roofline_ms": flops / peak * 1e3,
                         "weight_read_roofline_ms": passes_per_block(variant, s) * weight_bytes / bandwidth * 1e3,
                         "real_time_factor": seconds / (b / LATENT_RATE)})
            print(json.dumps(rows[-1]))
    for row in rows:
        base = next(r for r in rows if r["variant"] == "outpaint" and
                    (r["context"], r["block"], r["steps"]) == (row["context"], row["block"], row["steps"]))
        row["speedup_vs_outpaint"] = base["median_block_ms"] / row["median_block_ms"]
        row["flop_ratio_vs_outpaint"] = base["gflops_per_block"] / row["gflops_per_block"]
        row["theory_speedup_vs_outpaint"] = base["theory_frames"] / row["theory_frames"]
        row["fraction_of_theory"] = row["speedup_vs_outpaint"] / row["theory_speedup_vs_outpaint"]
        row["onnx_speedup_vs_outpaint"] = base["onnx_median_block_ms"] / row["onnx_median_block_ms"]
        row["onnx_fraction_of_theory"] = row["onnx_speedup_vs_outpaint"] / row["theory_speedup_vs_outpaint"]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    goal = next(r for r in rows if r["variant"] == "blockcausal" and (r["context"], r["block"], r["steps"]) == (64, 16, 8))
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit.strip(),
               "machine": platform.processor() or platform.machine(), "threads": args.threads, "model": args.model,
               "parameters": parameter_count(models["blockcausal"]), "guidance_batch": 2,
               "measured_peak_gflops": peak / 1e9, "measured_bandwidth_gbs": bandwidth / 1e9,
               "goal": {"setting": "C=64 (4B), B=16, S=8", "blockcausal_fraction_of_theory": goal["fraction_of_theory"],
                        "blockcausal_fraction_of_theory_onnx": goal["onnx_fraction_of_theory"], "target": 0.8},
               "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lmdm_stream.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(rows, args.out / "lmdm_stream.png")
    print(json.dumps(results["goal"]))


if __name__ == "__main__":
    main()
