#!/usr/bin/env bash
# Unpacks ONNX Runtime's C/C++ API headers from Debian trixie's libonnxruntime-dev into
# third_party/onnxruntime (not installed system-wide: the library itself comes from the pinned
# onnxruntime wheel, and mixing releases system-wide breaks other programs).
# The mirror is taken from this machine's own apt sources, with the suite switched to trixie.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/third_party/onnxruntime"
[ -f "$DEST/include/onnxruntime_cxx_api.h" ] && exit 0

WORK="$(mktemp -d)"
chmod 755 "$WORK"  # apt drops privileges to _apt for downloads
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/parts"

sources=/etc/apt/sources.list.d/debian.sources
if [ -f "$sources" ]; then
  # First stanza (the main archive), suite replaced by trixie.
  awk 'BEGIN{RS="";ORS="\n\n"} NR==1' "$sources" | sed -E 's/^Suites:.*/Suites: trixie/' > "$WORK/parts/trixie.sources"
else
  mirror="$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)"
  echo "deb $mirror trixie main" > "$WORK/parts/trixie.list"
fi

APT_OPTS=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$WORK/parts"
  -o Dir::State::Lists="$WORK/lists" -o Dir::Cache::archives="$WORK/archives"
  -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
echo "[setup] fetching ONNX Runtime headers (Debian trixie libonnxruntime-dev)"
apt-get "${APT_OPTS[@]}" update -qq
(cd "$WORK" && apt-get "${APT_OPTS[@]}" download -qq libonnxruntime-dev)
dpkg -x "$WORK"/libonnxruntime-dev_*.deb "$WORK/x"
mkdir -p "$DEST"
cp -r "$WORK/x/usr/include/onnxruntime" "$DEST/include"
echo "[setup] ONNX Runtime headers in $DEST/include"
