"""python -m lmdm.evaluation.evaluate: judge a DiT or LMDM by its generations (sketch adherence, text adherence, FD).

    python -m lmdm.evaluation.evaluate --model models/lmdm-blockcausal --out runs/eval-blockcausal   # judge: models/classifier

For each of `items` test-split examples, the model generates `seconds` of audio from the example's
sketch (its loudness, brightness and pitch curves) and one of its captions; streaming variants stream
block by block with the KV cache, the offline model generates the whole excerpt in one window. Then:
- sketch adherence: Pearson r of requested vs generated loudness and brightness (frames where the
  sketch is audible), pitch agreement (fraction of frames voiced in both within 1 semitone) and MAE;
- text adherence: with prompts "solo <instrument>" over the same sketches, the classifier's top-1
  instrument accuracy (the classifier's own test accuracy is in its report);
- quality: Fréchet distances between the generations and the real test audio, with two embeddings:
  the in-project classifier's and aiSFX's (a pretrained network from its PyPI package; reported as a
  non-standard FAD, not comparable to VGGish FADs in papers).
Writes `<out>/evaluation.json`.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cli import add_config_arguments, config_from_args
from ..conditioning.controls import compute_controls
from ..conditioning.sketch import SKETCH_CONTROLS, sketch_from_audio
from ..conditioning.text import embed_texts
from ..data.loader import ShardDataset
from ..dit.files import load_dit
from ..dit.flow import solve, time_grid
from ..dit.variants import Variant
from ..dit.model import DiT
from ..latents.cache import denormalise_latents, normalise_latents
from ..streaming.torch_streamer import StreamConfig, Streamer
from ..vae.model import load_vae
from .aisfx_embedding import aisfx_embeddings
from .classifier import INSTRUMENTS, load_classifier
from .frechet import classifier_embeddings, frechet_distance


@dataclass(frozen=True)
class EvaluateConfig:
    model: Path = field(default_factory=lambda: Path("models/lmdm-blockcausal"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))
    classifier: Path = field(default_factory=lambda: Path("models/classifier"))
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    out: Path = field(default_factory=lambda: Path("runs/evaluation"))
    split: str = "test"
    items: int = 24
    seconds: float = 6.0
    instruments: tuple[str, ...] = ("flute", "violin", "trumpet", "acoustic grand piano", "clean electric guitar",
                                    "choir", "church organ", "marimba")
    context_frames: int = StreamConfig.context_frames
    block_frames: int = StreamConfig.block_frames
    steps: int = StreamConfig.steps
    guidance: float = StreamConfig.guidance
    seed: int = 0
    threads: int = 2


@torch.no_grad()
def generate_latents(model: DiT, config: EvaluateConfig, values: torch.Tensor, present: torch.Tensor,
                     text: torch.Tensor | None, start: torch.Tensor, seed: int) -> torch.Tensor:
    """(frames, D) model-space latents following these controls; `start` = C frames of context."""
    if not Variant(model.config.variant).streaming:  # the whole excerpt in one bidirectional window
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(values.shape[0], model.config.latent_dim, generator=generator)
        texts = None if text is None else text[None]
        stream = StreamConfig(guidance=config.guidance)

        def velocity(x, t):
            v = model(x[None], torch.full((1,), t), values[None], present[None], texts)[0]
            if config.guidance == 1.0:
                return v
            keep = 0.0 if StreamConfig.guidance_drops_controls else 1.0  # as the streamers' unconditional row
            v_null = model(x[None], torch.full((1,), t), keep * values[None], keep * present[None], None)[0]
            return stream.guided(v, v_null)

        return solve(velocity, noise, time_grid(config.steps))
    streamer = Streamer(model, StreamConfig(config.context_frames, config.block_frames, config.steps,
                                            guidance=config.guidance, seed=seed))
    streamer.set_prompt(text)
    controls = len(SKETCH_CONTROLS)
    streamer.start(start, torch.zeros(config.context_frames, controls), torch.zeros(config.context_frames, controls))
    blocks = [streamer.next_block(values[i:i + config.block_frames], present[i:i + config.block_frames])
              for i in range(0, values.shape[0], config.block_frames)]
    return torch.cat(blocks)


def sketch_adherence(requested: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    """Raw control curves (frames, 4) of the sketch and of the generation."""
    audible = requested[:, 0] > -50
    correlation = lambda a, b: float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else 0.0
    voiced = (requested[:, 3] >= 0.5) & (generated[:, 3] >= 0.5)
    pitch_error = np.abs(requested[voiced, 2] - generated[voiced, 2])
    return {"loudness_r": correlation(requested[audible, 0], generated[audible, 0]),
            "brightness_r": correlation(requested[audible, 1], generated[audible, 1]),
            "pitch_within_semitone": float((pitch_error <= 1).mean()) if voiced.any() else 0.0,
            "pitch_mae_semitones": float(pitch_error.mean()) if voiced.any() else float("nan"),
            "voiced_both_fraction": float(voiced.mean())}


def evaluate_generations(config: EvaluateConfig) -> dict:
    torch.set_num_threads(config.threads)
    model, stats = load_dit(config.model)
    vae, classifier = load_vae(config.vae), load_classifier(config.classifier)
    rate, per_latent = vae.config.sample_rate, vae.config.samples_per_latent
    frames = int(config.seconds * rate / per_latent) // config.block_frames * config.block_frames
    items = [ex for _, ex in zip(range(config.items), ShardDataset(config.data, config.split))]
    silence = normalise_latents(vae.encode(torch.zeros(1, config.context_frames * per_latent))[0][0].T, stats)
    decode = lambda latents: vae.decode(denormalise_latents(latents, stats).T[None])[0].numpy()
    real, generated, adherence, text_hits = [], [], [], []
    prompts = embed_texts([f"solo {name}" for name in config.instruments])
    for index, example in enumerate(tqdm(items, desc="evaluate")):
        audio = example["mix"][: frames * per_latent].astype(np.float32)
        values, present = sketch_from_audio(audio, stats)
        values, present = values[:frames], present[:frames]
        caption = torch.from_numpy(embed_texts([example["meta"]["captions"][0]])[0])
        with torch.no_grad():
            output = decode(generate_latents(model, config, values, present, caption, silence, config.seed + index))
            asked = index % len(config.instruments)
            solo = decode(generate_latents(model, config, values, present, torch.from_numpy(prompts[asked]),
                                           silence, config.seed + 10_000 + index))
            heard = classifier(torch.from_numpy(solo[None].copy()))["instruments"][0]
        text_hits.append(INSTRUMENTS[int(heard.argmax())] == config.instruments[asked])
        adherence.append(sketch_adherence(compute_controls(audio)[:frames], compute_controls(output)[:frames]))
        real.append(audio)
        generated.append(output)
    result = {"model": str(config.model), "variant": model.config.variant, "items": len(items),
              "seconds": frames * per_latent / rate, "steps": config.steps, "guidance": config.guidance,
              "guidance_drops_controls": StreamConfig.guidance_drops_controls,
              "sketch_adherence": {k: float(np.nanmean([a[k] for a in adherence])) for k in adherence[0]},
              "text_adherence_top1": float(np.mean(text_hits)), "instruments_asked": list(config.instruments),
              "frechet_distance_classifier": frechet_distance(classifier_embeddings(classifier, real),
                                                              classifier_embeddings(classifier, generated)),
              "frechet_distance_aisfx_nonstandard_fad": frechet_distance(aisfx_embeddings(real, rate),
                                                                         aisfx_embeddings(generated, rate))}
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "evaluation.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.evaluation.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, EvaluateConfig)
    print(json.dumps(evaluate_generations(config_from_args(parser.parse_args(argv), EvaluateConfig)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
