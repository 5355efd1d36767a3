"""Fold the shape arithmetic that PyTorch's exporter writes for sizes that are known at export time.

The exporter traces `chunk`, `unflatten` and scaled-dot-product attention's scale through the shapes
of dynamic tensors: every layer computes, at every call, `Shape -> Gather/Slice -> Add/Div/Mul ->
Concat` chains whose results only depend on static sizes (the width, the heads, the head size) or
copy a dynamic size unchanged. ONNX Runtime cannot fold them, because the tensors they read have a
dynamic batch or frame count, so a denoiser call ran about 45 % of its nodes on this bookkeeping
(issue 18: per-node overhead, not arithmetic, sets the cost of a step on this CPU).

ONNX Runtime's symbolic shape inference knows which sizes are static. With it:
- a `Shape` whose dimensions are all static, and a `Gather`/`Slice` of a `Shape` that picks static
  dimensions only, become constants (ONNX Runtime's constant folding then removes what fed on them);
- a `Reshape` whose target is computed gets a constant target instead: static sizes as numbers, a
  dimension copied from the input at the same position as 0 (ONNX's "copy this dimension"), at most
  one other as -1.
Everything else is left as it is; graphs whose shapes cannot be inferred are returned unchanged.
The result is checked against the original on several batch, frame and cache sizes by the tests.
"""

import contextlib
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

Dim = int | str | None


def _dims(value: onnx.ValueInfoProto) -> list[Dim] | None:
    if not value.type.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in value.type.tensor_type.shape.dim]


def _small_constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """The graph's integer constants of a few elements (indices, slice bounds) by name."""
    named = [(t.name, t) for t in graph.initializer]
    named += [(n.output[0], n.attribute[0].t) for n in graph.node
              if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"]
    small = lambda t: t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32) and np.prod(t.dims) <= 8
    return {name: numpy_helper.to_array(t) for name, t in named if small(t)}


def _shape_dims(node: onnx.NodeProto, dims: list[Dim]) -> list[Dim]:
    """The dimensions a Shape node reports (its optional start / end attributes, opset 15)."""
    attributes = {a.name: a.i for a in node.attribute}
    rank = len(dims)
    start, end = attributes.get("start", 0), attributes.get("end", rank)
    start, end = (x + rank if x < 0 else x for x in (start, end))
    return dims[max(0, start):min(rank, end)]


def _picked(node: onnx.NodeProto, source: list[Dim], constants: dict[str, np.ndarray]) -> list[Dim] | None:
    """The dimensions a Gather or Slice over a shape vector picks, if its indices are constants."""
    if node.op_type == "Gather":
        indices = constants.get(node.input[1])
        if indices is None or indices.ndim > 1:
            return None
        return [source[int(i)] for i in np.atleast_1d(indices)] if indices.ndim else [source[int(indices)]]
    if node.op_type == "Slice":
        starts, ends, axes, steps = [constants.get(name) for name in (list(node.input[1:]) + [""] * 4)[:4]]
        if starts is None or ends is None or (axes is not None and list(axes) not in ([0], [-1])):
            return None
        step = int(steps[0]) if steps is not None else 1
        return source[int(starts[0]):int(min(ends[0], len(source) + 1)):step]
    return None


def fold_static_shapes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """The model with static shape arithmetic replaced by constants, and how many nodes were replaced."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    # When it cannot finish, the inference saves the model into the working directory before it raises
    # (sym_shape_infer_temp.onnx and its weights): let it do so in a scratch one.
    with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
        try:
            inferred = SymbolicShapeInference.infer_shapes(model, auto_merge=False)
        except Exception:  # an operator or a shape the inference cannot follow: fold nothing
            return model, 0
    if inferred is None:
        return model, 0
    graph = inferred.graph
    known = {v.name: _dims(v) for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    given = _small_constants(graph)
    scalar_index = lambda node: node.op_type == "Gather" and given[node.input[1]].ndim == 0
    shape_of: dict[str, list[Dim]] = {}  # outputs holding shape vectors -> the dimensions they hold
    kept, constants, replaced = [], [], 0
    for node in graph.node:  # in topological order: a vector's source is seen before its readers
        value = None  # the dimensions this node outputs, if it outputs some of a shape vector
        if node.op_type == "Shape" and known.get(node.input[0]) is not None:
            value = _shape_dims(node, known[node.input[0]])
        elif node.op_type in ("Gather", "Slice") and node.input[0] in shape_of:
            value = _picked(node, shape_of[node.input[0]], given)
        if value is None:
            pass
        elif all(isinstance(d, int) and d > 0 for d in value) and value:
            array = np.array(value[0] if scalar_index(node) else value, dtype=np.int64)
            constants.append(numpy_helper.from_array(array, node.output[0]))
            replaced += 1
            continue
        elif not scalar_index(node):  # a vector still: later Gathers and Slices may pick its static part
            shape_of[node.output[0]] = value
        if node.op_type == "Reshape" and node.input[1] not in given:
            target = _reshape_target(known.get(node.input[0]), known.get(node.output[0]))
            allow_zero = any(a.name == "allowzero" and a.i for a in node.attribute)
            if target is not None and not allow_zero:
                name = f"{node.output[0]}_static_shape"
                constants.append(numpy_helper.from_array(np.array(target, dtype=np.int64), name))
                node = helper.make_node("Reshape", [node.input[0], name], list(node.output), name=node.name)
                replaced += 1
        kept.append(node)
    del graph.node[:]
    graph.node.extend(_live(kept, [o.name for o in graph.output]))
    graph.initializer.extend(constants)
    del graph.value_info[:]  # stale after the rewrite; ONNX Runtime infers again
    return inferred, replaced


def _live(nodes: list[onnx.NodeProto], outputs: list[str]) -> list[onnx.NodeProto]:
    """The nodes the graph's outputs depend on (ONNX Runtime keeps a node whose outputs nobody reads)."""
    needed, live = set(outputs), []
    for node in reversed(nodes):
        if any(name in needed for name in node.output):
            live.append(node)
            needed.update(node.input)
    return live[::-1]


def _reshape_target(source: list[Dim] | None, result: list[Dim] | None) -> list[int] | None:
    """A constant Reshape target giving `result` from `source`: static sizes, 0 for a dimension the
    input has at the same position, -1 for at most one other; None if neither holds."""
    if source is None or result is None:
        return None
    target = []
    for index, dim in enumerate(result):
        if isinstance(dim, int) and dim > 0:
            target.append(dim)
        elif isinstance(dim, str) and index < len(source) and source[index] == dim:
            target.append(0)
        else:
            target.append(-1)
    return target if target.count(-1) <= 1 else None
