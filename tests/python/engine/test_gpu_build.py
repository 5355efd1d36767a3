"""The GPU build (make test-gpu-build; docs/plugin.md, "GPU build"): the same engine with ONNX Runtime's
CUDA build and its provider libraries bundled. On a machine without a GPU, or without CUDA 13 and
cuDNN 9, asking for CUDA runs on the CPU, says why, and plays what the CPU build plays."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

GPU_BUILD = os.environ.get("LMDM_GPU_BUILD_DIR")
pytestmark = pytest.mark.skipif(not GPU_BUILD, reason="make test-gpu-build runs these (LMDM_GPU_BUILD_DIR)")
PROVIDER_LIBRARIES = ("libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so")


def render(host: str, package: Path, clip: Path, out: Path, provider: str) -> tuple[dict, str]:
    report = out.with_suffix(".json")
    result = subprocess.run([host, "render", str(clip), str(out), "--model", str(package), "--provider", provider,
                             "--pace", "offline", "--tail", "0", "--report", str(report)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(report.read_text()), result.stderr


def test_the_gpu_build_ships_the_cuda_runtime_beside_the_host():
    folder = Path(GPU_BUILD)
    for name in ("libonnxruntime.so.1", *PROVIDER_LIBRARIES):
        assert (folder / name).stat().st_size > 0, name
    # the CUDA build of the runtime, not the CPU one: its provider library is what links CUDA
    needed = subprocess.run(["objdump", "-p", str(folder / PROVIDER_LIBRARIES[1])], capture_output=True,
                            text=True, check=True).stdout
    assert "libcudart.so" in needed and "libcublas" in needed


def test_cuda_falls_back_to_the_cpu_with_the_reason_and_plays_what_the_cpu_build_plays(build_info, package,
                                                                                       guitar_clip, tmp_path):
    gpu_report, gpu_log = render(str(Path(GPU_BUILD) / "lmdm_host"), package[0], guitar_clip, tmp_path / "gpu.wav",
                                 "cuda")
    cpu_report, _ = render(build_info["lmdm_host"], package[0], guitar_clip, tmp_path / "cpu.wav", "cpu")
    if gpu_report["provider"] == "cuda":
        pytest.skip("this machine runs CUDA: the fallback cannot be shown here (bench/gpu_check.sh measures it)")
    assert gpu_report["provider"] == "cpu"
    # the runtime offered CUDA (the CPU build's says it has none) and the provider failed to start
    assert "cuda could not start" in gpu_log, gpu_log
    assert gpu_report["blocks_missed"] == 0 and gpu_report["blocks_played"] > 0
    gpu, _ = sf.read(tmp_path / "gpu.wav", dtype="float32")
    cpu, _ = sf.read(tmp_path / "cpu.wav", dtype="float32")
    assert gpu.shape == cpu.shape and np.isfinite(gpu).all()
    assert np.abs(cpu).max() > 1e-3  # the model played
    # two ONNX Runtime releases (1.31 and 1.32) on the same CPU: the same audio to rounding
    np.testing.assert_allclose(gpu, cpu, rtol=0, atol=1e-3 * np.abs(cpu).max())


SHIPPED = Path(__file__).resolve().parents[3] / "models" / "lmdm-live"
TWIN = SHIPPED.with_name(SHIPPED.name + "-fp16")


@pytest.mark.skipif(not (TWIN / "manifest.json").exists(), reason="no models/lmdm-live-fp16 in this checkout")
def test_the_float16_twin_runs_on_this_runtime_and_cuda_that_does_not_start_runs_the_int8_package(
        guitar_clip, tmp_path):
    host = str(Path(GPU_BUILD) / "lmdm_host")
    twin_report, _ = render(host, TWIN, guitar_clip, tmp_path / "twin.wav", "cpu")
    assert twin_report["processor"] == "LMDM lmdm-live-fp16" and twin_report["blocks_missed"] == 0
    twin, _ = sf.read(tmp_path / "twin.wav", dtype="float32")
    assert np.isfinite(twin).all() and np.abs(twin).max() > 1e-3
    report, log = render(host, SHIPPED, guitar_clip, tmp_path / "asked.wav", "cuda")
    if report["provider"] == "cuda":  # a GPU here: the twin is what runs on it
        assert report["processor"] == "LMDM lmdm-live-fp16"
        return
    assert report["processor"] == "LMDM lmdm-live" and "cuda could not start" in log, log
