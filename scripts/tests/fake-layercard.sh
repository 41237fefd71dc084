#!/usr/bin/env bash
# A stand-in for the `layercard` batch CLI, used ONLY by the launcher tests (scripts/tests/test_*.sh) so the
# Slurm/cron/k8s plumbing can be tested without the Swift binary. It mirrors the real CLI's interface and its
# sharding rule (entries sorted bytewise, shard I of N takes indices ≡ I mod N) and records what it would do
# under $WORKSPACE/fake/; it does not read any checkpoint. Point LAYERCARD_BIN at it; never ship it.
# Test knobs: FAKE_LAYERCARD_SLEEP (s, `run` sleeps this long), FAKE_LAYERCARD_FAIL_SHARD (that shard index
# exits 1 as if a checkpoint failed), FAKE_LAYERCARD_EXIT (every `run` exits with this code).
set -euo pipefail

usage() { echo "fake-layercard: $*" >&2; echo "usage: layercard run PATH... [--workspace DIR] [--stages S] [--force] [--shard I/N] [--versions FILE] | status [--workspace DIR] [--json] | diff A B --workspace DIR" >&2; exit 2; }
now() { date +%s.%N; }

[ $# -ge 1 ] || usage "missing subcommand"
cmd="$1"; shift
WS="."; SHARD=""; JSON=0; paths=()
while [ $# -gt 0 ]; do
  case "$1" in
    --workspace) [ $# -ge 2 ] || usage "--workspace needs a value"; WS="$2"; shift 2 ;;
    --workspace=*) WS="${1#*=}"; shift ;;
    --shard) [ $# -ge 2 ] || usage "--shard needs a value"; SHARD="$2"; shift 2 ;;
    --shard=*) SHARD="${1#*=}"; shift ;;
    --stages|--versions) [ $# -ge 2 ] || usage "$1 needs a value"; shift 2 ;;
    --stages=*|--versions=*|--force) shift ;;
    --json) JSON=1; shift ;;
    -*) usage "unknown option $1" ;;
    *) paths+=("$1"); shift ;;
  esac
done
OUT="$WS/fake"
mkdir -p "$OUT"

case "$cmd" in
run)
  [ "${#paths[@]}" -ge 1 ] || usage "run needs at least one PATH"
  # Shard resolution, in the real CLI's order: --shard, Slurm array, Kubernetes Indexed Job, else 0/1.
  if [ -n "$SHARD" ]; then I="${SHARD%/*}"; N="${SHARD#*/}"; src=flag
  elif [ -n "${SLURM_ARRAY_TASK_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_COUNT:-}" ]; then
    I="$SLURM_ARRAY_TASK_ID"; N="$SLURM_ARRAY_TASK_COUNT"; src=slurm
  elif [ -n "${JOB_COMPLETION_INDEX:-}" ] && [ -n "${LAYERCARD_SHARD_COUNT:-}" ]; then
    I="$JOB_COMPLETION_INDEX"; N="$LAYERCARD_SHARD_COUNT"; src=k8s
  else I=0; N=1; src=default; fi
  [[ "$I" =~ ^[0-9]+$ && "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$I" -lt "$N" ] || usage "bad shard $I/$N"
  started="$(now)"
  # Entries: a directory contributes its non-hidden children, a file itself. Sorted bytewise (LC_ALL=C).
  mapfile -t all < <(for p in "${paths[@]}"; do
      if [ -d "$p" ]; then find "$p" -mindepth 1 -maxdepth 1 ! -name '.*' -print; else printf '%s\n' "$p"; fi
    done | LC_ALL=C sort)
  mine=()
  for idx in "${!all[@]}"; do
    [ $(( idx % N )) -eq "$I" ] && mine+=("${all[$idx]}")
  done
  sleep "${FAKE_LAYERCARD_SLEEP:-0}"
  base="$OUT/shard-$I-of-$N"
  { for m in "${mine[@]}"; do printf '%s\n' "$m"; done; } >"$base.txt.tmp"
  code="${FAKE_LAYERCARD_EXIT:-0}"
  [ "${FAKE_LAYERCARD_FAIL_SHARD:-x}" = "$I" ] && code=1
  printf 'source=%s\nslurm_job=%s\nopenblas_threads=%s\nstarted=%s\nended=%s\nexit=%s\n' "$src" \
    "${SLURM_ARRAY_JOB_ID:-}_${SLURM_ARRAY_TASK_ID:-}" "${OPENBLAS_NUM_THREADS:-}" "$started" "$(now)" "$code" >"$base.meta"
  [ "$code" -eq 0 ] || : >"$base.failed"
  mv "$base.txt.tmp" "$base.txt"   # the list appears last, atomically: "shard finished"
  echo "fake-layercard: shard $I/$N ($src) processed ${#mine[@]} of ${#all[@]} entries"
  exit "$code"
  ;;
diff)
  [ "${#paths[@]}" -eq 2 ] || usage "diff needs exactly two model ids"
  present="$(find "$OUT" -maxdepth 1 -name 'shard-*-of-*.txt' -printf '%f\n' | LC_ALL=C sort | tr '\n' ' ')"
  printf 'ran_at=%s\nshards_present=%s\n' "$(now)" "$present" >"$OUT/diff-${paths[0]}--${paths[1]}.txt"
  echo "fake-layercard: diff ${paths[0]} -> ${paths[1]} (shards present: $present)"
  ;;
status)
  failed="$(find "$OUT" -maxdepth 1 -name '*.failed' | wc -l)"
  done_="$(find "$OUT" -maxdepth 1 -name 'shard-*-of-*.txt' | wc -l)"
  if [ "$JSON" = 1 ]; then printf '{"shards_done":%s,"failed":%s}\n' "$done_" "$failed"
  else echo "fake-layercard: $done_ shard(s) done, $failed failed"; fi
  [ "$failed" -eq 0 ]
  ;;
*) usage "unknown subcommand $cmd" ;;
esac
