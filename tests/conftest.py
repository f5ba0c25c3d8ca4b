"""Shared helpers: the conf dir, composing configs, and running launch.py (in a subprocess, or in this process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.inprocess import run_launch_here

# Property tests are deterministic (derandomize) and never timed: a loaded 2-core machine must not turn
# slow example generation into a failure (each test's own @settings may still narrow these).
settings.register_profile(
    "r1exp", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("r1exp")

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def groups() -> dict[str, list[str]]:
    """Every config group and its options, read from conf/."""
    return {
        d.name: sorted(p.stem for p in d.glob("*.yaml"))
        for d in sorted(CONF.iterdir())
        if d.is_dir() and d.name != "local"
    }


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """One tiny-model cache for the whole session (each build is deterministic)."""
    return tmp_path_factory.mktemp("r1exp-cache")


def launch_env(tiny_cache: Path, env: dict | None = None) -> dict[str, str]:
    """The environment of a test's `launch.py` process: the session's tiny-model cache, offline wandb."""
    return {
        **os.environ,
        "R1EXP_CACHE": str(tiny_cache),
        "WANDB_MODE": "offline",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }


def run_launch(
    args: list[str], tiny_cache: Path, cwd: Path, timeout: float = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run `python launch.py ARGS` in `cwd` (also from module-scoped fixtures); the CompletedProcess."""
    return subprocess.run(
        [sys.executable, str(ROOT / "launch.py"), *args],
        cwd=cwd,
        env=launch_env(tiny_cache, env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def launch(tiny_cache, tmp_path):
    """Run `python launch.py ARGS` in a scratch working dir; returns the CompletedProcess.

    A subprocess: for tests of the process itself (README command, signals, kills, exit, imports);
    `launch_here` runs the same command line in this process, seconds faster per launch.
    """

    def run(*args: str, timeout: float = 600, env: dict | None = None, cwd: Path | None = None):
        return run_launch(list(args), tiny_cache, cwd or tmp_path, timeout, env)

    return run


@pytest.fixture
def launch_here(tiny_cache, tmp_path):
    """`launch` in this process (tests/inprocess.py): the same command line, run dir, output and exit
    status, without a new interpreter's start-up and imports."""

    def run(*args: str, timeout: float = 600, env: dict | None = None, cwd: Path | None = None):
        return run_launch_here(list(args), tiny_cache, cwd or tmp_path, timeout, env)

    return run


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("r1exp:")]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared evaluation data ($R1EXP_DATA_DIR). Missing: skipped on a laptop, a failure in CI."""
    value = os.environ.get("R1EXP_DATA_DIR")
    path = Path(value) if value else None
    if path is None or not path.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"R1EXP_DATA_DIR={value!r} is not a directory; .ci/run must set it")
        pytest.skip("R1EXP_DATA_DIR is not set (CI sets it to the shared data folder)")
    return path


# The longest test files, longest first (measured one file at a time with `-n 0`; the Slurm tests on the
# 2-core CI machine). Under `--dist loadfile` a file runs on one worker, and xdist hands files out in
# collection order: a long file collected last (the Slurm tests, ~4 minutes) would run alone at the end
# while the other worker idles.
LONGEST_FIRST = (
    "test_slurm.py",
    "test_faults.py",
    "test_multiprocess.py",
    "test_sweep_report.py",
    "test_curriculum_train.py",
    "test_resume.py",
    "test_rundir_launch.py",
    "test_generation_paged.py",
    "test_eval_cmd.py",
    "test_judge_faults.py",
    "test_kill_resume.py",
    "test_judge_reference.py",
    "test_learning.py",
    "test_smoke.py",
    "test_data_fidelity.py",
    "test_gpu_step_dry.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # A stable sort: the other files keep their order, after the long ones.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
