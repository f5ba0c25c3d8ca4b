"""The run-dir lock: one owner, a clear refusal for a second process, safe takeover of a stale lock."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from r1exp.tracking import rundir
from r1exp.tracking.rundir import (
    LOCK_NAME,
    Owner,
    RunDirBusy,
    RunLock,
    is_stale,
    own_run_dir,
    read_owner,
    storage_problem,
)
from tests.conftest import ROOT

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from r1exp.tracking.rundir import RunLock
    lock = RunLock(Path(sys.argv[1]), heartbeat_s=0.2).acquire()
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    lock.release()
    """
)

RACE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from r1exp.tracking.rundir import RunDirBusy, RunLock
    go = float(sys.argv[2])
    while time.time() < go:
        pass
    try:
        RunLock(Path(sys.argv[1])).acquire()
        print("won", flush=True)
        time.sleep(3)
    except RunDirBusy:
        print("busy", flush=True)
    """
)


def _python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(run: Path, owner: Owner, age_s: float = 0.0) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK_NAME
    path.write_text(json.dumps(owner.__dict__))
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_second_process_is_refused_with_the_owner_named(tmp_path):
    run = tmp_path / "run"
    holder = _python(HOLD, str(run), "30")
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirBusy) as err:
            RunLock(run).acquire()
        message = str(err.value)
        assert f"pid {holder.pid}" in message and socket.gethostname() in message
        assert "\n" not in message
        # The refused launch changed nothing: the holder still owns the dir.
        owner, _ = read_owner(run / LOCK_NAME)
        assert owner is not None and owner.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    stale = Owner(_dead_pid(), socket.gethostname(), "deadbeef", time.time())
    _write_lock(run, stale)
    lock = RunLock(run).acquire()
    try:
        owner, _ = read_owner(run / LOCK_NAME)
        assert owner.token == lock.owner.token and owner.pid == os.getpid()
        assert "taking over" in capsys.readouterr().err
        assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]
    finally:
        lock.release()
    assert not (run / LOCK_NAME).exists()


def test_a_reused_pid_is_not_the_owner(tmp_path):
    """A live pid whose start time differs from the lock's is another program: the lock is stale."""
    me = Owner.me()
    reused = Owner(me.pid, me.host, "cafe", time.time(), proc_start="1")
    assert is_stale(reused, time.time(), 60)
    assert not is_stale(me, time.time(), 60)


def test_other_host_lock_is_stale_only_without_heartbeat(tmp_path):
    run = tmp_path / "run"
    other = Owner(12345, "another-node.cluster", "feedface", time.time())
    _write_lock(run, other, age_s=5)
    with pytest.raises(RunDirBusy, match=r"another-node\.cluster"):
        RunLock(run, stale_after_s=60).acquire()
    _write_lock(run, other, age_s=120)
    lock = RunLock(run, stale_after_s=60).acquire()
    assert lock.holds()
    lock.release()


def test_heartbeat_keeps_the_lock_fresh(tmp_path):
    run = tmp_path / "run"
    holder = _python(HOLD, str(run), "30")
    try:
        assert holder.stdout.readline().strip() == "held"
        path = run / LOCK_NAME
        stamp = time.time() - 1000
        os.utime(path, (stamp, stamp))
        deadline = time.monotonic() + 30
        while path.stat().st_mtime < time.time() - 500:
            assert time.monotonic() < deadline, "the owner never refreshed its lock"
            time.sleep(0.1)
    finally:
        holder.kill()
        holder.wait()


def test_two_processes_racing_for_a_stale_lock_one_wins(tmp_path):
    run = tmp_path / "run"
    _write_lock(run, Owner(_dead_pid(), socket.gethostname(), "0ld", time.time()))
    go = str(time.time() + 4)  # both start spinning well before, so they take over at the same moment
    procs = [_python(RACE, str(run), go) for _ in range(2)]
    outcomes = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outcomes == ["busy", "won"], [p.stderr for p in procs]


def test_own_run_dir_without_a_process_group(tmp_path, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert own_run_dir(run) is None  # not rank 0: no lock taken
    assert not (run / LOCK_NAME).exists()
    monkeypatch.setenv("RANK", "0")
    lock = own_run_dir(run)
    assert lock is not None and lock.holds()
    lock.release()
    assert not (run / LOCK_NAME).exists()


def test_a_requeued_slurm_job_takes_over_its_own_lock_at_once(tmp_path, monkeypatch):
    """Slurm may restart a requeued job on another node within seconds: same job id, owner gone."""
    run = tmp_path / "run"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID", raising=False)
    _write_lock(run, Owner(12345, "node-that-failed", "f00d", time.time(), slurm_job="4242"))
    lock = RunLock(run, stale_after_s=3600).acquire()
    assert lock.holds()
    lock.release()
    _write_lock(run, Owner(12345, "node-that-failed", "f00d", time.time(), slurm_job="4243"))
    with pytest.raises(RunDirBusy):
        RunLock(run, stale_after_s=3600).acquire()


def test_own_run_dir_broadcasts_rank_zero_decision(tmp_path):
    """Two gloo ranks: when rank 0 finds the dir busy, both ranks raise the same line."""
    run = tmp_path / "run"
    _write_lock(run, Owner(os.getpid(), socket.gethostname(), "live", time.time(), rundir._proc_start(os.getpid())))
    code = textwrap.dedent(
        """
        import os, sys
        import torch.distributed as dist
        from pathlib import Path
        from r1exp.errors import UserError
        from r1exp.tracking.rundir import own_run_dir
        dist.init_process_group("gloo")
        try:
            own_run_dir(Path(sys.argv[1]))
            print("owned", flush=True)
        except UserError as exc:
            print("busy:" + str(exc)[:40], flush=True)
        dist.destroy_process_group()
        """
    )
    port = str(29500 + os.getpid() % 1000)
    procs = []
    for rank in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "RANK": str(rank), "WORLD_SIZE": "2"}
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, str(run)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
            )
        )
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert outs[0].startswith("busy:run dir") and outs[0] == outs[1], outs


def test_storage_problems_are_one_line_naming_the_path(tmp_path):
    full = OSError(28, "No space left on device", str(tmp_path / "metrics.jsonl"))
    assert storage_problem(tmp_path, RuntimeError("a plain bug")) is None  # and the run dir is writable
    assert storage_problem(tmp_path, full) == (
        f"cannot write {tmp_path / 'metrics.jsonl'}: No space left on device; free space or choose a writable "
        "hydra.run.dir"
    )
    # A library that says it in words only (safetensors' Rust I/O error).
    worded = RuntimeError("Error while serializing: I/O error: Read-only file system (os error 30)")
    assert storage_problem(tmp_path, worded).startswith(f"cannot write {tmp_path}: Read-only file system")
    # A permission error in words may come from a read: not taken for a storage problem.
    assert storage_problem(tmp_path, RuntimeError("Permission denied: /data/x.jsonl")) is None
