#!/usr/bin/env bash
# Probe speed benchmark (issue 14 item 2): the documented SmolLM2 probe (docs/examples/probe-smollm2.md: 5 steps,
# batch 4, 128 tokens, rank 8, eval fraction 0.1 of data/default-d2t.jsonl) run by the plain path (`--plain`: every
# run does the whole forward and the full LM head, as before) and by the fast path (cached block inputs, forward
# from the lowest adapted layer, LM head on target positions only), in one invocation, with wall times, their ratio
# and a check that both give the same gains. A benchmark, never a test: the machine is shared and noisy.
#   bash scripts/bench/probe.sh            subset: layers 0,10,20,29 and the all/bottom/top/mid/uniform sets
#   FULL=1 bash scripts/bench/probe.sh     the documented full probe (30 layers + the k = 5 sets): ~35 + ~15 min
set -euo pipefail
cd "$(dirname "$0")/../.."
export LAYERCARD_CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
bash scripts/setup.sh >/dev/null
BIN="${LAYERCARD_BIN:-$PWD/.build/release/layercard}"
[ -n "${LAYERCARD_BIN:-}" ] || swift build -c release -Xswiftc -enable-testing --product layercard >/dev/null
WS="${BENCH_WS:-$LAYERCARD_CACHE/bench-probe}"
M="$LAYERCARD_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
mkdir -p "$WS"
"$BIN" ingest "$M" --workspace "$WS" >/dev/null 2>&1
ID=SmolLM2-135M-Instruct.Q4_1
"$BIN" load "$ID" --workspace "$WS" >/dev/null 2>&1
"$BIN" profile "$ID" --workspace "$WS" >/dev/null 2>&1
"$BIN" rank "$ID" --workspace "$WS" --k 5 >/dev/null 2>&1
if [ "${FULL:-0}" = 1 ]; then
  LAYERS=all; SETS=all,bottom-k,top-k,mid-k,uniform-k,random-k,performance,cost,balanced
else
  LAYERS=0,10,20,29; SETS=all,bottom-k,top-k,mid-k,uniform-k
fi
ARGS=(probe "$ID" --workspace "$WS" --steps 5 --batch 4 --max-tokens 128 --rank 8 --alpha 16 --lr 1e-3 --eval-fraction 0.1
      --k 5 --random-draws 3 --layers "$LAYERS" --sets "$SETS" --json)
t0=$(date +%s.%N); "$BIN" "${ARGS[@]}" --plain > "$WS/plain.json" 2>"$WS/plain.log"; t1=$(date +%s.%N)
"$BIN" "${ARGS[@]}" > "$WS/fast.json" 2>"$WS/fast.log"; t2=$(date +%s.%N)
python3 - "$WS/plain.json" "$WS/fast.json" "$t0" "$t1" "$t2" <<'PY'
import json, sys
p, f = (json.load(open(x)) for x in sys.argv[1:3])
t0, t1, t2 = map(float, sys.argv[3:6])
gp = [r["gain"] for r in p["layers"]] + [s["gain"] for s in p["sets"]]
gf = [r["gain"] for r in f["layers"]] + [s["gain"] for s in f["sets"]]
print(f"runs: {len(p['layers'])} single layers + {len(p['sets'])} sets")
print(f"plain path: {t1 - t0:.1f} s   fast path: {t2 - t1:.1f} s   ratio fast/plain: {(t2 - t1) / (t1 - t0):.3f}")
print(f"gains identical: {gp == gf} (max |diff| {max(abs(a - b) for a, b in zip(gp, gf)):.3g})")
sp = [r["step_seconds"] for r in p["layers"]]; sf = [r["step_seconds"] for r in f["layers"]]
print("step_seconds plain vs fast (whole-step estimate): " + ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(sp, sf)))
PY
