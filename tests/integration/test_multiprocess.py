"""Data-parallel training on CPU: 2 processes (gloo) train the tiny model into one run dir, and resume
together after all of them were killed.

accelerate's CLI starts several CPU processes only through MPI, so the CPU proof uses torchrun, the
torch.distributed launcher that `accelerate launch --multi_gpu` itself runs on GPUs; TRL and
transformers set up the gloo process group from its environment.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1exp.common import jsonl
from tests.conftest import ROOT, error_lines

pytestmark = pytest.mark.slow


def test_two_cpu_processes_train_into_one_run_dir(tiny_cache, tmp_path):
    from r1exp.models import TinySpec, build_tiny

    # Weights exist before the ranks start, as for any real model (a cold tiny build racing two
    # ranks is not what this test is about).
    build_tiny(TinySpec(), tiny_cache)
    run = tmp_path / "run"
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node",
            "2",
            str(ROOT / "launch.py"),
            "+experiment=smoke",
            "hardware.processes_per_node=2",
            "trainer.max_steps=4",
            "trainer.save_steps=2",
            f"hydra.run.dir={run}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["finished"]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # rank 0 writes, once per step
    state = json.loads((run / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert json.loads((run / "status.json").read_text())["status"] == "ok"


def _torchrun(run: Path, *overrides: str) -> list[str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    return [
        str(torchrun),
        "--standalone",
        "--nproc_per_node",
        "2",
        str(ROOT / "launch.py"),
        "+experiment=smoke",
        "hardware.processes_per_node=2",
        *overrides,
        f"hydra.run.dir={run}",
    ]


def _children(pid: int) -> list[int]:
    """Direct child processes of `pid` (torchrun starts each rank in a session of its own)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
            found.append(int(proc.name))
    return found


def _steps(run: Path) -> list[int]:
    file = run / "metrics.jsonl"
    return [r["step"] for r in jsonl.read(file)] if file.exists() else []


def test_two_processes_resume_after_all_ranks_are_killed(tiny_cache, tmp_path):
    from r1exp.models import TinySpec, build_tiny
    from r1exp.tracking.checkpoints import MARKER

    build_tiny(TinySpec(), tiny_cache)
    run = tmp_path / "run"
    steps = 30
    cmd = _torchrun(run, f"trainer.max_steps={steps}", "trainer.save_steps=5", "trainer.save_total_limit=10")
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while not ((run / "checkpoints" / "checkpoint-10" / MARKER).exists() and max(_steps(run) or [0]) >= 12):
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint-10 within 300 s"
            time.sleep(0.2)
        ranks = _children(first.pid)
        assert len(ranks) == 2, ranks
        # kill -9 of every rank and of torchrun: nothing gets to clean up
        for pid in [*ranks, first.pid]:
            os.kill(pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait()
    before = json.loads((run / "manifest.json").read_text())
    assert not before["finished"] and max(_steps(run)) < steps

    second = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert _steps(run) == list(range(1, steps + 1))  # steps continue, none twice
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["resumes"] and manifest["resumes"][-1]["step"] >= 10
    assert manifest["reference_hash"] == before["reference_hash"]
    assert manifest["world_size"] == 2 and manifest["finished"] and manifest["final_step"] == steps
    state = json.loads((run / "checkpoints" / f"checkpoint-{steps}" / "trainer_state.json").read_text())
    assert state["global_step"] == steps


def test_deepspeed_from_the_config_needs_the_package(launch_here):
    proc = launch_here("+experiment=smoke", "hardware.deepspeed=zero2")
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and "hardware.deepspeed=zero2" in lines[0] and "pip install deepspeed" in lines[0]


def test_several_processes_need_an_explicit_run_dir(launch_here):
    proc = launch_here("+experiment=smoke", "hardware.processes_per_node=2", env={"WORLD_SIZE": "2", "RANK": "0"})
    assert proc.returncode == 2
    assert "hydra.run.dir" in error_lines(proc.stderr)[0]


def test_preset_process_count_must_match_the_launch(launch_here):
    proc = launch_here("hardware=multi_gpu")
    assert proc.returncode == 2
    line = error_lines(proc.stderr)[0]
    assert "hardware.processes_per_node=4 = 4 process(es) but 1 were launched" in line, line
