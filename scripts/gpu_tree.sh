#!/bin/bash
# Make the working tree small enough to travel to a lent GPU machine, and put it back.
#   scripts/gpu_tree.sh park      # before the device run: tracked files a burst does not need move out
#   scripts/gpu_tree.sh restore   # right after it
# The device tool sends the working tree (tracked and unignored files) plus the carried paths, 64 MiB
# in all; the tracked tree is about 140 MB, nearly all of it shipped models. A training burst
# (scripts/gpu_burst.sh) needs the code and models/lmdm-blockcausal (24 MB) beside the carried latent
# pack (35 MiB), so the other models, the clips and the benchmark results wait in PARK meanwhile.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PARK="${PARK:-$HOME/lmdm-parked}"
PATHS=(models/classifier models/dit-offline models/lmdm-encdec models/lmdm-live models/vae assets bench)
cd "$ROOT"
case "${1:-}" in
  park)
    if [ -e "$PARK" ] && [ -n "$(ls -A "$PARK")" ]; then
      echo "$PARK is not empty: restore (or move it away) first" >&2; exit 1
    fi
    for path in "${PATHS[@]}"; do mkdir -p "$PARK/$(dirname "$path")"; mv "$path" "$PARK/$path"; done
    tree=$({ git ls-files -z | xargs -0 stat -c %s 2>/dev/null || true; } | awk '{s += $1} END {printf "%.1f", s / 1048576}')
    carried=$(du -sb .gpu 2>/dev/null | awk '{printf "%.1f", $1 / 1048576}')
    echo "parked in $PARK; the tree travels $tree MiB, .gpu ${carried:-0} MiB (64 MiB in all)"
    ;;
  restore)
    for path in "${PATHS[@]}"; do
      if [ -e "$PARK/$path" ]; then mkdir -p "$(dirname "$path")"; mv "$PARK/$path" "$path"; fi
    done
    rm -rf "$PARK"
    git status --short
    ;;
  *) echo "usage: $0 park|restore" >&2; exit 2 ;;
esac
