"""A package's golden fixtures (lmdm.export.fixtures writes them) run through ONNX Runtime: what
`check_package` does for each graph, with no PyTorch needed."""

from pathlib import Path

import numpy as np
import onnxruntime
from safetensors.numpy import load_file


def check_fixtures(folder: Path, manifest: dict) -> dict[str, float]:
    """Run every graph on its fixture inputs in ONNX Runtime; max scaled error per graph (raises if over)."""
    errors = {}
    section = manifest["fixtures"]
    for name in section["graphs"]:
        tensors = load_file(str(folder / section["folder"] / f"{name}.safetensors"))
        inputs = {k.removeprefix("input."): v for k, v in tensors.items() if k.startswith("input.")}
        session = onnxruntime.InferenceSession(str(folder / manifest["graphs"][name]["file"]),
                                               providers=["CPUExecutionProvider"])
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs)))
        worst = 0.0
        for key, expected in ((k.removeprefix("output."), v) for k, v in tensors.items() if k.startswith("output.")):
            scale = max(1.0, float(np.abs(expected).max()))
            worst = max(worst, float(np.abs(outputs[key] - expected).max()) / scale)
        if worst > section["tolerance"][name]:
            raise ValueError(f"{name}: fixture error {worst:.2e} exceeds {section['tolerance'][name]:.0e}")
        errors[name] = worst
    return errors
