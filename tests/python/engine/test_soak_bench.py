"""bench/soak_bench.py's summaries of the host's event log: lost blocks split by whether a re-prepare
came just before, and the resident memory's slope after warm-up, per hour and per reload."""

import pytest
from bench_scripts import load_bench_script


def load_bench():
    return load_bench_script("soak_bench")


def event(seconds: float, kind: str, resident_mb: float = 100.0) -> dict:
    return {"seconds": seconds, "kind": kind, "value": 1, "resident_mb": resident_mb, "heap_in_use_mb": 60.0,
            "heap_free_mb": 50.0}


def test_misses_soon_after_a_reload_or_buffer_change_are_told_from_steady_ones():
    bench = load_bench()
    events = [event(10.0, "reload"), event(11.0, "missed"), event(20.0, "resize"), event(21.5, "shortened"),
              event(40.0, "missed"), event(41.0, "shortened")]
    summary = bench.summarise_events(events)
    assert summary["missed"] == {"after_prepare": 1, "steady": 1, "after_late_callback": 0}
    assert summary["shortened"] == {"after_prepare": 1, "steady": 1}
    assert summary["invalid"] == {"after_prepare": 0, "steady": 0}
    assert summary["resident_mb_at_reloads"] == [100.0]


def test_memory_slopes_leave_out_the_warm_up():
    bench = load_bench()
    # 50 MB in the first 100 s (warm-up), then 2 MB per reload every 100 s: 72 MB an hour
    events = [event(0.0, "reload", 50.0)] + [event(100.0 * i, "reload", 100.0 + 2.0 * i) for i in range(1, 8)]
    assert bench.reload_slope(events, warm_up_seconds=100.0) == pytest.approx(2.0)
    samples = [[e["seconds"], e["resident_mb"]] for e in events]
    assert bench.memory_slope(samples, warm_up_seconds=100.0) == pytest.approx(72.0)
    assert bench.reload_slope(events[:3], warm_up_seconds=100.0) is None  # two reloads after warm-up: no slope


def test_misses_just_after_a_late_audio_callback_are_listed_with_it():
    bench = load_bench()
    events = [event(5.0, "late_callback"), event(5.5, "missed"), event(30.0, "missed")]
    events[0]["value"] = 42.0
    summary = bench.summarise_events(events)
    assert summary["late_callbacks"] == {"count": 1, "max_ms": 42.0}
    assert summary["missed"]["after_late_callback"] == 1 and summary["missed"]["steady"] == 2


def test_shortened_blocks_are_folded_into_counts_per_minute():
    bench = load_bench()
    events = [event(5.0, "shortened"), event(50.0, "shortened"), event(61.0, "reload"), event(130.0, "shortened"),
              event(131.0, "missed")]
    events[1]["value"] = 3
    soak = {"audio_seconds": 150.0, "events": events}
    assert bench.fold_shortened(soak) == [4, 0, 1]
    assert [e["kind"] for e in soak["events"]] == ["reload", "missed"]
