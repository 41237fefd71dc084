#!/usr/bin/env bash
# SmolLM2-135M forward on 4x128 tokens: seconds, GFLOP/s, and a plain cblas_sgemm of equal FLOPs for comparison.
# Reads the real GGUF from $LAYERCARD_CACHE/models (scripts/setup.sh fetches it).
# Usage: scripts/bench/forward.sh [threads]   (default: OpenBLAS default = core count)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -n "${1:-}" ] && export OPENBLAS_NUM_THREADS="$1"
swift build -c release -Xswiftc -enable-testing --build-tests >/dev/null  # same flags as scripts/test.sh
LAYERCARD_BENCH=1 swift test -c release -Xswiftc -enable-testing --skip-build --filter RealModelForwardTests/testBenchmarkForward 2>&1 | grep '\[bench\]'
