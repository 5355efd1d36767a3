"""python -m lmdm.streaming.generate: stream a streaming LMDM block by block with its KV cache, into audio.

    python -m lmdm.streaming.generate --model models/lmdm-blockcausal --prompt "solo flute" --sketch guitar.wav \\
        --seconds 60 --out flute.wav

The sketch's controls (loudness, brightness, pitch; `--follow` picks which, `--smoothing` how coarsely)
drive each block; without a sketch the model plays from its prompt alone. The stream starts from the
VAE latents of silence. Writes the audio, and a PNG with the sketch's and the output's spectrograms.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch
from tqdm import tqdm

from ..cli import add_config_arguments, config_from_args
from ..conditioning.sketch import SKETCH_CONTROLS, median_smooth, sketch_from_audio
from ..conditioning.text import embed_texts
from ..dit.files import load_dit
from ..latents.cache import denormalise_latents, normalise_latents
from ..vae.model import load_vae
from .torch_streamer import StreamConfig, Streamer


@dataclass(frozen=True)
class GenerateConfig:
    model: Path = field(default_factory=lambda: Path("models/lmdm-blockcausal"))  # shipped folder or run dir
    vae: Path = field(default_factory=lambda: Path("models/vae"))
    prompt: str = ""  # empty: unconditional
    sketch: str = ""  # an audio file whose controls drive the generation; empty: none
    follow: tuple[str, ...] = SKETCH_CONTROLS  # which of the sketch's controls to follow
    smoothing: int = 1  # median-filter width in latent frames (1 = precise, 17 = a coarse gesture)
    seconds: float = 0.0  # 0 = the sketch's length
    context_frames: int = StreamConfig.context_frames
    block_frames: int = StreamConfig.block_frames
    steps: int = StreamConfig.steps
    solver: str = StreamConfig.solver
    guidance: float = StreamConfig.guidance
    seed: int = 0
    out: Path = field(default_factory=lambda: Path("out/generated.wav"))
    threads: int = 2


def load_sketch(config: GenerateConfig, sample_rate: int, stats: dict, frames: int | None) -> tuple:
    """(values, present) per latent frame for `frames` frames (or the sketch's length), and the audio."""
    audio = np.zeros(0, np.float32)
    if config.sketch:
        audio, rate = sf.read(config.sketch, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        if rate != sample_rate:
            audio = soxr.resample(audio, rate, sample_rate, quality="VHQ")
        values, present = sketch_from_audio(audio, stats)
        values, present = median_smooth(values, config.smoothing), median_smooth(present, config.smoothing)
        followed = torch.tensor([name in config.follow for name in SKETCH_CONTROLS], dtype=values.dtype)
        values, present = values * followed * present, present * followed
    else:
        values = present = torch.zeros(0, len(SKETCH_CONTROLS))
    frames = frames or values.shape[0]
    if values.shape[0] < frames:  # beyond the sketch: no control
        pad = torch.zeros(frames - values.shape[0], len(SKETCH_CONTROLS))
        values, present = torch.cat([values, pad]), torch.cat([present, pad])
    return values[:frames], present[:frames], audio


@torch.no_grad()
def generate(config: GenerateConfig) -> dict:
    torch.set_num_threads(config.threads)
    model, stats = load_dit(config.model)
    vae = load_vae(config.vae)
    rate, per_latent = vae.config.sample_rate, vae.config.samples_per_latent
    frames = round(config.seconds * rate / per_latent) if config.seconds else None
    values, present, sketch_audio = load_sketch(config, rate, stats, frames)
    if values.shape[0] == 0:
        raise SystemExit("nothing to generate: give --seconds or a --sketch")
    stream = StreamConfig(config.context_frames, config.block_frames, config.steps, config.solver,
                          guidance=config.guidance, seed=config.seed)
    streamer = Streamer(model, stream)
    streamer.set_prompt(torch.from_numpy(embed_texts([config.prompt])[0]) if config.prompt else None)
    silence, _ = vae.encode(torch.zeros(1, config.context_frames * per_latent))
    controls = len(SKETCH_CONTROLS)
    streamer.start(normalise_latents(silence[0].T, stats), torch.zeros(config.context_frames, controls),
                   torch.zeros(config.context_frames, controls))
    blocks = -(-values.shape[0] // config.block_frames)
    pad = blocks * config.block_frames - values.shape[0]
    values, present = torch.cat([values, torch.zeros(pad, controls)]), torch.cat([present, torch.zeros(pad, controls)])
    latents, state, audio = [], {}, []
    for index in tqdm(range(blocks), desc="blocks", unit="block"):
        part = slice(index * config.block_frames, (index + 1) * config.block_frames)
        block = streamer.next_block(values[part], present[part])
        latents.append(block)
        audio.append(vae.decode(denormalise_latents(block, stats).T[None], state)[0])  # streaming decode
    audio = torch.cat(audio).numpy()[vae.config.decoder_delay:]  # drop the decoder's pre-roll
    config.out.parent.mkdir(parents=True, exist_ok=True)
    peak = max(1.0, float(np.abs(audio).max()))
    sf.write(config.out, audio / peak, rate)
    plot_spectrograms(config.out.with_suffix(".png"), sketch_audio, audio, rate, config)
    return {"out": str(config.out), "seconds": len(audio) / rate, "blocks": blocks, "peak": float(np.abs(audio).max())}


def plot_spectrograms(path: Path, sketch: np.ndarray, output: np.ndarray, rate: int, config: GenerateConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..vae.evaluate import log_mel

    panels = [("sketch", sketch)] if len(sketch) else []
    panels.append((f"generated: {config.prompt or '(no prompt)'}", output))
    figure, axes = plt.subplots(len(panels), 1, figsize=(12, 2.8 * len(panels)), squeeze=False)
    for axis, (title, audio) in zip(axes[:, 0], panels):
        axis.imshow(log_mel(audio.astype(np.float32), rate), origin="lower", aspect="auto", vmin=-80, vmax=0,
                    cmap="magma", extent=(0, len(audio) / rate, 0, 80))
        axis.set_title(title, fontsize=9)
        axis.set_ylabel("mel band")
    axes[-1, 0].set_xlabel("s")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.streaming.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, GenerateConfig)
    print(json.dumps(generate(config_from_args(parser.parse_args(argv), GenerateConfig))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
