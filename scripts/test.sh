#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what it needs (idempotent), builds,
# runs the Swift tests and the shell-level pipeline tests. Exit non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export LAYERCARD_CACHE="${LAYERCARD_CACHE:-$HOME/.cache/layercard}"
# Tests are built optimized (math-heavy parity tests run ~20x faster than a debug build).
SWIFT_FLAGS=(-c release -Xswiftc -enable-testing)
swift build "${SWIFT_FLAGS[@]}" --build-tests
set +e
swift test "${SWIFT_FLAGS[@]}" --skip-build 2>&1 | tee /tmp/layercard-swift-test.log
status=${PIPESTATUS[0]}
set -e
shell_status=0
# The launcher tests drive the real binary over small generated checkpoints (the tiny HF fixtures),
# ingest and load only: they test locks, sharding and job ordering, not the math (tested above).
LAUNCH_MODELS="$(mktemp -d)"
for m in Tests/Fixtures/tiny/*/; do cp -r "$m" "$LAUNCH_MODELS/tiny-$(basename "$m")"; done
export MODELS_DIR="$LAUNCH_MODELS" LAYERCARD_RUN_ARGS="--stages ingest,load"
for t in scripts/tests/test_*.sh scripts/tests/test_*.py; do
  [ -e "$t" ] || continue
  echo "== $t"
  case "$t" in
    *.sh) LAYERCARD_BIN="$PWD/.build/release/layercard" bash "$t" || shell_status=1 ;;
    *.py) python3 "$t" || shell_status=1 ;;
  esac
done
[ "$status" -eq 0 ] && [ "$shell_status" -eq 0 ]
