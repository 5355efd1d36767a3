"""The one timing loop every benchmark uses: warm-up calls, then the median of timed calls."""

import statistics
import time
from collections.abc import Callable


def median_seconds(call: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):  # first calls allocate and pick kernels
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)
