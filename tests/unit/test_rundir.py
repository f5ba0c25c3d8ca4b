"""The run dir: one owner (the lock, a clear refusal for a second process, safe takeover of a stale
lock), one configuration (a relaunch with another is refused in one line), logs that start afresh when a
run starts over, and launch.log."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.errors import UserError
from r1exp.tracking import identity, launchlog, rundir
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


# --- one configuration per run dir ----------------------------------------------------------------

_leaf = st.one_of(st.integers(-5, 5), st.floats(-2, 2, allow_nan=False), st.booleans(), st.text("ab", max_size=3))
_names = st.sampled_from(["alpha", "beta", "gamma", "delta"])
_configs = st.recursive(
    st.dictionaries(_names, _leaf, min_size=1, max_size=3),
    lambda inner: st.dictionaries(_names, st.one_of(_leaf, inner), min_size=1, max_size=3),
    max_leaves=12,
)


@settings(derandomize=True, deadline=None, max_examples=150)
@given(config=_configs, data=st.data())
def test_every_changed_key_is_named_with_both_values(config, data):
    flat = identity.flatten(config)
    key = data.draw(st.sampled_from(sorted(flat)))
    new_value = data.draw(_leaf.filter(lambda v: identity._differ(flat[key], v)))
    changed = copy.deepcopy(config)
    node = changed
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    node[last] = new_value
    top = {"exp": config}, {"exp": changed}
    assert identity.differences(*top) == [(f"exp.{key}", flat[key], new_value)]
    # The same change under a key that may change on resume is no difference.
    assert identity.differences({"logger": config}, {"logger": changed}) == []
    assert identity.differences(top[0], top[0]) == []


def test_a_changed_group_is_named_once_and_values_compare_by_number():
    old = {"lora": {"name": "none", "r": None}, "trainer": {"beta": 0.04, "max_steps": 30, "steps": 1}}
    new = {"lora": {"name": "r8", "r": 8, "alpha": 16}, "trainer": {"beta": 0.0, "max_steps": 60, "steps": 1.0}}
    assert identity.differences(old, new) == [("lora", "none", "r8"), ("trainer.beta", 0.04, 0.0)]
    # A bool is not the number 1.
    assert identity.differences({"a": True}, {"a": 1}) == [("a", True, 1)]
    line = identity.describe(identity.differences(old, new))
    assert line == "lora: none -> r8; trainer.beta: 0.04 -> 0.0"


def test_the_allow_list_has_a_reason_for_every_key_and_covers_prefixes():
    assert all(isinstance(reason, str) and reason for reason in identity.MAY_CHANGE_ON_RESUME.values())
    assert identity.may_change("trainer.max_steps") and identity.may_change("logger.samples_every")
    assert not identity.may_change("trainer.max_steps_extra") and not identity.may_change("trainer.beta")


def _record(run: Path, config: dict, **extra) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "manifest.json").write_text(json.dumps({"config": config, **extra}))


def test_check_relaunch_refuses_another_config_in_one_line(tmp_path):
    from omegaconf import OmegaConf

    run = tmp_path / "run"
    assert rundir.check_relaunch(run, OmegaConf.create({"resume": "auto"})).previous is None  # a new dir
    config = {"resume": "auto", "seed": 1, "trainer": {"max_steps": 4, "beta": 0.1}}
    _record(run, config, finished=True, final_step=4)
    (run / "checkpoints" / "final").mkdir(parents=True)
    same = rundir.check_relaunch(run, OmegaConf.create(config))
    assert same.previous is not None and same.finished
    longer = rundir.check_relaunch(run, OmegaConf.create({**config, "trainer": {"max_steps": 8, "beta": 0.1}}))
    assert not longer.finished
    with pytest.raises(identity.ConfigChanged) as err:
        rundir.check_relaunch(run, OmegaConf.create({**config, "seed": 2}))
    assert "seed: 1 -> 2" in str(err.value) and "\n" not in str(err.value)


def test_a_damaged_manifest_is_one_line(tmp_path):
    from omegaconf import OmegaConf

    from r1exp.tracking.manifest import ManifestDamaged

    run = tmp_path / "run"
    _record(run, {"seed": 1})
    text = (run / "manifest.json").read_text()
    for damaged in (text[: len(text) // 2], "[1, 2]", "\udcff".encode("utf-8", "surrogateescape").decode("latin-1")):
        (run / "manifest.json").write_text(damaged)
        with pytest.raises(ManifestDamaged) as err:
            rundir.check_relaunch(run, OmegaConf.create({"seed": 1}))
        assert "manifest.json is" in str(err.value) and "\n" not in str(err.value)


def test_logs_without_a_manifest_or_another_commands_result_are_refused(tmp_path):
    from omegaconf import OmegaConf

    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(UserError, match=r"no manifest\.json"):
        rundir.check_relaunch(run, OmegaConf.create({}))
    other = tmp_path / "eval"
    other.mkdir()
    (other / "status.json").write_text('{"status": "ok"}')
    with pytest.raises(UserError, match="results of another command"):
        rundir.check_relaunch(other, OmegaConf.create({}))
    (other / "status.json").write_text('{"status": "interrupted", "command": "eval"}')
    with pytest.raises(UserError, match="results of another command"):
        rundir.check_relaunch(other, OmegaConf.create({}))
    # Launches of cmd=train that never trained a step (failed, or interrupted while loading): a new run.
    for status in ('{"status": "failed"}', '{"status": "interrupted", "command": "train"}'):
        (other / "status.json").write_text(status)
        assert rundir.check_relaunch(other, OmegaConf.create({})).previous is None


def test_restart_moves_the_logs_aside_together(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert rundir.restart_logs(run) is None
    for name, text in (("metrics.jsonl", '{"step": 1}\n'), ("samples.jsonl", "x\n"), ("wandb_id.txt", "abc")):
        (run / name).write_text(text)
    folder = rundir.restart_logs(run)
    assert folder.name.startswith("logs-before-restart-")
    assert sorted(p.name for p in folder.iterdir()) == ["metrics.jsonl", "samples.jsonl", "wandb_id.txt"]
    assert not (run / "metrics.jsonl").exists()
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    second = rundir.restart_logs(run)
    assert second != folder and second.is_dir()


# --- launch.log -------------------------------------------------------------------------------


def test_launch_log_holds_what_was_printed_once_owned_and_one_line_per_bar(tmp_path):
    sink = launchlog._Sink()
    sink.feed("before the run dir is owned\n")
    sink.feed("train: 1/3\rtrain: 2/3\rtrain: 3/3")
    sink.feed("\n")
    assert not (tmp_path / "launch.log").exists()
    sink.attach(tmp_path / "launch.log")
    sink.feed("\r" + " " * 10 + "\rlogged above the bar\ntrain: 3/3 done")
    sink.detach()
    lines = (tmp_path / "launch.log").read_text().splitlines()
    assert lines[0].startswith("=== ")
    assert lines[1:] == ["before the run dir is owned", "train: 3/3", "logged above the bar", "train: 3/3 done"]
    sink.feed("after the job\n")
    assert len((tmp_path / "launch.log").read_text().splitlines()) == 5  # detached: nothing more


@settings(derandomize=True, deadline=None, max_examples=100)
@given(chunks=st.lists(st.text(alphabet="ab\r\n ", max_size=12), max_size=12))
def test_launch_log_matches_what_a_terminal_shows_line_by_line(tmp_path_factory, chunks):
    """However the text is split into writes, each finished line is its state after the last carriage return."""
    path = tmp_path_factory.mktemp("log") / "launch.log"
    sink = launchlog._Sink()
    sink.attach(path)
    for chunk in chunks:
        sink.feed(chunk)
    text = "".join(chunks)
    expected = [launchlog._last_state(line) for line in text.split("\n")[:-1]]
    assert path.read_text().splitlines()[1:] == expected
    sink.detach()


# --- settings a newer r1exp adds or drops, vs keys the user added --------------------------------------


RECORDED = {"seed": 42, "trainer": {"beta": 0.04}, "contamination": {"ngram": 13}, "reward": {"terms": {}}}
UPGRADED = {"seed": 42, "trainer": {"beta": 0.04}, "contamination": {"min_overlap": 0.65}, "reward": {"terms": {}}}


def test_settings_a_new_version_adds_or_drops_warn_and_resume(capsys):
    identity.check_same_experiment("RUN", RECORDED, UPGRADED, named=identity.override_keys(["trainer.max_steps=9"]))
    err = capsys.readouterr().err
    assert err.startswith("r1exp: warning:") and "contamination.min_overlap: (absent) -> 0.65" in err
    assert "contamination.ngram: 13 -> (absent)" in err


def test_a_key_an_override_added_is_an_experiment_change():
    added = {**RECORDED, "reward": {"terms": {"len": {"fn": "length", "weight": 0.1}}}}
    named = identity.override_keys(["+reward.terms.len={fn:length,weight:0.1}"])
    assert named == {"reward.terms.len"}
    with pytest.raises(identity.ConfigChanged, match=r"reward\.terms\.len\.fn: \(absent\) -> length"):
        identity.check_same_experiment("RUN", RECORDED, added, named=named)


def test_a_changed_value_is_refused_whatever_the_overrides_name():
    changed = {**RECORDED, "trainer": {"beta": 0.0}}
    with pytest.raises(identity.ConfigChanged, match=r"trainer\.beta: 0\.04 -> 0"):
        identity.check_same_experiment("RUN", RECORDED, changed, named=set())
    # Without the overrides on record every difference is refused, one-sided keys too.
    with pytest.raises(identity.ConfigChanged):
        identity.check_same_experiment("RUN", RECORDED, UPGRADED, named=None)
