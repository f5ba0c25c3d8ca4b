#!/usr/bin/env bash
# Start a one-node Slurm cluster with accounting on 127.0.0.1, from Debian's packages, as root and
# without systemd: munged, mariadbd, slurmdbd, slurmctld, slurmd. Safe to run again: daemons that
# already run are kept. Ends with one line once the node is idle. Undo with stop.sh.
#
# Settings (environment): SLURM_LOCAL_DIR (state, logs, database; default /var/tmp/r1exp-slurm),
# SLURM_LOCAL_CLUSTER (r1exp), SLURM_LOCAL_PARTITION (debug), SLURM_LOCAL_DB_PORT (3307),
# SLURM_LOCAL_INSTALL=0 to skip apt-get.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${SLURM_LOCAL_DIR:-/var/tmp/r1exp-slurm}"
CLUSTER="${SLURM_LOCAL_CLUSTER:-r1exp}"
PARTITION="${SLURM_LOCAL_PARTITION:-debug}"
DB_PORT="${SLURM_LOCAL_DB_PORT:-3307}"
CTLD_PORT=6817
SLURMD_PORT=6818
DBD_PORT=6819
MARKER="Written by tools/slurm-local/start.sh"
PACKAGES=(slurmctld slurmd slurm-client munge slurmdbd slurm-wlm-mysql-plugin mariadb-server)
started_at=$SECONDS
CHANGED=()

say() { echo "slurm-local: $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# Poll a command until it succeeds or the timeout (seconds) passes.
wait_for() {
  local what="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$what did not come up within ${timeout}s; see the logs in $DIR/log"
    fi
    sleep 0.2
  done
}

alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return
  [[ "${SLURM_LOCAL_INSTALL:-1}" == 1 ]] || die "missing packages: ${missing[*]}"
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

# Refuse to overwrite a Slurm config this script did not write (a real cluster's, say).
write_config() {
  local template="$1" target="$2" mode="$3"
  if [[ -e "$target" ]] && ! grep -q "$MARKER" "$target"; then
    die "$target exists and was not written by this script; move it away first"
  fi
  local tmp
  tmp="$(mktemp "$target.XXXXXX")"
  sed -e "s|@DIR@|$DIR|g" -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@PARTITION@|$PARTITION|g" \
    -e "s|@NODE@|$NODE|g" -e "s|@NODE_LINE@|$NODE_LINE|g" -e "s|@DEF_MEM_PER_CPU@|$DEF_MEM_PER_CPU|g" \
    -e "s|@CTLD_PORT@|$CTLD_PORT|g" -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@DBD_PORT@|$DBD_PORT|g" \
    -e "s|@DB_PORT@|$DB_PORT|g" -e "s|@DB_PASS@|$DB_PASS|g" "$HERE/$template" >"$tmp"
  chmod "$mode" "$tmp"
  if cmp -s "$tmp" "$target"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$target"
    CHANGED+=("$target")
  fi
}

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return # a munged already answers (ours from an earlier start, or the system's)
  fi
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge /etc/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
  fi
  runuser -u munge -- munged --pid-file=/run/munge/munged.pid
  cp /run/munge/munged.pid "$DIR/run/munged.pid" # stop.sh ends only the munged started here
  wait_for munged 10 bash -c 'munge -n | unmunge'
}

db() { mariadb --no-defaults --socket="$DIR/mysql-run/mysqld.sock" -uroot "$@"; }

start_mariadb() {
  install -d -o mysql -g mysql -m 0750 "$DIR/mysql" "$DIR/mysql-run"
  if [[ ! -d "$DIR/mysql/mysql" ]]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/mysql" --skip-test-db \
      --auth-root-authentication-method=socket >"$DIR/log/mariadb-install.log" 2>&1
  fi
  if ! alive "$DIR/mysql-run/mariadbd.pid"; then
    setsid mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql" --bind-address=127.0.0.1 \
      --port="$DB_PORT" --socket="$DIR/mysql-run/mysqld.sock" --pid-file="$DIR/mysql-run/mariadbd.pid" \
      --log-error="$DIR/log/mariadb.log" </dev/null >/dev/null 2>&1 &
  fi
  wait_for mariadbd 60 db -e "SELECT 1"
  db <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
SQL
}

start_daemon() {
  local name="$1"
  shift
  alive "$DIR/run/$name.pid" && return
  "$@" || die "$name failed to start; see $DIR/log/$name.log"
}

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1; }

main() {
  [[ $EUID -eq 0 ]] || die "run as root (it starts daemons and writes /etc/slurm)"
  install_packages
  install -d -m 0755 "$DIR" "$DIR/run" "$DIR/log" "$DIR/state/slurmctld" "$DIR/state/slurmd" /etc/slurm

  NODE_LINE="$(slurmd -C | head -n1)"
  NODE="$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$NODE_LINE")"
  local cpus mem
  cpus="$(sed -E 's/.* CPUs=([0-9]+).*/\1/' <<<"$NODE_LINE")"
  mem="$(sed -E 's/.* RealMemory=([0-9]+).*/\1/' <<<"$NODE_LINE")"
  DEF_MEM_PER_CPU=$((mem / cpus))
  if [[ -s "$DIR/dbpass" ]]; then
    DB_PASS="$(cat "$DIR/dbpass")"
  else
    DB_PASS="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
    (umask 077 && echo "$DB_PASS" >"$DIR/dbpass")
  fi
  write_config slurm.conf.in /etc/slurm/slurm.conf 0644
  write_config slurmdbd.conf.in /etc/slurm/slurmdbd.conf 0600

  start_munge
  start_mariadb
  start_daemon slurmdbd slurmdbd
  wait_for slurmdbd 60 sacctmgr -n list cluster
  if [[ -z "$(sacctmgr -n -P list cluster format=cluster where cluster="$CLUSTER")" ]]; then
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  fi
  if [[ " ${CHANGED[*]} " == *" /etc/slurm/slurm.conf "* ]] && alive "$DIR/run/slurmctld.pid"; then
    scontrol reconfigure # a cluster started with an older slurm.conf.in
  fi
  start_daemon slurmctld slurmctld
  wait_for slurmctld 60 scontrol ping
  start_daemon slurmd slurmd
  wait_for "node $NODE" 60 bash -c "sinfo -h -n '$NODE' -o %T | grep -Eq '^(idle|mixed|allocated|down|drained)'"
  case "$(node_state)" in
    down* | drain*) scontrol update nodename="$NODE" state=resume ;;
  esac
  wait_for "node $NODE (idle)" 60 bash -c "sinfo -h -n '$NODE' -o %T | grep -Eq '^(idle|mixed|allocated|completing)$'"
  echo "slurm-local: cluster $CLUSTER ready in $((SECONDS - started_at))s: node $NODE ($cpus CPUs, ${mem} MB)" \
    "$(node_state), partition $PARTITION, accounting on 127.0.0.1:$DB_PORT; logs in $DIR/log"
}

main "$@"
