# LMDM: the two commands of the README, and the steps they are made of.
#   make demo   installs what is missing, builds, renders the bundled clip through the engine
#   make test   installs what is missing, builds, runs every test suite (ctest, pytest, plugin hosts)
# Every step is idempotent: setup keeps stamps in .setup/, the build is incremental.

SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= Release
# Link-time optimisation costs about a minute of serial linking: off for the everyday build that
# demo and tests use, on for `make release` (the bundles you would ship).
LTO ?= OFF
PYTHON := $(CURDIR)/.venv/bin/python
JOBS ?= $(shell nproc)
DEMO_CLIP := assets/guitar_clip.flac
DEMO_OUT := out/demo

.PHONY: all setup configure build release gpu-runtime release-gpu gpu-host test-gpu-build demo test test-cpp test-python test-tsan test-asan test-fuzz fuzz fuzz-build bench-soak bench bench-data bench-vae bench-lmdm bench-export bench-quality bench-arc data clips \
	train-vae package-vae latents train-lmdm clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DLMDM_LTO=$(LTO) -DPython_EXECUTABLE=$(PYTHON) $(CMAKE_ARGS) > $(BUILD_DIR).configure.log 2>&1 \
	  || { cat $(BUILD_DIR).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

release:
	@$(MAKE) --no-print-directory build BUILD_DIR=build-release LTO=ON
	@echo "plugins: build-release/LMDMPlugin_artefacts/$(BUILD_TYPE)/"

# The GPU build (docs/plugin.md, "GPU build"): the same plugin with ONNX Runtime's CUDA build bundled
# (onnxruntime-gpu, requirements-gpu.txt) and its CUDA provider beside it; CUDA 13 and cuDNN 9 come
# from the user's system. Without them, or without a GPU, it runs on the CPU and says why.
GPU_ORT = $(CURDIR)/third_party/onnxruntime-gpu
GPU_CMAKE_ARGS = -DLMDM_ORT_LIBRARY=$(GPU_ORT)/libonnxruntime.so.1 \
	-DLMDM_ORT_PROVIDER_LIBRARIES="$(GPU_ORT)/libonnxruntime_providers_shared.so;$(GPU_ORT)/libonnxruntime_providers_cuda.so"
gpu-runtime: setup
	@bash scripts/gpu_runtime.sh > /dev/null

release-gpu: gpu-runtime
	@$(MAKE) --no-print-directory build BUILD_DIR=build-release-gpu LTO=ON CMAKE_ARGS='$(GPU_CMAKE_ARGS)'
	@echo "plugins: build-release-gpu/LMDMPlugin_artefacts/$(BUILD_TYPE)/"

# The GPU build's headless host alone (build-gpu): bench/gpu_check.sh measures it on a GPU machine; in CI
# (no GPU) it runs a model with --provider cuda and falls back to the CPU.
gpu-host: gpu-runtime
	@$(MAKE) --no-print-directory configure BUILD_DIR=build-gpu \
	  CMAKE_ARGS='$(GPU_CMAKE_ARGS) -DLMDM_BUILD_PLUGIN=OFF -DLMDM_BUILD_BINDINGS=OFF -DLMDM_BUILD_TESTS=OFF'
	@cmake --build build-gpu -j$(JOBS) --target lmdm_host

test-gpu-build: gpu-host
	@LMDM_GPU_BUILD_DIR=$(CURDIR)/build-gpu $(PYTHON) -m pytest -q tests/python/engine/test_gpu_build.py

demo: build
	@$(PYTHON) scripts/demo.py --host $(BUILD_DIR)/lmdm_host --clip $(DEMO_CLIP) --out $(DEMO_OUT)

test-cpp: build
	@cd $(BUILD_DIR) && ctest --output-on-failure

test-python: build
	@$(PYTHON) -m pytest -q --durations=20 tests  # the slowest tests listed: CI's time is watched (docs/ci.md)

# The engine's C++ tests again under ThreadSanitizer (no plugin, no bindings: the engine is where
# the threads are).
test-tsan: setup
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMDM_SANITIZER=thread -DLMDM_LTO=OFF \
	  -DLMDM_BUILD_PLUGIN=OFF -DLMDM_BUILD_BINDINGS=OFF -DPython_EXECUTABLE=$(PYTHON) > build-tsan.configure.log 2>&1 \
	  || { cat build-tsan.configure.log; exit 1; }
	@cmake --build build-tsan -j$(JOBS)
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/cpp/tsan.supp" ctest --output-on-failure

# The engine's C++ tests and the lmdm_host tests again under AddressSanitizer + UndefinedBehaviorSanitizer
# (docs/reliability.md): any report fails the test that caused it.
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/cpp/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-asan: setup
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMDM_SANITIZER=address,undefined -DLMDM_LTO=OFF \
	  -DLMDM_BUILD_PLUGIN=OFF -DLMDM_BUILD_BINDINGS=OFF -DPython_EXECUTABLE=$(PYTHON) > build-asan.configure.log 2>&1 \
	  || { cat build-asan.configure.log; exit 1; }
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && $(SANITIZER_ENV) ctest --output-on-failure
	@$(SANITIZER_ENV) LMDM_BUILD_DIR=$(CURDIR)/build-asan $(PYTHON) -m pytest -q tests/python/engine/test_lmdm_host.py

# libFuzzer targets for every parser of outside data (tests/fuzz; clang): `make fuzz FUZZ_SECONDS=600`
# fuzzes each target that long and writes bench/results/fuzz.{json,png}; `make test-fuzz` replays the
# regression inputs and fuzzes each target for a few seconds (CI).
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?= 0
fuzz-build: setup
	@CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMDM_SANITIZER=address,undefined \
	  -DLMDM_BUILD_FUZZERS=ON -DLMDM_BUILD_PLUGIN=OFF -DLMDM_BUILD_BINDINGS=OFF -DLMDM_BUILD_TESTS=OFF -DLMDM_LTO=OFF \
	  -DPython_EXECUTABLE=$(PYTHON) > build-fuzz.configure.log 2>&1 || { cat build-fuzz.configure.log; exit 1; }
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_state fuzz_manifest fuzz_prompts fuzz_safetensors fuzz_package fuzz_package_load fuzz_audio

fuzz: fuzz-build
	@$(PYTHON) bench/fuzz_bench.py --build-dir build-fuzz --seconds $(FUZZ_SECONDS) --runs $(FUZZ_RUNS) --jobs $(JOBS)

test-fuzz: fuzz-build
	@$(PYTHON) bench/fuzz_bench.py --build-dir build-fuzz --seconds 5 --out build-fuzz/fuzz-smoke.json

# An hour of the engine in the headless host with automation, reloads and buffer changes (docs/reliability.md);
# run it on a quiet machine: bench/results/soak.{json,png}.
SOAK_SECONDS ?= 3600
bench-soak: build
	@$(PYTHON) bench/soak_bench.py --build-dir $(BUILD_DIR) --seconds $(SOAK_SECONDS)

test: build
	@$(MAKE) --no-print-directory test-cpp test-python test-tsan test-asan test-fuzz test-gpu-build

bench: build bench-data bench-vae bench-lmdm bench-export
	@$(PYTHON) bench/latency_bench.py --build-dir $(BUILD_DIR)

bench-lmdm: setup
	@$(PYTHON) bench/lmdm_stream_bench.py

bench-export: setup
	@$(PYTHON) bench/onnx_chain_bench.py --model models/lmdm-blockcausal
	@$(PYTHON) bench/package_variants_bench.py
	@$(PYTHON) bench/graph_bench.py

bench-vae: setup
	@$(PYTHON) bench/vae_decode_bench.py
	@$(PYTHON) bench/vae_instrument_bench.py

bench-data: setup
	@$(PYTHON) bench/data_render_bench.py

# Adherence of the plugin's output to the guitar (pitch, loudness, brightness, level, rests, instrument)
# through the headless host: bench/results/adherence.{json,png} (docs/lmdm.md; about 15 minutes on 2 cores).
bench-quality: build
	@$(PYTHON) bench/adherence_bench.py --build-dir $(BUILD_DIR) --jobs $(JOBS)

# ARC-Forcing against its base over steps and cost (issue 17): ARC and BASE name two model packages.
bench-arc: build
	@test -n "$(ARC)" -a -n "$(BASE)" || { echo "make bench-arc ARC=<ping-pong package> BASE=<its base package>"; exit 1; }
	@$(PYTHON) bench/arc_bench.py --arc $(ARC) --base $(BASE) --jobs $(JOBS)

# The training data (docs/data.md): 10 h of train audio in data/lmdm-v1, about 4 minutes on 2 cores.
data: setup
	@$(PYTHON) -m lmdm.data build $(DATA_ARGS)

# The guitar clips in assets/clips (test-split pieces; already committed, this recreates them).
clips: setup
	@$(PYTHON) -m lmdm.data clips --to assets/clips

# The shipped VAE (models/vae/CARD.md): train in the background (rerun to resume), then package and evaluate.
VAE_MINUTES ?= 105
train-vae: setup
	@mkdir -p runs
	nohup $(PYTHON) -m lmdm.vae.train --run-dir runs/vae --max-minutes $(VAE_MINUTES) > runs/vae-train.log 2>&1 &
	@echo "training in the background: tail -f runs/vae-train.log; curves in runs/vae/loss.png"

package-vae: setup
	@$(PYTHON) -m lmdm.vae.release --run-dir runs/vae --out models/vae

# The DiT's training data: VAE latents, controls and caption embeddings of data/lmdm-v1 (docs/lmdm.md).
latents: setup
	@$(PYTHON) -m lmdm.latents.build

# Offline DiT, then the streaming LMDMs fine-tuned from it, evaluated and packaged (docs/lmdm.md);
# in the background, resumable. OFFLINE_MINUTES / TUNE_MINUTES / DEVICE=cuda set the budget.
train-lmdm: setup
	@mkdir -p runs
	nohup scripts/train_lmdm.sh > runs/lmdm-train.log 2>&1 &
	@echo "training in the background: tail -f runs/lmdm-train.log"

clean:
	rm -rf $(BUILD_DIR) $(BUILD_DIR).configure.log build-release build-release.configure.log out \
	  build-tsan build-tsan.configure.log build-asan build-asan.configure.log build-fuzz build-fuzz.configure.log
