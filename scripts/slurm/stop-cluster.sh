#!/usr/bin/env bash
# Stop the single-node Slurm cluster started by start-cluster.sh: slurmd, slurmctld, then munged.
# Uses `scontrol shutdown` when the controller answers, then falls back to SIGTERM/SIGKILL by the PIDs
# in the daemons' pid files (never by process name). Safe to run when nothing is running.
# Usage: stop-cluster.sh [--keep-munge]
set -uo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
KEEP_MUNGE=0
[ "${1:-}" = "--keep-munge" ] && KEEP_MUNGE=1

pid_of() { [ -s "$1" ] && tr -dc '0-9' <"$1"; }
alive() { local p; p="$(pid_of "$1")" && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
# stop_pidfile NAME PIDFILE: TERM, wait up to 15 s, then KILL.
stop_pidfile() {
  local name="$1" f="$2" p _
  alive "$f" || { echo "stop-cluster: $name not running"; return 0; }
  p="$(pid_of "$f")"
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$p" 2>/dev/null; then
    echo "stop-cluster: $name (pid $p) ignored SIGTERM for 15 s; sending SIGKILL"
    kill -KILL "$p" 2>/dev/null || true
  fi
  echo "stop-cluster: $name stopped"
}

if alive /run/slurmctld.pid && command -v scontrol >/dev/null 2>&1; then
  scontrol shutdown >/dev/null 2>&1 || true   # asks slurmd and slurmctld to exit
  for _ in $(seq 1 20); do
    alive /run/slurmctld.pid || alive /run/slurmd.pid || break
    sleep 0.5
  done
  alive /run/slurmctld.pid || alive /run/slurmd.pid || echo "stop-cluster: slurmctld and slurmd stopped (scontrol shutdown)"
fi
stop_pidfile slurmd /run/slurmd.pid
stop_pidfile slurmctld /run/slurmctld.pid
[ "$KEEP_MUNGE" = 1 ] || stop_pidfile munged /run/munge/munged.pid
exit 0
