"""The adherence benchmark's report: the floors and goals of issue 15, aggregates over prompts and
seeds, the goals table, the plots and the printed summary (bench/adherence_bench.py runs it).

Aggregates are medians over prompts and seeds, per stream and over all streams. A goal passes only
on a measured value: an undefined one (too few frames, a first window at 0) fails it, and one not
measured in this run (--quick has no transposed stream) is reported as such, never as met.
"""

import math
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from lmdm.data.guitar_streams import GuitarStream  # noqa: E402
from lmdm.evaluation.adherence import ANALYSIS_RATE, to_analysis_rate  # noqa: E402

SPECTROGRAM_SECONDS = 30.0


@dataclass(frozen=True)
class Bound:
    """A floor or goal: value >= limit ("at least"), <= limit ("at most") or |value - centre| <= limit ("within")."""
    limit: float
    kind: str
    centre: float = 0.0

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None  # not measured in this run (e.g. --quick has no transposed stream)
        if math.isnan(value):
            return False  # measured but undefined (too few frames, a first window at 0): not met
        if self.kind == "at least":
            return value >= self.limit
        if self.kind == "at most":
            return value <= self.limit
        return abs(value - self.centre) <= self.limit

    def text(self) -> str:
        return {"at least": f">= {self.limit:g}", "at most": f"<= {self.limit:g}"}.get(
            self.kind, f"{self.centre:+g} +- {self.limit:g}")


@dataclass(frozen=True)
class Goal:
    name: str
    key: str  # the aggregate in aggregate()["overall"] held against the bounds
    floor: Bound  # the floor: what "works" means
    target: Bound | None  # the goal, where it names one
    unit: str
    per_run: Callable[[dict], float | None]  # the same score for one run (None: not scored for this run), plotted
    loop: bool = False  # scored on the looped-phrase stream's runs, which no other goal counts


LOOP = "loop"  # the kind of the looped-phrase stream (lmdm.data.guitar_streams.looped): drift alone


def _monophonic(score: Callable[[dict], float]) -> Callable[[dict], float | None]:
    return lambda run: score(run) if run["kind"] == "monophonic" else None


# The floors and goals of issue 15.
GOALS = (
    Goal("pitch-class accuracy (monophonic)", "pitch_class_accuracy_monophonic", Bound(0.60, "at least"),
         Bound(0.85, "at least"), "", _monophonic(lambda r: r["whole"]["pitch_class_accuracy"])),
    Goal("shift test: +7 stream minus original (raw median)", "shift_raw", Bound(1.0, "within", 7.0),
         Bound(0.3, "within", 7.0), "st", lambda r: r["shift"]["raw"] if "shift" in r else None),
    Goal("loudness r", "loudness_r", Bound(0.7, "at least"), Bound(0.85, "at least"), "",
         lambda r: r["whole"]["loudness_r"]),
    Goal("brightness r", "brightness_r", Bound(0.5, "at least"), Bound(0.7, "at least"), "",
         lambda r: r["whole"]["brightness_r"]),
    Goal("wet - dry level", "level_difference_db", Bound(6.0, "within"), Bound(3.0, "within"), "dB",
         lambda r: r["whole"]["level_difference_db"]),
    Goal("first 3 s: loudness r", "first_3s_loudness_r", Bound(0.6, "at least"), None, "",
         lambda r: r["opening"]["loudness_r"]),
    Goal("first 3 s: wet - dry level", "first_3s_level_difference_db", Bound(6.0, "within"), None, "dB",
         lambda r: r["opening"]["level_difference_db"]),
    Goal("drift: loudness r, worst repetition / first (looped phrase)", "drift_loop_loudness_r",
         Bound(0.8, "at least"), Bound(0.95, "at least"), "",
         lambda r: worst_ratio([p["loudness_r"] for p in r["phrases"]]), loop=True),
    Goal("drift: pitch-class accuracy, worst repetition / first (looped phrase)", "drift_loop_pitch_class_accuracy",
         Bound(0.8, "at least"), Bound(0.95, "at least"), "",
         lambda r: worst_ratio([p["pitch_class_accuracy"] for p in r["phrases"]]), loop=True),
    Goal("varied material: loudness r, worst 10-s window / first (worst stream)", "drift_loudness_r",
         Bound(0.8, "at least"), Bound(0.95, "at least"), "",
         lambda r: worst_ratio([w["loudness_r"] for w in r["windows"]])),
    Goal("varied material: pitch-class accuracy (monophonic), worst 10-s window / first (worst stream)",
         "drift_pitch_class_accuracy_monophonic", Bound(0.8, "at least"), Bound(0.95, "at least"), "",
         _monophonic(lambda r: worst_ratio([w["pitch_class_accuracy"] for w in r["windows"]]))),
    Goal("output during input rests (loudest rest, median over runs)", "rest_max_dbfs", Bound(-45.0, "at most"),
         Bound(-60.0, "at most"), "dBFS", lambda r: r["rest_max_dbfs"]),
    Goal("instrument accuracy (classifier top-1)", "instrument_top1", Bound(0.5, "at least"), Bound(0.7, "at least"),
         "", lambda r: r["instrument"]["top1"]),
)


