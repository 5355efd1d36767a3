"""Adherence benchmark: does the plugin's generated voice follow the guitar that drives it?

Drives the exact plugin path: the model package in the C++ engine, through the headless host at
48 kHz in 256-sample buffers (offline pace, so every block is generated; default parameters except
mix 1, feedback 0), over held-out guitar streams of at least two minutes (lmdm.data.guitar_streams:
test-split melodies and chordal reductions on four guitars and three soundfonts, one the training
data never uses, phrases from -40 to -6 dBFS RMS with rests of seconds between them, and the
melodies again transposed +7 semitones), for several prompts and seeds. Scores come from tools
independent of the model (lmdm.evaluation.adherence: pYIN, RMS, spectral centroid, and models/classifier as
the instrument judge, with its accuracy on real renders of the same melodies beside it) over each
whole stream, each 10-second window and the first 3 seconds, and are held against the floors and
goals of issue 15. Renders and analyses are cached in out/adherence (rerunning rescored is cheap).

    .venv/bin/python bench/adherence_bench.py [--model models/lmdm-live] [--quick] [--jobs 1] [--tag NAME]

Writes bench/results/adherence.json, adherence.png (metrics against floors, drift per window) and
adherence_spectrograms.png (--quick: the same names with _quick, never the full run's files).
"""

import argparse
import ast
import hashlib
import json
import platform
import subprocess
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

import lmdm.evaluation.adherence as adherence
from lmdm.cli import add_config_arguments, config_from_args
from lmdm.data.config import DataConfig
from lmdm.data.guitar_streams import GuitarStream, StreamConfig, plan_stream, played_by, render_stream, transposed
from lmdm.data.instruments import PALETTE
from lmdm.evaluation.adherence import ANALYSIS_RATE, Analysis
from lmdm.evaluation.classifier import INSTRUMENTS, InstrumentClassifier, load_classifier
from lmdm.evaluation.frechet import frechet_distance

from adherence_report import (LOOP, aggregate, goals_table, json_ready, nanmedian, plot_spectrograms, plot_summary,
                              print_summary, ratios, share, worst_ratio)

REPO = Path(__file__).resolve().parents[1]
ENGINE_FADE_SECONDS = 0.005  # the engine's wet/dry crossfade (plugin/engine/src/Engine.cpp)
INPUT_RATE = StreamConfig().sample_rate
# Package prompt names that are not classifier labels themselves.
PROMPT_LABELS = {"piano": "acoustic grand piano", "organ": "church organ", "strings": "string ensemble"}


@dataclass(frozen=True)
class BenchConfig:
    model: Path = field(default_factory=lambda: Path("models/lmdm-live"))  # the package under test
    build_dir: Path = field(default_factory=lambda: Path("build"))  # where lmdm_host is
    classifier: Path = field(default_factory=lambda: Path("models/classifier"))  # the instrument judge
    prompts: tuple[str, ...] = ("flute", "violin", "cello", "clarinet")  # names in the package's prompts.json
    seeds: tuple[int, ...] = (0, 1)
    stream_seconds: float = 120.0  # each stream lasts at least this long
    material_seed: int = 0  # the streams' pieces, phrase lengths, rests and level order
    shift_semitones: int = 7  # the transposed copy of the monophonic stream
    streams: tuple[str, ...] = ()  # run only these streams (names as printed); empty: all
    buffer: int = 256  # host buffer, frames
    parameters: tuple[str, ...] = ()  # further plugin parameters as KEY=VALUE (e.g. guidance=3); defaults otherwise
    window_seconds: float = 10.0  # drift: scores per window of this length
    opening_seconds: float = 3.0  # the first seconds, scored on their own
    crop_seconds: float = 3.0  # the classifier's input length
    cache: Path = field(default_factory=lambda: Path("out/adherence"))
    results: Path = field(default_factory=lambda: Path("bench/results"))
    jobs: int = 1  # host renders (and their analyses) run in parallel
    quick: bool = False  # one ~20-second monophonic stream, the first prompt and seed: a smoke run
    tag: str = ""  # results as adherence_<tag>.* (e.g. an earlier package kept beside the current one)

    def effective(self) -> "BenchConfig":
        if not self.quick:
            return self
        return replace(self, stream_seconds=20.0, prompts=self.prompts[:1], seeds=self.seeds[:1])


