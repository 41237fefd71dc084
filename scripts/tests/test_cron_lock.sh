#!/usr/bin/env bash
# Tests pipelines/cron/layercard-nightly.sh: the flock (a concurrent second run exits 0 with "another run holds
# the lock" and runs nothing), exit-code propagation from `layercard run`, that status runs after a failed run,
# log rotation (newest 30 kept) and usage errors. LAYERCARD_BIN defaults to scripts/tests/fake-layercard.sh;
# set it (and MODELS_DIR) to test the real binary. A tiny shim around the binary adds a delay so the two
# runs overlap for certain. No root or Slurm needed. Last line: "N passed, N failed".
set -uo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
W="$REPO/pipelines/cron/layercard-nightly.sh"
PASS=0; FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { local d="$1"; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
finish() { echo "$PASS passed, $FAIL failed"; [ "$FAIL" -eq 0 ]; exit $?; }

REAL_BIN="${LAYERCARD_BIN:-$REPO/scripts/tests/fake-layercard.sh}"
REAL_BIN="$(command -v -- "$REAL_BIN")" || { bad "LAYERCARD_BIN not found"; finish; }
FAKE=0; [ "$(basename "$REAL_BIN")" = fake-layercard.sh ] && FAKE=1
TMP="$(mktemp -d /tmp/layercard-cron-test.XXXXXX)"
[ "${KEEP_TMP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT
if [ "$FAKE" = 1 ] || [ -z "${MODELS_DIR:-}" ]; then
  MODELS="$TMP/models"; mkdir -p "$MODELS/m1"; : >"$MODELS/m2.gguf"
  [ "$FAKE" = 1 ] || MODELS="${LAYERCARD_CACHE:-$HOME/.cache/layercard}/models"
else MODELS="$MODELS_DIR"; fi
unset LAYERCARD_VERSIONS

# Shim: `run` sleeps SHIM_SLEEP s first; SHIM_RUN_EXIT makes `run` exit with that code without running.
SHIM="$TMP/layercard-shim.sh"
cat >"$SHIM" <<EOF
#!/usr/bin/env bash
if [ "\${1:-}" = run ]; then
  sleep "\${SHIM_SLEEP:-0}"
  [ -n "\${SHIM_RUN_EXIT:-}" ] && { echo "shim: run forced to exit \$SHIM_RUN_EXIT"; exit "\$SHIM_RUN_EXIT"; }
fi
exec "$REAL_BIN" "\$@"
EOF
chmod +x "$SHIM"
export LAYERCARD_BIN="$SHIM"
nlogs() { find "$1/logs" -maxdepth 1 -name 'nightly-*.log' 2>/dev/null | wc -l; }

# 1. Lock held by someone else (deterministic): exit 0, message, nothing run, no run log.
WS="$TMP/ws1"; mkdir -p "$WS"
flock "$WS/.layercard-cron.lock" sleep 30 & holder=$!
for _ in $(seq 1 50); do flock -n "$WS/.layercard-cron.lock" true 2>/dev/null || break; sleep 0.1; done
out="$("$W" "$MODELS" "$WS" 2>&1)"; code=$?
check "held lock: wrapper exits 0 (got $code)" test "$code" = 0
check "held lock: prints 'another run holds the lock'" grep -q 'another run holds the lock' <<<"$out"
check "held lock: no run log was written" test "$(nlogs "$WS")" = 0
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null

# 2. Two concurrent wrapper invocations: exactly one runs.
WS="$TMP/ws2"; mkdir -p "$WS"
SHIM_SLEEP=4 "$W" "$MODELS" "$WS" >"$TMP/first.out" 2>&1 & first=$!
for _ in $(seq 1 100); do [ "$(nlogs "$WS")" -ge 1 ] && break; sleep 0.1; done   # first holds the lock now
t=$(date +%s)
SHIM_SLEEP=4 "$W" "$MODELS" "$WS" >"$TMP/second.out" 2>&1; c2=$?
check "concurrent: second exits 0 (got $c2) immediately ($(( $(date +%s) - t )) s)" test "$c2" = 0 -a $(( $(date +%s) - t )) -lt 3
check "concurrent: second prints 'another run holds the lock'" grep -q 'another run holds the lock' "$TMP/second.out"
wait "$first"; c1=$?
log="$(find "$WS/logs" -maxdepth 1 -name 'nightly-*.log' | head -1)"
check "concurrent: exactly one run log" test "$(nlogs "$WS")" = 1
check "concurrent: first exit ($c1) equals the run exit in its log" grep -q "run exit $c1 " "$log"
check "concurrent: status ran after the run (summary on stdout)" grep -q 'status exit' "$TMP/first.out"
if [ "$FAKE" = 1 ]; then
  check "concurrent: first exits 0" test "$c1" = 0
  check "concurrent: the run processed the models unsharded (shard 0/1)" test -s "$WS/fake/shard-0-of-1.txt"
fi
# The lock is released when the run ends: a third invocation runs.
"$W" "$MODELS" "$WS" >"$TMP/third.out" 2>&1; c3=$?
# The real binary exits 1 when MODELS_DIR holds broken checkpoints; the lock behaviour is what counts here.
want3=0; [ "$FAKE" = 1 ] || want3="$c1"
check "after release: third run takes the lock (exit $c3, want $want3, no lock message, 2 logs)" \
  sh -c "test $c3 = $want3 && ! grep -q 'another run holds' '$TMP/third.out' && test $(nlogs "$WS") = 2"

# 3. Exit code of `layercard run` is the wrapper's exit code; status still runs.
WS="$TMP/ws3"; mkdir -p "$WS"
SHIM_RUN_EXIT=1 "$W" "$MODELS" "$WS" >"$TMP/fail.out" 2>&1; c=$?
check "run exit 1 -> wrapper exit 1 (got $c)" test "$c" = 1
check "run exit 1 -> status still ran" grep -q 'status exit' "$TMP/fail.out"
if [ "$FAKE" = 1 ]; then
  FAKE_LAYERCARD_EXIT=1 "$W" "$MODELS" "$WS" >"$TMP/fail2.out" 2>&1; c=$?
  check "fake checkpoint failure: wrapper exit 1 and status reports it (got $c)" \
    sh -c "test $c = 1 && grep -q 'status exit 1' '$TMP/fail2.out'"
fi

# 4. Rotation: with 35 old logs, a run leaves the newest 30 (its own included).
WS="$TMP/ws4"; mkdir -p "$WS/logs"
for i in $(seq -w 1 35); do : >"$WS/logs/nightly-20000101T0000${i}Z-1.log"; done
"$W" "$MODELS" "$WS" >/dev/null 2>&1
check "rotation: 30 logs kept (got $(nlogs "$WS"))" test "$(nlogs "$WS")" = 30
check "rotation: the oldest 6 were removed" sh -c "! ls '$WS/logs' | grep -qE 'nightly-20000101T0000(0[1-6])Z'"
check "rotation: old log #07 kept" test -e "$WS/logs/nightly-20000101T000007Z-1.log"

# 5. Usage errors exit 2.
"$W" >/dev/null 2>&1; c=$?
check "no arguments -> exit 2 (got $c)" test "$c" = 2
"$W" "$TMP/does-not-exist" "$TMP/ws5" >/dev/null 2>&1; c=$?
check "missing MODELS_DIR -> exit 2 (got $c)" test "$c" = 2
finish
