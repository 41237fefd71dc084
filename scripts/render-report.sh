#!/usr/bin/env bash
# Renders a self-contained report.html (or diff.html) to a PNG with headless Chromium, for looking at it.
# Usage: scripts/render-report.sh REPORT.html [OUT.png] [WIDTH] [HEIGHT]
# Needs Debian's `chromium` (apt-get install chromium). The page loads nothing from the network.
set -euo pipefail
html="${1:?usage: render-report.sh REPORT.html [OUT.png] [WIDTH] [HEIGHT]}"
out="${2:-${html%.html}.png}"
width="${3:-1280}"
height="${4:-4000}"
[ -f "$html" ] || { echo "no such file: $html" >&2; exit 2; }
bin="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$bin" ] || { echo "chromium not found: apt-get install chromium" >&2; exit 2; }
abs="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
"$bin" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$out" \
  --window-size="$width,$height" "file://$abs" 2>/dev/null
echo "$out"
