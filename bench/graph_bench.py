"""Each graph of a model package against its rooflines: time per call, nodes, FLOPs, weight bytes (issue 18).

For every graph the plugin runs per block (features, the KV producer, the denoiser, the VAE decoder;
the timestep graph runs once per time of the grid at load and is listed apart), at the sizes the
plugin calls it with (CFG batch 2, B new frames over C - B or C cached ones, two blocks of audio for
the features), in ONNX Runtime on `--threads` intra-op threads with the default (full) graph
optimisation, as the plugin runs it:
- the median time of a call (packages timed in alternating rounds, graph by graph);
- the nodes in the file and after ONNX Runtime's online optimisation (what it actually schedules);
- FLOPs of the matrix products and convolutions (shapes from ONNX Runtime's symbolic shape inference
  at those sizes) and the bytes of the weights it reads;
- two rooflines: FLOPs at the measured peak of a large matrix product of their arithmetic (float32
  MatMul; int8 MatMulInteger for a quantised graph's weight products) in ONNX Runtime on the same
  threads, and weight bytes at the measured memory bandwidth (one 256 MB read). The larger is the
  graph's floor; `roofline_ratio` is the measured time over it. The peaks are those of large
  products; the plugin's are 32 rows (16 frames x CFG 2), which no library runs at peak.
Then the per-block chain at the package's default steps. Writes bench/results/graphs.{json,png}.

    .venv/bin/python bench/graph_bench.py [--packages models/lmdm-live ...] [--threads 1] [--repeats 200]
"""

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from lmdm.cli import add_config_arguments, config_from_args

from timing import median_seconds

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PER_BLOCK = ("features", "context_encoder", "denoiser", "vae_decoder")
PRODUCTS = ("MatMul", "MatMulInteger", "Gemm", "Conv", "ConvTranspose")


@dataclass(frozen=True)
class GraphBenchConfig:
    packages: tuple[Path, ...] = (Path("models/lmdm-live"),)
    threads: int = 1  # the plugin's worker runs one ONNX Runtime thread
    repeats: int = 200
    results: Path = field(default_factory=lambda: Path("bench/results"))


def call_sizes(manifest: dict, graph: str) -> dict[str, int]:
    """The symbolic sizes of a graph's inputs as the plugin calls it once per block."""
    stream = manifest["stream"]
    block, context = stream["block_frames"], stream["context_frames"]
    cfg = len(stream["guidance_batch"]) if stream["default_guidance"] != 1.0 else 1
    cached = context - block if stream["variant"] == "blockcausal" else 0
    return {"features": {"audio_samples": 2 * block * manifest["latent"]["samples_per_latent"]},
            "vae_decoder": {"batch": 1, "latent_frames": block},
            "timestep": {"batch": cfg},
            "context_encoder": {"batch": cfg, "frames": block if cached else context, "cache": max(cached, 1)},
            "denoiser": {"batch": cfg, "frames": block, "cache": context}}[graph]