# ----------------------------------------------------------------------------- cache keys


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def code_digest(*files: Path) -> str:
    """Cached files carry the digest of the code that made them, so changed code is never scored from
    stale files; the syntax tree, so that editing a comment does not throw the cache away."""
    return digest(*(ast.dump(ast.parse(f.read_text())) for f in files))


MATERIAL_CODE = tuple(sorted((REPO / "python" / "lmdm" / "data").glob("*.py")))  # renders the streams
ANALYSIS_CODE = (REPO / "python" / "lmdm" / "evaluation" / "adherence.py",)  # analyses dry and wet


# ----------------------------------------------------------------------------- material


def material_key_of(config: BenchConfig) -> str:
    """The key of the rendered streams (and the real players' renders) in the cache."""
    return digest(code_digest(*MATERIAL_CODE), *map(str, (config.stream_seconds, config.material_seed,
                                                          config.shift_semitones, config.quick)))


def streams_of(config: BenchConfig) -> list[GuitarStream]:
    stream_config = StreamConfig(seconds=config.stream_seconds, seed=config.material_seed)
    monophonic = plan_stream("monophonic", stream_config)
    if config.quick:
        return [monophonic]
    middle_level = float(np.mean(stream_config.level_dbfs))
    return [monophonic, transposed(monophonic, config.shift_semitones), plan_stream("chordal", stream_config),
            looped(monophonic, config.stream_seconds, middle_level)]


LOOP_PHRASE_SECONDS = 9.0  # the looped phrase spans most of a 10-second window


def looped(stream: GuitarStream, seconds: float, level_dbfs: float) -> GuitarStream:
    """The stream's first phrase of at least LOOP_PHRASE_SECONDS played again and again without rests
    for `seconds`, at one level: continuous playing whose every repetition is the same input, so a
    repetition scoring lower than the first is drift (the model degrading on its own context). In the
    streams with rests, 10-second windows hold different phrases, levels and guitars, and a rest
    longer than the model's context starts it afresh, so their windows mix material with time.
    (Here, not in lmdm.data.guitar_streams, whose code keys the cache of every render.)"""
    phrase = next((p for p in stream.phrases if p.seconds >= LOOP_PHRASE_SECONDS), None)
    if phrase is None:
        raise ValueError(f"{stream.name} has no phrase of {LOOP_PHRASE_SECONDS:.0f} s to loop")
    count = max(2, int(np.ceil(seconds / phrase.seconds)))
    phrases = tuple(replace(phrase, start=index * phrase.seconds, level_dbfs=level_dbfs) for index in range(count))
    return replace(stream, name=f"{stream.name}-loop", kind=LOOP, phrases=phrases, rests=(),
                   seconds=count * phrase.seconds)


