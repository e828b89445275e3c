#!/usr/bin/env bash
# Real Slurm, Postgres and Redis on loopback, for the cluster tests and benchmarks.
#
#   scripts/services.sh up [slurm] [postgres] [redis]   install what is missing, start, wait until ready
#   scripts/services.sh down                            stop everything this script started
#   scripts/services.sh stop|start postgres|redis       stop one server, or start it again on the
#                                                       data it had (fault tests: a server that goes away)
#   scripts/services.sh env                             print the variables the tests read
#
# Everything lives under $LINEA_SERVICES_DIR (default /tmp/linea-services): data, logs, pid files,
# slurm.conf, and env.sh with LINEA_TEST_POSTGRES, LINEA_TEST_REDIS and SLURM_CONF. Needs root
# (the daemons run as munge, postgres and root, as on a real cluster) and Debian's packages
# slurm-wlm, munge, postgresql and redis-server, installed with apt when missing.
set -euo pipefail
DIR=${LINEA_SERVICES_DIR:-/tmp/linea-services}
PG_PORT=${LINEA_PG_PORT:-55432}
REDIS_PORT=${LINEA_REDIS_PORT:-56379}
SLURM_CPUS=${LINEA_SLURM_CPUS:-8}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)

say() { echo "services: $*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    say "starting $1 needs root (its daemons run as their own users); run: sudo $0 up $1"
    exit 1
  fi
}

install() { # install <package...> when a command is missing
  if command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
  else
    say "cannot install $* (no apt-get); install them and run again"
    exit 1
  fi
}

wait_for() { # wait_for <what> <seconds> <command...>
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  say "$what did not come up in ${seconds}s"
  return 1
}

up_postgres() {
  need_root postgres
  [ -n "$PG_BIN" ] || { install postgresql; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
  local data=$DIR/postgres
  if [ -f "$data/postmaster.pid" ] && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then return 0; fi
  rm -rf "$data"
  mkdir -p "$data"
  chown postgres "$data"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$data" -A trust -U postgres >"$DIR/postgres-init.log" 2>&1
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $PG_PORT -k $data -h 127.0.0.1" start >/dev/null
  runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres linea
}

# Start the stopped server on the data it had (up_postgres would start a fresh one).
start_postgres() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$DIR/postgres" -l "$DIR/postgres/server.log" -w \
    -o "-p $PG_PORT -k $DIR/postgres -h 127.0.0.1" start >/dev/null
}

down_postgres() {
  local data=$DIR/postgres
  [ -n "$PG_BIN" ] && [ -f "$data/postmaster.pid" ] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

up_redis() {
  command -v redis-server >/dev/null || { need_root redis; install redis-server; }
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
  wait_for redis 10 redis-cli -p "$REDIS_PORT" ping
}

start_redis() { up_redis; }

down_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

slurm_conf() {
  local s=$DIR/slurm
  cat >"$s/slurm.conf" <<EOF
ClusterName=linea
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$s/state
SlurmdSpoolDir=$s/spool
SlurmctldPidFile=$s/slurmctld.pid
SlurmdPidFile=$s/slurmd.pid
SlurmctldLogFile=$s/slurmctld.log
SlurmdLogFile=$s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$s/jobcomp.txt
MinJobAge=300
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$SLURM_CPUS RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

up_slurm() {
  need_root slurm
  command -v slurmctld >/dev/null && command -v munged >/dev/null || install slurm-wlm munge
  local s=$DIR/slurm
  export SLURM_CONF=$s/slurm.conf
  if [ -f "$s/slurmctld.pid" ] && kill -0 "$(cat "$s/slurmctld.pid")" 2>/dev/null && scontrol ping >/dev/null 2>&1; then return 0; fi
  # A fresh state restarts job ids at 1: old job records must go with it.
  rm -rf "$s"
  mkdir -p "$s/state" "$s/spool"
  slurm_conf
  [ -f /etc/munge/munge.key ] || mungekey -c >/dev/null 2>&1 || mungekey --create
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  mkdir -p /run/munge && chown munge:munge /run/munge
  if ! pgrep -x munged >/dev/null; then runuser -u munge -- munged; fi
  slurmctld -c
  slurmd -N localhost
  wait_for slurmctld 15 scontrol ping
  wait_for 'the slurm node' 15 bash -c "sinfo -h -o '%t' | grep -qE '^(idle|mix|alloc)'"
  # The first scheduling pass comes a few seconds after slurmctld starts: one probe job first.
  local id
  id=$(sbatch --parsable --output=/dev/null --wrap true)
  wait_for 'the first slurm job' 30 bash -c "! squeue -h -j $id -o %T | grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING'"
}

down_slurm() {
  local s=$DIR/slurm
  [ -f "$s/slurm.conf" ] || return 0
  export SLURM_CONF=$s/slurm.conf
  scancel --user "$(id -un)" >/dev/null 2>&1 || true
  scontrol shutdown >/dev/null 2>&1 || true
  for pid in "$s/slurmd.pid" "$s/slurmctld.pid"; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; done
  pkill -x munged 2>/dev/null || true
}

write_env() {
  cat >"$DIR/env.sh" <<EOF
export LINEA_TEST_POSTGRES=postgres://postgres@127.0.0.1:$PG_PORT/linea
export LINEA_TEST_REDIS=redis://127.0.0.1:$REDIS_PORT
export SLURM_CONF=$DIR/slurm/slurm.conf
EOF
}

command=${1:-}
shift || true
mkdir -p "$DIR"
chmod 755 "$DIR"
case $command in
  up)
    wanted=${*:-slurm postgres redis}
    for service in $wanted; do
      t0=$(date +%s.%N)
      "up_$service"
      say "$service ready ($(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s)"
    done
    write_env
    ;;
  down)
    down_slurm
    down_postgres
    down_redis
    ;;
  stop | start)
    for service in "$@"; do
      case $service in
        postgres | redis) if [ "$command" = stop ]; then "down_$service"; else "start_$service"; fi ;;
        *) say "$command: one of postgres, redis"; exit 2 ;;
      esac
    done
    ;;
  env)
    write_env
    cat "$DIR/env.sh"
    ;;
  *)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
