"""ONNX Runtime's offline graph optimisation of a package's graphs, at the portable level.

Exported graphs carry the exporter's scaffolding: shape arithmetic on constants, identity and cast
chains, unfused normalisations. ONNX Runtime's *basic* optimisations (constant folding, redundant
node elimination, semantics-preserving fusions) remove it once at export time instead of at every
plugin load. They run before execution providers partition the graph and produce standard ONNX
operators only, so the result stays valid for every provider (CPU, CUDA, CoreML, DirectML); the
extended and layout levels are provider- and machine-specific and are left to load time, where
ONNX Runtime applies them online as before. Between two basic passes, lmdm.export.static_shapes folds
the shape arithmetic of static sizes that the exporter traced through dynamic tensors (ONNX Runtime
cannot fold it, and it was a third of the DiT graphs' nodes). The optimised graph must be run by the
ONNX Runtime version that wrote it (the plugin bundles the same one; the manifest records it).
"""

import tempfile
from pathlib import Path

import onnx
import onnxruntime

from .static_shapes import fold_static_shapes


def basic_optimization(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model after ONNX Runtime's basic (portable) graph optimisations."""
    with tempfile.TemporaryDirectory() as scratch:
        source, optimized = Path(scratch) / "source.onnx", Path(scratch) / "optimized.onnx"
        onnx.save(model, str(source))
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(optimized)
        options.log_severity_level = 3  # the optimiser's notes on initializers it drops are not ours to act on
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return onnx.load(str(optimized))


def optimize_offline(path: Path) -> dict[str, int]:
    """Rewrite the graph at `path` in place (weights inline): ONNX Runtime's basic optimisations, the
    static shape arithmetic folded, basic optimisations again (they fold what fed on it); returns the
    node counts before, after ONNX Runtime alone, and at the end."""
    path = Path(path)
    model = onnx.load(str(path))  # with any external weights, so the optimiser sees every constant
    basic = basic_optimization(model)
    folded, replaced = fold_static_shapes(basic)
    result = basic_optimization(folded) if replaced else basic
    onnx.save(result, str(path))
    return {"nodes_before": len(model.graph.node), "nodes_basic": len(basic.graph.node),
            "nodes_after": len(result.graph.node)}


def describe() -> str:
    return (f"ONNX Runtime {onnxruntime.__version__} offline optimisation, basic level (portable across providers),"
            " static shape arithmetic folded (lmdm.export.static_shapes)")
