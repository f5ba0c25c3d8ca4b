"""Local fault: `kill -9` of a tiny training run after its first checkpoint, then a relaunch into the
same run dir continues it: every step logged once, the reference hash unchanged, one wandb run."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from r1exp.common import jsonl
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

STEPS = 12
SAVE = 4


def _args(run):
    return [
        "+experiment=smoke",
        "logger=wandb",
        f"trainer.max_steps={STEPS}",
        f"trainer.save_steps={SAVE}",
        "trainer.save_total_limit=10",
        f"hydra.run.dir={run}",
    ]


def _steps(run):
    return [r["step"] for r in jsonl.read(run / "metrics.jsonl")]


def test_kill_9_after_first_checkpoint_then_relaunch(launch_here, tiny_cache, tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *_args(run)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = run / "checkpoints" / f"checkpoint-{SAVE}" / "trainer_state.json"
    deadline = time.monotonic() + 300
    try:
        # Past the first checkpoint, so the steps after it are logged and must be trained again.
        while not (first.exists() and max(_steps(run) or [0]) > SAVE):
            if proc.poll() is not None:
                pytest.fail("the run ended before it could be killed")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint appeared within 300 s")
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = json.loads((run / "manifest.json").read_text())
    run_id = (run / "wandb_id.txt").read_text().strip()
    assert not before["finished"] and max(_steps(run)) < STEPS

    proc = launch_here(*_args(run))
    assert proc.returncode == 0, proc.stderr[-3000:]

    assert _steps(run) == list(range(1, STEPS + 1))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["resumes"] and manifest["resumes"][0]["step"] % SAVE == 0
    assert manifest["reference_hash"] == before["reference_hash"]
    assert manifest["finished"] and manifest["final_step"] == STEPS
    assert (run / "wandb_id.txt").read_text().strip() == run_id
    attempts = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(a.endswith(f"-{run_id}") for a in attempts), attempts
