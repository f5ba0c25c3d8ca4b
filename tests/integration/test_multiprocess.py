"""Data-parallel training on CPU: 2 processes (gloo) train the tiny model into one run dir.

accelerate's CLI starts several CPU processes only through MPI, so the CPU proof uses torchrun, the
torch.distributed launcher that `accelerate launch --multi_gpu` itself runs on GPUs; TRL and
transformers set up the gloo process group from its environment.
"""

import json
import os
import subprocess
import sys
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


def test_several_processes_need_an_explicit_run_dir(launch):
    proc = launch("+experiment=smoke", env={"WORLD_SIZE": "2", "RANK": "0"})
    assert proc.returncode == 2
    assert "hydra.run.dir" in error_lines(proc.stderr)[0]


def test_preset_process_count_must_match_the_launch(launch):
    proc = launch("hardware=multi_gpu")
    assert proc.returncode == 2
    assert "hardware.num_processes=4 but 1 process" in error_lines(proc.stderr)[0]
