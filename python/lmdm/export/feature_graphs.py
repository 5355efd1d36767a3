"""The package's features.onnx: the control features of lmdm.conditioning.controls as one ONNX graph.

`ControlFeatures` (loudness, brightness) exports alone (`torch.onnx.export(..., dynamo=False)`);
`build_pitch_onnx` composes the pitch front end, swift-f0's own graph and the back end into one model
(opset 18, swift-f0's); `build_features_onnx` runs both side by side on the one audio input, so the
plugin computes exactly what `compute_controls` computes in training.
"""

import io

import numpy as np
import onnx
import torch

from ..conditioning.controls import (CONTROL_NAMES, SWIFT_F0_FMAX, SWIFT_F0_FMIN, ControlConfig, ControlFeatures,
                                     PitchBackEnd, PitchFrontEnd, swift_f0_model_path)

SWIFT_F0_OPSET = 18  # onnx.compose needs both graphs on the same opset


def build_pitch_onnx(config: ControlConfig = ControlConfig()) -> onnx.ModelProto:
    """One ONNX graph: audio (1, N) -> pitch (1, frames, 2), composed of our exported torch parts and swift-f0."""

    def export(module: torch.nn.Module, args: tuple, inputs: list[str], outputs: list[str],
               axes: dict) -> onnx.ModelProto:
        buffer = io.BytesIO()
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=SWIFT_F0_OPSET,
                          input_names=inputs, output_names=outputs, dynamic_axes=axes)
        return onnx.load_from_string(buffer.getvalue())

    swift = onnx.load(str(swift_f0_model_path()))
    # Dimension names unlike swift-f0's "samples"/"frames": after merging, equal names must mean equal sizes.
    front = export(PitchFrontEnd(config), (torch.zeros(1, 4096),), ["audio"], ["audio_16k", "frame_peak"],
                   {"audio": {1: "audio_samples"}, "audio_16k": {1: "samples_16k"},
                    "frame_peak": {1: "control_frames"}})
    swift_outputs = (torch.zeros(1, 30, dtype=torch.float64), torch.zeros(1, 30), torch.zeros(1, 9))
    back = export(PitchBackEnd(config), swift_outputs, ["pitch_hz", "confidence", "frame_peak"], ["pitch"],
                  {"pitch_hz": {1: "swift_frames"}, "confidence": {1: "swift_frames"},
                   "frame_peak": {1: "control_frames"}, "pitch": {1: "control_frames"}})
    # swift-f0's fmin/fmax inputs become constants: the full range, as PitchTracker uses.
    limits = [onnx.helper.make_node("Constant", [], [name], value=onnx.numpy_helper.from_array(np.array(v, np.float32)))
              for name, v in (("fmin", SWIFT_F0_FMIN), ("fmax", SWIFT_F0_FMAX))]
    nodes = limits + list(swift.graph.node)
    del swift.graph.node[:]
    swift.graph.node.extend(nodes)
    for name in ("fmin", "fmax"):
        swift.graph.input.remove(next(i for i in swift.graph.input if i.name == name))
    front.ir_version = back.ir_version = swift.ir_version
    model = onnx.compose.merge_models(front, swift, io_map=[("audio_16k", "audio")], prefix2="swift_f0/")
    links = [("swift_f0/pitch", "pitch_hz"), ("swift_f0/confidence", "confidence"), ("frame_peak", "frame_peak")]
    model = onnx.compose.merge_models(model, back, io_map=links, prefix2="back/")
    for node in model.graph.node:  # drop the merge prefix from the one output the caller sees
        node.output[:] = ["pitch" if name == "back/pitch" else name for name in node.output]
    model.graph.output[0].name = "pitch"
    onnx.checker.check_model(model)
    return model


def build_features_onnx(config: ControlConfig = ControlConfig()) -> onnx.ModelProto:
    """One graph: audio (1, N) -> controls (1, frames, 4) in CONTROL_NAMES order, i.e. compute_controls.

    ControlFeatures (loudness, brightness) exported from torch and build_pitch_onnx (pitch, confidence)
    side by side on the same input, joined by a Concat."""
    buffer = io.BytesIO()
    torch.onnx.export(ControlFeatures(config), (torch.zeros(1, 4096),), buffer, dynamo=False,
                      opset_version=SWIFT_F0_OPSET, input_names=["audio"], output_names=["loudness_brightness"],
                      dynamic_axes={"audio": {1: "audio_samples"}, "loudness_brightness": {1: "control_frames"}})
    features = onnx.load_from_string(buffer.getvalue())
    pitch = onnx.compose.add_prefix(build_pitch_onnx(config), "pitch/")
    for node in pitch.graph.node:  # both halves read the one input
        node.input[:] = ["audio" if name == "pitch/audio" else name for name in node.input]
    graph = features.graph
    graph.node.extend(pitch.graph.node)
    graph.initializer.extend(pitch.graph.initializer)
    graph.node.append(onnx.helper.make_node("Concat", ["loudness_brightness", "pitch/pitch"], ["controls"], axis=2))
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info("controls", onnx.TensorProto.FLOAT,
                                                           [1, "control_frames", len(CONTROL_NAMES)]))
    features.ir_version = max(features.ir_version, pitch.ir_version)
    onnx.checker.check_model(features)
    return features
