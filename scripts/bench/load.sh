#!/usr/bin/env bash
# Ingest + load of the real SmolLM2 (release build): wall time and peak RSS per stage and storage
# precision, printed as figures. Not a test: run on a quiet machine for stable numbers.
# Usage: scripts/bench/load.sh [WORKSPACE]   (default: a fresh temp dir)
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh >/dev/null
CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
MODEL="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
WS="${1:-$(mktemp -d)}"
swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null  # same flags as scripts/test.sh: one build serves both
BIN=.build/release/layercard
measure() { # label, command...
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o /tmp/layercard-bench-time "$@" >/dev/null 2>&1 || true
  read -r secs kb < /tmp/layercard-bench-time
  printf '%-28s %8.2f s   peak RSS %7.1f MB\n' "$label" "$secs" "$(echo "$kb/1024" | bc -l)"
}
measure "ingest (first run)" "$BIN" ingest "$MODEL" --workspace "$WS"
measure "ingest (unchanged)" "$BIN" ingest "$MODEL" --workspace "$WS"
id=$(ls "$WS/manifests" | head -1)
for p in f32 bf16 int8; do
  measure "load --precision $p" "$BIN" load "$id" --workspace "$WS" --precision "$p" --force
  python3 - "$WS/manifests/$id/load.json" <<'PY'
import json, sys, statistics
m = json.load(open(sys.argv[1]))
errs = [t["quant_rel_error"] for t in m["tensors"] if len(t["shape"]) == 2]
print(f"    store {m['store_bytes']/1e6:.0f} MB, 2-D weights rel. error median {statistics.median(errs):.2e} max {max(errs):.2e}")
PY
done
