#!/usr/bin/env bash
# Profile benchmark (not a test): SmolLM2-135M-Instruct Q4_1 on 4 sequences x 128 pre-tokenized ids (random ids,
# fixed seed), release build. Prints seconds for forward+backward(+G/C accumulation), statistics, coupling and
# cost measurement, the forward+backward's achieved GFLOP/s (analytic FLOPs over real positions), a plain
# cblas_sgemm of the MLP's shape timed right before and right after the forward+backward in the same process
# (hidden --bench-sgemm flag), and their ratio — for the model's forward+backward alone ("step": without the seconds
# the visitor spends handing each module's rows to the statistics, which are statistics work) and for the whole
# phase including that collection. The first run is the full profile; LAYERCARD_BENCH_REPEATS (default 3)
# more runs time the forward+backward only (--no-coupling --cost-depths 0), because this shared VM's speed drifts:
# every run's ratio is printed, then their median.
# Usage: scripts/bench/profile.sh [threads] [extra profile args...]   (default: all cores; e.g. --statistics-form primal)
set -euo pipefail
cd "$(dirname "$0")/../.."
THREADS="${1:-$(nproc)}"
shift || true
CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
GGUF="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -f "$GGUF" ] || { echo "missing $GGUF: run scripts/setup.sh" >&2; exit 2; }
swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null  # same flags as scripts/test.sh: one build serves both
BIN=.build/release/layercard
WS="${LAYERCARD_BENCH_WS:-$(mktemp -d)}"
DATA="$WS/bench-4x128.jsonl"
python3 - "$DATA" <<'PY'
import json, random, sys
r = random.Random(7)
with open(sys.argv[1], "w") as f:
    for _ in range(4):
        f.write(json.dumps({"input_ids": [r.randrange(49152) for _ in range(128)]}) + "\n")
PY
"$BIN" ingest "$GGUF" --workspace "$WS" >/dev/null
"$BIN" load --all --workspace "$WS" >/dev/null
ID=SmolLM2-135M-Instruct.Q4_1
REPEATS="${LAYERCARD_BENCH_REPEATS:-3}"
RATIOS=()
for run in $(seq 0 "$REPEATS"); do
  EXTRA=(); [ "$run" -gt 0 ] && EXTRA=(--no-coupling --cost-depths 0)
  /usr/bin/time -f "%e s wall, %U s user CPU, %S s sys, %M KB peak RSS; load average $(cut -d" " -f1-3 /proc/loadavg)" "$BIN" profile "$ID" --workspace "$WS" --dataset "$DATA" --max-tokens 128 \
      --batch 4 --threads "$THREADS" --force --bench-sgemm "${EXTRA[@]}" "$@" 2> "$WS/profile.log" >/dev/null || { tail -20 "$WS/profile.log"; exit 1; }
  RATIOS+=("$(python3 - "$WS/manifests/$ID/profile.json" "$(tail -1 "$WS/profile.log")" "$THREADS" "$WS/outputs/$ID/card.json" "$run" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["statistics_form"] = json.load(open(sys.argv[4]))["parameters"].get("statistics_form")
t = m["timings"]
run = int(sys.argv[5])
out = sys.stderr
what = "full profile" if run == 0 else "forward+backward only"
print(f"[bench profile] run {run} ({what}): SmolLM2-135M Q4_1, 4x128 tokens, {sys.argv[3]} threads, loss {m['loss']:.4f}, statistics form {m.get('statistics_form', '?')}", file=out)
print(f"[bench profile]   forward+backward {t['forward_backward']:.2f} s (of which handing rows to the statistics {t.get('statistics_collect', 0):.2f} s), statistics {t['statistics']:.2f} s, "
      f"coupling {t.get('coupling', 0):.2f} s, cost measurement {t.get('cost', 0):.2f} s, total {m['seconds']:.2f} s", file=out)
refs = ", ".join(f"{x:.1f}" for x in m.get("sgemm_reference_samples_gflops", []))
print(f"[bench profile]   forward+backward {m['forward_backward_flops']/1e9:.1f} GFLOP: step alone at {m['forward_backward_step_gflops']:.1f} GFLOP/s, "
      f"with the row collection at {m['forward_backward_gflops']:.1f} GFLOP/s; plain sgemm {m['sgemm_reference_gflops']:.1f} GFLOP/s "
      f"(before, after: {refs}); ratios {m['forward_backward_step_vs_sgemm']:.2f} (step), {m['forward_backward_vs_sgemm']:.2f} (with collection)", file=out)
print(f"[bench profile]   fwd+bwd+statistics {t['forward_backward'] + t['statistics']:.2f} s; peak RSS {m['peak_rss_bytes']/2**20:.0f} MiB; process: {sys.argv[2]}", file=out)
print(f"{m['forward_backward_step_vs_sgemm']:.3f},{m['forward_backward_vs_sgemm']:.3f}")
PY
)")
done
python3 - "${RATIOS[@]}" <<'PY'
import statistics, sys
r = [tuple(float(v) for v in x.split(",")) for x in sys.argv[1:]]
for i, what in enumerate(["forward+backward step alone", "forward+backward with the statistics' row collection"]):
    v = [x[i] for x in r]
    print(f"[bench profile] ratios {what} / sgemm: {', '.join(f'{x:.2f}' for x in v)}; median {statistics.median(v):.2f}; target 0.6")
PY
