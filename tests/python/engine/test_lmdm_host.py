"""The headless host tool: renders a file exactly, reports timing, refuses bad input clearly."""

import json
import shutil
import subprocess

import numpy as np
import soundfile as sf


def run_host(build_info, *args):
    return subprocess.run([build_info["lmdm_host"], *map(str, args)], capture_output=True, text=True, timeout=300)


def test_offline_render_is_the_clip_delayed_by_the_reported_latency(build_info, guitar_clip, tmp_path):
    out_path, report_path = tmp_path / "out.wav", tmp_path / "report.json"
    result = run_host(build_info, "render", guitar_clip, out_path, "--pace", "offline", "--feedback", "0",
                      "--buffer", "333", "--varying-buffers", "--keep-latency", "--tail", "1",
                      "--report", report_path)
    assert result.returncode == 0, result.stderr
    clip, rate = sf.read(guitar_clip, dtype="float32")
    out, out_rate = sf.read(out_path, dtype="float32")
    report = json.loads(report_path.read_text())
    latency = report["latency_frames"]
    assert out_rate == rate == report["sample_rate"]
    assert out.shape[0] == clip.shape[0] + rate  # the one-second tail
    np.testing.assert_array_equal(out[:latency], 0.0)
    np.testing.assert_array_equal(out[latency:latency + clip.shape[0]], clip)
    assert report["blocks_missed"] == 0 and report["blocks_played"] > 0
    assert report["audio_thread_us"]["count"] > 0 and report["worker_ms"]["count"] > 0
    assert report["audio_thread_us"]["p50"] <= report["audio_thread_us"]["p99"] <= report["audio_thread_us"]["max"]


def test_default_render_trims_the_latency_like_a_daw(build_info, guitar_clip, tmp_path):
    out_path = tmp_path / "out.wav"
    result = run_host(build_info, "render", guitar_clip, out_path, "--pace", "offline", "--feedback", "0",
                      "--tail", "1")
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)  # the report goes to stdout without --report
    clip, _ = sf.read(guitar_clip, dtype="float32")
    out, _ = sf.read(out_path, dtype="float32")
    np.testing.assert_array_equal(out[:clip.shape[0]], clip)


def test_bad_arguments_print_usage(build_info, tmp_path):
    result = run_host(build_info, "render", "a.wav", tmp_path / "b.wav", "--buffer", "0")
    assert result.returncode == 2
    assert "--buffer must be within 1..8192" in result.stderr and "usage:" in result.stderr


def test_unreadable_input_is_a_clear_error(build_info, tmp_path):
    bogus = tmp_path / "not_audio.wav"
    bogus.write_bytes(b"this is not audio")
    result = run_host(build_info, "render", bogus, tmp_path / "out.wav")
    assert result.returncode == 1
    assert "cannot read audio file" in result.stderr and str(bogus) in result.stderr


def test_model_render_runs_the_generative_delay(build_info, guitar_clip, package, tmp_path):
    results = {}
    for prompt in (0, 3):
        out_path = tmp_path / f"wet{prompt}.wav"
        result = run_host(build_info, "render", guitar_clip, out_path, "--model", package[0], "--pace", "offline",
                          "--mix", "1", "--feedback", "0", "--set", f"prompt_a={prompt}", "--tail", "0.5")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["processor"] == "LMDM pkg" and report["blocks_missed"] == 0 and report["blocks_played"] > 0
        results[prompt], _ = sf.read(out_path, dtype="float32")
    assert np.isfinite(results[0]).all() and np.abs(results[0]).max() > 0
    assert not np.array_equal(results[0], results[3])  # the prompt parameter reaches the model


def test_an_absent_provider_falls_back_to_the_cpu_and_says_so(build_info, guitar_clip, package, tmp_path):
    result = run_host(build_info, "render", guitar_clip, tmp_path / "o.wav", "--model", package[0], "--pace", "offline",
                      "--provider", "directml", "--tail", "0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provider"] == "cpu"
    assert "directml was asked for but this ONNX Runtime has no DmlExecutionProvider" in result.stderr


def with_gpu_twin(package_folder, tmp_path, twin_manifest=None):
    """A copy of the package and, beside it, its GPU twin (named like it plus -fp16: here the same graphs)."""
    folder, twin = tmp_path / "pkg", tmp_path / "pkg-fp16"
    shutil.copytree(package_folder, folder)
    shutil.copytree(package_folder, twin)
    manifest = json.loads((twin / "manifest.json").read_text()) | {"name": "pkg-fp16"}
    (twin / "manifest.json").write_text(twin_manifest if twin_manifest is not None else json.dumps(manifest))
    return folder


