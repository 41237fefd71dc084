#!/usr/bin/env bash
# Start a single-node Slurm "cluster" (munged + slurmctld + slurmd on this host) for CI and local tests.
# Idempotent: installs only missing packages, rewrites slurm.conf only when it would change, and leaves
# healthy running daemons alone. Meant for throwaway Debian 12 machines/containers WITHOUT systemd, run as
# root. It is deliberately not a production Slurm set-up (SlurmUser=root, no accounting, no cgroups).
# Env knobs: SLURM_START_TIMEOUT (s, default 90), SLURM_MEM_MARGIN_MB (default max(1024, 10% of RAM)),
#            SLURM_PARTITION (default "debug"), SLURM_SKIP_INSTALL=1 (never call apt-get).
set -euo pipefail

TIMEOUT="${SLURM_START_TIMEOUT:-90}"
PARTITION="${SLURM_PARTITION:-debug}"
CONF=/etc/slurm/slurm.conf
CTLD_LOG=/var/log/slurm/slurmctld.log
SLURMD_LOG=/var/log/slurm/slurmd.log
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
MUNGE_LOG=/var/log/munge/munged.log
T0=$(date +%s)

say() { echo "start-cluster: $*"; }
# fail STEP MESSAGE [LOGFILE...]: say which step failed, show the relevant log tails, exit 1.
fail() {
  local step="$1" msg="$2"; shift 2
  echo "start-cluster: FAILED at step '$step': $msg" >&2
  local f
  for f in "$@"; do
    if [ -r "$f" ]; then
      echo "---- last 30 lines of $f ----" >&2
      tail -n 30 "$f" >&2
      echo "---- end of $f ----" >&2
    else
      echo "(log $f does not exist)" >&2
    fi
  done
  exit 1
}
# pid_alive PIDFILE: true if the file names a running process.
pid_alive() {
  local p
  [ -s "$1" ] || return 1
  p="$(tr -dc '0-9' <"$1")"
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}
# wait_for SECONDS CMD...: poll CMD every 0.5 s until it succeeds or time runs out.
wait_for() {
  local limit="$1"; shift
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}

[ "$(id -u)" -eq 0 ] || fail "preflight" "must run as root (it installs packages and starts system daemons)"

# 1. packages ---------------------------------------------------------------------------------------
need=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  [ "${SLURM_SKIP_INSTALL:-0}" = 1 ] && fail "install" "missing packages ${need[*]} and SLURM_SKIP_INSTALL=1"
  say "installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/tmp/start-cluster-apt.log 2>&1 || fail "install" "apt-get update failed" /tmp/start-cluster-apt.log
  apt-get install -y -qq --no-install-recommends "${need[@]}" >>/tmp/start-cluster-apt.log 2>&1 \
    || fail "install" "apt-get install ${need[*]} failed" /tmp/start-cluster-apt.log
fi
for b in slurmctld slurmd sinfo scontrol munged munge unmunge; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || fail "install" "binary '$b' not found after install"
done
export PATH="$PATH:/usr/sbin:/sbin"

# 2. directories (systemd would create /run/munge via RuntimeDirectory=; we have no systemd) ------
mkdir -p /run/munge /var/log/munge /var/lib/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /etc/slurm
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge

# 3. munge ----------------------------------------------------------------------------------------
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if [ ! -s /etc/munge/munge.key ]; then
  say "creating /etc/munge/munge.key"
  runuser -u munge -- mungekey -c >/dev/null 2>&1 || fail "munge key" "mungekey -c failed"
fi
if munge_ok; then
  say "munged already running"
else
  if pid_alive "$MUNGE_PID"; then kill "$(tr -dc '0-9' <"$MUNGE_PID")" 2>/dev/null || true; sleep 1; fi
  # --force: start even if a stale socket/lock from an unclean shutdown is left behind.
  runuser -u munge -- /usr/sbin/munged --force >/dev/null 2>&1 || fail "munged" "munged did not start" "$MUNGE_LOG"
  wait_for 15 munge_ok || fail "munged" "munge -n | unmunge still fails 15 s after starting munged" "$MUNGE_LOG"
  say "munged started"
fi

# 4. hostname must resolve (slurmd finds its NodeName by hostname) -------------------------------
H="$(hostname -s)"
[ -n "$H" ] || fail "hostname" "hostname -s is empty"
if ! getent hosts "$H" >/dev/null 2>&1; then
  say "adding '127.0.0.1 $H' to /etc/hosts"
  echo "127.0.0.1 $H" >>/etc/hosts || fail "hostname" "cannot append to /etc/hosts"
  getent hosts "$H" >/dev/null 2>&1 || fail "hostname" "'$H' still does not resolve after editing /etc/hosts"
fi

