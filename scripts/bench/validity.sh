#!/usr/bin/env bash
# The validation corpus (issue 14): measured LoRA runs on every reference task at two training horizons, for one model.
# A benchmark, not a test: it runs for hours on 2 cores, appends every finished run to
# docs/validity/<model>/<task>/results-<steps>.jsonl as it goes and resumes where it stopped (rerun the same command;
# finished runs are skipped by `layercard probe --plan`, a changed setting or data file is measured anew).
#
#   bash scripts/bench/validity.sh [MODEL_FILE_OR_DIR]      default: the real SmolLM2-135M-Instruct Q4_1 GGUF
#
# Per task (data/tasks/<task>/{train,eval}.jsonl, see data/tasks/README.md):
#   1. ingest + load the model into its own workspace ($VALIDITY_WS/<task>), profile the card on the task's train
#      split (the card's signals must come from the task they are validated on), copy card.json next to the results;
#   2. rank the performance choice for every rank signal at every k (selections/sel-<signal>-<k>.json);
#   3. short horizon ($SHORT steps): scripts/validity/make_plan.py → every single layer, all layers, bottom/top/mid/
#      uniform-k, the rank choices, top-k by every card column, Aletheia's top-50 % by grad_norm, $RANDOM_SETS random
#      sets per k, and $SEEDS seeds of all + the structured sets;
#   4. long horizon ($LONG steps, after every task's short horizon): the same minus most random sets ($LONG_RANDOM).
# Then scripts/validity/summarize.py writes docs/validity/<model>/summary.{json,md}.
# Environment: TASKS (default "arith cls instr d2t"), SHORT=5, LONG=25, KS=3,5,8, SEEDS=3, RANDOM_SETS=8,
# LONG_RANDOM=8, HORIZONS="short long", VALIDITY_WS (default $LAYERCARD_CACHE/validity), LAYERCARD_BIN.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export LAYERCARD_CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
MODEL="${1:-$LAYERCARD_CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
[ -e "$MODEL" ] || bash scripts/setup.sh
[ -e "$MODEL" ] || { echo "validity: no model at $MODEL" >&2; exit 2; }
TASKS="${TASKS:-arith cls instr d2t}"
SHORT="${SHORT:-5}"; LONG="${LONG:-25}"; KS="${KS:-3,5,8}"; SEEDS="${SEEDS:-3}"
RANDOM_SETS="${RANDOM_SETS:-8}"; LONG_RANDOM="${LONG_RANDOM:-8}"; HORIZONS="${HORIZONS:-short long}"
BIN="${LAYERCARD_BIN:-$ROOT/.build/release/layercard}"
if [ -z "${LAYERCARD_BIN:-}" ]; then swift build -c release -Xswiftc -enable-testing --product layercard >/dev/null; fi
name="$(basename "$MODEL")"; slug="${name%.gguf}"; slug="${slug,,}"; slug="${slug//[^a-z0-9._-]/_}"
OUT="$ROOT/docs/validity/$slug"
WSROOT="${VALIDITY_WS:-$LAYERCARD_CACHE/validity}/$slug"
PROBE_ARGS=(--batch 4 --max-tokens 128 --rank 8 --alpha 16 --lr 1e-3)
log() { echo "[validity $(date -u +%H:%M:%S)] $*" >&2; }
mkdir -p "$OUT"
start_all=$(date +%s)

prepare_task() {  # ingest, load, profile, rank: idempotent (each stage skips unchanged work)
  local task=$1 ws="$WSROOT/$1" dir="$OUT/$1"
  mkdir -p "$ws" "$dir/selections"
  "$BIN" ingest "$MODEL" --workspace "$ws" >/dev/null
  local id; id="$(ls "$ws/manifests" | head -1)"
  "$BIN" load "$id" --workspace "$ws" >/dev/null
  "$BIN" profile "$id" --workspace "$ws" --dataset "data/tasks/$task/train.jsonl" >/dev/null
  cp "$ws/outputs/$id/card.json" "$dir/card.json"
  for k in ${KS//,/ }; do
    for sig in grad_norm resnorm resnorm_lora predicted_gain; do
      local sel="$dir/selections/sel-$sig-$k.json"
      if [ ! -s "$sel" ] || [ "$sel" -ot "$dir/card.json" ]; then
        "$BIN" rank "$id" --workspace "$ws" --objective performance --k "$k" --signal "$sig" >/dev/null
        cp "$ws/outputs/$id/selection-performance.json" "$sel"
      fi
    done
  done
  echo "$id"
}

run_horizon() {  # task steps plan-args...
  local task=$1 steps=$2; shift 2
  local ws="$WSROOT/$task" dir="$OUT/$task" id
  id="$(ls "$ws/manifests" | head -1)"
  python3 scripts/validity/make_plan.py --card "$dir/card.json" --selections "$dir/selections" \
    --out "$dir/plan-$steps.jsonl" --ks "$KS" "$@" >&2
  local t0; t0=$(date +%s)
  "$BIN" probe "$id" --workspace "$ws" --train "data/tasks/$task/train.jsonl" --eval "data/tasks/$task/eval.jsonl" \
    --steps "$steps" "${PROBE_ARGS[@]}" --plan "$dir/plan-$steps.jsonl" --results "$dir/results-$steps.jsonl"
  log "$task: $steps steps: $(( $(date +%s) - t0 )) s this sitting"
}

for task in $TASKS; do
  t0=$(date +%s); prepare_task "$task" >/dev/null; log "$task: card and selections ready ($(( $(date +%s) - t0 )) s)"
done
for h in $HORIZONS; do
  for task in $TASKS; do
    case $h in
      short) run_horizon "$task" "$SHORT" --seeds "$SEEDS" --random "$RANDOM_SETS" ;;
      long) run_horizon "$task" "$LONG" --seeds "$SEEDS" --random "$LONG_RANDOM" --long ;;
    esac
  done
done
python3 scripts/validity/summarize.py "$OUT" --short "$SHORT" --long "$LONG"
log "done in $(( $(date +%s) - start_all )) s this sitting; summary in $OUT/summary.md"