def test_an_accelerator_that_does_not_start_runs_the_package_itself_not_its_gpu_twin(
        build_info, guitar_clip, package, tmp_path):
    folder = with_gpu_twin(package[0], tmp_path)
    for provider in ("directml", "cpu"):
        result = run_host(build_info, "render", guitar_clip, tmp_path / "o.wav", "--model", folder, "--pace",
                          "offline", "--provider", provider, "--tail", "0")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["provider"] == "cpu" and report["processor"] == "LMDM pkg", (provider, report)
        assert ("no DmlExecutionProvider" in result.stderr) == (provider == "directml"), result.stderr


def test_a_damaged_gpu_twin_is_reported_and_the_package_itself_runs(build_info, guitar_clip, package, tmp_path):
    folder = with_gpu_twin(package[0], tmp_path, twin_manifest="{ not json")
    result = run_host(build_info, "render", guitar_clip, tmp_path / "o.wav", "--model", folder, "--pace", "offline",
                      "--provider", "directml", "--tail", "0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["processor"] == "LMDM pkg"
    assert f"GPU package {tmp_path / 'pkg-fp16'} not loaded" in result.stderr, result.stderr


def test_model_errors_are_clear(build_info, guitar_clip, package, tmp_path):
    result = run_host(build_info, "render", guitar_clip, tmp_path / "o.wav", "--model", tmp_path)
    assert result.returncode != 0 and "manifest.json" in result.stderr
    result = run_host(build_info, "render", guitar_clip, tmp_path / "o.wav", "--model", package[0], "--set", "nope=1")
    assert result.returncode != 0 and "--set takes KEY=VALUE" in result.stderr


def test_soak_survives_automation_reloads_and_buffer_changes(build_info, guitar_clip, package, tmp_path):
    """The short CI soak (bench/soak_bench.py runs the hour): every parameter automated every callback,
    the package reloaded and the buffer size changed while the audio keeps running; offline pace, so
    nothing may be missed, and nothing may be non-finite (the automation includes the feedback and
    wet gain at their extremes)."""
    report_path = tmp_path / "soak.json"
    result = run_host(build_info, "soak", guitar_clip, "--model", package[0], "--seconds", "24", "--pace", "offline",
                      "--reload-seconds", "5", "--resize-seconds", "3", "--report", report_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert report["audio_seconds"] >= 24 and report["reloads"] >= 3 and report["reload_failures"] == 0
    assert report["resizes"] >= 5 and len(set(report["buffer_sizes"])) >= 3
    assert report["non_finite_samples"] == 0 and report["blocks_invalid"] == 0
    assert report["blocks_played"] > 0 and report["blocks_missed"] == 0
    assert len(report["resident_mb"]) >= 3 and all(mb > 0 for _, mb in report["resident_mb"])
    # The event log: each reload and buffer change with its time and memory, nothing lost to log
    kinds = [event["kind"] for event in report["events"]]
    assert kinds.count("reload") == report["reloads"] and kinds.count("resize") == report["resizes"]
    assert not {"missed", "invalid"} & set(kinds)
    assert all(event["resident_mb"] > 0 for event in report["events"])
    heap = {event["heap_in_use_mb"] > 0 for event in report["events"]}
    assert len(heap) == 1  # glibc's heap measured at every event, or (a sanitizer's allocator) at none
    times = [event["seconds"] for event in report["events"]]
    assert times == sorted(times) and len(report["worker_ms"]) > 0
    assert report["memory_trims"] >= 0 and report["slowest_trim_ms"] >= 0  # the worker's trims, reported


def test_soak_warm_up_reloads_often_then_keeps_the_normal_schedule(build_info, guitar_clip, package, tmp_path):
    """bench/soak_bench.py's warm-up: reloads every 2 s for the first 6 s of audio, then (reload 0) none."""
    report_path = tmp_path / "soak.json"
    result = run_host(build_info, "soak", guitar_clip, "--model", package[0], "--seconds", "12", "--pace", "offline",
                      "--reload-seconds", "0", "--resize-seconds", "0", "--warm-up-seconds", "6",
                      "--warm-up-reload-seconds", "2", "--report", report_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    # Due at 2, 4 and 6 s, then never; each is logged when its load is done, which the audio (offline,
    # not waiting for the control thread) may outrun, seconds late under a sanitizer.
    reloads = [event["seconds"] for event in report["events"] if event["kind"] == "reload"]
    assert report["reloads"] == 3 and all(t >= 2 for t in reloads), reloads
    assert report["warm_up_seconds"] == 6 and report["blocks_missed"] == 0
    result = run_host(build_info, "soak", guitar_clip, "--model", package[0], "--warm-up-seconds", "-1")
    assert result.returncode == 2 and "must not be negative" in result.stderr


def test_soak_needs_a_model(build_info, guitar_clip):
    result = run_host(build_info, "soak", guitar_clip, "--seconds", "1")
    assert result.returncode == 2 and "soak needs --model PACKAGE" in result.stderr
