#!/usr/bin/env bash
# One-shot, idempotent setup for a fresh Debian 12 machine (root, package registries only).
# Each step leaves a stamp in .setup/ keyed on what it installs, so a second run does no work.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STAMPS="$ROOT/.setup"
mkdir -p "$STAMPS"

APT_PACKAGES=(build-essential cmake pkg-config python3-venv python3-dev
  juce-modules-source libxcursor-dev libsndfile1-dev libgtest-dev
  liblilv-dev lv2-dev lilv-utils libsamplerate0-dev nlohmann-json3-dev libssl-dev
  fluidsynth fluid-soundfont-gm timgm6mb-soundfont
  musescore-general-soundfont-small  # a soundfont the training data never uses: the adherence benchmark's held-out timbres
  ardour  # a real DAW for the plugin tests: ardour7-lua builds sessions headless, ardour7-export renders them
  clang-14 libclang-rt-14-dev)  # libFuzzer for the fuzz targets (make fuzz, make test-fuzz)

log() { echo "[setup] $*"; }

stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_debian_packages() {
  local key="${APT_PACKAGES[*]}"
  stamp_ok apt "$key" && return 0
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  echo "$key" > "$STAMPS/apt"
}

install_python_env() {
  local key; key="$(sha256sum "$ROOT/requirements.txt" "$ROOT/requirements-nodeps.txt" "$ROOT/python/pyproject.toml" | sha256sum | cut -c1-16)"
  stamp_ok venv "$key" && [ -x "$ROOT/.venv/bin/python" ] && return 0
  log "creating .venv and installing pinned Python packages"
  [ -x "$ROOT/.venv/bin/python" ] || python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/pip" install -q --upgrade pip
  # torch first and alone: the pin resolves to the local CPU wheel; nothing later may pull another build.
  "$ROOT/.venv/bin/pip" install -q "$(grep '^torch==' "$ROOT/requirements.txt")"
  "$ROOT/.venv/bin/pip" install -q -r "$ROOT/requirements.txt"
  "$ROOT/.venv/bin/pip" install -q --no-deps -r "$ROOT/requirements-nodeps.txt"
  "$ROOT/.venv/bin/pip" install -q --no-deps -e "$ROOT/python"
  echo "$key" > "$STAMPS/venv"
}

install_debian_packages
bash "$ROOT/scripts/fetch_ort_headers.sh"
install_python_env
log "environment ready"
