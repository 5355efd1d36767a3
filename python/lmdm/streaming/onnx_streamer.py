"""OnnxStreamer: the LMDM streamed through its ONNX graphs, exactly as a host runs them.

The reference the C++ engine matches (tests/python/engine/test_engine_model.py, latents within 1e-3): it
holds the state a host holds (the KV ring, the context latents for encdec, the grid's modulations,
the noise generator) and calls timestep / context_encoder /
denoiser (lmdm.export.dit_graphs) with the Euler, Heun or ping-pong update and the CFG mix done here, not in a graph.
Same seed, same controls and prompt -> the same latents as lmdm.streaming.torch_streamer.Streamer (PyTorch).
"""

from pathlib import Path

import numpy as np
import onnxruntime
import torch

from ..dit.flow import solve, time_grid
from ..dit.variants import Variant
from ..export.manifest import check_package
from .kv_cache import KVCache
from .sessions import session_options
from .torch_streamer import StreamConfig


class OnnxStreamer:
    def __init__(self, folder: Path, variant: str, layers: int, heads: int, head_dim: int, latent_dim: int,
                 text_dim: int, config: StreamConfig, threads: int = 1):
        if not Variant(variant).routed:
            raise ValueError(f"OnnxStreamer runs the cached variants, not {variant!r}")
        self.variant = Variant(variant)
        options = session_options(threads)
        load = lambda name: onnxruntime.InferenceSession(str(Path(folder) / f"{name}.onnx"), options,
                                                         providers=["CPUExecutionProvider"])
        self.timestep, self.encoder, self.denoiser = load("timestep"), load("context_encoder"), load("denoiser")
        self.config, self.latent_dim, self.text_dim = config, latent_dim, text_dim
        self.batch = 1 if config.guidance == 1.0 else 2
        self.grid = time_grid(config.steps, config.time_shift)
        self.cache = KVCache(layers, self.batch, heads, config.context_frames, head_dim)
        generator = torch.Generator().manual_seed(config.seed)
        # The diffusion noise: PyTorch's by default (to match lmdm.streaming.torch_streamer); a host-reproducible
        # source (lmdm.streaming.noise) can replace it.
        self.noise = lambda *shape: torch.randn(*shape, generator=generator).numpy()
        self.modulations = {t: self.timestep.run(None, {"t": np.full(self.batch, t, np.float32)})
                            for t in sorted(set(self.grid) | {0.0})}
        self.set_prompt(None)

    @classmethod
    def from_package(cls, folder: Path, steps: int | None = None, guidance: float | None = None, seed: int = 0,
                     threads: int = 1) -> "OnnxStreamer":
        """A streamer configured by a package's manifest (validated first)."""
        manifest = check_package(folder)
        stream, kv = manifest["stream"], manifest["kv"]
        config = StreamConfig(stream["context_frames"], stream["block_frames"], steps or stream["default_steps"],
                              stream["solver"], guidance=stream["default_guidance"] if guidance is None else guidance,
                              seed=seed, time_shift=stream.get("time_shift", 1.0),
                              guidance_drops_controls="controls" in stream.get("unconditional_drops", ["text"]))
        return cls(folder, stream["variant"], kv["layers"], kv["heads"], kv["head_dim"], manifest["latent"]["dim"],
                   manifest["text"]["dim"], config, threads)

    def set_prompt(self, embedding: np.ndarray | None) -> None:
        """A sentence embedding (text_dim,) or None (unconditional); row 1 is always unconditional under CFG."""
        self.text = np.zeros((self.batch, self.text_dim), np.float32)
        self.use_text = np.zeros(self.batch, np.float32)
        if embedding is not None:
            self.text[0], self.use_text[0] = embedding, 1.0

    def start(self, latents: np.ndarray, values: np.ndarray, present: np.ndarray) -> None:
        """Begin a stream from C context frames (encdec, blockcausal) or none (blockcausal: the first
        block then attends only itself, and the cache fills block by block)."""
        c = self.config
        if latents.shape[0] not in ((c.context_frames, 0) if self.variant.incremental else (c.context_frames,)):
            raise ValueError(f"a {self.variant.value} stream starts from {c.context_frames} context frames, got {latents.shape[0]}")
        self.latents, self.values, self.present = latents.copy(), values.copy(), present.copy()
        self.position = c.context_frames  # where a full context would end, as the engine counts
        self.cache.reset()
        if self.variant.incremental:  # block by block: each attends the blocks encoded before it
            for first in range(0, latents.shape[0], c.block_frames):
                part = slice(first, first + c.block_frames)
                self._append(latents[part], values[part], present[part], first)

    def next_block(self, values: np.ndarray, present: np.ndarray) -> np.ndarray:
        c = self.config
        noise = torch.from_numpy(self.noise(c.block_frames, self.latent_dim))
        if not self.variant.incremental:  # encdec: the whole context window again
            self.cache.reset()
            self.cache.append(self._encode(self.latents, self.values, self.present, self.position - c.context_frames))
        fresh = lambda: torch.from_numpy(self.noise(c.block_frames, self.latent_dim))
        block = solve(lambda x, t: torch.from_numpy(self._velocity(x.numpy(), t, values, present)), noise,
                      self.grid, c.solver, fresh).numpy()
        if self.variant.incremental:
            self.cache.slide(max(0, self.cache.length + c.block_frames - self.cache.capacity))
            self._append(block, values, present, self.position)
        else:
            keep = c.context_frames
            self.latents = np.concatenate([self.latents, block])[-keep:]
            self.values = np.concatenate([self.values, values])[-keep:]
            self.present = np.concatenate([self.present, present])[-keep:]
        self.position += c.block_frames
        return block

    # ------------------------------------------------------------------------- graph calls

    def _batched(self, x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.broadcast_to(x[None], (self.batch, *x.shape)), dtype=np.float32)

    def _controls(self, x: np.ndarray) -> np.ndarray:
        """Per batch row; the unconditional row's controls absent (zeros) where guidance drops them."""
        batched = self._batched(x)
        if self.batch == 2 and self.config.guidance_drops_controls:
            batched[1] = 0.0
        return batched

    def _shared(self, values, present, first: int, frames: int) -> dict[str, np.ndarray]:
        return {"control_values": self._controls(values), "control_present": self._controls(present),
                "positions": np.arange(first, first + frames, dtype=np.float32), "text": self.text,
                "use_text": self.use_text, "cache_keys": self.cache.keys.numpy(),
                "cache_values": self.cache.values.numpy(), "cache_valid": self.cache.valid().numpy().astype(np.float32)}

    def _encode(self, latents, values, present, first: int) -> list:
        keys, values_out = self.encoder.run(None, {"latents": self._batched(latents),
                                                   **self._shared(values, present, first, latents.shape[0]),
                                                   "modulations": self.modulations[0.0][0]})
        return [(torch.from_numpy(keys[layer]), torch.from_numpy(values_out[layer])) for layer in range(keys.shape[0])]

    def _append(self, latents, values, present, first: int) -> None:
        self.cache.append(self._encode(latents, values, present, first))

    def _velocity(self, x: np.ndarray, t: float, values, present) -> np.ndarray:
        modulations, out_modulation = self.modulations[t]
        v = self.denoiser.run(None, {"noisy": self._batched(x), **self._shared(values, present, self.position, x.shape[0]),
                                     "modulations": modulations, "out_modulation": out_modulation})[0]
        return v[0] if self.batch == 1 else self.config.guided(v[0], v[1])
