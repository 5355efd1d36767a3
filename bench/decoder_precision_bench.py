"""What int8 quantisation does to the VAE decoder: its time per plugin-sized call and the audio it makes.

Exports the VAE's streaming decoder as a package does (optimised offline), then makes two int8
variants with ONNX Runtime's dynamic quantiser: the ConvNeXt blocks' MLPs only (what `--precision
int8` packages ship, lmdm.export.vae_graphs.INT8_DECODER_PARTS) and every MatMul (the head and the
inverse-DFT bases too). Material: the adherence benchmark's held-out monophonic stream (phrases from
-40 to -6 dBFS with rests between them) played by flute, violin, cello and clarinet with the training
soundfonts, the decoder's own domain; the VAE encodes each render and every variant decodes the
latents block by block, `--block-latents` at a time, as the plugin calls it.

Scored with librosa, not the model's code: each variant's SNR against float32; the log-mel distance
(mean |dB| over frames where float32 plays) against float32 and, for scale, float32's own distance to
the original render (the VAE's reconstruction error); the level in the rests (dBFS), where added noise
would be heard first; and the 1-8 kHz spectral flatness (dB) while playing, as the adherence benchmark
scores the wet. Time: median ms per call on one ONNX Runtime thread, the variants in alternating rounds
(this machine's speed drifts within minutes). Writes bench/results/decoder_precision.{json,png}.

    .venv/bin/python bench/decoder_precision_bench.py [--vae models/vae] [--seconds 40] [--rounds 7]
"""

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import librosa
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmdm.data.config import DataConfig  # noqa: E402
from lmdm.data.guitar_streams import StreamConfig, plan_stream, played_by, render_stream  # noqa: E402
from lmdm.data.instruments import PALETTE  # noqa: E402
from lmdm.export.optimize import optimize_offline  # noqa: E402
from lmdm.export.vae_graphs import INT8_DECODER_PARTS, export_streaming_graph, quantize_decoder_int8  # noqa: E402
from lmdm.streaming.onnx_vae import OnnxVAEStream  # noqa: E402
from lmdm.vae.model import load_vae, trim_to_latents  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
INSTRUMENTS = ("flute", "violin", "cello", "clarinet")
VARIANTS = {"float32": None, "int8, ConvNeXt blocks (shipped)": INT8_DECODER_PARTS, "int8, every MatMul": ("",)}
PLAYING_DBFS = -60.0  # frames of the float32 decode above this RMS count as playing
FLATNESS_BAND_HZ = (1000.0, 8000.0)


def make_variants(vae, folder: Path) -> dict[str, Path]:
    reference = folder / "float32.onnx"
    export_streaming_graph(vae, "decoder", reference)
    optimize_offline(reference)
    paths = {}
    for index, (name, parts) in enumerate(VARIANTS.items()):
        path = folder / f"variant{index}.onnx"
        shutil.copy(reference, path)
        if parts is not None:
            quantize_decoder_int8(path, parts)
        paths[name] = path
    return paths


def decode_blocks(path: Path, latents: np.ndarray, block: int) -> np.ndarray:
    stream = OnnxVAEStream(path)
    return np.concatenate([stream(latents[..., start:start + block]) for start in range(0, latents.shape[-1], block)],
                          axis=-1)[0]


def log_mel(audio: np.ndarray, rate: int) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=audio, sr=rate, n_fft=2048, hop_length=512, n_mels=128)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)


def frame_power(audio: np.ndarray) -> np.ndarray:
    return librosa.feature.rms(y=audio, frame_length=2048, hop_length=512)[0] ** 2


def flatness_db(audio: np.ndarray, rate: int, playing: np.ndarray) -> float:
    power = np.abs(librosa.stft(audio, n_fft=2048, hop_length=512)) ** 2
    freqs = librosa.fft_frequencies(sr=rate, n_fft=2048)
    band = power[(freqs >= FLATNESS_BAND_HZ[0]) & (freqs <= FLATNESS_BAND_HZ[1])] + 1e-20
    flatness = np.exp(np.mean(np.log(band), axis=0)) / np.mean(band, axis=0)
    return float(np.median(10 * np.log10(flatness[playing])))


def score(decoded: dict[str, np.ndarray], original: np.ndarray, rate: int) -> dict[str, dict]:
    length = min(len(original), *(len(audio) for audio in decoded.values()))
    original, reference = original[:length], decoded["float32"][:length]
    playing = 10 * np.log10(frame_power(reference) + 1e-20) > PLAYING_DBFS
    resting = frame_power(original) == 0.0  # the stream's digital-silence rests
    mel_reference, mel_original = log_mel(reference, rate), log_mel(original, rate)
    scores = {}
    for name, audio in decoded.items():
        audio = audio[:length]
        mel = log_mel(audio, rate)
        change = np.mean((audio - reference) ** 2)
        scores[name] = {
            "snr_vs_float32_db": float(10 * np.log10(np.mean(reference**2) / change)) if change else float("inf"),
            "log_mel_distance_vs_float32_db": float(np.mean(np.abs(mel - mel_reference)[:, playing])),
            "log_mel_distance_vs_original_db": float(np.mean(np.abs(mel - mel_original)[:, playing])),
            "rest_level_dbfs": float(10 * np.log10(np.mean(frame_power(audio)[resting]) + 1e-20)),
            "flatness_1_8khz_db": flatness_db(audio, rate, playing),
        }
    return scores


