"""python -m lmdm.latents.pack: the latent cache in one file small enough to travel to a GPU machine.

    python -m lmdm.latents.pack pack   --cache data/lmdm-v1/latents-<hash> --out data/latents.pack
    python -m lmdm.latents.pack unpack --pack data/latents.pack --data data/lmdm-v1

A lent GPU machine receives the working tree and the ignored paths it names, 64 MiB in all, and the
fp16 cache of 10 h of audio is about 150 MB. Packed, about 36 MB (50 MB with the re-levelled targets):
- latents as int8 in units of 1/STEPS_PER_SIGMA of each channel's standard deviation around its mean
  (the DiT trains on exactly those normalised channels; the error, at most half a step, 0.031 sigma,
  1.8 % RMS, is far below the flow's noise and the VAE posterior's own spread), stored as differences
  between consecutive frames, which lzma compresses to about half (neighbouring frames are alike);
- controls (and the guitar's, lmdm.latents.guitar_controls, where built) as float16, caption embeddings as float16 with duplicate rows stored once;
- the re-levelled targets (lmdm.latents.guitar_envelope, where built) quantised the same way and stored as
  their difference from the latents, zero outside the re-levelled examples, so they cost little;
- the JSON files and the silent frame (lmdm.latents.cache.silence_latent, computed here with `--vae`
  so the GPU machine needs no VAE) unchanged.
`unpack` rebuilds the same folder name and files; train there with `--latent-cache <that folder>`.
"""

import argparse
import io
import json
import lzma
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import GUITAR_CONTROLS, GUITAR_LATENTS, SILENCE, SPLITS, silence_latent

STEPS_PER_SIGMA = 16  # int8 covers +-7.9 sigma; the cache's largest |z| is 5.2
FORMAT = "lmdm-latent-pack-2"


@dataclass(frozen=True)
class PackReport:
    path: Path
    megabytes: float
    latent_max_error_sigma: float


def _compress(array: np.ndarray, delta_bytes: int = 0) -> tuple[bytes, dict]:
    """xz bytes of a C-ordered array; `delta_bytes` > 0 adds lzma's delta filter over that distance."""
    filters = [{"id": lzma.FILTER_DELTA, "dist": delta_bytes}] if delta_bytes else []
    filters.append({"id": lzma.FILTER_LZMA2, "preset": 6})
    data = lzma.compress(np.ascontiguousarray(array).tobytes(), format=lzma.FORMAT_XZ, filters=filters)
    return data, {"dtype": array.dtype.str, "shape": list(array.shape)}


def pack(cache: Path, out: Path, vae: Path = Path("models/vae")) -> PackReport:
    cache = Path(cache)
    stats = json.loads((cache / "stats.json").read_text())
    mean, std = np.array(stats["latent_mean"], np.float32), np.array(stats["latent_std"], np.float32)
    silence_latent(cache, vae)  # into the cache first, so it travels
    blobs: dict[str, bytes] = {}
    header: dict = {"format": FORMAT, "folder": cache.name, "steps_per_sigma": STEPS_PER_SIGMA, "arrays": {},
                    "files": sorted(p.name for p in cache.glob("*.json"))}
    worst = 0.0
    for split in SPLITS:
        if not (cache / f"{split}.latents.npy").exists():
            continue
        steps, error = _quantise(np.load(cache / f"{split}.latents.npy"), mean, std, split)
        worst = max(worst, error)
        text = np.load(cache / f"{split}.text.npy").astype(np.float16)
        unique, rows = np.unique(text, axis=0, return_inverse=True) if len(text) else (text, np.zeros(0, np.int64))
        arrays = [(f"{split}.latents", steps, steps.shape[1]),
                  (f"{split}.controls", np.load(cache / f"{split}.controls.npy").astype(np.float16), 0),
                  (f"{split}.text_unique", unique, 0),
                  (f"{split}.text_rows", rows.reshape(-1).astype(np.int32), 0)]
        if (cache / f"{split}.{GUITAR_CONTROLS}").exists():
            arrays.append((f"{split}.guitar_controls", np.load(cache / f"{split}.{GUITAR_CONTROLS}").astype(np.float16), 0))
        if (cache / f"{split}.{GUITAR_LATENTS}").exists():
            enveloped, error = _quantise(np.load(cache / f"{split}.{GUITAR_LATENTS}"), mean, std, split)
            worst = max(worst, error)
            # int16: a re-levelled frame may sit further from its original than int8 steps reach
            arrays.append((f"{split}.guitar_latents", enveloped.astype(np.int16) - steps, 0))
        for name, array, delta in arrays:
            blobs[name], header["arrays"][name] = _compress(array, delta)
            header["arrays"][name]["delta_bytes"] = delta
    blobs[SILENCE], header["arrays"][SILENCE] = _compress(np.load(cache / SILENCE))
    header["arrays"][SILENCE]["delta_bytes"] = 0
    for name in header["files"]:
        blobs[name] = lzma.compress((cache / name).read_bytes())
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out.with_suffix(".tmp.npz"), header=np.array(json.dumps(header)),
             **{name: np.frombuffer(blob, np.uint8) for name, blob in blobs.items()})
    out.with_suffix(".tmp.npz").replace(out)
    return PackReport(out, out.stat().st_size / 1e6, worst)


