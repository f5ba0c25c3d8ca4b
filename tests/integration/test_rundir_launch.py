"""Relaunching into a run dir, through launch.py as a user does: a finished run is left alone, a run
killed after its last checkpoint only gets its end, a damaged newest checkpoint is set aside, a second
launch into a live run is refused without touching it, and a full or read-only run dir is one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1exp.common import jsonl
from r1exp.tracking.rundir import LOCK_NAME
from tests.conftest import ROOT, error_lines
from tests.inprocess import run_launch_here

pytestmark = pytest.mark.slow

STEPS = 4


def _args(run: Path, *extra: str) -> list[str]:
    return [
        "+experiment=smoke",
        f"trainer.max_steps={STEPS}",
        "trainer.save_steps=2",
        "trainer.save_total_limit=3",
        "logger.samples_every=2",
        f"hydra.run.dir={run}",
        *extra,
    ]


def _snapshot(run: Path) -> dict[str, tuple[int, str]]:
    """Every file under the run dir: (mtime in ns, sha256 of its bytes)."""
    return {
        str(p.relative_to(run)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


def _steps(run: Path) -> list[int]:
    return [r["step"] for r in jsonl.read(run / "metrics.jsonl")]


def _as_if_killed_after(run: Path, step: int) -> None:
    """The state a kill leaves after checkpoint-`step` is complete: no final model, plots or finished manifest."""
    shutil.rmtree(run / "checkpoints" / "final")
    shutil.rmtree(run / "plots")
    record = json.loads((run / "manifest.json").read_text())
    record["finished"] = False
    record.pop("final_step", None)
    (run / "manifest.json").write_text(json.dumps(record))
    for later in (run / "checkpoints").glob("checkpoint-*"):
        if int(later.name.split("-")[1]) > step:
            shutil.rmtree(later)
    rows = [r for r in jsonl.read(run / "metrics.jsonl") if r["step"] <= STEPS]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_cache) -> Path:
    """One finished smoke run; tests copy it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    proc = run_launch_here(_args(run), tiny_cache, run.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


def test_finished_run_relaunched_is_a_noop(launch_here, finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    before = _snapshot(run)
    proc = launch_here(*_args(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert any("finished run" in ln and "nothing to do" in ln for ln in error_lines(proc.stderr)), proc.stderr
    assert _snapshot(run) == before


def test_killed_after_last_checkpoint_only_finishes(launch_here, finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    _as_if_killed_after(run, STEPS)
    last = run / "checkpoints" / f"checkpoint-{STEPS}"
    ckpt_before = _snapshot(last)
    proc = launch_here(*_args(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _steps(run) == list(range(1, STEPS + 1))  # no step max_steps + 1
    assert _snapshot(last) == ckpt_before
    final = run / "checkpoints" / "final"
    assert (final / "model.safetensors").read_bytes() == (last / "model.safetensors").read_bytes()
    assert not (final / "optimizer.pt").exists()
    assert sorted(p.name for p in (run / "plots").glob("*.png"))
    record = json.loads((run / "manifest.json").read_text())
    assert record["finished"] and record["final_step"] == STEPS
    assert record["resumes"] == []  # nothing was loaded into a trainer
    assert json.loads((run / "status.json").read_text())["status"] == "ok"


def test_corrupt_newest_checkpoint_is_set_aside_and_the_previous_resumed(launch_here, finished_run, tmp_path):
    run = _copy(finished_run, tmp_path / "run")
    _as_if_killed_after(run, STEPS)
    newest = run / "checkpoints" / f"checkpoint-{STEPS}"
    optimizer = newest / "optimizer.pt"
    optimizer.write_bytes(optimizer.read_bytes()[: optimizer.stat().st_size // 2])
    proc = launch_here(*_args(run))
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in error_lines(proc.stderr) if "set aside" in ln]
    assert len(lines) == 1 and "optimizer.pt" in lines[0], proc.stderr[-3000:]
    aside = [p for p in (run / "checkpoints").iterdir() if p.name.startswith(f"corrupt-checkpoint-{STEPS}-")]
    assert len(aside) == 1 and (aside[0] / "model.safetensors").exists()  # kept, never deleted
    assert _steps(run) == list(range(1, STEPS + 1))
    record = json.loads((run / "manifest.json").read_text())
    assert [r["step"] for r in record["resumes"]] == [STEPS - 2]
    assert record["finished"] and record["final_step"] == STEPS


def test_second_launch_into_a_live_run_is_refused(launch_here, tiny_cache, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *_args(run, "trainer.max_steps=100000")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not (run / LOCK_NAME).exists():
            assert first.poll() is None, "the first run ended early"
            assert time.monotonic() < deadline, "the first run never took its lock"
            time.sleep(0.1)
        # overrides.yaml is the last of the three records the owner writes (rundir.write_hydra_dir).
        while not (run / ".hydra" / "overrides.yaml").exists():
            assert first.poll() is None, "the first run ended early"
            time.sleep(0.1)
        config = (run / ".hydra" / "config.yaml").read_bytes()
        overrides = (run / ".hydra" / "overrides.yaml").read_bytes()
        # Other overrides, as a user who forgot the run was live: refused, and nothing of the live run changes.
        proc = launch_here(*_args(run, "trainer.max_steps=100000", "trainer.beta=0.0"))
        assert proc.returncode == 2
        lines = error_lines(proc.stderr)
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0] and "in use" in lines[0], proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        assert first.poll() is None  # the owner runs on
        assert (run / ".hydra" / "config.yaml").read_bytes() == config
        assert (run / ".hydra" / "overrides.yaml").read_bytes() == overrides
        assert not (run / "status.json").exists()
    finally:
        first.kill()
        first.wait()


def _unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


needs_mount_ns = pytest.mark.skipif(not _unshare_available(), reason="needs `unshare -m` (a private mount namespace)")


def _launch_in_namespace(tiny_cache, tmp_path, setup: str, run: Path, *extra: str) -> subprocess.CompletedProcess:
    """launch.py in a private mount namespace after `setup` (a shell line); then the run dir is listed."""
    args = " ".join(f"'{a}'" for a in _args(run, *extra))
    script = (
        f"{setup} && {sys.executable} {ROOT / 'launch.py'} {args}; rc=$?; "
        f"echo LISTING; find {run} -name '*.tmp' -o -name status.json; "
        f"echo STATUS; cat {run}/status.json 2>/dev/null; exit $rc"
    )
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )


@needs_mount_ns
def test_full_disk_is_one_line_and_status_is_whole_or_absent(tiny_cache, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    # Room for the config and the first rows, not for a checkpoint.
    proc = _launch_in_namespace(tiny_cache, tmp_path, f"mount -t tmpfs -o size=256k tmpfs {run}", run)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "No space left on device" in lines[0] and str(run) in lines[0], proc.stderr[-3000:]
    listing, status = proc.stdout.split("LISTING", 1)[1].split("STATUS", 1)
    assert ".tmp" not in listing
    if status.strip():
        assert json.loads(status)["status"] == "failed"


@needs_mount_ns
def test_read_only_run_dir_is_one_line(tiny_cache, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = _launch_in_namespace(
        tiny_cache, tmp_path, f"mount --bind {run} {run} && mount -o remount,bind,ro {run}", run
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "Read-only file system" in lines[0] and str(run) in lines[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_relaunched_sweep_leaves_finished_jobs_alone(launch_here, tmp_path):
    """Each job of a sweep relaunched into its sweep dir takes the same path: a finished job trains
    no step and keeps every file, .hydra/ and launch.log included (only the sweep's report is rewritten)."""
    sweep = tmp_path / "sweep"
    args = ["-m", *_args(tmp_path / "unused"), "seed=1", f"hydra.sweep.dir={sweep}"]
    first = launch_here(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    job = sweep / "0"
    kept = _snapshot(job)
    for name in ("status.json", "manifest.json", ".hydra/config.yaml", ".hydra/overrides.yaml", "launch.log"):
        assert name in kept, sorted(kept)
    assert "r1exp: trained" in (job / "launch.log").read_text()
    second = launch_here(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "finished run" in second.stderr
    assert _snapshot(job) == kept