def prepare_material(streams: list[GuitarStream], folder: Path, analysis_key: str) -> dict[str, Analysis]:
    """Render each stream at 48 kHz (the host's input) and analyse it once; both cached in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    analyses = {}
    for stream in streams:
        wav, npz = folder / f"{stream.name}.wav", folder / f"{stream.name}.{analysis_key}.npz"
        if not wav.exists():
            sf.write(wav, render_stream(stream, INPUT_RATE), INPUT_RATE, subtype="FLOAT")
        if not npz.exists():
            adherence.analyse(sf.read(wav, dtype="float32")[0], INPUT_RATE, phrase_spans(stream)).save(npz)
        analyses[stream.name] = Analysis.load(npz)
    return analyses


def phrase_spans(stream: GuitarStream) -> list[tuple[float, float]]:
    return [(p.start, p.start + p.seconds) for p in stream.phrases]


def reference_renders(stream: GuitarStream, labels: list[str], folder: Path) -> dict[str, np.ndarray]:
    """The stream's melodies played by each prompt's instrument, with the training soundfonts: what
    the judge hears in its own domain, so its accuracy there is the ceiling for the wet."""
    renders = {}
    for label in labels:
        path = folder / f"{stream.name}@{label.replace(' ', '_')}.wav"
        if not path.exists():
            instrument = next(i for i in PALETTE if i.name == label)
            sf.write(path, render_stream(played_by(stream, instrument, DataConfig().soundfonts), ANALYSIS_RATE),
                     ANALYSIS_RATE, subtype="FLOAT")
        renders[label] = sf.read(path, dtype="float32")[0]
    return renders


# ----------------------------------------------------------------------------- the plugin path


@dataclass(frozen=True)
class RenderTask:
    host: Path
    model: Path
    source: Path  # the stream at 48 kHz
    target: Path  # the wet at ANALYSIS_RATE
    analysis: Path  # the wet's analysis
    prompt_index: int
    seed: int
    buffer: int
    parameters: tuple[str, ...]
    spans: tuple[tuple[float, float], ...]


def render_and_analyse(task: RenderTask) -> float:
    """Run the stream through the engine (unless cached), keep the wet at the analysis rate, analyse
    it; returns the seconds spent."""
    started = time.perf_counter()
    if not task.target.exists():
        render(task)
    adherence.analyse(sf.read(task.target, dtype="float32")[0], ANALYSIS_RATE, list(task.spans)).save(task.analysis)
    return time.perf_counter() - started


def render(task: RenderTask) -> None:
    """The host's output, trimmed to the input and resampled to ANALYSIS_RATE, into task.target."""
    raw = task.target.with_suffix(".48k.wav")
    command = [str(task.host), "render", str(task.source), str(raw), "--model", str(task.model),
               "--buffer", str(task.buffer), "--pace", "offline", "--mix", "1", "--feedback", "0",
               "--set", f"prompt_a={task.prompt_index}", "--set", f"seed={task.seed}", "--tail", "2",
               *(word for parameter in task.parameters for word in ("--set", parameter)),
               "--report", str(task.target.with_suffix(".report.json"))]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    dry_frames = sf.info(task.source).frames
    wet, rate = sf.read(raw, dtype="float32", always_2d=True)
    wet = adherence.to_analysis_rate(wet.mean(axis=1)[:dry_frames], rate)  # the host trimmed the latency
    raw.unlink()
    sf.write(task.target, wet, ANALYSIS_RATE, subtype="FLOAT")


def run_all(tasks: list[RenderTask], jobs: int) -> tuple[int, float]:
    """Render and analyse what the cache lacks; returns how many and the seconds spent."""
    todo = [t for t in tasks if not t.analysis.exists()]
    started = time.perf_counter()
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for task, seconds in zip(todo, pool.map(render_and_analyse, todo)):
                print(f"  {task.target.name}: {seconds:.0f} s", flush=True)
    else:
        for task in todo:
            print(f"  {task.target.name}: {render_and_analyse(task):.0f} s", flush=True)
    return len(todo), time.perf_counter() - started


# ----------------------------------------------------------------------------- scoring


def rest_skip_seconds(model: Path) -> float:
    """One model block plus the engine's fade: a rest's first block still holds the phrase's end."""
    manifest = json.loads((model / "manifest.json").read_text())
    block_samples = manifest["stream"]["block_frames"] * manifest["latent"]["samples_per_latent"]
    return block_samples / manifest["audio"]["sample_rate"] + ENGINE_FADE_SECONDS