def call_inputs(session: onnxruntime.InferenceSession, sizes: dict[str, int], manifest: dict) -> dict[str, np.ndarray]:
    rng, feeds = np.random.default_rng(0), {}
    for value in session.get_inputs():
        shape = [sizes.get(d, 1) if isinstance(d, str) else d for d in value.shape]
        feeds[value.name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        if value.name in ("use_text", "cache_valid", "control_present"):
            feeds[value.name] = np.ones(shape, np.float32)
        if value.name == "positions":
            feeds[value.name] = np.arange(shape[0], dtype=np.float32) + manifest["stream"]["context_frames"]
    return feeds


def count_work(path: Path, feeds: dict[str, np.ndarray]) -> dict[str, float]:
    """FLOPs of the graph's products and the bytes of its weights for these inputs. The shapes are read
    by running a copy of the graph once with every product's operands and result as extra outputs
    (exact for any graph, where static shape inference gives up on the features' signal processing)."""
    model = onnx.load(str(path))  # with external weights
    weight_bytes = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    products = [n for n in model.graph.node if n.op_type in PRODUCTS]
    probed = [name for n in products for name in (n.input[0], n.input[1], n.output[0]) if name not in weights]
    existing = {o.name for o in model.graph.output}
    for name in dict.fromkeys(probed):
        if name not in existing:
            model.graph.output.append(helper.make_empty_tensor_value_info(name))
    runner = session(model.SerializeToString(), 1)
    names = [o.name for o in runner.get_outputs()]
    shapes = {**weights, **{name: list(value.shape) for name, value in zip(names, runner.run(None, feeds))}}
    flops = {"float32": 0.0, "int8": 0.0}
    for node in products:
        out, operand, weight = shapes[node.output[0]], shapes[node.input[0]], shapes[node.input[1]]
        if node.op_type in ("MatMul", "MatMulInteger", "Gemm"):
            transposed = any(a.name == "transA" and a.i for a in node.attribute)
            kind = "int8" if node.op_type == "MatMulInteger" else "float32"
            flops[kind] += 2.0 * float(np.prod(out)) * (operand[-2] if transposed else operand[-1])
        else:  # Conv weight (out, in/groups, k...); ConvTranspose weight (in, out/groups, k...)
            group = next((a.i for a in node.attribute if a.name == "group"), 1)
            per_output = weight[1] if node.op_type == "Conv" else weight[0] / group
            flops["float32"] += 2.0 * float(np.prod(out)) * per_output * float(np.prod(weight[2:]))
    return {"flops": sum(flops.values()), "flops_by_arithmetic": flops, "weight_bytes": float(weight_bytes)}


def online_nodes(path: Path, threads: int) -> int:
    """Nodes ONNX Runtime schedules after its online (full) optimisation."""
    with tempfile.TemporaryDirectory() as scratch:
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.optimized_model_filepath = str(Path(scratch) / "online.onnx")
        options.log_severity_level = 3
        onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return len(onnx.load(str(Path(scratch) / "online.onnx"), load_external_data=False).graph.node)


def session(path_or_bytes, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(path_or_bytes, options, providers=["CPUExecutionProvider"])


def peak_product(arithmetic: str, threads: int, m: int = 256, k: int = 2048, n: int = 2048) -> float:
    """Operations per second of one large matrix product in ONNX Runtime: float32 MatMul or int8 MatMulInteger."""
    if arithmetic == "int8":
        a = helper.make_tensor_value_info("a", TensorProto.UINT8, [m, k])
        out = helper.make_tensor_value_info("y", TensorProto.INT32, [m, n])
        b = numpy_helper.from_array(np.random.default_rng(0).integers(-127, 127, (k, n)).astype(np.int8), "b")
        node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
        feed = {"a": np.random.default_rng(1).integers(0, 255, (m, k)).astype(np.uint8)}
    else:
        a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [m, k])
        out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])
        b = numpy_helper.from_array(np.random.default_rng(0).standard_normal((k, n)).astype(np.float32), "b")
        node = helper.make_node("MatMul", ["a", "b"], ["y"])
        feed = {"a": np.random.default_rng(1).standard_normal((m, k)).astype(np.float32)}
    graph = helper.make_graph([node], "peak", [a], [out], [b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    runner = session(model.SerializeToString(), threads)
    return 2.0 * m * k * n / median_seconds(lambda: runner.run(None, feed), 20)


def bandwidth() -> float:
    """Bytes per second of reading a 256 MB buffer once."""
    buffer = np.ones(64 * 1024 * 1024, dtype=np.float32)
    return buffer.nbytes / median_seconds(lambda: buffer.sum(), 5)


def alternating_medians(calls: list, repeats: int, rounds: int = 10) -> list[float]:
    """Median milliseconds of each call, timed in alternating rounds so that a machine speeding up or
    slowing down during the run (seen here: 20 % within minutes) weighs on every package alike."""
    times: list[list[float]] = [[] for _ in calls]
    for call in calls:
        median_seconds(call, 1, warmup=10)
    for _ in range(rounds):
        for index, call in enumerate(calls):
            for _ in range(max(1, repeats // rounds)):
                started = time.perf_counter()
                call()
                times[index].append(1000 * (time.perf_counter() - started))
    return [float(np.median(t)) for t in times]


def measure_packages(packages: list[Path], config: GraphBenchConfig, peaks: dict[str, float],
                     memory: float) -> list[dict]:
    manifests = [json.loads((package / "manifest.json").read_text()) for package in packages]
    graphs: list[dict] = [{} for _ in packages]
    for name in (*PER_BLOCK, "timestep"):
        paths = [package / manifest["graphs"][name]["file"] for package, manifest in zip(packages, manifests)]
        sizes = [call_sizes(manifest, name) for manifest in manifests]
        runners = [session(str(path), config.threads) for path in paths]
        feeds = [call_inputs(r, s, m) for r, s, m in zip(runners, sizes, manifests)]
        medians = alternating_medians([lambda r=r, f=f: r.run(None, f) for r, f in zip(runners, feeds)],
                                      config.repeats)
        for index, (package, path, ms) in enumerate(zip(packages, paths, medians)):
            work = count_work(path, feeds[index])
            flop_ms = 1000 * sum(count / peaks[kind] for kind, count in work["flops_by_arithmetic"].items())
            weight_ms = 1000 * work["weight_bytes"] / memory
            graphs[index][name] = {"sizes": sizes[index], "median_ms": ms,
                                   "nodes_file": len(onnx.load(str(path), load_external_data=False).graph.node),
                                   "nodes_online": online_nodes(path, config.threads), **work,
                                   "flop_roofline_ms": flop_ms, "weight_read_roofline_ms": weight_ms,
                                   "roofline_ratio": ms / max(flop_ms, weight_ms)}
            print(f"{package.name} {name}: {ms:.2f} ms, {graphs[index][name]['nodes_online']} nodes, roofline "
                  f"{max(flop_ms, weight_ms):.2f} ms ({graphs[index][name]['roofline_ratio']:.1f}x)", flush=True)
    results = []
    for package, manifest, timed in zip(packages, manifests, graphs):
        steps = manifest["stream"]["default_steps"]
        chain = sum(timed[g]["median_ms"] * (steps if g == "denoiser" else 1) for g in PER_BLOCK)
        block_ms = 1000 * manifest["stream"]["block_frames"] * manifest["latent"]["samples_per_latent"] / \
            manifest["audio"]["sample_rate"]
        results.append({"package": str(package), "precision": manifest.get("precision", {}).get("precision", "fp32"),
                        "optimization": manifest.get("optimization", {}).get("tool"), "steps": steps,
                        "graphs": timed, "chain_ms": chain, "block_ms": block_ms, "chain_rtf": chain / block_ms})
    return results


def plot(packages: list[dict], path: Path) -> None:
    figure, axes = plt.subplots(1, len(packages), figsize=(6 * len(packages), 4.5), squeeze=False)
    for axis, result in zip(axes[0], packages):
        names = list(PER_BLOCK)
        x = np.arange(len(names))
        graphs = result["graphs"]
        axis.bar(x - 0.27, [graphs[n]["median_ms"] for n in names], 0.27, label="measured")
        axis.bar(x, [graphs[n]["flop_roofline_ms"] for n in names], 0.27, label="FLOP roofline")
        axis.bar(x + 0.27, [graphs[n]["weight_read_roofline_ms"] for n in names], 0.27, label="weight-read roofline")
        for i, n in enumerate(names):
            axis.annotate(f"{graphs[n]['nodes_online']} nodes\n{graphs[n]['roofline_ratio']:.1f}x",
                          (x[i] - 0.27, graphs[n]["median_ms"]), ha="center", va="bottom", fontsize=7)
        axis.set(xticks=x, xticklabels=names, ylabel="ms per call", yscale="log",
                 title=f"{Path(result['package']).name} ({result['precision']}): chain {result['chain_ms']:.1f} ms "
                       f"at {result['steps']} steps, RTF {result['chain_rtf']:.3f}")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, GraphBenchConfig)
    config = config_from_args(parser.parse_args(argv), GraphBenchConfig)
    peaks = {kind: peak_product(kind, config.threads) for kind in ("float32", "int8")}
    memory = bandwidth()
    started = time.time()
    packages = measure_packages([Path(p) for p in config.packages], config, peaks, memory)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip()
    report = {"benchmark": "graphs against rooflines", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": commit, "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "onnxruntime": onnxruntime.__version__, "load_average": os.getloadavg(),
              "config": json.loads(json.dumps(asdict(config), default=str)),
              "peak_ops_per_second": peaks, "bandwidth_bytes_per_second": memory,
              "seconds": time.time() - started, "packages": packages}
    config.results.mkdir(parents=True, exist_ok=True)
    (config.results / "graphs.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(packages, config.results / "graphs.png")
    print(f"wrote {config.results}/graphs.json, graphs.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
