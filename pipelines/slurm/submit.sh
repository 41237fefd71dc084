#!/usr/bin/env bash
# Submit a LayerCard batch to Slurm: an N-task array (layercard-array.sbatch, --array=0-(N-1)) that shards
# the checkpoints under MODELS_DIR, plus a diff job (layercard-diff.sbatch) that depends on it with
# afterany, so diffs of the good checkpoints are written even when some shards failed. Prints both job ids.
# It only submits; it neither waits for the jobs nor starts a cluster (see scripts/slurm/start-cluster.sh).
#
# Usage: submit.sh MODELS_DIR WORKSPACE [N]         (N default: $LAYERCARD_SHARDS or 4)
# Env knobs (all optional):
#   LAYERCARD_BIN            binary (default: layercard on PATH, then .build/{release,debug}/layercard)
#   LAYERCARD_VERSIONS       versions file (default: pipelines/versions.toml if present)
#   LAYERCARD_PARTITION      partition for both jobs (default: the cluster default)
#   LAYERCARD_TIME           array task time limit (default 04:00:00)
#   LAYERCARD_CPUS           CPUs per array task = OPENBLAS_NUM_THREADS (default 1)
#   LAYERCARD_MEM            memory per array task (default 4G)
#   LAYERCARD_MAX_PARALLEL   at most this many tasks at once (adds %P to --array)
#   LAYERCARD_DIFF_TIME / LAYERCARD_DIFF_CPUS / LAYERCARD_DIFF_MEM   diff job (01:00:00 / 1 / 2G)
#   LAYERCARD_LOG_DIR        where %x-%A_%a.log files go (default WORKSPACE/logs/slurm)
#   LAYERCARD_RUN_ARGS       extra args for `layercard run` (e.g. "--stages ingest,load,profile --force")
#   LAYERCARD_SBATCH_ARGS    extra sbatch args for both jobs (e.g. "--account=ml --qos=low")
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=pipelines/lib/common.sh
. "$HERE/../lib/common.sh"

usage() { echo "usage: $0 MODELS_DIR WORKSPACE [N]" >&2; exit 2; }
[ $# -ge 2 ] && [ $# -le 3 ] || usage
[ -e "$1" ] || { echo "submit: MODELS_DIR '$1' does not exist" >&2; exit 2; }
N="${3:-${LAYERCARD_SHARDS:-4}}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "submit: N must be a positive integer (got '$N')" >&2; exit 2; }
command -v sbatch >/dev/null 2>&1 || { echo "submit: sbatch not found (is this a Slurm submit host?)" >&2; exit 2; }

mkdir -p "$2"
MODELS_DIR="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
WORKSPACE="$(cd "$2" && pwd)"
LAYERCARD_BIN="$(layercard_resolve_bin)" || exit 2
LAYERCARD_VERSIONS_FILE="$(layercard_resolve_versions)" || exit 2
LOG_DIR="${LAYERCARD_LOG_DIR:-$WORKSPACE/logs/slurm}"
mkdir -p "$LOG_DIR"
export MODELS_DIR WORKSPACE LAYERCARD_BIN LAYERCARD_VERSIONS_FILE LAYERCARD_RUN_ARGS="${LAYERCARD_RUN_ARGS:-}"

common=(--parsable --export=ALL --chdir="$WORKSPACE")
[ -n "${LAYERCARD_PARTITION:-}" ] && common+=(--partition="$LAYERCARD_PARTITION")
# shellcheck disable=SC2206  # deliberate word splitting of the extra-args knob
[ -n "${LAYERCARD_SBATCH_ARGS:-}" ] && common+=(${LAYERCARD_SBATCH_ARGS})

array="0-$((N - 1))"
[ -n "${LAYERCARD_MAX_PARALLEL:-}" ] && array="$array%${LAYERCARD_MAX_PARALLEL}"
out="$(sbatch "${common[@]}" --array="$array" \
  --time="${LAYERCARD_TIME:-04:00:00}" --cpus-per-task="${LAYERCARD_CPUS:-1}" --mem="${LAYERCARD_MEM:-4G}" \
  --output="$LOG_DIR/%x-%A_%a.log" "$HERE/layercard-array.sbatch")" \
  || { echo "submit: sbatch of the array job failed" >&2; exit 1; }
ARRAY_JOB_ID="${out%%;*}"

export LAYERCARD_ARRAY_JOB_ID="$ARRAY_JOB_ID"
out="$(sbatch "${common[@]}" --dependency="afterany:$ARRAY_JOB_ID" --kill-on-invalid-dep=yes \
  --time="${LAYERCARD_DIFF_TIME:-01:00:00}" --cpus-per-task="${LAYERCARD_DIFF_CPUS:-1}" --mem="${LAYERCARD_DIFF_MEM:-2G}" \
  --output="$LOG_DIR/%x-%j.log" "$HERE/layercard-diff.sbatch")" || {
  echo "submit: sbatch of the diff job failed; array job $ARRAY_JOB_ID is queued without it" >&2
  echo "ARRAY_JOB_ID=$ARRAY_JOB_ID"; exit 1; }
DIFF_JOB_ID="${out%%;*}"

echo "submit: array job $ARRAY_JOB_ID ($N tasks, --array=$array) on $MODELS_DIR -> $WORKSPACE"
echo "submit: diff job $DIFF_JOB_ID (afterany:$ARRAY_JOB_ID), versions file: ${LAYERCARD_VERSIONS_FILE:-none}"
echo "submit: logs in $LOG_DIR"
echo "ARRAY_JOB_ID=$ARRAY_JOB_ID"
echo "DIFF_JOB_ID=$DIFF_JOB_ID"
