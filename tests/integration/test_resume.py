"""Resume: kill a tiny run after a checkpoint, relaunch into the same run dir, and check the step
continues, no step is logged twice, and the reference is unchanged (full fine-tune and LoRA)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from r1exp.common import jsonl
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

STEPS = 16


def _args(run, lora):
    return [
        "+experiment=smoke",
        f"lora={lora}",
        f"trainer.max_steps={STEPS}",
        "trainer.save_steps=4",
        "trainer.save_total_limit=10",
        "logger.samples_every=2",
        f"hydra.run.dir={run}",
    ]


def _kill_after_checkpoint(run, lora, tiny_cache, min_ckpt=8, min_logged=10, extra=()):
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *_args(run, lora), *extra],
        cwd=run.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"run ended before it could be interrupted: {proc.stderr.read()[-2000:]}")
            logged = [r["step"] for r in jsonl.read(run / "metrics.jsonl")]
            if (
                (run / "checkpoints" / f"checkpoint-{min_ckpt}" / "trainer_state.json").exists()
                and logged
                and max(logged) >= min_logged
            ):
                break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint appeared in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("lora", ["none", "r8"])
def test_interrupted_run_resumes_without_duplicate_steps(launch_here, tiny_cache, tmp_path, lora):
    run = tmp_path / "run"
    run.mkdir()
    _kill_after_checkpoint(run, lora, tiny_cache)
    before = jsonl.read(run / "metrics.jsonl")
    manifest_before = json.loads((run / "manifest.json").read_text())
    assert not manifest_before["finished"]
    assert max(r["step"] for r in before) < STEPS

    proc = launch_here(*_args(run, lora))
    assert proc.returncode == 0, proc.stderr[-3000:]

    rows = jsonl.read(run / "metrics.jsonl")
    steps = [r["step"] for r in rows]
    assert steps == list(range(1, STEPS + 1)), steps
    manifest = json.loads((run / "manifest.json").read_text())
    resumed_from = manifest["resumes"][0]["step"]
    assert resumed_from >= 8 and resumed_from % 4 == 0
    assert manifest["reference_hash"] == manifest_before["reference_hash"]
    assert manifest["finished"] and manifest["final_step"] == STEPS
    # rows up to the checkpoint are kept as they were; later ones were trained again
    assert rows[:resumed_from] == before[:resumed_from]
    sample_steps = Counter(s["step"] for s in jsonl.read(run / "samples.jsonl"))
    # smoke writes 2 samples per sampled step: each sampled step exactly once, none twice
    assert sorted(sample_steps) == [1, *range(2, STEPS + 1, 2)]
    assert set(sample_steps.values()) == {2}
    state = json.loads((run / "checkpoints" / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS


def test_resume_refuses_changed_base_weights(launch_here, tiny_cache, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    run = tmp_path / "run"
    run.mkdir()
    _kill_after_checkpoint(run, "none", tiny_cache, min_ckpt=4, min_logged=5)
    # Another tiny seed is another configuration: refused before any model loads.
    proc = launch_here(*_args(run, "none"), "model.tiny.seed=1")
    assert proc.returncode == 2
    assert "model.tiny.seed: 0 -> 1" in proc.stderr and "another configuration" in proc.stderr
    # The same configuration whose weights changed on disk (a model cache that moved, then was
    # modified): the reference would silently change; the weight hash refuses it.
    base = Path(json.loads((run / "manifest.json").read_text())["model"]["path"])
    moved = tmp_path / "moved-cache"
    shutil.copytree(tiny_cache, moved)
    weights = moved / base.relative_to(tiny_cache) / "model.safetensors"
    tensors = load_file(str(weights))
    first = sorted(tensors)[0]
    tensors[first] = tensors[first] + torch.ones_like(tensors[first])
    save_file(tensors, str(weights), metadata={"format": "pt"})
    proc = launch_here(*_args(run, "none"), env={"R1EXP_CACHE": str(moved)})
    assert proc.returncode == 2
    assert "reference_hash" in proc.stderr and "model.path" in proc.stderr


def test_lora_reference_is_the_base_model(launch_here, tmp_path):
    """After LoRA training, the policy with adapters disabled is exactly the base model."""
    import torch
    from peft import PeftModel

    from r1exp.models import load_model, load_tokenizer

    run = tmp_path / "run"
    proc = launch_here(
        "+experiment=smoke", "lora=r8", "trainer.max_steps=6", "trainer.save_steps=3", f"hydra.run.dir={run}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    base_path = manifest["model"]["path"]
    tok = load_tokenizer(base_path)
    ids = tok("Using the numbers [1, 2, 3] <think>", return_tensors="pt")["input_ids"]
    base_logits = load_model(base_path, "float32")(ids).logits
    policy = PeftModel.from_pretrained(load_model(base_path, "float32"), str(run / "checkpoints" / "final"))
    with torch.no_grad():
        trained = policy(ids).logits
        with policy.disable_adapter():
            reference = policy(ids).logits
    assert torch.equal(reference, base_logits)
    assert not torch.allclose(trained, base_logits)