# ----------------------------------------------------------------------------- aggregates


def ratios(values: list[float]) -> list[float]:
    """Each window's value as a fraction of the first window's (NaN when the first is not positive)."""
    first = values[0] if values else float("nan")
    return [v / first if first > 0 else float("nan") for v in values]


def worst_ratio(curve: list[float]) -> float:
    """Drift of a curve of per-window values: the lowest later window over the first."""
    later = [v for v in ratios(curve)[1:] if not math.isnan(v)]
    return min(later) if later and curve[0] > 0 else float("nan")


def nanmedian(values: Iterable[float | None]) -> float:
    """The median of the defined values, NaN when there are none."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(values)) if values else float("nan")


def worst(values: Iterable[float]) -> float:
    """The lowest value, NaN if any is undefined (an undefined stream cannot be vouched for)."""
    values = list(values)
    return float("nan") if not values or any(math.isnan(v) for v in values) else min(values)


def share(judged: list[str], label: str) -> float:
    """The share of crops judged to be `label`."""
    return sum(j == label for j in judged) / len(judged) if judged else float("nan")


def median_curve(runs: list[dict], metric: str) -> list[float]:
    """Per window, the median over runs of a window score."""
    length = max(len(r["windows"]) for r in runs)
    return [nanmedian(r["windows"][i][metric] for r in runs if i < len(r["windows"])) for i in range(length)]


def repetition_curve(loops: list[dict], metric: str) -> list[float]:
    """Per repetition of the looped phrase, the median over runs of its score."""
    length = min(len(r["phrases"]) for r in loops)
    return [nanmedian(r["phrases"][i][metric] for r in loops) for i in range(length)]


def aggregate(runs: list[dict], ceiling: dict[str, float]) -> dict:
    """Medians over prompts and seeds, per stream and over all streams; instrument accuracy pooled over
    crops. Drift is measured on the looped phrase (each repetition, the same input, against the
    first). The varied streams' 10-s windows against their first are reported too, per stream, the
    worst stream standing for all; they hold different phrases, levels and guitars, so they mix
    material with time. The looped stream counts in nothing else."""
    loops = [r for r in runs if r["kind"] == LOOP]
    runs = [r for r in runs if r["kind"] != LOOP]
    def summary(group: list[dict]) -> dict:
        out = {metric: nanmedian(r["whole"][metric] for r in group) for metric in group[0]["whole"]}
        out |= {f"first_3s_{m}": nanmedian(r["opening"][m] for r in group)
                for m in ("loudness_r", "level_difference_db")}
        out["rest_median_dbfs"] = nanmedian(r["rest_median_dbfs"] for r in group)
        out["rest_max_dbfs"] = nanmedian(r["rest_max_dbfs"] for r in group)
        crops = sum(r["instrument"]["crops"] for r in group)
        hits = sum(r["instrument"]["top1"] * r["instrument"]["crops"] for r in group if r["instrument"]["crops"])
        out["instrument_top1"] = hits / crops if crops else float("nan")
        for metric in ("loudness_r", "pitch_class_accuracy"):
            out[f"drift_{metric}"] = worst_ratio(median_curve(group, metric))
        shifted = [r["shift"] for r in group if "shift" in r]
        if shifted:
            out |= {f"shift_{k}": nanmedian(s[k] for s in shifted) for k in ("raw", "folded", "agreement")}
        return out

    streams = sorted({r["stream"] for r in runs}, key=[r["stream"] for r in runs].index)
    by_stream = {name: summary([r for r in runs if r["stream"] == name]) for name in streams}
    monophonic = [r for r in runs if r["kind"] == "monophonic"]
    chordal = [r for r in runs if r["kind"] == "chordal"]
    overall = summary(runs) if runs else {}  # empty where only the looped stream was run (--streams)
    if runs:
        for metric in ("loudness_r", "pitch_class_accuracy"):
            overall[f"drift_{metric}"] = worst(by_stream[s][f"drift_{metric}"] for s in streams)
        overall["pitch_class_accuracy_monophonic"] = summary(monophonic)["pitch_class_accuracy"] if monophonic else None
        overall["drift_pitch_class_accuracy_monophonic"] = worst(
            by_stream[s]["drift_pitch_class_accuracy"] for s in streams if s in {r["stream"] for r in monophonic})
        overall["pitch_class_accuracy_chordal"] = summary(chordal)["pitch_class_accuracy"] if chordal else None
    overall["instrument_top1_reference"] = float(np.mean(list(ceiling.values()))) if ceiling else float("nan")
    loop = {}
    if loops:
        loop = {"stream": loops[0]["stream"], "runs": len(loops)}
        for metric in ("loudness_r", "pitch_class_accuracy", "brightness_r", "level_difference_db", "flatness_wet_db"):
            loop[f"{metric}_per_repetition"] = repetition_curve(loops, metric)
        for metric in ("loudness_r", "pitch_class_accuracy"):
            overall[f"drift_loop_{metric}"] = worst_ratio(loop[f"{metric}_per_repetition"])
    return {"by_stream": by_stream, "overall": overall, "reference_instrument_top1": ceiling,
            "by_condition": by_condition(runs), "loop": loop}


CONDITION_METRICS = ("pitch_class_accuracy", "voicing_recall", "loudness_r", "level_difference_db")
LEVEL_BANDS_DBFS = ((-40.0, -29.0), (-29.0, -17.0), (-17.0, -6.0))  # quiet, middle, loud thirds of the range


def by_condition(runs: list[dict]) -> dict[str, dict[str, dict]]:
    """Per-phrase scores pooled over runs (pitch over monophonic streams only), median per condition of
    the player: the phrase's level band, soundfont (heard in training or not) and guitar. Where the
    model fails, not only how much."""
    phrases = [p | {"monophonic": r["kind"] == "monophonic"} for r in runs for p in r.get("phrases", [])]
    if not phrases:
        return {}

    def medians(group: list[dict]) -> dict:
        out = {"phrases": len(group)}
        for metric in CONDITION_METRICS:
            pitch = metric in ("pitch_class_accuracy", "voicing_recall")
            pool = [p for p in group if p["monophonic"]] if pitch else group
            out[metric] = nanmedian(p[metric] for p in pool)
        return out

    def band(phrase: dict) -> str:
        low, high = next(b for b in LEVEL_BANDS_DBFS if phrase["level_dbfs"] <= b[1] or b == LEVEL_BANDS_DBFS[-1])
        return f"{low:.0f} to {high:.0f} dBFS"

    conditions = {"level": band,
                  "soundfont": lambda p: p["soundfont"] + (" (unheard)" if p["unheard_soundfont"] else ""),
                  "guitar program": lambda p: str(p["program"])}
    result = {}
    for name, key in conditions.items():
        keys = [key(p) for p in phrases]
        result[name] = {k: medians([p for p, pk in zip(phrases, keys) if pk == k]) for k in sorted(set(keys))}
    return result


def goals_table(overall: dict) -> list[dict]:
    """Each goal's aggregate against its floor and target (None: not measured in this run)."""
    rows = []
    for goal in GOALS:
        value = overall.get(goal.key)
        rows.append({"goal": goal.name, "value": value, "unit": goal.unit, "floor": goal.floor.text(),
                     "floor_met": goal.floor.met(value), "target": goal.target.text() if goal.target else None,
                     "target_met": goal.target.met(value) if goal.target else None})
    return rows


