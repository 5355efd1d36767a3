"""Prints a short human summary of an lmdm_host JSON report (used by `make demo`)."""

import json
import sys
from pathlib import Path


def summarise(report: dict) -> str:
    audio, worker = report["audio_thread_us"], report["worker_ms"]
    return "\n".join([
        f"rendered {report['audio_seconds']:.1f} s of audio at {report['sample_rate']:.0f} Hz in "
        f"{report['wall_seconds']:.1f} s ({report['pace']}), buffers of {report['buffer_size']} frames",
        f"latency (reported to the host): {report['latency_frames']} frames = {report['latency_ms']:.1f} ms; "
        f"block {report['block_frames']} frames",
        f"audio thread per callback: p50 {audio['p50']:.1f} us, p99 {audio['p99']:.1f} us, "
        f"max {audio['max']:.1f} us (budget {report['callback_budget_us']:.0f} us, "
        f"{report.get('callbacks_over_budget', '?')} over; thread {report.get('audio_thread_scheduling', '?')})",
        f"worker per block: p50 {worker['p50']:.3f} ms, p99 {worker['p99']:.3f} ms over {worker['count']} blocks",
        f"blocks played {report['blocks_played']}, missed {report['blocks_missed']}, "
        f"skipped {report['blocks_skipped']}, invalid {report['blocks_invalid']}",
    ])


if __name__ == "__main__":
    path = Path(sys.argv[1])
    print(summarise(json.loads(path.read_text())))
    print(f"report: {path}")