def _quantise(latents: np.ndarray, mean: np.ndarray, std: np.ndarray, split: str) -> tuple[np.ndarray, float]:
    """(L, D) latents -> int8 steps of 1/STEPS_PER_SIGMA around the channel means, and the largest error (sigma)."""
    z = (latents.astype(np.float32) - mean) / std
    if np.abs(z).max(initial=0.0) * STEPS_PER_SIGMA > 127:
        raise ValueError(f"{split}: latents reach {np.abs(z).max():.1f} sigma, beyond the int8 range")
    steps = np.round(z * STEPS_PER_SIGMA).astype(np.int8)
    return steps, float(np.abs(steps / STEPS_PER_SIGMA - z).max(initial=0.0))


def _decompress(blob: np.ndarray, meta: dict) -> np.ndarray:
    data = lzma.decompress(blob.tobytes())
    return np.frombuffer(data, np.dtype(meta["dtype"])).reshape(meta["shape"])


def unpack(pack_file: Path, data: Path) -> Path:
    with np.load(pack_file) as arrays:
        header = json.loads(str(arrays["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{pack_file} is not a {FORMAT} file (format {header.get('format')!r})")
        folder = Path(data) / header["folder"]
        if (folder / "stats.json").exists():  # unpacked before (a rerun on the same machine)
            return folder
        staging = folder.with_name(folder.name + ".staging")
        staging.mkdir(parents=True, exist_ok=True)
        for name in header["files"]:
            (staging / name).write_bytes(lzma.decompress(arrays[name].tobytes()))
        load = lambda name: _decompress(arrays[name], header["arrays"][name])
        stats = json.loads((staging / "stats.json").read_text())
        mean, std = np.array(stats["latent_mean"], np.float32), np.array(stats["latent_std"], np.float32)
        for split in SPLITS:
            if f"{split}.latents" not in header["arrays"]:
                continue
            steps = load(f"{split}.latents")
            z = steps.astype(np.float32) / header["steps_per_sigma"]
            np.save(staging / f"{split}.latents.npy", (z * std + mean).astype(np.float16))
            if f"{split}.guitar_latents" in header["arrays"]:
                z = (steps + load(f"{split}.guitar_latents")).astype(np.float32) / header["steps_per_sigma"]
                np.save(staging / f"{split}.{GUITAR_LATENTS}", (z * std + mean).astype(np.float16))
            np.save(staging / f"{split}.controls.npy", load(f"{split}.controls").astype(np.float32))
            if f"{split}.guitar_controls" in header["arrays"]:
                np.save(staging / f"{split}.{GUITAR_CONTROLS}", load(f"{split}.guitar_controls").astype(np.float32))
            np.save(staging / f"{split}.text.npy", load(f"{split}.text_unique")[load(f"{split}.text_rows")].astype(np.float32))
        np.save(staging / SILENCE, load(SILENCE))
    staging.rename(folder)  # only a complete cache gets the name training looks for
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lmdm.latents.pack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="latent cache folder -> one compressed file")
    packing.add_argument("--cache", type=Path, required=True)
    packing.add_argument("--out", type=Path, required=True)
    packing.add_argument("--vae", type=Path, default=Path("models/vae"), help="for the silent frame, if the cache lacks it")
    unpacking = commands.add_parser("unpack", help="compressed file -> the cache folder under --data")
    unpacking.add_argument("--pack", type=Path, required=True)
    unpacking.add_argument("--data", type=Path, default=Path("data/lmdm-v1"))
    args = parser.parse_args(argv)
    if args.command == "pack":
        report = pack(args.cache, args.out, args.vae)
        print(f"wrote {report.path}: {report.megabytes:.1f} MB, latent error at most "
              f"{report.latent_max_error_sigma:.3f} sigma")
    else:
        print(unpack(args.pack, args.data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
