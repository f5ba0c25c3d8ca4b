"""`launch.py --cfg job` composes and prints the config without loading the heavy libraries.

Start-up time itself is measured in benchmarks/startup.py (never timed here); this pins its cause:
torch, transformers and TRL cost seconds to import, and a command that only composes must not pay it.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, launch_env

HEAVY = ("torch", "transformers", "trl", "datasets", "peft", "accelerate", "wandb", "math_verify")


def loaded_by(*args: str, modules: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None) -> list[str]:
    """Which of `modules` are in sys.modules when `python launch.py ARGS` exits (run as a user runs it)."""
    code = (
        "import atexit, runpy, sys\n"
        f"heavy = {modules!r}\n"
        "atexit.register(lambda: print('loaded:' + ','.join(m for m in heavy if m in sys.modules)))\n"
        "sys.argv = ['launch.py', *sys.argv[1:]]\n"
        "runpy.run_path('launch.py', run_name='__main__')\n"
    )
    env = {**os.environ, "WANDB_MODE": "offline", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("loaded:"))
    return [m for m in line[len("loaded:") :].split(",") if m]


@pytest.mark.parametrize(
    "args",
    [
        ["--cfg", "job"],
        ["--cfg", "job", "+experiment=smoke"],
        ["--cfg", "job", "model=qwen7b", "lora=r16", "hardware=rtx3090", "data=math", "reward=math"],
    ],
)
def test_printing_the_config_imports_no_heavy_library(args):
    assert loaded_by(*args) == []


def test_the_probe_sees_what_launch_imports():
    assert loaded_by("--cfg", "job", modules=("hydra", "omegaconf", "torch")) == ["hydra", "omegaconf"]


def test_the_multirun_callback_every_launch_builds_loads_no_report_stack():
    """Hydra instantiates it at every launch; pandas and matplotlib load only when a report is written."""
    code = (
        "import sys; import r1exp.analysis.callback; from r1exp.analysis import load_runs\n"
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))\n"
        "from r1exp.analysis import comparison_table\n"
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == "[]"
    assert "pandas" in proc.stdout.splitlines()[1]


def test_a_countdown_run_loads_no_math_verifier(tiny_cache, tmp_path):
    """Countdown's rewards are exact arithmetic: math-verify (and its sympy parsers) is for math data only."""
    modules = ("math_verify", "latex2sympy2_extended", "matplotlib")
    run = ("+experiment=smoke", "trainer.max_steps=1", f"hydra.run.dir={tmp_path / 'run'}")
    # matplotlib: the probe sees the run's end (its plots).
    assert loaded_by(*run, modules=modules, env=launch_env(tiny_cache)) == ["matplotlib"]
    assert sorted(p.name for p in (tmp_path / "run" / "plots").iterdir()) == [
        "accuracy.png",
        "response_length.png",
        "reward.png",
        "truncation.png",
    ]
