"""Fault injection on the tiny model: what a user finds in a run dir after kills, Ctrl-C, SIGTERM,
damaged files and relaunches with another configuration.

One finished 4-step run (checkpoints 2 and 4) is trained once for the module; each scenario works
on a copy. Launches run in this process (`launch_here`, tests/inprocess.py: the same entry point and
argv a user types) unless the subprocess is the subject (signals, kills, a crash's traceback).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from r1exp.common import jsonl
from r1exp.tracking.checkpoints import MARKER, mark_complete
from r1exp.tracking.rundir import LOCK_NAME
from tests.conftest import ROOT, error_lines, launch_env
from tests.inprocess import run_launch_here

pytestmark = pytest.mark.slow

STEPS = 4
SAVE = 2


def _args(run: Path, *extra: str) -> list[str]:
    return [
        "+experiment=smoke",
        f"trainer.max_steps={STEPS}",
        f"trainer.save_steps={SAVE}",
        "trainer.save_total_limit=3",
        "logger.samples_every=1",
        f"hydra.run.dir={run}",
        *extra,
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_cache) -> Path:
    """One finished run of STEPS steps with checkpoints at SAVE and STEPS; scenarios copy it."""
    run = tmp_path_factory.mktemp("faults") / "run"
    proc = run_launch_here(_args(run), tiny_cache, run.parent, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run", symlinks=True))


def _snapshot(run: Path) -> dict[str, str]:
    """Every file under the run dir and the sha256 of its bytes."""
    files = sorted(p for p in run.rglob("*") if p.is_file())
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _steps(path: Path) -> list[int]:
    return [r["step"] for r in jsonl.read(path)]


def _status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def _killed_after(run: Path, step: int) -> None:
    """The state a kill leaves once checkpoint-`step` is complete: no final model, plots or finished manifest."""
    shutil.rmtree(run / "checkpoints" / "final")
    shutil.rmtree(run / "plots")
    (run / "status.json").unlink()
    record = json.loads((run / "manifest.json").read_text())
    record["finished"] = False
    record.pop("final_step", None)
    (run / "manifest.json").write_text(json.dumps(record))
    for later in (run / "checkpoints").glob("checkpoint-*"):
        if int(later.name.split("-")[1]) > step:
            shutil.rmtree(later)
    for name in ("metrics.jsonl", "samples.jsonl"):
        # Rows of one step past the checkpoint: trained and logged, then killed.
        rows = [r for r in jsonl.read(run / name) if r["step"] <= step + 1]
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return lines[0]


# --- a run dir holds one configuration ---------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("trainer.beta=0.0", "trainer.beta: 0.04 -> 0.0"),
        ("template=answer_only", "template: r1zero_base -> answer_only"),
        ("reward=countdown_noformat", "reward: countdown -> countdown_noformat"),
        ("seed=7", "seed: 42 -> 7"),
        ("trainer.num_generations=8", "trainer.num_generations: 4 -> 8"),
        ("trainer.learning_rate=0.5", "trainer.learning_rate: 0.01 -> 0.5"),
        ("lora=r8", "lora: none -> r8"),
        ("trainer.max_completion_length=16", "trainer.max_completion_length: 32 -> 16"),
    ],
)
def test_relaunch_with_another_config_is_refused_and_changes_nothing(launch_here, trained, tmp_path, override, named):
    run = _copy(trained, tmp_path)
    before = _snapshot(run)
    result = launch_here(*_args(run, override))
    assert result.returncode == 2
    line = _one_line_error(result)
    assert named in line and "another configuration" in line, line
    assert _snapshot(run) == before  # no .hydra/ rewrite, no status change, no launch.log line


def test_keys_that_may_change_do_resume_and_the_summary_counts_this_launch(launch_here, trained, tmp_path):
    """trainer.max_steps raised (and the logger changed): the finished run goes on from its last checkpoint."""
    run = _copy(trained, tmp_path)
    result = launch_here(*_args(run, f"trainer.max_steps={STEPS + 1}", "logger.samples_every=2"))
    assert result.returncode == 0, result.stderr[-3000:]
    resuming = [ln for ln in error_lines(result.stderr) if ln.startswith("r1exp: resuming from")]
    assert resuming == [f"r1exp: resuming from checkpoint-{STEPS} (step {STEPS})"]
    assert _steps(run / "metrics.jsonl") == list(range(1, STEPS + 2))
    summary = _status(run)["summary"]
    assert summary["steps"] == STEPS + 1 and summary["steps_trained"] == 1
    assert summary["resumed_from"] == f"checkpoint-{STEPS}"
    record = json.loads((run / "manifest.json").read_text())
    assert record["resumes"][-1]["changed"]["trainer.max_steps"] == [STEPS, STEPS + 1]
    # The run's configuration stays the first launch's; .hydra/ shows this launch's overrides.
    assert record["config"]["trainer"]["max_steps"] == STEPS
    assert f"trainer.max_steps={STEPS + 1}" in (run / ".hydra" / "overrides.yaml").read_text()
    log = (run / "launch.log").read_text()
    assert log.count("=== ") == 2 and f"resuming from checkpoint-{STEPS}" in log


@pytest.mark.parametrize(
    "extra",
    [
        ["resume=never"],
        # An allowed key changed, with a bad value: refused by the value check, before anything is touched.
        [f"trainer.max_steps={STEPS + 2}", "trainer.save_steps=0"],
    ],
    ids=["resume-never", "bad-value"],
)
def test_a_refused_relaunch_keeps_a_finished_run_as_it_was(launch_here, trained, tmp_path, extra):
    run = _copy(trained, tmp_path)
    before = _snapshot(run)
    result = launch_here(*_args(run, *extra))
    assert result.returncode == 2
    _one_line_error(result)
    assert _snapshot(run) == before and _status(run)["status"] == "ok"


def test_a_truncated_manifest_is_one_line(launch_here, trained, tmp_path):
    run = _copy(trained, tmp_path)
    manifest = run / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    before = _snapshot(run)
    result = launch_here(*_args(run))
    assert result.returncode == 2
    line = _one_line_error(result)
    assert "manifest.json is not valid JSON" in line and "JSONDecodeError" not in result.stderr
    assert _snapshot(run) == before


# --- every step exactly once ------------------------------------------------------------------


def _every_step_once(run: Path) -> None:
    assert _steps(run / "metrics.jsonl") == list(range(1, STEPS + 1))
    sampled = _steps(run / "samples.jsonl")
    assert sorted(set(sampled)) == list(range(1, STEPS + 1))
    assert all(sampled.count(s) == sampled.count(1) for s in set(sampled))


def test_every_checkpoint_damaged_starts_over_with_the_old_logs_aside(launch_here, trained, tmp_path):
    """Two kinds of damage at once: a same-length corruption in the newest weights, a missing
    scheduler state in the one before. Both are set aside with a line each; the run starts over."""
    run = _copy(trained, tmp_path)
    _killed_after(run, STEPS)
    weights = run / "checkpoints" / f"checkpoint-{STEPS}" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    (run / "checkpoints" / f"checkpoint-{SAVE}" / "scheduler.pt").unlink()
    old_metrics = (run / "metrics.jsonl").read_text()
    result = launch_here(*_args(run))
    assert result.returncode == 0, result.stderr[-3000:]
    lines = error_lines(result.stderr)
    aside = [ln for ln in lines if "set aside" in ln]
    assert len(aside) == 2, lines
    assert "model.safetensors" in aside[0] and "checksum" in aside[0]
    assert "scheduler.pt is missing" in aside[1]
    assert sum("starts over at step 1" in ln for ln in lines) == 1
    _every_step_once(run)
    kept = list(run.glob("logs-before-restart-*/metrics.jsonl"))
    assert len(kept) == 1 and kept[0].read_text() == old_metrics
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert sum(n.startswith("corrupt-checkpoint-") for n in names) == 2
    record = json.loads((run / "manifest.json").read_text())
    assert record["restarts"][-1]["earlier_logs"] == kept[0].parent.name


def test_killed_during_the_first_save_starts_over(launch_here, trained, tmp_path):
    """A kill inside the first save leaves a checkpoint without its completion marker: not used."""
    run = _copy(trained, tmp_path)
    _killed_after(run, SAVE)
    (run / "checkpoints" / f"checkpoint-{SAVE}" / MARKER).unlink()
    result = launch_here(*_args(run))
    assert result.returncode == 0, result.stderr[-3000:]
    assert any("starts over at step 1" in ln for ln in error_lines(result.stderr))
    _every_step_once(run)


def test_a_garbled_middle_row_is_kept_aside_on_resume(launch_here, trained, tmp_path):
    run = _copy(trained, tmp_path)
    _killed_after(run, SAVE)
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    lines[0] = lines[0][:20] + "\x00\x00"
    metrics.write_text("\n".join(lines) + "\n")
    result = launch_here(*_args(run))
    assert result.returncode == 0, result.stderr[-3000:]
    warned = [ln for ln in error_lines(result.stderr) if "not valid JSON" in ln]
    assert len(warned) == 1 and "line(s) 1 " in warned[0], result.stderr[-2000:]
    assert (run / "metrics.jsonl.garbled").read_text().startswith("1: ")
    assert _steps(metrics) == list(range(2, STEPS + 1))  # step 1 is the garbled row, kept aside


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("optimizer.pt", "optimizer.pt is missing"),
        ("rng_state.pth", "rng_state.pth is missing"),
        ("nan-weights", "not finite"),
    ],
)
def test_damaged_newest_checkpoint_is_set_aside_and_the_one_before_used(trained, tmp_path, capsys, damage, named):
    """The resume decision on checkpoints the trainer wrote (no training needed to see it)."""
    from safetensors.torch import load_file, save_file

    from r1exp.tracking.rundir import plan_resume

    run = _copy(trained, tmp_path)
    _killed_after(run, STEPS)
    newest = run / "checkpoints" / f"checkpoint-{STEPS}"
    if damage == "nan-weights":
        # Saved after a divergence: a whole, checksummed file with a NaN in it.
        tensors = load_file(str(newest / "model.safetensors"))
        first = sorted(tensors)[0]
        tensors[first].view(-1)[0] = float("nan")
        save_file(tensors, str(newest / "model.safetensors"), metadata={"format": "pt"})
        mark_complete(newest)
    else:
        (newest / damage).unlink()
    plan = plan_resume(run, STEPS)
    assert plan.checkpoint == run / "checkpoints" / f"checkpoint-{SAVE}"
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "set aside" in ln]
    assert len(lines) == 1 and named in lines[0], lines


def test_non_finite_numbers_right_after_resume_name_the_checkpoint(launch_here, trained, tmp_path):
    """A checkpoint saved with a NaN in its optimizer state (checksums fine): one line naming it."""
    run = _copy(trained, tmp_path)
    _killed_after(run, SAVE)
    ckpt = run / "checkpoints" / f"checkpoint-{SAVE}"
    state = torch.load(ckpt / "optimizer.pt", weights_only=False)
    for moments in state["state"].values():
        moments["exp_avg"].fill_(float("nan"))
    torch.save(state, ckpt / "optimizer.pt")
    mark_complete(ckpt)
    before = _status(run) if (run / "status.json").exists() else None
    result = launch_here(*_args(run))
    assert result.returncode == 2
    errors = [ln for ln in error_lines(result.stderr) if ln.startswith("r1exp: error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"right after resuming from checkpoint-{SAVE}" in errors[0] and str(ckpt) in errors[0], errors
    assert before is None and _status(run)["status"] == "failed"


def _unshare_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _unshare_available(), reason="needs `unshare -m` (a private mount namespace)")
def test_full_disk_during_the_first_save_then_relaunch_with_room(launch_here, tiny_cache, tmp_path):
    """A run dir with room for the logs but not for a checkpoint: one line; the same dir, given room
    (copied out of the full filesystem), starts over and logs every step once."""
    full, kept = tmp_path / "full", tmp_path / "kept"
    full.mkdir()
    args = " ".join(f"'{a}'" for a in _args(full))
    script = (
        f"mount -t tmpfs -o size=256k tmpfs {full} && {sys.executable} {ROOT / 'launch.py'} {args}; rc=$?; "
        f"cp -a {full} {kept}; exit $rc"
    )
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], cwd=tmp_path, env=launch_env(tiny_cache), capture_output=True, text=True
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "No space left on device" in lines[0], proc.stderr[-3000:]
    assert _steps(kept / "metrics.jsonl")  # some steps were logged before the save failed
    assert not list((kept / "checkpoints").glob(f"*/{MARKER}"))
    result = launch_here(*_args(kept))
    assert result.returncode == 0, result.stderr[-3000:]
    assert any("starts over at step 1" in ln for ln in error_lines(result.stderr))
    _every_step_once(kept)


# --- kills, Ctrl-C, SIGTERM, crashes ------------------------------------------------------------


def _start(run: Path, tiny_cache: Path, *extra: str) -> subprocess.Popen:
    # Its own session: Ctrl-C in a terminal reaches the whole foreground process group.
    return subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *_args(run, *extra)],
        cwd=run.parent,
        env=launch_env(tiny_cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # As in a terminal: Ctrl-C's default action. A shell that started the suite in the background
        # hands its jobs SIGINT ignored, and Python keeps an ignored SIGINT ignored.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended early: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run never got there")
        time.sleep(0.1)


def test_kill_9_before_the_first_checkpoint_then_relaunch(launch_here, tiny_cache, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    proc = _start(run, tiny_cache, "trainer.save_steps=3")
    _wait_for(proc, lambda: len(_steps(run / "metrics.jsonl")) >= 1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert not (run / "status.json").exists() and not list((run / "checkpoints").glob("checkpoint-*/" + MARKER))
    first = (run / "metrics.jsonl").read_text()
    result = launch_here(*_args(run, "trainer.save_steps=3"))
    assert result.returncode == 0, result.stderr[-3000:]
    _every_step_once(run)
    assert [p.read_text() for p in run.glob("logs-before-restart-*/metrics.jsonl")] == [first]


@pytest.mark.parametrize(("sig", "name", "code"), [(signal.SIGINT, "Ctrl-C", 130), (signal.SIGTERM, "SIGTERM", 143)])
def test_interrupted_run_ends_with_one_line_status_and_no_lock(launch_here, tiny_cache, tmp_path, sig, name, code):
    run = tmp_path / "run"
    run.mkdir()
    # More steps than any machine trains before the kill below (a loaded CI machine once finished 400).
    proc = _start(run, tiny_cache, "trainer.max_steps=100000")
    try:
        _wait_for(proc, lambda: (run / "checkpoints" / f"checkpoint-{SAVE}" / MARKER).exists())
        config = (run / ".hydra" / "config.yaml").read_bytes()
        # A second launch with other overrides while the run lives: refused, and nothing of the run changes.
        second = launch_here(*_args(run, "trainer.max_steps=100000", "trainer.beta=0.0"))
        assert second.returncode == 2 and "in use by" in _one_line_error(second)
        assert (run / ".hydra" / "config.yaml").read_bytes() == config and not (run / "status.json").exists()
        os.killpg(proc.pid, sig)
        _, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:  # a failed check above: the run must not train on after the test
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == code, stderr[-3000:]
    lines = error_lines(stderr)
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    assert lines[0].startswith(f"r1exp: interrupted ({name}) at step ")
    assert "the last checkpoint is" in lines[0] and "run the same command to resume" in lines[0]
    status = _status(run)
    assert status["status"] == "interrupted" and status["error"] == lines[0][len("r1exp: ") :]
    assert not (run / LOCK_NAME).exists()
    assert lines[0] in (run / "launch.log").read_text()


def test_a_crash_keeps_its_traceback_in_launch_log(launch, tmp_path):
    run = tmp_path / "run"
    proc = launch(*_args(run, "+reward.terms.boom={fn:tests.integration.test_faults:boom_reward,weight:1.0}"))
    assert proc.returncode == 1 and "Traceback" in proc.stderr
    log = (run / "launch.log").read_text()
    assert "Traceback (most recent call last)" in log and "RuntimeError: boom" in log
    status = _status(run)
    assert status["status"] == "failed" and "boom" in status["error"]


def boom_reward(prompts, completions, **kwargs):
    """A reward with a bug: the run crashes at its first step."""
    raise RuntimeError("boom")