def rest_guard_seconds(model: Path) -> float:
    """The VAE decoder's overlap: a decoded frame's window reaches that far back, so the wet's next note
    may begin up to this long before the guitar's (measured on v4: at most 28 ms above -60 dBFS). A
    rest is scored up to this much before the next phrase, so the next note's attack is not a rest."""
    manifest = json.loads((model / "manifest.json").read_text())
    return manifest["latent"]["decoder_delay_samples"] / manifest["audio"]["sample_rate"]


def score_run(stream: GuitarStream, dry: Analysis, wet: Analysis, wet_audio: np.ndarray, config: BenchConfig,
              label: str, classifier: InstrumentClassifier, original_wet: Analysis | None, rest_skip: float,
              rest_guard: float) -> dict:
    """Every score of one (stream, prompt, seed): whole stream, windows, opening, rests, instrument, shift."""
    everything = np.ones(dry.frames, bool)
    octave = adherence.octave_offset(dry, wet, everything & adherence.active(dry))
    windows = []
    for start, end in adherence.windows(dry.frames, config.window_seconds):
        frames = adherence.seconds_mask(dry.frames, start, end)
        scores = {"start": float(start), "end": float(end)} | adherence.span_scores(dry, wet, frames, octave)
        if original_wet is not None:
            scores["shift"] = adherence.pitch_shift(original_wet, wet, frames & adherence.active(dry),
                                                    config.shift_semitones)["raw"]
        windows.append(scores)
    opening = adherence.seconds_mask(dry.frames, 0.0, config.opening_seconds)
    rests = adherence.rest_levels_dbfs(wet_audio, ANALYSIS_RATE,
                                       [(start, end - rest_guard) for start, end in stream.rests], rest_skip)
    crops = adherence.active_crops(dry, config.crop_seconds)
    judged = adherence.judged_instruments(classifier, wet_audio, crops, config.crop_seconds)
    training_soundfonts = set(DataConfig().soundfonts)
    phrases = [{"level_dbfs": p.level_dbfs, "soundfont": Path(p.soundfont).name, "program": p.instrument.program,
                "unheard_soundfont": p.soundfont not in training_soundfonts}
               | adherence.span_scores(dry, wet, adherence.seconds_mask(dry.frames, p.start, p.start + p.seconds),
                                       octave)
               for p in stream.phrases]
    run = {
        "whole": adherence.span_scores(dry, wet, everything, octave),
        "phrases": phrases,
        "octave_offset": octave,
        "envelope_lag_seconds": adherence.envelope_lag_seconds(dry, wet),
        "opening": adherence.span_scores(dry, wet, opening, octave),
        "windows": windows,
        "drift": {metric: ratios([w[metric] for w in windows]) for metric in ("loudness_r", "pitch_class_accuracy")},
        "rests_dbfs": rests,
        "rest_median_dbfs": nanmedian(rests),
        "rest_max_dbfs": float(np.nanmax(rests)) if not np.all(np.isnan(rests)) else float("nan"),
        "instrument": {"label": label, "crops": len(judged), "top1": share(judged, label),
                       "judged": dict(Counter(judged).most_common(3))},
    }
    if original_wet is not None:
        run["shift"] = adherence.pitch_shift(original_wet, wet, everything & adherence.active(dry),
                                             config.shift_semitones)
    return run


def score_all(streams: list[GuitarStream], dry: dict[str, Analysis], tasks: dict[tuple, RenderTask],
              prompts: dict[str, tuple[int, str]], config: BenchConfig, classifier: InstrumentClassifier) -> list[dict]:
    """score_run for every (stream, prompt, seed); the transposed stream against the original's wet."""
    rest_skip, rest_guard = rest_skip_seconds(config.model), rest_guard_seconds(config.model)
    shifted_name = transposed(streams[0], config.shift_semitones).name
    runs = []
    for (name, prompt, seed), task in tasks.items():
        stream = next(s for s in streams if s.name == name)
        original = None  # for the transposed stream: the wet of the original, same prompt and seed
        if name == shifted_name and (streams[0].name, prompt, seed) in tasks:
            original = Analysis.load(tasks[(streams[0].name, prompt, seed)].analysis)
        wet_audio = sf.read(task.target, dtype="float32")[0]
        scores = score_run(stream, dry[name], Analysis.load(task.analysis), wet_audio, config, prompts[prompt][1],
                           classifier, original, rest_skip, rest_guard)
        runs.append({"stream": name, "kind": stream.kind, "prompt": prompt, "seed": seed} | scores)
    return runs


