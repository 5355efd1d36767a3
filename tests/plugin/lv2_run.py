"""Runs the LV2 bundle in tests/plugin/lv2_host.c over planar float32 audio."""

import json
import subprocess

import numpy as np


def run_lv2(lv2, tmp_path, audio, sample_rate, block, parameters=None, ports=None, announce=None, paced=False):
    """-> the output and the host's report: the latency at the end ("latency"), after the first block
    ("first_latency"), the frame after which it first changed ("changed_at", -1: never). Freewheeling
    unless paced (run() following the sample clock, in real time); announce: the maximum block the host
    announces, if more than it sends."""
    host, bundle, uri = lv2
    source, target = tmp_path / "in.f32", tmp_path / "out.f32"
    audio.astype(np.float32).tofile(source)  # planar: channel after channel
    command = [str(host), bundle, uri, str(sample_rate), str(block), str(source), str(target),
               str(audio.shape[0]), "--paced" if paced else "--freewheel"]
    if announce:
        command += ["--announce", str(announce)]
    for key, value in (parameters or {}).items():
        command += ["--set", f"{uri}:{key}={value}"]
    for symbol, value in (ports or {}).items():
        command += ["--port", f"{symbol}={value}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = np.fromfile(target, np.float32).reshape(audio.shape)
    return out, json.loads(result.stdout.strip().splitlines()[-1])
