"""The adherence metrics on signals with known answers, the benchmark's goal checks, and a --quick
smoke run of bench/adherence_bench.py through the headless host with the shipped package."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bench_scripts import load_bench_script
from lmdm.evaluation import adherence
from lmdm.evaluation.adherence import ANALYSIS_RATE

REPO = Path(__file__).resolve().parents[3]
SECONDS = 3.0


def plucks(semitones: float = 0.0, gain: float = 1.0) -> np.ndarray:
    """Harmonic plucks on A3 and up (a new note every 0.5 s over three pitches), `semitones` higher."""
    t = np.arange(int(SECONDS * ANALYSIS_RATE)) / ANALYSIS_RATE
    f0 = 220.0 * 2 ** ((np.floor(t / 0.5) % 3 * 2 + semitones) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / ANALYSIS_RATE
    tone = sum(np.sin(k * phase) / k for k in (1, 2, 3, 4))
    return (0.3 * gain * np.exp(-2.0 * (t % 0.5)) * tone).astype(np.float32)


@pytest.fixture(scope="module")
def analyses() -> dict[str, adherence.Analysis]:
    """pYIN is the costly part: each test signal is analysed once."""
    signals = {"dry": plucks(), "fifth": plucks(7), "octave": plucks(12), "quiet": plucks(gain=10 ** (-12 / 20))}
    return {name: adherence.analyse(audio, ANALYSIS_RATE) for name, audio in signals.items()}


def scores(analyses, wet: str) -> dict[str, float]:
    dry, other = analyses["dry"], analyses[wet]
    everything = np.ones(dry.frames, bool)
    return adherence.span_scores(dry, other, everything, adherence.octave_offset(dry, other, everything))


def test_identical_signals_adhere_perfectly(analyses):
    s = scores(analyses, "dry")
    assert s["loudness_r"] == pytest.approx(1.0)
    assert s["brightness_r"] == pytest.approx(1.0)
    assert s["pitch_class_accuracy"] == pytest.approx(1.0)
    assert s["raw_pitch_accuracy"] == pytest.approx(1.0)
    assert s["voicing_recall"] == pytest.approx(1.0)
    assert s["level_difference_db"] == pytest.approx(0.0)


def test_the_dry_tracks_the_notes_played(analyses):
    dry = analyses["dry"]
    midi = 69 + 12 * np.log2(dry.f0_hz[dry.voiced] / 440.0)
    assert dry.voiced.mean() > 0.9
    assert np.mean(np.abs(midi - np.round(midi)) < 0.25) > 0.9  # frames spanning two notes glide
    assert set(np.unique(np.round(midi)).astype(int)) == {57, 59, 61}


def test_a_fifth_up_is_the_wrong_pitch_class_and_a_shift_of_seven(analyses):
    s = scores(analyses, "fifth")
    assert s["pitch_class_accuracy"] == pytest.approx(0.0, abs=0.03)
    assert s["raw_pitch_accuracy"] == pytest.approx(0.0, abs=0.03)
    assert s["loudness_r"] > 0.95  # the same plucks: only the pitch moved
    shift = adherence.pitch_shift(analyses["dry"], analyses["fifth"], np.ones(analyses["dry"].frames, bool), 7)
    assert shift["raw"] == pytest.approx(7.0, abs=0.1)
    assert shift["folded"] == pytest.approx(7.0, abs=0.1)
    assert shift["agreement"] > 0.95


def test_the_shift_test_fails_a_wet_that_did_not_move(analyses):
    everything = np.ones(analyses["dry"].frames, bool)
    shift = adherence.pitch_shift(analyses["dry"], analyses["dry"], everything, 7)
    assert shift["raw"] == pytest.approx(0.0, abs=0.01)
    assert shift["agreement"] < 0.05


def test_an_octave_up_keeps_the_pitch_class_and_raw_accuracy_grants_one_octave(analyses):
    s = scores(analyses, "octave")
    assert s["pitch_class_accuracy"] > 0.95
    assert s["raw_pitch_accuracy"] > 0.95
    dry = analyses["dry"]
    assert adherence.octave_offset(dry, analyses["octave"], np.ones(dry.frames, bool)) == 1
    assert adherence.span_scores(dry, analyses["octave"], np.ones(dry.frames, bool), 0)["raw_pitch_accuracy"] < 0.05


def test_a_quiet_copy_is_twelve_db_down_and_perfectly_correlated(analyses):
    s = scores(analyses, "quiet")
    assert s["level_difference_db"] == pytest.approx(-12.0, abs=0.05)
    assert s["loudness_r"] == pytest.approx(1.0)
    assert s["pitch_class_accuracy"] > 0.95


def test_an_unvoiced_wet_scores_no_pitch():
    dry = adherence.analyse(plucks(), ANALYSIS_RATE)
    noise = np.random.default_rng(0).normal(0, 0.05, int(SECONDS * ANALYSIS_RATE)).astype(np.float32)
    wet = adherence.analyse(noise, ANALYSIS_RATE)
    s = adherence.span_scores(dry, wet, np.ones(dry.frames, bool), 0)
    assert s["voicing_recall"] < 0.1
    assert s["pitch_class_accuracy"] < 0.1
    assert s["flatness_wet_db"] > -3 > -20 > s["flatness_dry_db"]  # white noise is flat, harmonics are not


def test_rest_levels_skip_the_first_block_and_measure_rms():
    rate, t = 48000, np.arange(4 * 48000) / 48000
    audio = np.where(t < 1.5, 0.5, 10 ** (-50 / 20) * np.sqrt(2)) * np.sin(2 * np.pi * 440 * t)
    levels = adherence.rest_levels_dbfs(audio, rate, [(1.0, 4.0), (3.9, 4.0)], skip=0.6)
    assert levels[0] == pytest.approx(-50.0, abs=0.1)
    assert math.isnan(levels[1])  # shorter than the skip


def test_pyin_spans_leave_the_rest_unanalysed():
    audio = np.concatenate([plucks()[: ANALYSIS_RATE], np.zeros(ANALYSIS_RATE, np.float32)])
    a = adherence.analyse(audio, ANALYSIS_RATE, pitch_spans=[(0.0, 0.5)])
    assert a.voiced[: int(0.4 * ANALYSIS_RATE / adherence.HOP)].mean() > 0.8
    assert not a.voiced[int(0.6 * ANALYSIS_RATE / adherence.HOP):].any()
    assert a.frames == 1 + len(audio) // adherence.HOP


def test_windows_cover_the_stream_and_masks_select_them():
    frames = int(25 * ANALYSIS_RATE / adherence.HOP)
    spans = adherence.windows(frames, 10.0)
    assert [round(s) for s, _ in spans] == [0, 10, 20] and spans[-1][1] == pytest.approx(frames * 512 / 22050)
    assert sum(adherence.seconds_mask(frames, s, e).sum() for s, e in spans) == frames


def load_report():
    return load_bench_script("adherence_report")


def test_the_goals_can_fail_and_undefined_scores_do_not_pass():
    report = load_report()
    bad = {"pitch_class_accuracy_monophonic": 0.08, "shift_raw": 0.0, "loudness_r": 0.1, "brightness_r": float("nan"),
           "level_difference_db": -20.0, "first_3s_loudness_r": 0.2, "first_3s_level_difference_db": 9.0,
           "drift_loudness_r": 0.5, "drift_pitch_class_accuracy_monophonic": float("nan"), "rest_max_dbfs": -30.0,
           "instrument_top1": 0.1, "drift_loop_loudness_r": 0.7, "drift_loop_pitch_class_accuracy": float("nan")}
    assert [g["floor_met"] for g in report.goals_table(bad)] == [False] * len(report.GOALS)
    good = {"pitch_class_accuracy_monophonic": 0.9, "shift_raw": 7.1, "loudness_r": 0.9, "brightness_r": 0.8,
            "level_difference_db": -2.0, "first_3s_loudness_r": 0.7, "first_3s_level_difference_db": 1.0,
            "drift_loudness_r": 0.97, "drift_pitch_class_accuracy_monophonic": 0.96, "rest_max_dbfs": -70.0,
            "instrument_top1": 0.8, "drift_loop_loudness_r": 0.96, "drift_loop_pitch_class_accuracy": 1.1}
    goals = report.goals_table(good)
    assert all(g["floor_met"] for g in goals)
    assert all(g["target_met"] in (True, None) for g in goals)
    assert report.goals_table(good | {"shift_raw": None})[1]["floor_met"] is None  # not measured (--quick)
    assert report.worst_ratio([0.8, 0.8, 0.4, float("nan")]) == pytest.approx(0.5)
    assert math.isnan(report.worst_ratio([0.0, 0.5]))  # a first window at 0 has no drift to speak of


def test_phrases_are_grouped_by_level_soundfont_and_guitar():
    """by_condition pools phrases over runs per condition; pitch only where the stream is monophonic."""
    report = load_report()

    def phrase(level, soundfont, program, accuracy):
        return {"level_dbfs": level, "soundfont": soundfont, "program": program, "unheard_soundfont": soundfont == "b",
                "pitch_class_accuracy": accuracy, "voicing_recall": 1.0, "loudness_r": 0.5, "level_difference_db": -3.0}

    runs = [{"kind": "monophonic", "phrases": [phrase(-40, "a", 24, 0.2), phrase(-6, "b", 25, 0.8)]},
            {"kind": "chordal", "phrases": [phrase(-35, "a", 24, 0.0), phrase(-20, "a", 25, 0.0)]}]
    groups = report.by_condition(runs)
    assert {k: v["phrases"] for k, v in groups["level"].items()} == {
        "-40 to -29 dBFS": 2, "-29 to -17 dBFS": 1, "-17 to -6 dBFS": 1}
    assert groups["level"]["-40 to -29 dBFS"]["pitch_class_accuracy"] == pytest.approx(0.2)  # chordal left out
    assert groups["soundfont"]["b (unheard)"]["pitch_class_accuracy"] == pytest.approx(0.8)
    assert math.isnan(groups["level"]["-29 to -17 dBFS"]["pitch_class_accuracy"])  # only a chordal phrase
    assert groups["guitar program"]["24"]["phrases"] == 2


def load_bench():
    return load_bench_script("adherence_bench")


def test_the_looped_stream_repeats_one_phrase_without_rests():
    from lmdm.data.guitar_streams import StreamConfig, plan_stream

    bench = load_bench()
    stream = plan_stream("monophonic", StreamConfig(seconds=60.0))
    loop = bench.looped(stream, 60.0, -23.0)
    assert loop.kind == "loop" and not loop.rests and loop.seconds >= 60.0 and len(loop.phrases) >= 2
    first = loop.phrases[0]
    assert first.seconds >= bench.LOOP_PHRASE_SECONDS
    for index, phrase in enumerate(loop.phrases):
        assert phrase.notes == first.notes and phrase.level_dbfs == -23.0 and phrase.soundfont == first.soundfont
        assert phrase.start == pytest.approx(index * first.seconds)  # back to back


def test_drift_is_taken_on_the_loop_which_counts_in_nothing_else():
    """Each repetition against the first, median over runs; the loop's runs stay out of every other score."""
    report = load_report()

    def run(stream, kind, repetitions, whole):
        scores = {"loudness_r": whole, "pitch_class_accuracy": whole, "brightness_r": whole, "voicing_recall": 1.0,
                  "level_difference_db": 0.0, "flatness_wet_db": -20.0, "raw_pitch_accuracy": whole}
        return {"stream": stream, "kind": kind, "prompt": "flute", "seed": 0, "whole": scores, "opening": scores,
                "windows": [scores | {"start": 0.0, "end": 10.0}], "rest_median_dbfs": -80.0, "rest_max_dbfs": -70.0,
                "instrument": {"crops": 1, "top1": 1.0},
                "phrases": [{"loudness_r": v, "pitch_class_accuracy": v, "brightness_r": v, "level_difference_db": 0.0,
                             "flatness_wet_db": -20.0, "level_dbfs": -20.0, "soundfont": "a", "program": 24,
                             "unheard_soundfont": False, "voicing_recall": 1.0} for v in repetitions]}

    runs = [run("monophonic", "monophonic", [0.8], 0.8),
            run("monophonic-loop", "loop", [0.8, 0.8, 0.4], 0.1), run("monophonic-loop", "loop", [0.8, 0.6, 0.8], 0.1)]
    aggregates = report.aggregate(runs, {})
    assert aggregates["loop"]["loudness_r_per_repetition"] == pytest.approx([0.8, 0.7, 0.6])
    assert aggregates["overall"]["drift_loop_loudness_r"] == pytest.approx(0.75)
    assert aggregates["overall"]["loudness_r"] == pytest.approx(0.8)  # the loop's 0.1 counts nowhere else
    assert list(aggregates["by_stream"]) == ["monophonic"]
    assert sum(v["phrases"] for v in aggregates["by_condition"]["level"].values()) == 1


