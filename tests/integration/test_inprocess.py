"""The in-process launch most launch tests use (`launch_here`, tests/inprocess.py): the same exit status,
output and launch.log as `python launch.py`, and the test process left as it found it."""

from __future__ import annotations

import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

PLAN = ["cmd=plan", "+experiment=math_7b_base_lora_3090"]


def _process_state() -> dict[str, Any]:
    """What a launch changes in the process that runs it."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    root = logging.getLogger()
    return {
        "cwd": os.getcwd(),
        "argv": list(sys.argv),
        "path": list(sys.path),
        "environ": dict(os.environ),
        "streams": (sys.stdout, sys.stderr),
        "root logger": (root.level, list(root.handlers), list(root.filters)),
        "signals": {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)},
        "warnings": (list(warnings.filters), warnings.showwarning),
        "hydra": (GlobalHydra.instance().is_initialized(), HydraConfig.initialized()),
    }


def _log_lines(run: Path) -> list[str]:
    """launch.log without its header line (a time stamp)."""
    return (run / "launch.log").read_text().splitlines()[1:]


@pytest.mark.parametrize(
    "args",
    [PLAN, ["trainer.no_such_option=1"], ["hardware=cpu", "data.ops=+^"]],
    ids=["plan", "unknown-key", "bad-value"],
)
def test_a_launch_here_is_the_launch_a_user_runs(launch, launch_here, tmp_path, args):
    (tmp_path / "sub").mkdir()
    (tmp_path / "here").mkdir()
    # The same run dir path relative to each launch's working dir; absolute paths differ by that dir.
    sub = launch(*args, "hydra.run.dir=run", cwd=tmp_path / "sub")
    before = _process_state()
    here = launch_here(*args, "hydra.run.dir=run", cwd=tmp_path / "here")
    assert _process_state() == before

    def same(text: str) -> str:
        return text.replace(str(tmp_path / "sub"), str(tmp_path / "here"))

    assert here.returncode == sub.returncode
    assert here.args == sub.args
    assert here.stdout == same(sub.stdout)
    assert here.stderr == same(sub.stderr)
    if sub.returncode == 0:
        assert _log_lines(tmp_path / "here" / "run") == [same(ln) for ln in _log_lines(tmp_path / "sub" / "run")]
    else:
        assert not (tmp_path / "here" / "run").exists() and not (tmp_path / "sub" / "run").exists()


def test_launches_here_are_independent(launch_here, tmp_path):
    """A refused launch after a finished one prints only its own line; the next one only its own output."""
    first = launch_here(*PLAN, f"hydra.run.dir={tmp_path / 'a'}")
    refused = launch_here("trainer.no_such_option=1")
    again = launch_here(*PLAN, f"hydra.run.dir={tmp_path / 'b'}")
    assert (first.returncode, refused.returncode, again.returncode) == (0, 2, 0)
    assert refused.stdout == "" and refused.stderr.count("r1exp:") == 1
    assert again.stdout == first.stdout.replace(str(tmp_path / "a"), str(tmp_path / "b"))
    assert _log_lines(tmp_path / "b") == [
        ln.replace(str(tmp_path / "a"), str(tmp_path / "b")) for ln in _log_lines(tmp_path / "a")
    ]