def judge_ceiling(stream: GuitarStream, dry: Analysis, prompts: dict[str, tuple[int, str]], config: BenchConfig,
                  classifier: InstrumentClassifier, folder: Path) -> dict[str, float]:
    """The classifier's top-1 on real renders of the stream's melodies by each prompt's instrument, same crops."""
    references = reference_renders(stream, [label for _, label in prompts.values()], folder)
    crops = adherence.active_crops(dry, config.crop_seconds)
    return {label: share(adherence.judged_instruments(classifier, audio, crops, config.crop_seconds), label)
            for label, audio in references.items()}


def frechet_to_real(stream: GuitarStream, dry: Analysis, tasks: dict[tuple, RenderTask],
                    prompts: dict[str, tuple[int, str]], config: BenchConfig, classifier: InstrumentClassifier,
                    folder: Path) -> dict[str, float | int]:
    """Fréchet distance between the classifier embeddings of the wet's crops of one stream (every prompt
    and seed pooled) and of the real renders of its melodies by the prompts' instruments (the same
    crops): how far the generated voices sit from real ones, in the judge's feature space. The numbers
    compare models over the same material and crop counts; they are not a VGGish FAD."""
    references = reference_renders(stream, [label for _, label in prompts.values()], folder)
    crops = adherence.active_crops(dry, config.crop_seconds)

    def embed(audio: np.ndarray) -> np.ndarray:
        return adherence.crop_embeddings(classifier, audio, crops, config.crop_seconds)

    real = np.concatenate([embed(audio) for audio in references.values()])
    wet = np.concatenate([embed(sf.read(task.target, dtype="float32")[0])
                          for (name, _, _), task in tasks.items() if name == stream.name])
    return {"stream": stream.name, "wet_crops": len(wet), "real_crops": len(real),
            "distance": frechet_distance(wet, real) if len(wet) > 1 and len(real) > 1 else float("nan")}


def reference_adherence(stream: GuitarStream, dry: Analysis, prompts: dict[str, tuple[int, str]], folder: Path,
                        analysis_key: str, opening_seconds: float,
                        window_seconds: float) -> dict[str, dict[str, float]]:
    """The wet's metrics for a real player of each prompt's instrument: the same notes rendered by it
    (reference_renders, each phrase at the guitar's level) scored against the guitar like a wet.
    What a perfect re-performance would score, so a metric that rewards copying the guitar's own
    timbre (brightness r, the loudness envelope of a plucked string) shows it. The opening too: over a
    few seconds of notes, loudness r measures each note's envelope, where a bowed or blown note
    swells and holds while the guitar's decays. And the varied material's 10-s windows against the
    first: a perfect player's ratios there show what the material itself does to that measure."""
    references = reference_renders(stream, [label for _, label in prompts.values()], folder)
    everything = np.ones(dry.frames, bool)
    opening = adherence.seconds_mask(dry.frames, 0.0, opening_seconds)
    scores = {}
    for label, audio in references.items():
        path = folder / f"{stream.name}@{label.replace(' ', '_')}.{analysis_key}.npz"
        if not path.exists():
            adherence.analyse(audio, ANALYSIS_RATE, phrase_spans(stream)).save(path)
        played = Analysis.load(path)
        octave = adherence.octave_offset(dry, played, everything & adherence.active(dry))
        whole = adherence.span_scores(dry, played, everything, octave)
        scores[label] = {k: whole[k] for k in ("loudness_r", "brightness_r", "pitch_class_accuracy",
                                                "level_difference_db", "flatness_wet_db")}
        first = adherence.span_scores(dry, played, opening, octave)
        scores[label] |= {f"first_3s_{k}": first[k] for k in ("loudness_r", "level_difference_db")}
        windows = [adherence.span_scores(dry, played, adherence.seconds_mask(dry.frames, start, end), octave)
                   for start, end in adherence.windows(dry.frames, window_seconds)]
        scores[label] |= {f"windows_worst_over_first_{k}": worst_ratio([w[k] for w in windows])
                          for k in ("loudness_r", "pitch_class_accuracy")}
    return scores


