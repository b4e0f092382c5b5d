#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, so that tests/workflow/test_slurm.py runs the workflow
# through profiles/slurm on a real scheduler. Usage: .ci/slurm.sh up | down | status
#
# Plain background daemons (CI has no systemd): munged (as user munge), MariaDB on its own data
# folder and port, slurmdbd, slurmctld, slurmd. Accounting (slurmdbd) is what makes `sacct`
# work: without it the executor plugin never sees a job finish unless told to use squeue.
# Needs root (CI runs as root on Debian 12); missing Debian packages are installed.
#
# up is idempotent: a daemon this script started and that is still running is left alone.
# down stops only the daemons this script started, by their PID files, and removes the config
# files it wrote. State, logs and PID files live in $HAICPRED_SLURM_DIR (/tmp/haicpred-slurm);
# only the configs must be in /etc/slurm (the plugin's job steps clear SLURM_CONF).
set -euo pipefail

STATE_DIR=${HAICPRED_SLURM_DIR:-/tmp/haicpred-slurm}
RUN_DIR=$STATE_DIR/run  # PID files of the slurm daemons (root)
LOG_DIR=$STATE_DIR/log
MUNGE_DIR=$STATE_DIR/munge  # munged's PID, log and seed files; owned by munge
DB_DIR=$STATE_DIR/mariadb  # data folder, owned by mysql
DB_RUN_DIR=$STATE_DIR/mariadb-run  # socket and PID file, owned by mysql
DB_SOCKET=$DB_RUN_DIR/mariadb.sock
DB_PORT=3307  # not 3306, where a MariaDB of the machine may listen
SLURM_CONF=/etc/slurm/slurm.conf
SLURMDBD_CONF=/etc/slurm/slurmdbd.conf
MARKER="# written by haicpred .ci/slurm.sh"  # only such files are overwritten or removed
CLUSTER=haicpred-ci
PARTITION=debug  # tests/workflow/test_slurm.py submits here
ACCOUNT=haicpred  # and charges this account, which root belongs to
STARTUP_TIMEOUT=60  # seconds a daemon may take to answer

log() { echo "slurm.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# wait_for SECONDS WHAT COMMAND...: poll COMMAND until it succeeds, or fail naming WHAT.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$what did not come up within ${timeout}s; logs in $LOG_DIR and $MUNGE_DIR"
    fi
    sleep 0.2
  done
}

