#!/usr/bin/env bash
# Screenshot of the plugin's editor (docs/images/editor.png): the Standalone build on a virtual X
# display (Xvfb), with the bundled model, no audio device attached.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
APP="${1:-$ROOT/build/LMDMPlugin_artefacts/Release/Standalone/LMDM}"
OUT="${2:-$ROOT/docs/images/editor.png}"
xvfb-run --auto-servernum --server-args="-screen 0 1000x800x24" bash -c "
  '$APP' >/dev/null 2>&1 &
  app=\$!
  sleep 8
  import -window root '$OUT'
  kill \$app"
convert "$OUT" -trim +repage "$OUT"  # the window sits centred on a black screen
echo "wrote $OUT"
