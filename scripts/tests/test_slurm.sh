#!/usr/bin/env bash
# End-to-end test of the Slurm launchers on a real single-node cluster: starts it (start-cluster.sh), submits
# pipelines/slurm/submit.sh with 4 shards, waits for the array and the dependent diff job, then checks that
# every checkpoint was handled by exactly one shard, shards ran concurrently, and the diff ran after all shards
# (also when a shard fails: afterany). By default LAYERCARD_BIN is scripts/tests/fake-layercard.sh; set
# LAYERCARD_BIN (and MODELS_DIR, LAYERCARD_VERSIONS) to test the real binary, which gets the launcher-level
# checks only. Needs root (it may install and start Slurm). Last line: "N passed, N failed".
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
FAKE_BIN="$REPO/scripts/tests/fake-layercard.sh"
PASS=0; FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local d="$1"; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

export LAYERCARD_BIN="${LAYERCARD_BIN:-$FAKE_BIN}"
FAKE=0; [ "$(basename "$LAYERCARD_BIN")" = fake-layercard.sh ] && FAKE=1
TMP="$(mktemp -d /tmp/layercard-slurm-test.XXXXXX)"
[ "${KEEP_TMP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT

t0=$(date +%s)
if "$REPO/scripts/slurm/start-cluster.sh"; then ok "start-cluster.sh brought the node up ($(( $(date +%s) - t0 )) s)"
else bad "start-cluster.sh failed (see above)"; finish; fi

if [ "$FAKE" = 1 ]; then
  MODELS="$TMP/models"; mkdir -p "$MODELS/smollm2-v1" "$MODELS/smollm2-v2" "$MODELS/my model dir" "$MODELS/.hidden"
  for f in smollm2-v3.gguf minilm.safetensors a.bin b.bin c.tar.gz z-last.gguf Zeta.gguf; do : >"$MODELS/$f"; done
  printf '[[series]]\nname = "smollm2"\nversions = ["smollm2-v1", "smollm2-v2", "smollm2-v3"]\n' >"$TMP/versions.toml"
  export LAYERCARD_VERSIONS="$TMP/versions.toml"
  export FAKE_LAYERCARD_SLEEP="${FAKE_LAYERCARD_SLEEP:-2}"
  export LAYERCARD_MEM="${LAYERCARD_MEM:-512M}" LAYERCARD_DIFF_MEM="${LAYERCARD_DIFF_MEM:-256M}"  # fit small CI nodes
  TIMEOUT="${TEST_TIMEOUT:-300}"
else
  MODELS="${MODELS_DIR:-${LAYERCARD_CACHE:-$HOME/.cache/layercard}/models}"
  TIMEOUT="${TEST_TIMEOUT:-3600}"
fi
N=4

# wait_jobs ID...: poll squeue until none of the jobs is queued or running (bounded by TIMEOUT).
wait_jobs() {
  local end=$(( $(date +%s) + TIMEOUT )) ids; ids="$(IFS=,; echo "$*")"
  while [ -n "$(squeue -h -j "$ids" -o %i 2>/dev/null)" ]; do
    [ "$(date +%s)" -lt "$end" ] || { echo "timeout after $TIMEOUT s waiting for jobs $ids"; squeue; return 1; }
    sleep 1
  done
}
kv() { sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1; }   # kv FILE KEY
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }   # float a >= b

# run_scenario NAME: submit, wait, and leave $WS, $A (array job id), $D (diff job id) set.
run_scenario() {
  WS="$TMP/ws-$1"; local out t1
  t1=$(date +%s)
  out="$("$REPO/pipelines/slurm/submit.sh" "$MODELS" "$WS" "$N" 2>&1)"; echo "$out"
  A="$(sed -n 's/^ARRAY_JOB_ID=//p' <<<"$out")"; D="$(sed -n 's/^DIFF_JOB_ID=//p' <<<"$out")"
  if [ -n "$A" ] && [ -n "$D" ]; then ok "[$1] submit.sh printed array job $A and diff job $D"
  else bad "[$1] submit.sh did not print both job ids"; return 1; fi
  local dep; dep="$(scontrol show job "$D" 2>/dev/null | grep -o 'Dependency=[^ ]*' || true)"
  check "[$1] diff job depends on the array with afterany ($dep)" grep -q "afterany:${A}" <<<"$dep"
  if wait_jobs "$A" "$D"; then ok "[$1] both jobs finished in $(( $(date +%s) - t1 )) s"
  else bad "[$1] jobs did not finish"; scancel "$A" "$D" 2>/dev/null; return 1; fi
}