@pytest.mark.skipif(not (REPO / "build" / "lmdm_host").exists() or not (REPO / "models" / "lmdm-live").is_dir(),
                    reason="needs build/lmdm_host and models/lmdm-live")
def test_quick_benchmark_runs_through_the_host(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "bench" / "adherence_bench.py"), "--quick",
                             "--build-dir", str(REPO / "build"), "--model", str(REPO / "models" / "lmdm-live"),
                             "--classifier", str(REPO / "models" / "classifier"),
                             "--cache", str(tmp_path / "cache"), "--results", str(tmp_path)],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "adherence_quick.json").read_text())
    assert len(report["runs"]) == 1 and report["runs"][0]["whole"]["active_seconds"] > 10
    assert report["runs"][0]["rests_dbfs"] and report["material"]["streams"][0]["rests"]
    assert {g["goal"] for g in report["goals"]} == {goal.name for goal in load_report().GOALS}
    assert (tmp_path / "adherence_quick.png").exists() and (tmp_path / "adherence_spectrograms_quick.png").exists()
    players = report["aggregates"]["reference_players"]
    assert players and all(p["pitch_class_accuracy"] > 0.8 for p in players.values())  # the same notes, really played
    assert all(-1.0 <= p["first_3s_loudness_r"] <= 1.0 for p in players.values())
    by_stream = report["aggregates"]["reference_instrument_top1_by_stream"]
    assert by_stream[report["runs"][0]["stream"]] == report["aggregates"]["reference_instrument_top1"]
    frechet = report["aggregates"]["frechet_classifier"]  # one prompt, one seed: as many wet crops as real ones
    assert frechet["wet_crops"] == frechet["real_crops"] > 1 and frechet["distance"] > 0


def test_a_rest_is_scored_up_to_the_decoders_reach_before_the_next_phrase(tmp_path):
    """The wet's next note begins up to the VAE decoder's overlap early, so rests end that much sooner."""
    bench = load_bench()
    (tmp_path / "manifest.json").write_text(json.dumps({"latent": {"decoder_delay_samples": 768},
                                                         "audio": {"sample_rate": 22050}}))
    assert bench.rest_guard_seconds(tmp_path) == pytest.approx(768 / 22050)