def material_description(streams: list[GuitarStream]) -> dict:
    phrases = [p for s in streams for p in s.phrases]
    rests = [end - start for s in streams for start, end in s.rests]
    training = set(DataConfig().soundfonts)
    return {
        "streams": [s.describe() for s in streams],
        "programs": sorted({f"{p.instrument.program} {p.instrument.name}" for p in phrases}),
        "soundfonts": sorted({p.soundfont for p in phrases}),
        "soundfonts_not_in_training": sorted({p.soundfont for p in phrases} - training),
        "phrase_levels_dbfs": [min(p.level_dbfs for p in phrases), max(p.level_dbfs for p in phrases)],
        "rest_seconds": [min(rests), max(rests)],
        "sample_rate": INPUT_RATE,
    }


# ----------------------------------------------------------------------------- main


def prompt_labels(config: BenchConfig) -> dict[str, tuple[int, str]]:
    """Each prompt's index in the package and the classifier label it asks for."""
    names = [p["name"] for p in json.loads((config.model / "prompts.json").read_text())["prompts"]]
    out = {}
    for prompt in config.prompts:
        label = PROMPT_LABELS.get(prompt, prompt)
        if prompt not in names:
            raise SystemExit(f"prompt {prompt!r} is not in {config.model}/prompts.json ({', '.join(names)})")
        if label not in INSTRUMENTS:
            raise SystemExit(f"prompt {prompt!r} names no instrument the classifier knows")
        out[prompt] = (names.index(prompt), label)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser, BenchConfig)
    config = config_from_args(parser.parse_args(argv), BenchConfig).effective()
    host = config.build_dir / "lmdm_host"
    for needed, how in ((host, "make build"), (config.model / "manifest.json", "--model"),
                        (config.classifier / "model.safetensors", "--classifier")):
        if not needed.exists():
            raise SystemExit(f"{needed} is missing ({how})")
    started = time.perf_counter()
    torch.set_num_threads(1)
    prompts = prompt_labels(config)

    streams = streams_of(config)
    material_key = material_key_of(config)
    analysis_key = code_digest(*ANALYSIS_CODE)
    material_folder = config.cache / f"material-{material_key}"
    print(f"material: {', '.join(f'{s.name} ({s.seconds:.0f} s)' for s in streams)} -> {material_folder}", flush=True)
    dry = prepare_material(streams, material_folder, analysis_key)
    material_seconds = time.perf_counter() - started

    run_key = digest(material_key, (config.model / "manifest.json").read_bytes(), host.read_bytes(), str(config.buffer),
                     *config.parameters)
    run_folder = config.cache / f"runs-{config.model.name}-{run_key}"
    run_folder.mkdir(parents=True, exist_ok=True)
    tasks = {}
    selected = [s for s in streams if not config.streams or s.name in config.streams]
    if not selected:
        raise SystemExit(f"--streams names none of {', '.join(s.name for s in streams)}")
    for stream in selected:
        for prompt, (index, _) in prompts.items():
            for seed in config.seeds:
                stem = run_folder.resolve() / f"{stream.name}-{prompt}-s{seed}"
                tasks[(stream.name, prompt, seed)] = RenderTask(
                    host.resolve(), config.model.resolve(), (material_folder / f"{stream.name}.wav").resolve(),
                    stem.with_suffix(".wav"), stem.with_suffix(f".{analysis_key}.npz"), index, seed, config.buffer,
                    tuple(config.parameters), tuple(phrase_spans(stream)))
    print(f"{len(tasks)} renders through {host} ({config.model}), cached in {run_folder}", flush=True)
    computed, render_seconds = run_all(list(tasks.values()), config.jobs)

    scoring_started = time.perf_counter()
    classifier = load_classifier(config.classifier)
    runs = score_all(streams, dry, tasks, prompts, config, classifier)
    ceiling = judge_ceiling(streams[0], dry[streams[0].name], prompts, config, classifier, material_folder)
    aggregates = aggregate(runs, ceiling)
    # the judge on real chords too: an instrument playing chords is rarer in its training than a line
    aggregates["reference_instrument_top1_by_stream"] = {streams[0].name: ceiling} | {
        s.name: judge_ceiling(s, dry[s.name], prompts, config, classifier, material_folder)
        for s in streams if s.kind == "chordal"}
    if any(name == streams[0].name for name, _, _ in tasks):
        aggregates["frechet_classifier"] = frechet_to_real(streams[0], dry[streams[0].name], tasks, prompts, config,
                                                           classifier, material_folder)
    aggregates["reference_players"] = reference_adherence(streams[0], dry[streams[0].name], prompts, material_folder,
                                                          analysis_key, config.opening_seconds,
                                                          config.window_seconds)
    goals = goals_table(aggregates["overall"])
    scoring_seconds = time.perf_counter() - scoring_started

    suffix = "_quick" if config.quick else (f"_{config.tag}" if config.tag else "")
    config.results.mkdir(parents=True, exist_ok=True)
    plot_summary(runs, aggregates, goals, config.results / f"adherence{suffix}.png")
    plot_spectrograms(selected[0], material_folder / f"{selected[0].name}.wav",
                      {p: tasks[(selected[0].name, p, config.seeds[0])].target for p in prompts},
                      config.results / f"adherence_spectrograms{suffix}.png")
    result = {
        "benchmark": "adherence",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine()},
        "config": asdict(config),
        "host_command": "lmdm_host render IN OUT --model M --buffer B --pace offline --mix 1 --feedback 0 "
                        "--set prompt_a=I --set seed=S --tail 2 (latency trimmed by the host, output cut to the input)",
        "model_manifest": json.loads((config.model / "manifest.json").read_text()).get("provenance"),
        "runtime_seconds": {"total": time.perf_counter() - started, "material": material_seconds,
                            "renders_and_analyses": render_seconds, "scoring_and_report": scoring_seconds,
                            "runs_computed": computed, "runs_from_cache": len(tasks) - computed},
        "material": material_description(streams),
        "metrics": {"analysis": f"{ANALYSIS_RATE} Hz, hop {adherence.HOP}, frame {adherence.FRAME}; pYIN "
                                f"{adherence.PITCH_RANGE_HZ} Hz; active frames: dry RMS > {adherence.ACTIVE_DBFS} dBFS",
                    "voiced": f"pYIN voiced with probability >= {adherence.VOICED_PROBABILITY}",
                    "rest_skip_seconds": rest_skip_seconds(config.model),
                    "rest_guard_seconds": rest_guard_seconds(config.model),
                    "chordal_pitch": "approximate: the chord's pYIN track (one pitch of the chord) is the reference"},
        "runs": runs,
        "aggregates": aggregates,
        "goals": goals,
    }
    (config.results / f"adherence{suffix}.json").write_text(json.dumps(json_ready(result), indent=1) + "\n")
    print_summary(aggregates, goals)
    print(f"\n{time.perf_counter() - started:.0f} s; wrote {config.results}/adherence{suffix}.json, .png, "
          f"adherence_spectrograms{suffix}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
