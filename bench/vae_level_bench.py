"""Does the VAE give back the level it gets? Validation clips set to input levels from -40 to -6 dBFS
RMS (the adherence benchmark's range), encoded and decoded by the VAE (whole clip, the posterior mean),
the decoded RMS minus the input RMS per clip and level. A DiT that makes perfect latents still plays at
the decoder's level, so this bounds the wet - dry level of the plugin from below.
Writes bench/results/vae_level.{json,png}.

    .venv/bin/python bench/vae_level_bench.py [--vae models/vae] [--clips 12]
"""

import argparse
import itertools
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmdm.data.loader import ShardDataset  # noqa: E402
from lmdm.vae.model import load_vae  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVELS_DBFS = (-40.0, -30.0, -20.0, -12.0, -6.0)
CLIP_LATENTS = 256  # 5.9 s at 22.05 kHz: whole latents, so the round trip has no ragged end


def rms_dbfs(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(audio, dtype=np.float64)) + 1e-20))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", type=Path, default=REPO / "models" / "vae")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "lmdm-v1")
    parser.add_argument("--split", default="valid")
    parser.add_argument("--clips", type=int, default=12, help="every few examples of the split, up to this many")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vae = load_vae(args.vae)
    samples = CLIP_LATENTS * vae.config.samples_per_latent
    rows = []
    with torch.no_grad():
        for example in itertools.islice(ShardDataset(args.data, args.split), 0, 10 * args.clips, 10):
            clip = np.ascontiguousarray(example["mix"][:samples], np.float32)
            if len(clip) < samples or rms_dbfs(clip) < -60:
                continue
            natural = rms_dbfs(clip)
            gaps = []
            for level in LEVELS_DBFS:
                audio = torch.from_numpy(clip * np.float32(10 ** ((level - natural) / 20)))
                mean, _ = vae.encode(audio[None])
                gaps.append(rms_dbfs(vae.decode(mean)[0].numpy()) - level)
            rows.append({"key": example["meta"]["key"], "natural_dbfs": natural, "decoded_minus_input_db": gaps})
    gaps = np.array([r["decoded_minus_input_db"] for r in rows])
    medians = np.median(gaps, axis=0)
    result = {
        "benchmark": "vae_level", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.processor() or platform.machine(), "vae": str(args.vae.relative_to(REPO))
        if args.vae.is_relative_to(REPO) else str(args.vae), "split": args.split, "clip_seconds":
        samples / vae.config.sample_rate, "levels_dbfs": list(LEVELS_DBFS),
        "median_decoded_minus_input_db": [round(float(m), 2) for m in medians],
        "natural_level_dbfs_median": float(np.median([r["natural_dbfs"] for r in rows])), "clips": rows,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "vae_level.json").write_text(json.dumps(result, indent=1) + "\n")
    figure, axis = plt.subplots(figsize=(6, 4))
    for gap in gaps:
        axis.plot(LEVELS_DBFS, gap, color="0.75", linewidth=0.8)
    axis.plot(LEVELS_DBFS, medians, "o-", color="C3", label="median over clips")
    axis.axhline(0, color="k", linewidth=0.6)
    axis.set(xlabel="input level, dBFS RMS", ylabel="decoded - input, dB",
             title=f"VAE round trip level ({len(rows)} {args.split} clips)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(args.results / "vae_level.png", dpi=80)
    print("input dBFS  " + "  ".join(f"{level:6.0f}" for level in LEVELS_DBFS))
    print("median dB   " + "  ".join(f"{m:+6.1f}" for m in medians) + f"   ({len(rows)} clips)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
