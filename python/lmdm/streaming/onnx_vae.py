"""OnnxVAEStream: a streaming VAE graph (lmdm.export.vae_graphs) run block by block, its state carried."""

import json
from pathlib import Path

import numpy as np
import onnxruntime

from ..export.vae_graphs import STATE_IN
from .sessions import session_options


class OnnxVAEStream:
    """Streams blocks through one of the graphs, carrying its state between calls (batch 1)."""

    def __init__(self, path: Path, threads: int = 1):
        self.session = onnxruntime.InferenceSession(str(path), session_options(threads),
                                                    providers=["CPUExecutionProvider"])
        self.block_name = self.session.get_inputs()[0].name
        layout = json.loads(self.session.get_modelmeta().custom_metadata_map["lmdm.state_keys"])
        self.shapes = {key: tuple(shape) for key, shape in layout.items()}
        self.reset()

    def reset(self) -> None:
        self.state = {STATE_IN + key: np.zeros(shape, np.float32) for key, shape in self.shapes.items()}

    def __call__(self, block: np.ndarray) -> np.ndarray:
        results = self.session.run(None, {self.block_name: block.astype(np.float32, copy=False)} | self.state)
        self.state = {STATE_IN + key: value for key, value in zip(self.shapes, results[1:])}
        return results[0]
