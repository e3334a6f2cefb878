#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, from Debian's packages, for testing the job-array
# recipe of docs/scale-out.md (scripts/slurm/*.sbatch) where it will run: under sbatch.
#
#   scripts/slurm/local-cluster.sh up       install what is missing, write the configuration,
#                                           start munged, slurmctld and slurmd; waits until the
#                                           node takes jobs. Idempotent: a running cluster is
#                                           checked and left as it is.
#   scripts/slurm/local-cluster.sh down     stop the three daemons and clear the cluster's state
#   scripts/slurm/local-cluster.sh status   which daemons run, and the node as sinfo sees it
#
# Needs root (daemons, /etc/slurm) and, on a machine without the packages, apt-get (Debian or
# Ubuntu: slurmctld slurmd slurm-client munge). It says what it lacks and exits 1 otherwise.
# The node gets every CPU `slurmd -C` reports; jobs are tracked without cgroups
# (proctrack/linuxproc), so it also runs inside containers and VMs without systemd.
#
# It writes /etc/slurm/slurm.conf only when that file is absent or was written by this script
# (a marker line): an administrator's configuration is never replaced.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARKER="# written by autojudge-rs scripts/slurm/local-cluster.sh"
STATE=/var/lib/autojudge-slurm
LOGS=/var/log/autojudge-slurm
PACKAGES=(slurmctld slurmd slurm-client munge)

die() {
  echo "local-cluster: $*" >&2
  exit 1
}

daemon_running() {
  pgrep -x "$1" > /dev/null
}

need_root() {
  [[ $(id -u) == 0 ]] || die "needs root (it starts munged, slurmctld and slurmd and writes $CONF)"
}

install_packages() {
  local missing=()
  for b in slurmctld slurmd sbatch munged; do
    command -v "$b" > /dev/null || PATH=$PATH:/usr/sbin command -v "$b" > /dev/null || missing+=("$b")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  command -v apt-get > /dev/null \
    || die "missing ${missing[*]} and no apt-get: install Slurm (slurmctld, slurmd, the client) and munge"
  echo "local-cluster: installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${PACKAGES[@]}" > /dev/null \
    || { apt-get update -q > /dev/null && apt-get install -y -q "${PACKAGES[@]}" > /dev/null; } \
    || die "apt-get could not install ${PACKAGES[*]}"
}

write_config() {
  if [[ -f $CONF ]] && ! grep -qxF "$MARKER" "$CONF"; then
    die "$CONF exists and was not written by this script: not replacing it"
  fi
  local node host
  # The hardware line as slurmd sees it (CPUs, sockets, cores, threads, memory), so the
  # controller never drains the node for a configuration that differs from the hardware.
  node=$(slurmd -C | head -n 1)
  [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  host=${node%% *}
  host=${host#NodeName=}
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d" "$LOGS"
  chown slurm:slurm "$STATE/ctld" "$LOGS"
  cat > "$CONF.tmp" << EOF
$MARKER
ClusterName=autojudge-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=5
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  echo "$host" > "$STATE/node"
}

start_munge() {
  daemon_running munged && return
  [[ -s /etc/munge/munge.key ]] || die "no /etc/munge/munge.key (the munge package creates it)"
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
}

wait_for_node() {
  local host state
  host=$(cat "$STATE/node")
  for _ in $(seq 120); do
    state=$(sinfo -h -n "$host" -o %T 2> /dev/null || true)
    case $state in
      idle* | mixed* | allocated*) return 0 ;;
      down* | drain*) scontrol update nodename="$host" state=resume 2> /dev/null || true ;;
    esac
    sleep 0.5
  done
  die "the node did not become ready (state '${state:-none}'; logs in $LOGS)"
}

up() {
  need_root
  install_packages
  write_config
  start_munge
  munge -n | unmunge > /dev/null || die "munge cannot encode and decode a credential"
  daemon_running slurmctld || /usr/sbin/slurmctld || die "slurmctld did not start ($LOGS/slurmctld.log)"
  daemon_running slurmd || /usr/sbin/slurmd || die "slurmd did not start ($LOGS/slurmd.log)"
  wait_for_node
  echo "local-cluster: up ($(sinfo -h -o '%P %D node(s) %c CPUs %T'))"
}

stop_daemon() {
  local name=$1
  daemon_running "$name" || return 0
  pkill -x "$name" || true
  for _ in $(seq 50); do
    daemon_running "$name" || return 0
    sleep 0.2
  done
  pkill -9 -x "$name" || true
}

down() {
  need_root
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
  rm -rf "${STATE:?}/ctld" "${STATE:?}/d"
  echo "local-cluster: down"
}

status() {
  for d in munged slurmctld slurmd; do
    if daemon_running "$d"; then echo "$d: running"; else echo "$d: not running"; fi
  done
  if daemon_running slurmctld; then sinfo; fi
}

case ${1:-status} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up|down|status" ;;
esac
