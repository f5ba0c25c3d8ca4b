"""A task, a reward and a training feature that live outside r1exp train the tiny model.

The package is tests/fixtures/sort_task (put on PYTHONPATH, as a user's own package would be); its
config file is found through `hydra.searchpath`. See docs/extending.md.
"""

import json
import os

import pytest

from r1exp.common import jsonl
from tests.conftest import ROOT, error_lines

pytestmark = pytest.mark.slow

TASK = ROOT / "tests" / "fixtures" / "sort_task"


def _env() -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(TASK), os.environ.get("PYTHONPATH", "")])}


def test_a_task_and_reward_from_outside_r1exp_train(launch_here, tmp_path):
    run = tmp_path / "run"
    args = ["+experiment=smoke", f"hydra.searchpath=[file://{TASK / 'conf'}]", "+task=sort_numbers"]
    # A training feature of one's own joins the built-in ones by import path (step_log.py).
    features = "features=[samples,step_log:StepLog]"
    proc = launch_here(*args, features, "trainer.max_steps=2", f"hydra.run.dir={run}", env=_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run / "steps.txt").read_text().split() == ["1", "2"]
    assert json.loads((run / "manifest.json").read_text())["step_log"] == "steps.txt"
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    # TRL logged the outside reward under its term name, and it is the run's accuracy.
    assert all("rewards/correct" in r and r["accuracy"] == r["rewards/correct"] for r in rows)
    samples = jsonl.read(run / "samples.jsonl")
    assert samples and "Sort these numbers" in str(samples[0]["prompt"])


def test_an_import_path_that_does_not_import_is_one_line(launch_here):
    proc = launch_here("hardware=cpu", "model=tiny", "reward.terms.correct.fn=no_such_pkg.rewards:mine", timeout=300)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "reward.terms.correct.fn=no_such_pkg.rewards:mine" in lines[0] and "PYTHONPATH" in lines[0]
