"""python -m lmdm.latents.build: the DiT's training data, VAE latents + sketch controls + caption embeddings.

    python -m lmdm.latents.build --data data/lmdm-v1 --vae models/vae

Encodes every example of every split once with the VAE (the posterior mean), computes the control
features per latent frame (lmdm.conditioning.controls: loudness, brightness, pitch + confidence) and embeds all
captions (lmdm.conditioning.text), into data/lmdm-v1/latents-<encoder hash>/<split>.{latents,controls,text}.npy plus
<split>.json (per example: frame range, captions, instruments, kind) and stats.json (per-channel
latent mean/std, control statistics) from the train split. Rebuilt only when missing, so a new encoder
gets its own folder and an old cache is never mixed with new weights; a VAE whose decoder alone
changed (lmdm.vae_level) keeps its cache.
"""

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cli import add_config_arguments, config_from_args
from ..conditioning.controls import CONTROL_NAMES, compute_controls
from ..conditioning.text import TEXT_DIM, embed_texts
from ..data.loader import ShardDataset
from ..vae.model import load_vae, trim_to_latents
from .cache import SPLITS, cache_folder


@dataclass(frozen=True)
class LatentCacheConfig:
    data: Path = field(default_factory=lambda: Path("data/lmdm-v1"))
    vae: Path = field(default_factory=lambda: Path("models/vae"))
    splits: tuple[str, ...] = SPLITS
    threads: int = 2


@torch.no_grad()
def encode_split(data: Path, split: str, vae, folder: Path) -> None:
    latents, controls, examples, captions, position = [], [], [], [], 0
    for example in tqdm(ShardDataset(data, split), desc=f"latents {split}", mininterval=10):
        audio = trim_to_latents(torch.from_numpy(np.ascontiguousarray(example["mix"], np.float32)), vae.config)
        mean, _ = vae.encode(audio[None])
        frames = mean.shape[2]
        latents.append(mean[0].T.numpy().astype(np.float16))  # (L, D)
        # control frame k is centred on sample k*512, the start of latent k (half a latent early: 12 ms)
        controls.append(compute_controls(audio.numpy())[:frames].astype(np.float32))
        meta = example["meta"]
        examples.append({"key": meta["key"], "start": position, "end": position + frames, "kind": meta["kind"],
                         "instruments": meta["caption_facts"]["instruments"],
                         "families": meta["caption_facts"]["families"],
                         "captions": list(range(len(captions), len(captions) + len(meta["captions"])))})
        captions += meta["captions"]
        position += frames
    empty = not examples  # a tiny build can leave a split empty
    np.save(folder / f"{split}.latents.npy",
            np.zeros((0, vae.config.latent_dim), np.float16) if empty else np.concatenate(latents))
    np.save(folder / f"{split}.controls.npy",
            np.zeros((0, len(CONTROL_NAMES)), np.float32) if empty else np.concatenate(controls))
    np.save(folder / f"{split}.text.npy", np.zeros((0, TEXT_DIM), np.float32) if empty else embed_texts(captions))
    (folder / f"{split}.json").write_text(json.dumps({"examples": examples, "captions": captions}))


def statistics(folder: Path) -> dict:
    latents = np.load(folder / "train.latents.npy").astype(np.float32)
    controls = np.load(folder / "train.controls.npy")
    voiced = controls[:, 3] >= 0.5
    return {"latent_mean": latents.mean(0).tolist(), "latent_std": latents.std(0).tolist(),
            "control_names": list(CONTROL_NAMES),
            "loudness_db": {"mean": float(controls[:, 0].mean()), "std": float(controls[:, 0].std())},
            "brightness": {"mean": float(controls[:, 1].mean()), "std": float(controls[:, 1].std())},
            "pitch_midi": {"mean": float(controls[voiced, 2].mean()), "std": float(controls[voiced, 2].std())},
            "voiced_fraction": float(voiced.mean()), "train_frames": int(len(latents))}


def build_latent_cache(config: LatentCacheConfig) -> Path:
    folder = cache_folder(config.data, config.vae)
    if (folder / "stats.json").exists():
        return folder
    torch.set_num_threads(config.threads)
    staging = folder.with_name(folder.name + ".staging")
    staging.mkdir(parents=True, exist_ok=True)
    vae = load_vae(config.vae)
    for split in config.splits:
        encode_split(config.data, split, vae, staging)
    (staging / "stats.json").write_text(json.dumps(statistics(staging), indent=1))
    (staging / "vae.json").write_text(json.dumps({"vae": str(config.vae), "config": json.loads(
        (Path(config.vae) / "config.json").read_text()) if (Path(config.vae) / "config.json").exists() else None}))
    staging.rename(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.latents.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, LatentCacheConfig)
    print(build_latent_cache(config_from_args(parser.parse_args(argv), LatentCacheConfig)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