# ----------------------------------------------------------------------------- report


def plot_summary(runs: list[dict], aggregates: dict, goals: list[dict], path: Path) -> None:
    """One panel per goal (each run a dot, the aggregate a line, floor and target dashed), then the
    per-window drift curves."""
    prompts = sorted({r["prompt"] for r in runs}, key=[r["prompt"] for r in runs].index)
    colours = {p: plt.cm.tab10(i) for i, p in enumerate(prompts)}
    figure = plt.figure(figsize=(16, 16))
    grid = figure.add_gridspec(5, 4, height_ratios=(1, 1, 1, 1, 1.3))
    assert len(GOALS) <= 13, "the layout holds 13 goal panels"
    for index, (row, goal) in enumerate(zip(goals, GOALS)):
        axis = figure.add_subplot(grid[index // 4, index % 4])
        for x, run in enumerate(runs):
            if (run["kind"] == LOOP) != goal.loop:
                continue
            value = goal.per_run(run)
            if value is not None and not math.isnan(value):
                axis.plot(x, value, "o", color=colours[run["prompt"]], ms=5)
        for bound, style, name in ((goal.floor, "r--", "floor"), (goal.target, "g:", "goal")):
            if bound is not None:
                for limit in ([bound.centre - bound.limit, bound.centre + bound.limit] if bound.kind == "within"
                              else [bound.limit]):
                    axis.axhline(limit, color=style[0], ls=style[1:], lw=1, label=name)
        if row["value"] is not None and not math.isnan(row["value"]):
            axis.axhline(row["value"], color="k", lw=2, label="aggregate")
        if goal.key == "instrument_top1":
            axis.axhline(aggregates["overall"]["instrument_top1_reference"], color="tab:blue", lw=1.5,
                         label="judge on real renders")
        verdict = {True: "floor met", False: "floor MISSED", None: "not measured"}[row["floor_met"]]
        axis.set_title(f"{textwrap.fill(goal.name, 48)}\n{verdict}", fontsize=8)
        axis.set_xticks(range(len(runs)), [f"{r['stream'][:6]} s{r['seed']}" for r in runs], rotation=90, fontsize=5)
        axis.set_ylabel(goal.unit, fontsize=7)
        axis.tick_params(axis="y", labelsize=7)
    legend_axis = figure.add_subplot(grid[3, 1])  # after the 13 goals; the looped-phrase curves beside it
    legend_axis.axis("off")
    for prompt in prompts:
        legend_axis.plot([], [], "o", color=colours[prompt], label=f"prompt {prompt}")
    for style, name in (("r--", "floor"), ("g:", "goal"), ("k-", "aggregate (median)"),
                        ("b-", "judge on real renders")):
        legend_axis.plot([], [], style, label=name)
    legend_axis.legend(loc="center", fontsize=9)
    loop = aggregates.get("loop") or {}
    for column, metric in enumerate(("loudness_r", "pitch_class_accuracy")):
        if loop:
            axis = figure.add_subplot(grid[3, 2 + column])
            for run in (r for r in runs if r["kind"] == LOOP):
                axis.plot([p[metric] for p in run["phrases"]], color="0.8", lw=0.7)
            curve = loop[f"{metric}_per_repetition"]
            axis.plot(curve, "o-", color="k", label="median over prompts, seeds")
            if curve and curve[0] > 0:
                axis.axhline(0.8 * curve[0], color="r", ls="--", lw=0.8, label="80 % of the first")
            axis.set_xlabel("repetition of the looped phrase", fontsize=7)
            axis.set_title(f"drift on the looped phrase: {metric.replace('_', ' ')}", fontsize=8)
            axis.legend(fontsize=6)
        axis = figure.add_subplot(grid[4, 2 * column:2 * column + 2])
        for stream in aggregates["by_stream"]:
            group = [r for r in runs if r["stream"] == stream]
            starts = [w["start"] for w in group[0]["windows"]]
            for run in group:
                axis.plot(starts, [w[metric] for w in run["windows"]], color="0.8", lw=0.7)
            curve = median_curve(group, metric)
            line, = axis.plot(starts, curve, "o-", label=f"{stream} (median over prompts, seeds)")
            if curve[0] > 0:  # the drift floor: every window at least 80 % of the first
                axis.axhline(0.8 * curve[0], color=line.get_color(), ls="--", lw=0.8)
        axis.set_xlabel(f"window start, s ({runs[0]['windows'][0]['end']:.0f}-s windows)")
        axis.set_ylabel(metric.replace("_", " "))
        axis.set_title(f"varied material: {metric.replace('_', ' ')} per 10-s window (dashed: 80 % of the first)",
                       fontsize=9)
        if aggregates["by_stream"]:
            axis.legend(fontsize=7)
    figure.suptitle("Adherence benchmark: dots = one stream x prompt x seed", fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def plot_spectrograms(stream: GuitarStream, dry_path: Path, wets: dict[str, Path], path: Path) -> None:
    """Dry above, the wet per prompt below, the stream's first SPECTROGRAM_SECONDS; input rests shaded."""
    samples = int(SPECTROGRAM_SECONDS * ANALYSIS_RATE)
    dry = to_analysis_rate(*sf.read(dry_path, dtype="float32"))[:samples]
    rows = [("dry: held-out guitar stream", dry)] + [(f"wet: prompt '{p}'", sf.read(w, dtype="float32")[0][:samples])
                                                    for p, w in wets.items()]
    figure, axes = plt.subplots(len(rows), 1, figsize=(11, 1.9 * len(rows)), sharex=True)
    for axis, (title, audio) in zip(np.atleast_1d(axes), rows):
        dither = 1e-8 * np.random.default_rng(0).standard_normal(len(audio))  # rests are digital silence: no log(0)
        axis.specgram(audio + dither, NFFT=2048, Fs=ANALYSIS_RATE, noverlap=1536, cmap="magma", vmin=-130)
        for start, end in stream.rests:
            if start < SPECTROGRAM_SECONDS:
                axis.axvspan(start, min(end, SPECTROGRAM_SECONDS), color="c", alpha=0.12)
        axis.set_ylim(0, 8000)
        axis.set_xlim(0, len(dry) / ANALYSIS_RATE)
        axis.set_ylabel("Hz")
        axis.set_title(title, fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel("seconds (input rests shaded)")
    figure.tight_layout()
    figure.savefig(path, dpi=72)
    plt.close(figure)


def print_summary(aggregates: dict, goals: list[dict]) -> None:
    """The per-stream medians and the goals table, for the terminal."""
    columns = (("loud r", "loudness_r", 2), ("bright r", "brightness_r", 2), ("pc acc", "pitch_class_accuracy", 2),
               ("raw acc", "raw_pitch_accuracy", 2), ("voicing", "voicing_recall", 2),
               ("level dB", "level_difference_db", 1), ("flat wet", "flatness_wet_db", 1),
               ("flat dry", "flatness_dry_db", 1),
               ("3s loud r", "first_3s_loudness_r", 2), ("rest max", "rest_max_dbfs", 1),
               ("instr", "instrument_top1", 2))
    print("\nmedians over prompts x seeds")
    print(f"{'stream':<16}" + "".join(f"{name:>10}" for name, _, _ in columns))
    for stream, values in aggregates["by_stream"].items():
        print(f"{stream:<16}" + "".join(f"{fmt(values.get(key), digits):>10}" for _, key, digits in columns))
    print(f"\n{'goal':<80}{'value':>9}  {'floor':<11}{'met':<6}{'goal':<11}met")
    for g in goals:
        print(f"{g['goal']:<80}{fmt(g['value'], 2):>9}  {g['floor']:<11}{str(g['floor_met']):<6}"
              f"{g['target'] or '-':<11}{g['target_met'] if g['target'] else '-'}")
    loop = aggregates.get("loop")
    if loop:
        print(f"\nlooped phrase ({loop['stream']}), per repetition, medians over {loop['runs']} runs")
        for metric in ("loudness_r", "pitch_class_accuracy", "brightness_r", "level_difference_db", "flatness_wet_db"):
            print(f"{metric:<24}" + "".join(f"{fmt(v, 2):>7}" for v in loop[f"{metric}_per_repetition"]))
    reference = fmt(aggregates["overall"]["instrument_top1_reference"], 2)
    print(f"(instrument accuracy of the classifier on real renders of the same melodies: {reference})")
    for stream, labels in aggregates.get("reference_instrument_top1_by_stream", {}).items():
        print(f"(the same on real renders of the {stream} stream: "
              + ", ".join(f"{label} {fmt(value, 2)}" for label, value in labels.items()) + ")")
    frechet = aggregates.get("frechet_classifier")
    if frechet:
        print(f"(Fréchet distance to real renders, classifier embedding, {frechet['stream']} stream: "
              f"{fmt(frechet['distance'], 1)} over {frechet['wet_crops']} wet and {frechet['real_crops']} real crops)")
    players = aggregates.get("reference_players")
    if players:
        print("\nreal players: the same notes rendered by each prompt's instrument, scored against the guitar as a wet")
        print(f"{'instrument':<16}{'loud r':>8}{'bright r':>9}{'pc acc':>8}{'level dB':>9}{'flat dB':>9}"
              f"{'first 3 s r':>13}{'window/first loud r, pc':>25}")
        for label, v in players.items():
            print(f"{label:<16}{fmt(v['loudness_r'], 2):>8}{fmt(v['brightness_r'], 2):>9}"
                  f"{fmt(v['pitch_class_accuracy'], 2):>8}{fmt(v['level_difference_db'], 1):>9}"
                  f"{fmt(v['flatness_wet_db'], 1):>9}{fmt(v.get('first_3s_loudness_r'), 2):>13}"
                  f"{fmt(v.get('windows_worst_over_first_loudness_r'), 2) + ', ':>19}"
                  f"{fmt(v.get('windows_worst_over_first_pitch_class_accuracy'), 2):>6}")
    if aggregates.get("by_condition"):
        print("\nper phrase, medians over runs (pitch: monophonic streams)")
        print(f"{'condition':<48}{'phrases':>8}{'pc acc':>8}{'voicing':>8}{'loud r':>8}{'level dB':>9}")
        for name, groups in aggregates["by_condition"].items():
            for key, v in groups.items():
                print(f"{name + ': ' + key:<48}{v['phrases']:>8}{fmt(v['pitch_class_accuracy'], 2):>8}"
                      f"{fmt(v['voicing_recall'], 2):>8}{fmt(v['loudness_r'], 2):>8}{fmt(v['level_difference_db'], 1):>9}")


def fmt(value: float | None, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def json_ready(value: object) -> object:
    """NaN (an undefined score) as null, numpy scalars as Python numbers, paths as strings."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 5)
    if isinstance(value, np.integer):
        return int(value)
    return str(value) if isinstance(value, Path) else value
