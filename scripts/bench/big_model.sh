#!/usr/bin/env bash
# Issue 4 benchmark (b): a generated checkpoint with Qwen3-8B's exact shapes (random bf16, ~16.4 GB, under
# $LAYERCARD_CACHE/bench/, never in the repo) → ingest → load --precision bf16 → the full `layercard profile`
# (forward+backward, every card statistic, coupling, measured cost) on one sequence of 256 pre-tokenized ids
# through the memory-bounded streaming path (--memory-budget). Prints wall time and peak RSS (/usr/bin/time -v)
# per stage, the profile's phase timings, and pass/fail against the targets for the profile step:
# peak RSS < 6 GB, wall time < 30 min. Needs ~16 GB + ~16 GB of disk. Long: run it in the background.
# Usage: scripts/bench/big_model.sh [extra profile args, e.g. --coupling-max-tokens 128]
#        (env: LAYERCARD_CACHE, LAYERCARD_BENCH_BUDGET bytes, default 5.5e9)
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
BENCH="$CACHE/bench"
SRC="$BENCH/qwen3-8b-shapes"
WS="$BENCH/workspace"
LOGS="$BENCH/logs"
BUDGET="${LAYERCARD_BENCH_BUDGET:-5500000000}"
mkdir -p "$BENCH" "$WS" "$LOGS"

# Runs "$@" under /usr/bin/time -v; prints and records "<label> <seconds> <peak RSS bytes>".
timed() {
    local label="$1"; shift
    local tlog="$LOGS/$label.time"
    set +e
    /usr/bin/time -v -o "$tlog" "$@" 2>&1 | tee "$LOGS/$label.log" | grep --line-buffered -E '\[bench|error|: present|GB'
    local rc=${PIPESTATUS[0]}
    set -e
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tlog")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2*1024}' "$tlog")
    printf '%-10s %8.1f s  peak RSS %6.2f GB  (exit %s)\n' "$label" "$wall" "$(echo "$rss/1000000000" | bc -l)" "$rc" | tee -a "$LOGS/summary.txt"
    echo "$label $wall $rss" >> "$LOGS/figures.txt"
    return "$rc"
}

: > "$LOGS/summary.txt"; : > "$LOGS/figures.txt"
echo "== build (release)"
swift build -c release --build-tests -Xswiftc -enable-testing > "$LOGS/build.log" 2>&1 || { tail -20 "$LOGS/build.log"; exit 2; }
BIN="$(swift build -c release --show-bin-path)"

echo "== generate $SRC (skipped when present)"
timed generate python3 scripts/bench/make_qwen3_8b_shapes.py "$SRC"
echo "== ingest"
timed ingest "$BIN/layercard" ingest --workspace "$WS" "$SRC"
ID="$(basename "$(ls -d "$WS"/manifests/*/ | head -1)")"
echo "model id: $ID"
echo "== load --precision bf16"
timed load "$BIN/layercard" load --workspace "$WS" --precision bf16 "$ID"
DS="$BENCH/ids-256.jsonl"
python3 - "$DS" <<'PY'
import json, random, sys
r = random.Random(7)
open(sys.argv[1], "w").write(json.dumps({"input_ids": [r.randrange(151936) for _ in range(256)]}) + "\n")
PY
echo "== profile: 256 tokens, streamed (budget $BUDGET bytes), every card number"
timed profile "$BIN/layercard" profile "$ID" --workspace "$WS" --dataset "$DS" --max-tokens 256 --batch 1 \
    --memory-budget "$BUDGET" --force -v "$@"
python3 - "$WS/manifests/$ID/profile.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
t = m.get("timings", {})
print("[bench-big] profile phases: " + ", ".join(f"{k} {v:.1f} s" for k, v in t.items()) + f"; loss {m.get('loss', float('nan')):.4f}")
PY

read -r _ pwall prss < <(grep '^profile ' "$LOGS/figures.txt")
echo
echo "== summary"
cat "$LOGS/summary.txt"
ok=1
if awk -v r="$prss" 'BEGIN {exit !(r < 6e9)}'; then echo "PASS peak RSS $(echo "$prss/1000000000" | bc -l | cut -c1-5) GB < 6 GB"; else echo "FAIL peak RSS $prss bytes >= 6 GB"; ok=0; fi
if awk -v w="$pwall" 'BEGIN {exit !(w < 1800)}'; then echo "PASS wall time ${pwall} s < 30 min"; else echo "FAIL wall time ${pwall} s >= 30 min"; ok=0; fi
[ "$ok" = 1 ]