# common_checks NAME: launcher-level checks valid for the fake and the real binary.
common_checks() {
  local s="$1" M="$WS/slurm/$A" i last=0 e
  for i in $(seq 0 $((N - 1))); do
    check "[$s] shard $i wrote its exit marker" test -s "$M/shard-$i.exit"
    check "[$s] log layercard-run-${A}_$i.log exists" test -s "$WS/logs/slurm/layercard-run-${A}_$i.log"
    e="$(kv "$M/shard-$i.exit" ended)"; [ -n "$e" ] && fge "$e" "$last" && last="$e"
  done
  check "[$s] diff log layercard-diff-$D.log exists" test -s "$WS/logs/slurm/layercard-diff-$D.log"
  check "[$s] diff job started after the last shard ended" fge "$(kv "$M/diff.start" started)" "$last"
  check "[$s] diff job saw all $N shard markers" test "$(kv "$M/diff.start" shards_present | wc -w)" -eq "$N"
  check "[$s] diff job finished with exit 0" test "$(kv "$M/diff.exit" exit)" = 0
}

# fake_checks NAME: per-checkpoint checks from the fake binary's records.
fake_checks() {
  local s="$1" F="$WS/fake" i idx
  mapfile -t entries < <(find "$MODELS" -mindepth 1 -maxdepth 1 ! -name '.*' -print | LC_ALL=C sort)
  for i in $(seq 0 $((N - 1))); do
    check "[$s] shard $i took its shard from SLURM_ARRAY_* (source=slurm)" test "$(kv "$F/shard-$i-of-$N.meta" source)" = slurm
    check "[$s] shard $i ran with OPENBLAS_NUM_THREADS = cpus per task (${LAYERCARD_CPUS:-1})" \
      test "$(kv "$F/shard-$i-of-$N.meta" openblas_threads)" = "${LAYERCARD_CPUS:-1}"
    expected="$(for idx in "${!entries[@]}"; do [ $((idx % N)) -eq "$i" ] && printf '%s\n' "${entries[$idx]}"; done)"
    check "[$s] shard $i processed exactly the entries with index ≡ $i mod $N" \
      test "$(cat "$F/shard-$i-of-$N.txt" 2>/dev/null)" = "$expected"
  done
  local dups missing
  dups="$(cat "$F"/shard-*-of-$N.txt 2>/dev/null | LC_ALL=C sort | uniq -d | wc -l)"
  missing="$(comm -23 <(printf '%s\n' "${entries[@]}") <(cat "$F"/shard-*-of-$N.txt 2>/dev/null | LC_ALL=C sort) | wc -l)"
  check "[$s] each of the ${#entries[@]} checkpoints processed exactly once (dups=$dups missing=$missing)" \
    test "$dups" -eq 0 -a "$missing" -eq 0
  check "[$s] the hidden entry was not processed" sh -c "! grep -q '/.hidden' '$F'/shard-*.txt"
  # Overlap of two shards' run intervals proves array tasks share the node (select/cons_tres, not linear).
  local overlap=0 a b
  for a in $(seq 0 $((N - 1))); do for b in $(seq $((a + 1)) $((N - 1))); do
    if fge "$(kv "$F/shard-$b-of-$N.meta" ended)" "$(kv "$F/shard-$a-of-$N.meta" started)" \
       && fge "$(kv "$F/shard-$a-of-$N.meta" ended)" "$(kv "$F/shard-$b-of-$N.meta" started)"; then overlap=1; fi
  done; done
  check "[$s] at least two shards ran concurrently on the node" test "$overlap" = 1
  for pair in "smollm2-v1--smollm2-v2" "smollm2-v2--smollm2-v3"; do
    check "[$s] diff $pair ran after all $N shard files existed" \
      test "$(kv "$F/diff-$pair.txt" shards_present | wc -w)" -eq "$N"
  done
  check "[$s] no other diff pairs were run" test "$(find "$F" -maxdepth 1 -name 'diff-*.txt' | wc -l)" -eq 2
}

