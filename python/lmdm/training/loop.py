"""The one training loop every trainer runs: steps, progress, the time budget, logging and checkpoint cadence.

A trainer supplies what one step does (`train_step(step, elapsed_seconds) -> metrics`) and how
its state is saved (`save(step, elapsed_seconds)`); the loop decides when: a metrics line every
`log_every` steps (and whenever a step returns one of `always_logged`, e.g. a validation loss), a
checkpoint every `checkpoint_minutes` of wall time and when the `max_minutes` budget runs out, and
one at the end if the last step is not saved yet. Elapsed time continues from `elapsed_seconds`, so a resumed run's budget and
logged times count across stretches.
"""

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from .distributed import MetricsLog


@dataclass(frozen=True)
class Schedule:
    max_steps: int
    max_minutes: float = 0.0  # 0: no time budget
    checkpoint_minutes: float = float("inf")
    log_every: int = 25
    always_logged: tuple[str, ...] = ()  # metrics logged on the step they appear, whatever its number


@dataclass(frozen=True)
class LoopEnd:
    step: int
    elapsed_seconds: float


def run_loop(name: str, schedule: Schedule, train_step: Callable[[int, float], dict[str, float]],
             save: Callable[[int, float], None] | None = None, log: MetricsLog | None = None,
             step: int = 0, elapsed_seconds: float = 0.0, show_progress: bool = True) -> LoopEnd:
    """Train from `step` to `schedule.max_steps` or until the time budget ends; `save` runs at the
    cadence and once at the end. Returns where it stopped."""
    started, last_save, saved_step = time.perf_counter() - elapsed_seconds, time.perf_counter(), None
    elapsed = lambda: time.perf_counter() - started
    # A log file is no terminal: redraw the bar once a minute there instead of several times a second.
    bar = tqdm(total=schedule.max_steps, initial=step, desc=name, disable=not show_progress, dynamic_ncols=True,
               mininterval=0.1 if sys.stderr.isatty() else 60)
    while step < schedule.max_steps:
        values = train_step(step, elapsed())
        step += 1
        bar.update(1)
        if step % schedule.log_every == 0 or any(key in values for key in schedule.always_logged):
            if log is not None:
                log.write(step, elapsed(), values)
            if "loss" in values:
                bar.set_postfix(loss=f"{values['loss']:.3f}", refresh=False)
        out_of_time = schedule.max_minutes and elapsed() >= schedule.max_minutes * 60
        if save is not None and (time.perf_counter() - last_save >= schedule.checkpoint_minutes * 60 or out_of_time):
            save(step, elapsed())
            last_save, saved_step = time.perf_counter(), step
        if out_of_time:
            break
    if save is not None and saved_step != step:
        save(step, elapsed())
    bar.close()
    return LoopEnd(step, elapsed())
