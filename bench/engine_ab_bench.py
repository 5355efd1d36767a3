"""Two builds of the engine on one package: the per-block cost of each, timed in alternating rounds.

An engine change that saves a millisecond is smaller than what this machine drifts by within minutes
(bench/graph_bench.py saw 20 %), so two builds measured one after the other cannot be compared. Here
each round measures build A, then build B, each in its own process (two modules named lmdm._engine
cannot share one), with arc_bench's per-block loop (features, encoder, denoiser steps, decoder; one
ONNX Runtime thread; the melodies' stream); what is reported is the median of each build over the
rounds and the median of the paired differences (B - A).

Build the other revision's module beside this one's, e.g.:

    cp python/lmdm/_engine*.so /tmp/engine_new.so
    git stash && cmake --build build --target lmdm_engine_python && cp python/lmdm/_engine*.so /tmp/engine_old.so
    git stash pop && cmake --build build --target lmdm_engine_python
    .venv/bin/python bench/engine_ab_bench.py --engines /tmp/engine_old.so /tmp/engine_new.so \\
        --package PKG --steps 2 --results bench/results/engine_ab

Writes RESULTS/engine_ab.{json,png}.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib
import numpy as np

from lmdm.cli import add_config_arguments, config_from_args

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ORT_LIBRARY = REPO / "python" / "lmdm" / "libonnxruntime.so.1"  # the module loads it from its own folder

# Run in a child process: load the given build as lmdm._engine, then arc_bench's per-block loop.
CHILD = """
import importlib.util, json, sys
sys.path.insert(0, {bench!r})
import lmdm
spec = importlib.util.spec_from_file_location("lmdm._engine", {module!r})
engine = importlib.util.module_from_spec(spec)
spec.loader.exec_module(engine)
sys.modules["lmdm._engine"] = lmdm._engine = engine
from pathlib import Path
from arc_bench import block_cost_ms
print(json.dumps(block_cost_ms(Path({package!r}), {steps}, {blocks})))
"""


@dataclass(frozen=True)
class EngineAbConfig:
    engines: tuple[Path, ...] = ()  # two builds of lmdm._engine (A, then B)
    package: Path = Path("models/lmdm-live")
    steps: int = 0  # 0: the package's default
    blocks: int = 200  # per build and round
    rounds: int = 5
    results: Path = field(default_factory=lambda: Path("bench/results/engine_ab"))


def staged(engine: Path, folder: Path) -> Path:
    """A copy of the module in its own folder, beside the ONNX Runtime library it loads."""
    folder.mkdir(parents=True)
    (folder / "libonnxruntime.so.1").symlink_to(ORT_LIBRARY)
    return Path(shutil.copy(engine, folder / "_engine.so"))


def block_cost(module: Path, config: EngineAbConfig) -> dict:
    code = CHILD.format(bench=str(REPO / "bench"), module=str(module), package=str(config.package.resolve()),
                        steps=config.steps, blocks=config.blocks)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def plot(rounds: list[list[float]], labels: list[str], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for values, label in zip(rounds, labels):
        axis.plot(range(1, len(values) + 1), values, marker="o", label=label)
    axis.set_xlabel("round")
    axis.set_ylabel("ms per block (median)")
    axis.set_title("engine builds, alternating rounds")
    axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, EngineAbConfig)
    config = config_from_args(parser.parse_args(argv), EngineAbConfig)
    if len(config.engines) != 2:
        raise SystemExit("--engines wants two builds of lmdm._engine: A (e.g. before a change), then B")
    if not ORT_LIBRARY.exists():
        raise SystemExit(f"{ORT_LIBRARY} is missing: build the engine first (make build)")
    with tempfile.TemporaryDirectory() as work:
        modules = [staged(engine, Path(work) / label) for engine, label in zip(config.engines, "AB")]
        rounds: list[list[float]] = [[], []]
        for index in range(config.rounds):
            for build, module in enumerate(modules):
                rounds[build].append(block_cost(module, config)["median_ms"])
            print(f"round {index + 1}: A {rounds[0][-1]:.2f} ms, B {rounds[1][-1]:.2f} ms", flush=True)
    differences = np.array(rounds[1]) - np.array(rounds[0])
    result = {"benchmark": "two engine builds, per-block cost in alternating rounds",
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "config": {k: [str(e) for e in v] if k == "engines" else str(v) if isinstance(v, Path) else v
                         for k, v in asdict(config).items()},
              "rounds_ms": {"A": rounds[0], "B": rounds[1]},
              "median_ms": {"A": float(np.median(rounds[0])), "B": float(np.median(rounds[1]))},
              "median_difference_ms": float(np.median(differences)),
              "rounds_b_faster": int((differences < 0).sum())}
    config.results.mkdir(parents=True, exist_ok=True)
    (config.results / "engine_ab.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rounds, [f"A {config.engines[0].name}", f"B {config.engines[1].name}"], config.results / "engine_ab.png")
    print(f"A {result['median_ms']['A']:.2f} ms, B {result['median_ms']['B']:.2f} ms, B - A "
          f"{result['median_difference_ms']:+.2f} ms (B faster in {result['rounds_b_faster']} of {config.rounds})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