# real_checks NAME: with the real binary, every model in the workspace was ingested by exactly one shard
# (from the "<status> <model> ingest: ..." lines each shard prints) and status shows no missing stage.
real_checks() {
  local s="$1" ids id n
  ids="$("$LAYERCARD_BIN" status --workspace "$WS" --json | python3 -c 'import json,sys; print("\n".join(m["model"] for m in json.load(sys.stdin)["models"]))')"
  check "[$s] the workspace has models after the run" test -n "$ids"
  while IFS= read -r id; do
    [ -n "$id" ] || continue
    n="$(cat "$WS"/logs/slurm/layercard-run-"${A}"_*.log | grep -cE "^(ok|failed|unsupported) +$id ingest: ")"
    check "[$s] $id ingested by exactly one shard (got $n)" test "$n" -eq 1
  done <<<"$ids"
  # Only the stages this run was asked for (LAYERCARD_RUN_ARGS may say --stages a,b) must be done.
  local want
  want="$(python3 -c 'import sys; a=sys.argv[1].split(); print(a[a.index("--stages")+1] if "--stages" in a else "")' "${LAYERCARD_RUN_ARGS:-}")"
  check "[$s] status shows no missing or stale stage${want:+ among $want}" sh -c "'$LAYERCARD_BIN' status --workspace '$WS' --json | python3 -c '
import json, sys
want = set(filter(None, sys.argv[1].split(\",\")))
bad = [(m[\"model\"], e[\"stage\"], e[\"state\"]) for m in json.load(sys.stdin)[\"models\"] for e in m[\"stages\"]
       if (not want or e[\"stage\"] in want) and e[\"state\"] in (\"missing\", \"stale\")]
sys.exit(1 if bad else 0)' '$want'"
}

if run_scenario ok; then
  common_checks ok
  for i in $(seq 0 $((N - 1))); do
    c="$(kv "$WS/slurm/$A/shard-$i.exit" exit)"
    if [ "$FAKE" = 1 ]; then check "[ok] shard $i exit 0" test "$c" = 0
    else check "[ok] shard $i exit $c is 0 or 1 (not a usage error)" test "$c" = 0 -o "$c" = 1; fi
  done
  if [ "$FAKE" = 1 ]; then fake_checks ok; else real_checks ok; fi
  check "[ok] layercard status --workspace exits 0" "$LAYERCARD_BIN" status --workspace "$WS"
fi

if [ "$FAKE" = 1 ]; then
  # A failing shard must not block the diff of the others (afterany, not afterok). 2 CPUs per task here.
  if FAKE_LAYERCARD_FAIL_SHARD=1 LAYERCARD_CPUS=2 run_scenario fail1; then
    common_checks fail1
    check "[fail1] shard 1 exit 1 recorded" test "$(kv "$WS/slurm/$A/shard-1.exit" exit)" = 1
    check "[fail1] shard 0 exit 0 recorded" test "$(kv "$WS/slurm/$A/shard-0.exit" exit)" = 0
    check "[fail1] LAYERCARD_CPUS=2 -> OPENBLAS_NUM_THREADS=2 in the task" \
      test "$(kv "$WS/fake/shard-0-of-$N.meta" openblas_threads)" = 2
    check "[fail1] diff log names the failed shard" grep -q 'non-zero: shard-1.exit' "$WS/logs/slurm/layercard-diff-$D.log"
    check "[fail1] layercard status exits non-zero" sh -c "! '$LAYERCARD_BIN' status --workspace '$WS' >/dev/null"
  fi
fi
finish