# 5. slurm.conf from `slurmd -C` ----------------------------------------------------------------
HW="$(slurmd -C 2>/dev/null | head -1)" || true
[ -n "$HW" ] || fail "slurm.conf" "'slurmd -C' printed nothing"
field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<"$HW"; }
CPUS="$(field CPUs)"; MEM="$(field RealMemory)"
BOARDS="$(field Boards)"; SPB="$(field SocketsPerBoard)"; CPS="$(field CoresPerSocket)"; TPC="$(field ThreadsPerCore)"
{ [ -n "$CPUS" ] && [ -n "$MEM" ]; } || fail "slurm.conf" "cannot parse CPUs/RealMemory from: $HW"
MARGIN="${SLURM_MEM_MARGIN_MB:-$(( MEM / 10 > 1024 ? MEM / 10 : 1024 ))}"
[[ "$MARGIN" =~ ^[0-9]+$ ]] || fail "slurm.conf" "SLURM_MEM_MARGIN_MB must be a non-negative integer (got '$MARGIN')"
USEMEM=$(( MEM - MARGIN )); [ "$USEMEM" -ge 256 ] || USEMEM=$(( MEM > 256 ? MEM - 64 : MEM ))
TOPO=""
[ -n "$BOARDS" ] && [ -n "$SPB" ] && [ -n "$CPS" ] && [ -n "$TPC" ] \
  && TOPO=" Boards=$BOARDS SocketsPerBoard=$SPB CoresPerSocket=$CPS ThreadsPerCore=$TPC"
NEWCONF="$(mktemp)"
cat >"$NEWCONF" <<EOF
# Written by scripts/slurm/start-cluster.sh for a single-node CI cluster; regenerated on every start.
ClusterName=layercard-ci
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
# No cgroups in containers: track processes via /proc, no task binding.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
# NOT the select/linear default (whole-node allocation): let array tasks share the node per core.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MaxArraySize=1001
SlurmdTimeout=60
NodeName=$H NodeAddr=127.0.0.1 CPUs=$CPUS$TOPO RealMemory=$USEMEM State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
CONF_CHANGED=0
if ! cmp -s "$NEWCONF" "$CONF"; then
  install -m 0644 "$NEWCONF" "$CONF"
  CONF_CHANGED=1
  say "wrote $CONF (NodeName=$H CPUs=$CPUS RealMemory=$USEMEM of $MEM MB)"
fi
rm -f "$NEWCONF"

# 6. daemons ------------------------------------------------------------------------------------
ctld_ok() { pid_alive "$CTLD_PID" && scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_state() { sinfo -h -N -n "$H" -o '%T' 2>/dev/null | head -1; }
if [ "$CONF_CHANGED" = 1 ] && { pid_alive "$CTLD_PID" || pid_alive "$SLURMD_PID"; }; then
  say "configuration changed: restarting running daemons"
  "$(dirname "$0")/stop-cluster.sh" --keep-munge >/dev/null 2>&1 || true
fi
if ctld_ok; then
  say "slurmctld already running"
else
  if pid_alive "$CTLD_PID"; then kill "$(tr -dc '0-9' <"$CTLD_PID")" 2>/dev/null || true; sleep 1; fi
  slurmctld >/dev/null 2>&1 || fail "slurmctld" "slurmctld exited with an error at start-up" "$CTLD_LOG"
  wait_for 30 ctld_ok || fail "slurmctld" "'scontrol ping' does not report the controller UP after 30 s" "$CTLD_LOG"
  say "slurmctld started"
fi
if pid_alive "$SLURMD_PID"; then
  say "slurmd already running"
else
  slurmd >/dev/null 2>&1 || fail "slurmd" "slurmd exited with an error at start-up" "$SLURMD_LOG"
  wait_for 15 pid_alive "$SLURMD_PID" || fail "slurmd" "slurmd wrote no live PID to $SLURMD_PID within 15 s" "$SLURMD_LOG"
  say "slurmd started"
fi

# 7. wait for the node to be schedulable ------------------------------------------------------
end=$(( $(date +%s) + TIMEOUT ))
resumed=0
while :; do
  st="$(node_state)"
  case "$st" in
    idle|mixed|allocated|completing) break ;;
    down*|drain*|fail*)
      if [ "$resumed" -lt 3 ]; then
        say "node $H is '$st': resuming it"
        scontrol update nodename="$H" state=resume >/dev/null 2>&1 || true
        resumed=$(( resumed + 1 ))
      fi ;;
  esac
  if [ "$(date +%s)" -ge "$end" ]; then
    reason="$(scontrol show node "$H" 2>/dev/null | grep -o 'Reason=.*' || true)"
    fail "node idle" "node '$H' is '${st:-unknown to sinfo}' after ${TIMEOUT} s (expected idle). $reason" \
      "$SLURMD_LOG" "$CTLD_LOG"
  fi
  sleep 1
done
say "ready: node $H is '$st' in partition $PARTITION ($(( $(date +%s) - T0 )) s)"
