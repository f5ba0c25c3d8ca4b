#!/usr/bin/env bash
# Stop the cluster start.sh started and remove what it wrote: jobs are cancelled, the daemons it
# started end (by their pid files), and its state dir and /etc/slurm configs are deleted. A munged
# that was already running before start.sh is left alone. Safe to run when nothing is running.
set -euo pipefail

DIR="${SLURM_LOCAL_DIR:-/var/tmp/r1exp-slurm}"
MARKER="Written by tools/slurm-local/start.sh"

say() { echo "slurm-local: $*" >&2; }

ours() { [[ -f /etc/slurm/slurm.conf ]] && grep -q "$MARKER" /etc/slurm/slurm.conf; }

# Signal the process in a pid file and wait for it to end (SIGKILL after 20 s).
stop_pid() {
  local file="$1" pid
  [[ -s "$file" ]] || return 0
  pid="$(cat "$file")"
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  say "pid $pid ($file) ignored SIGTERM; killing it"
  kill -9 "$pid" 2>/dev/null || true
}

# Jobs first: their processes (slurmstepd and the tasks) outlive slurmd.
if ours && scontrol ping >/dev/null 2>&1; then
  mapfile -t jobs < <(squeue -h -o %A)
  if ((${#jobs[@]})); then
    scancel "${jobs[@]}" || true
    for _ in $(seq 150); do
      [[ -z "$(squeue -h -o %A)" ]] && break
      sleep 0.2
    done
  fi
fi
stop_pid "$DIR/run/slurmd.pid"
stop_pid "$DIR/run/slurmctld.pid"
stop_pid "$DIR/run/slurmdbd.pid"
stop_pid "$DIR/mysql-run/mariadbd.pid"
stop_pid "$DIR/run/munged.pid"

for f in /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf; do
  if [[ -f "$f" ]] && grep -q "$MARKER" "$f"; then
    rm -f "$f"
  fi
done
rm -rf "$DIR"
say "stopped; removed $DIR"
