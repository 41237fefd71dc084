#!/usr/bin/env bash
# Nightly (cron) wrapper for LayerCard: takes a non-blocking lock on WORKSPACE so overlapping runs never
# collide, logs each run to WORKSPACE/logs/nightly-<UTC time>.log (keeps the newest $LAYERCARD_KEEP_LOGS,
# default 30), runs `layercard run` then `layercard status`, and exits with the run's exit code
# (0 all done, 1 some checkpoints failed, 2 usage error). A run that finds the lock held exits 0.
# It runs unsharded on this host; for clusters use pipelines/slurm or pipelines/k8s instead.
#
# Usage: layercard-nightly.sh MODELS_DIR WORKSPACE [extra `layercard run` args...]
#   (MODELS_DIR / WORKSPACE may instead come from LAYERCARD_MODELS_DIR / LAYERCARD_WORKSPACE)
# Env: LAYERCARD_BIN, LAYERCARD_VERSIONS (see pipelines/README.md), LAYERCARD_KEEP_LOGS,
#      LAYERCARD_THREADS (OPENBLAS_NUM_THREADS, default: all CPUs).
set -uo pipefail
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/bin:/usr/bin:/bin"   # cron's PATH is minimal
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=pipelines/lib/common.sh
. "$HERE/../lib/common.sh"

MODELS_DIR="${1:-${LAYERCARD_MODELS_DIR:-}}"
WORKSPACE="${2:-${LAYERCARD_WORKSPACE:-}}"
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
if [ -z "$MODELS_DIR" ] || [ -z "$WORKSPACE" ]; then
  echo "usage: $0 MODELS_DIR WORKSPACE [extra layercard run args...]" >&2; exit 2
fi
[ -e "$MODELS_DIR" ] || { echo "layercard-nightly: MODELS_DIR '$MODELS_DIR' does not exist" >&2; exit 2; }
mkdir -p "$WORKSPACE/logs" || { echo "layercard-nightly: cannot create $WORKSPACE/logs" >&2; exit 2; }

LOCK="$WORKSPACE/.layercard-cron.lock"
exec 9>>"$LOCK" || { echo "layercard-nightly: cannot open lock file $LOCK" >&2; exit 2; }
if ! flock -n 9; then
  echo "layercard-nightly: another run holds the lock $LOCK; exiting"
  exit 0
fi

BIN="$(layercard_resolve_bin)" || exit 2
VERSIONS="$(layercard_resolve_versions)" || exit 2
KEEP="${LAYERCARD_KEEP_LOGS:-30}"
[[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || { echo "layercard-nightly: LAYERCARD_KEEP_LOGS must be a positive integer" >&2; exit 2; }
export OPENBLAS_NUM_THREADS="${LAYERCARD_THREADS:-$(nproc 2>/dev/null || echo 1)}"

LOG="$WORKSPACE/logs/nightly-$(date -u +%Y%m%dT%H%M%SZ)-$$.log"
# Rotation (under the lock, so a concurrent run never deletes a live log): keep the newest KEEP-1 old ones.
find "$WORKSPACE/logs" -maxdepth 1 -name 'nightly-*.log' -printf '%f\n' | LC_ALL=C sort | head -n "-$((KEEP - 1))" \
  | while IFS= read -r old; do rm -f -- "$WORKSPACE/logs/$old"; done

args=(run "$MODELS_DIR" --workspace "$WORKSPACE")
[ -n "$VERSIONS" ] && args+=(--versions "$VERSIONS")
# shellcheck disable=SC2206 # word-split on purpose, as in the Slurm array script
[ -n "${LAYERCARD_RUN_ARGS:-}" ] && args+=(${LAYERCARD_RUN_ARGS})
args+=("$@")
{
  echo "layercard-nightly: start $(date -u +%FT%TZ) on $(hostname -s), pid $$"
  echo "layercard-nightly: $BIN ${args[*]}"
} >>"$LOG"
start=$(date +%s)
"$BIN" "${args[@]}" >>"$LOG" 2>&1
code=$?
echo "layercard-nightly: run exit $code after $(( $(date +%s) - start )) s" >>"$LOG"
# Status goes to the log and to stdout (cron mails stdout, so the summary reaches the owner).
"$BIN" status --workspace "$WORKSPACE" 2>&1 | tee -a "$LOG"
scode=${PIPESTATUS[0]}
echo "layercard-nightly: status exit $scode; run exit $code; log $LOG" | tee -a "$LOG"
exit "$code"