running() {  # running PIDFILE: the process named in PIDFILE is alive
  [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

install_packages() {
  local missing=0 tool
  for tool in munged mariadbd mariadb-install-db slurmdbd slurmctld slurmd sbatch sacctmgr; do
    command -v "$tool" >/dev/null 2>&1 || missing=1
  done
  ((missing)) || return 0
  log "installing slurm, munge and mariadb (apt)"
  export DEBIAN_FRONTEND=noninteractive
  # the packages would start their daemons with Debian's configs; this script starts its own.
  # A policy-rc.d that refuses every start (Docker images ship one) stops that.
  local policy=/usr/sbin/policy-rc.d added_policy=0 status=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && added_policy=1
  fi
  apt-get update -qq && apt-get install -y -qq --no-install-recommends \
    munge mariadb-server slurmdbd slurmctld slurmd slurm-client >/dev/null || status=$?
  if ((added_policy)); then rm -f "$policy"; fi
  return "$status"
}

# write_config PATH MODE: stdin to PATH, unless PATH exists and is not ours (a real cluster's).
# Sets CONFIG_CHANGED when the file's content changed.
CONFIG_CHANGED=0
write_config() {
  local path=$1 mode=$2
  if [[ -e $path ]] && ! grep -qxF "$MARKER" "$path"; then
    die "$path exists and was not written by this script; not overwriting it"
  fi
  local content
  content=$(cat)
  if [[ -e $path && $content == "$(cat "$path")" ]]; then
    return
  fi
  mkdir -p "$(dirname "$path")"
  install -m "$mode" /dev/null "$path"
  printf '%s\n' "$content" >"$path"
  CONFIG_CHANGED=1
}

start_munge() {
  [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
  # slurm's auth/munge talks to the default socket, so munged's socket folder is the default
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 "$MUNGE_DIR"
  if running "$MUNGE_DIR/munged.pid"; then
    return
  fi
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "using the munged already running on this machine"
    return
  fi
  runuser -u munge -- munged --pid-file="$MUNGE_DIR/munged.pid" \
    --log-file="$MUNGE_DIR/munged.log" --seed-file="$MUNGE_DIR/munged.seed"
  wait_for "$STARTUP_TIMEOUT" munged sh -c 'munge -n </dev/null | unmunge'
}

db_password() {  # generated once per state folder; the database only listens on 127.0.0.1
  if [[ ! -s $STATE_DIR/db-password ]]; then
    (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$STATE_DIR/db-password")
  fi
  cat "$STATE_DIR/db-password"
}

start_mariadb() {
  install -d -o mysql -g mysql -m 0700 "$DB_DIR" "$DB_RUN_DIR"
  if [[ ! -d $DB_DIR/mysql ]]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$DB_DIR" \
      --auth-root-authentication-method=socket >"$LOG_DIR/mariadb-install.log" 2>&1
  fi
  if ! running "$DB_RUN_DIR/mariadbd.pid"; then
    # --no-defaults: none of the machine's MariaDB settings (socket, port, data folder) apply
    # the lock wait timeout slurmdbd asks for (its buffer pool advice is for big clusters)
    setsid mariadbd --no-defaults --user=mysql --datadir="$DB_DIR" --socket="$DB_SOCKET" \
      --pid-file="$DB_RUN_DIR/mariadbd.pid" --port="$DB_PORT" --bind-address=127.0.0.1 \
      --skip-name-resolve --innodb-lock-wait-timeout=900 \
      --log-error="$LOG_DIR/mariadb.log" </dev/null >/dev/null 2>&1 &
    wait_for "$STARTUP_TIMEOUT" MariaDB mariadb-admin --no-defaults --socket="$DB_SOCKET" ping
  fi
  mariadb --no-defaults --socket="$DB_SOCKET" <<SQL
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$(db_password)';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
}

write_slurm_configs() {
  local host cpus memory_mb
  host=$(hostname -s)
  cpus=$(nproc)
  # what slurmd may hand out: the machine's memory less 1 GiB for the daemons and the OS
  memory_mb=$(($(free -m | awk '/^Mem:/ {print $2}') - 1024))
  write_config "$SLURMDBD_CONF" 0600 <<CONF
$MARKER
AuthType=auth/munge
DbdHost=$host
DbdAddr=127.0.0.1
SlurmUser=root
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$RUN_DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(db_password)
StorageLoc=slurm_acct_db
CONF
  write_config "$SLURM_CONF" 0644 <<CONF
$MARKER
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
# no cgroups in CI containers: track processes through /proc, bind no tasks
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
# a job must name an account its user belongs to, as on most real clusters
AccountingStorageEnforce=associations
# finished jobs stay visible to squeue/scontrol for 10 minutes
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
MailProg=/bin/true  # no mail in CI
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

register_account() {
  if [[ -z $(sacctmgr -n list cluster "$CLUSTER" format=cluster) ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  if [[ -z $(sacctmgr -n list account "$ACCOUNT" format=account) ]]; then
    sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="haicpred CI" \
      organization=haicpred >/dev/null
  fi
  if [[ -z $(sacctmgr -n list association user=root account="$ACCOUNT" format=user) ]]; then
    sacctmgr -i add user root account="$ACCOUNT" cluster="$CLUSTER" >/dev/null
  fi
}

node_ready() {  # the node accepts jobs
  [[ $(sinfo -h -n "$(hostname -s)" -o %t) =~ ^(idle|mix|alloc)$ ]]
}

up() {
  [[ $(id -u) -eq 0 ]] || die "up needs root (it writes /etc/slurm and runs the daemons)"
  install_packages
  install -d -m 0755 "$STATE_DIR" "$RUN_DIR" "$LOG_DIR" "$STATE_DIR/slurmctld" \
    "$STATE_DIR/slurmd"
  start_munge
  start_mariadb
  write_slurm_configs
  if ! running "$RUN_DIR/slurmdbd.pid"; then
    slurmdbd  # forks; writes its PID file
  fi
  wait_for "$STARTUP_TIMEOUT" slurmdbd sacctmgr -n list cluster
  register_account
  running "$RUN_DIR/slurmctld.pid" || slurmctld
  wait_for "$STARTUP_TIMEOUT" slurmctld scontrol ping
  running "$RUN_DIR/slurmd.pid" || slurmd
  if ((CONFIG_CHANGED)); then
    scontrol reconfigure  # daemons left running by an earlier `up` read the new slurm.conf
  fi
  wait_for "$STARTUP_TIMEOUT" "slurmd (node $(hostname -s))" node_ready
  log "up: cluster $CLUSTER, partition $PARTITION, account $ACCOUNT ($STATE_DIR)"
}

stop() {  # stop NAME PIDFILE: TERM, then KILL after 15 s; only a process this script started
  local name=$1 pidfile=$2 pid
  running "$pidfile" || { rm -f "$pidfile"; return 0; }
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  local deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name ($pid) ignored TERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

down() {
  if running "$RUN_DIR/slurmctld.pid"; then
    # jobs outlive slurmd (their slurmstepd is detached), so cancel them while the controller
    # still answers; this cluster only ever runs this repository's test jobs
    scancel --full "--partition=$PARTITION" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while [[ -n $(squeue -h -t running,completing -p "$PARTITION" 2>/dev/null) ]] \
        && ((SECONDS < deadline)); do
      sleep 0.5
    done
  fi
  stop slurmd "$RUN_DIR/slurmd.pid"
  stop slurmctld "$RUN_DIR/slurmctld.pid"
  stop slurmdbd "$RUN_DIR/slurmdbd.pid"
  stop MariaDB "$DB_RUN_DIR/mariadbd.pid"
  stop munged "$MUNGE_DIR/munged.pid"
  local config
  for config in "$SLURM_CONF" "$SLURMDBD_CONF"; do
    if [[ -e $config ]] && grep -qxF "$MARKER" "$config"; then
      rm -f "$config"
    fi
  done
  log "down (state and logs kept in $STATE_DIR)"
}

status() {
  local pidfile
  for pidfile in "$MUNGE_DIR/munged.pid" "$DB_RUN_DIR/mariadbd.pid" "$RUN_DIR/slurmdbd.pid" \
      "$RUN_DIR/slurmctld.pid" "$RUN_DIR/slurmd.pid"; do
    if running "$pidfile"; then
      echo "$(basename "$pidfile" .pid): running ($(cat "$pidfile"))"
    else
      echo "$(basename "$pidfile" .pid): not running"
    fi
  done
  [[ -e $SLURM_CONF ]] && sinfo 2>/dev/null || true
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 up | down | status" ;;
esac
