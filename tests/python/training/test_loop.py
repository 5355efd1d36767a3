"""lmdm.training.loop: the one loop every trainer runs decides when to log, save and stop."""

import json
import types

from lmdm.training import loop
from lmdm.training.distributed import MetricsLog
from lmdm.training.loop import Schedule, run_loop


class FakeClock:
    """Each training step takes `step_seconds` of wall time."""

    def __init__(self, step_seconds: float):
        self.now, self.step_seconds = 1000.0, step_seconds

    def perf_counter(self) -> float:
        return self.now


def run(monkeypatch, schedule: Schedule, step_seconds: float = 1.0, step: int = 0, elapsed: float = 0.0,
        log: MetricsLog | None = None, valid_every: int = 0):
    clock = FakeClock(step_seconds)
    monkeypatch.setattr(loop, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    saves, seen = [], []

    def train_step(index: int, elapsed_seconds: float) -> dict:
        seen.append((index, elapsed_seconds))
        clock.now += clock.step_seconds
        values = {"loss": 1.0 / (index + 1)}
        if valid_every and (index + 1) % valid_every == 0:
            values["valid_loss"] = 0.5
        return values

    end = run_loop("test", schedule, train_step, lambda s, e: saves.append((s, e)), log, step, elapsed,
                   show_progress=False)
    return end, saves, seen


def test_runs_to_max_steps_and_saves_once_at_the_end(monkeypatch):
    end, saves, seen = run(monkeypatch, Schedule(max_steps=10))
    assert end.step == 10 and [i for i, _ in seen] == list(range(10))
    assert saves == [(10, 10.0)]


def test_saves_on_the_wall_clock_cadence_and_stops_at_the_budget(monkeypatch):
    end, saves, _ = run(monkeypatch, Schedule(max_steps=1000, max_minutes=2.0, checkpoint_minutes=0.5))
    assert end.step == 120  # 2 minutes of 1-second steps
    assert [s for s, _ in saves] == [30, 60, 90, 120]  # the budget's save is not repeated at the end


def test_a_resumed_run_counts_its_budget_and_times_across_stretches(monkeypatch):
    end, saves, seen = run(monkeypatch, Schedule(max_steps=1000, max_minutes=2.0), step=100, elapsed=90.0)
    assert seen[0] == (100, 90.0)
    assert end.step == 130 and end.elapsed_seconds == 120.0 and saves == [(130, 120.0)]


def test_logs_every_n_steps_and_whenever_an_always_logged_metric_appears(monkeypatch, tmp_path):
    log = MetricsLog(tmp_path, 0, ("loss", "valid_loss"))
    run(monkeypatch, Schedule(max_steps=12, log_every=5, always_logged=("valid_loss",)), log=log, valid_every=3)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 5, 6, 9, 10, 12]
    assert all("valid_loss" in r for r in rows if r["step"] % 3 == 0)
    assert rows[0]["seconds"] == 3.0