def time_calls(paths: dict[str, Path], latents: np.ndarray, block: int, rounds: int, calls: int) -> dict[str, float]:
    streams = {name: OnnxVAEStream(path) for name, path in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in paths}
    chunk = latents[..., :block]
    for _ in range(rounds):
        for name, stream in streams.items():
            for _ in range(5):
                stream(chunk)
            for _ in range(calls):
                started = time.perf_counter()
                stream(chunk)
                times[name].append(1e3 * (time.perf_counter() - started))
    return {name: float(np.median(values)) for name, values in times.items()}


def plot(result: dict, path: Path) -> None:
    names = list(result["variants"])
    figure, axes = plt.subplots(1, 4, figsize=(16, 4))
    colours = ["tab:gray", "tab:blue", "tab:red"]
    def mean(key: str):
        return lambda v: np.mean([s[key] for s in v["per_instrument"].values()])

    panels = [("ms per call (median)", lambda v: v["ms_per_call"]), ("SNR vs float32 (dB)", mean("snr_vs_float32_db")),
              ("log-mel distance (dB)", mean("log_mel_distance_vs_float32_db")),
              ("level in rests (dBFS)", mean("rest_level_dbfs"))]
    for axis, (title, value) in zip(axes, panels):
        values = [value(result["variants"][n]) for n in names]
        values = [np.nan if np.isinf(x) else x for x in values]
        axis.bar(range(len(names)), values, color=colours[:len(names)])
        axis.set_xticks(range(len(names)), [n.replace(", ", "\n") for n in names], fontsize=8)
        axis.set_title(title)
    reconstruction = np.mean([s["log_mel_distance_vs_original_db"]
                              for s in result["variants"]["float32"]["per_instrument"].values()])
    axes[2].axhline(reconstruction, color="k", linestyle="--", label=f"float32 vs original {reconstruction:.2f}")
    axes[2].legend(fontsize=8)
    figure.suptitle(f"VAE decoder precision, {result['block_latents']}-latent calls, one ONNX Runtime thread")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vae", type=Path, default=REPO / "models" / "vae")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the held-out stream rendered")
    parser.add_argument("--block-latents", type=int, default=8, help="latents per decoder call (the plugin's block)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per variant and round")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vae = load_vae(args.vae).eval()
    rate = vae.config.sample_rate
    stream = plan_stream("monophonic", StreamConfig(seconds=args.seconds, seed=0))
    with tempfile.TemporaryDirectory() as scratch:
        paths = make_variants(vae, Path(scratch))
        per_instrument: dict[str, dict[str, dict]] = {name: {} for name in paths}
        latents_any = None
        for label in INSTRUMENTS:
            instrument = next(i for i in PALETTE if i.name == label)
            render = torch.from_numpy(render_stream(played_by(stream, instrument, DataConfig().soundfonts), rate))
            original = trim_to_latents(render[None], vae.config)[0].numpy()
            with torch.no_grad():
                latents = vae.encode(torch.from_numpy(original)[None])[0].numpy()
            latents_any = latents
            decoded = {name: decode_blocks(path, latents, args.block_latents) for name, path in paths.items()}
            scores = score(decoded, original, rate)
            for name in paths:
                per_instrument[name][label] = scores[name]
            print(label, {name: round(s["snr_vs_float32_db"], 1) for name, s in scores.items()})
        timing = time_calls(paths, latents_any, args.block_latents, args.rounds, args.calls)
        sizes = {name: path.stat().st_size for name, path in paths.items()}
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    result = {"benchmark": "decoder_precision", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "commit": commit, "machine": platform.processor() or platform.machine(),
              "vae": str(args.vae), "stream_seconds": args.seconds, "block_latents": args.block_latents,
              "rounds": args.rounds, "calls_per_round": args.calls,
              "variants": {name: {"ms_per_call": timing[name], "bytes": sizes[name],
                                  "per_instrument": per_instrument[name]} for name in paths}}
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "decoder_precision.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.results / "decoder_precision.png")
    for name, entry in result["variants"].items():
        mean = {key: round(float(np.mean([s[key] for s in entry["per_instrument"].values()])), 2)
                for key in next(iter(entry["per_instrument"].values()))}
        print(f"{name}: {entry['ms_per_call']:.2f} ms, {entry['bytes'] / 1e6:.1f} MB, {mean}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
