"""Render-throughput benchmark of the data pipeline, stage by stage, on one core.

Takes the first --pieces pieces of each stream (solo melodies, ensembles) in build order and times,
per piece: score parsing, arrangement, FluidSynth rendering of every stem and FLAC encoding, at the
model rate (22.05 kHz) and at 44.1 kHz for comparison. Writes bench/results/data_render.{json,png}.

    .venv/bin/python bench/data_render_bench.py [--pieces 20]
"""

import argparse
import io
import json
import platform
import statistics
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from lmdm.data.arrange import arrange  # noqa: E402
from lmdm.data.build import piece_streams  # noqa: E402
from lmdm.data.config import DataConfig  # noqa: E402
from lmdm.data.render import render_stem  # noqa: E402
from lmdm.data.score import ScoreError, load_score  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RATES = (22050, 44100)


def time_piece(piece, config: DataConfig) -> dict | None:
    started = time.perf_counter()
    try:
        score = load_score(piece)
        parsed = time.perf_counter()
        arrangement = arrange(score, piece, config)
    except ScoreError:
        return None
    arranged = time.perf_counter()
    result = {"piece_id": piece.piece_id, "stems": len(arrangement.stems), "seconds": arrangement.seconds,
              "parse_s": parsed - started, "arrange_s": arranged - parsed}
    for rate in RATES:
        total = int(arrangement.seconds * rate)
        begin = time.perf_counter()
        stems = [render_stem(s, arrangement.soundfont, rate, total) for s in arrangement.stems]
        rendered = time.perf_counter()
        for audio in [np.sum(stems, axis=0), *stems]:
            sf.write(io.BytesIO(), 0.5 * audio / max(1e-9, float(np.abs(audio).max())), rate, format="FLAC",
                     subtype="PCM_16")
        result[f"render_s_{rate}"] = rendered - begin
        result[f"encode_s_{rate}"] = time.perf_counter() - rendered
    return result


def summarise(rows: list[dict]) -> dict:
    audio = sum(r["seconds"] for r in rows)
    stem_audio = sum(r["seconds"] * r["stems"] for r in rows)
    out = {"pieces": len(rows), "mix_seconds": audio, "stem_seconds": stem_audio,
           "parse_x_realtime": audio / sum(r["parse_s"] for r in rows),
           "median_parse_s": statistics.median(r["parse_s"] for r in rows)}
    for rate in RATES:
        render = sum(r[f"render_s_{rate}"] for r in rows)
        encode = sum(r[f"encode_s_{rate}"] for r in rows)
        out[f"render_stem_x_realtime_{rate}"] = stem_audio / render
        out[f"encode_x_realtime_{rate}"] = (audio + stem_audio) / encode
        whole = sum(r["parse_s"] + r["arrange_s"] + r[f"render_s_{rate}"] + r[f"encode_s_{rate}"] for r in rows)
        out[f"mix_x_realtime_one_core_{rate}"] = audio / whole
    return out


def plot(results: dict, path: Path) -> None:
    streams = list(results["streams"])
    stages = [("parse", "parse_x_realtime"), ("render 22.05k (per stem)", "render_stem_x_realtime_22050"),
              ("render 44.1k (per stem)", "render_stem_x_realtime_44100"), ("FLAC 22.05k", "encode_x_realtime_22050"),
              ("whole piece 22.05k", "mix_x_realtime_one_core_22050"),
              ("whole piece 44.1k", "mix_x_realtime_one_core_44100")]
    figure, axes = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(streams)
    for i, stream in enumerate(streams):
        values = [results["streams"][stream][key] for _, key in stages]
        axes.bar(np.arange(len(stages)) + i * width, values, width, label=stream)
    axes.set_xticks(np.arange(len(stages)) + width / 2, [name for name, _ in stages], rotation=20, ha="right")
    axes.set_yscale("log")
    axes.set_ylabel("x real time, one core")
    axes.set_title("Data pipeline throughput per stage (one core)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=20, help="pieces per stream")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    config = replace(DataConfig(), workers=1)
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor()
               or platform.machine(), "cpu_count_used": 1, "streams": {}, "rows": {}}
    for name, pieces in piece_streams(config).items():
        rows = [r for r in (time_piece(p, config) for p in pieces[: args.pieces]) if r is not None]
        results["streams"][name] = summarise(rows)
        results["rows"][name] = rows
        print(name, json.dumps(results["streams"][name], indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "data_render.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / "data_render.png")


if __name__ == "__main__":
    main()
