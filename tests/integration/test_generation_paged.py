"""generation=paged (transformers continuous batching through TRL) on CPU with the tiny model: it
trains (full fine-tune, and LoRA with reference-guided groups in bf16), decodes exactly what
generation=hf decodes, and resumes after a kill."""

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

TIMING = ("time/step", "time/generation", "time/reward", "time/logprobs", "time/other", "time/train")


def _smoke(run, *extra):
    return ["+experiment=smoke", "generation=paged", f"hydra.run.dir={run}", *extra]


def test_paged_full_fine_tune_trains(launch_here, tmp_path):
    run = tmp_path / "run"
    proc = launch_here(*_smoke(run, "trainer.max_steps=3", "logger.samples_every=1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert any(r["grad_norm"] > 0 for r in rows)
    for row in rows:
        assert 0 < row["completion_length/mean"] <= 32
        assert all(row[key] >= 0 for key in TIMING)
        assert row["perf/generated_tokens_per_s"] > 0
    samples = jsonl.read(run / "samples.jsonl")
    assert samples and all(isinstance(s["completion"], str) and s["completion"] for s in samples)
    assert set(samples[0]["rewards"]) == {"correct", "format", "soft_format"}


def test_paged_lora_with_guided_groups_keeps_fp32_adapters(launch_here, tmp_path):
    import torch
    from safetensors import safe_open

    run = tmp_path / "run"
    # bf16: TRL casts the whole model to bf16 before generate_batch; r1exp puts the fp32 tensors back.
    proc = launch_here(
        *_smoke(run, "lora=r8", "trainer.guide_with_reference=true", "hardware.bf16=true", "trainer.max_steps=2")
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[0]["guided/share"] > 0
    with safe_open(str(run / "checkpoints" / "final" / "adapter_model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}  # noqa: SIM118 (not a dict)


def test_paged_decodes_like_hf(tiny_cache, tmp_path):
    """Same prompts, greedy: the trainer's generation step returns the same tokens with either engine."""
    import torch
    from datasets import Dataset
    from trl import GRPOConfig

    from r1exp.models import TinySpec, build_tiny, load_model, load_tokenizer
    from r1exp.trainer import R1GRPOTrainer

    path = str(build_tiny(TinySpec(), tiny_cache))
    tokenizer = load_tokenizer(path)
    prompts = [
        f"User: use 3, {n} and 7 to make {n + 10}.\nAssistant: Let me solve this step by step.\n<think>"
        for n in range(4)
    ]
    prompt_ids = tokenizer(prompts)["input_ids"]
    decoded = {}
    for paged in (False, True):
        args = GRPOConfig(
            output_dir=str(tmp_path / str(paged)),
            use_cpu=True,
            bf16=False,
            report_to=[],
            per_device_train_batch_size=4,
            num_generations=2,
            max_completion_length=24,
            generation_kwargs={"do_sample": False},
            use_transformers_continuous_batching=paged,
            transformers_continuous_batching_config={"block_size": 32} if paged else None,
        )
        trainer = R1GRPOTrainer(
            model=load_model(path, "float32"),
            reward_funcs=[lambda prompts, completions, **kw: [0.0] * len(completions)],
            args=args,
            train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
            processing_class=tokenizer,
        )
        with torch.no_grad():
            ids, _ = trainer._generate_single_turn(prompt_ids, None, {}, 2)
        decoded[paged] = tokenizer.batch_decode(ids, skip_special_tokens=False)
        assert trainer.timer._sections["generation"] > 0
    assert decoded[True] == decoded[False]
    assert all(text for text in decoded[True])


def test_paged_run_resumes_after_a_kill(launch_here, tiny_cache, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    args = _smoke(run, "trainer.max_steps=8", "trainer.save_steps=2", "trainer.save_total_limit=4")
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "launch.py"), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    try:
        while not (run / "checkpoints" / "checkpoint-4" / "trainer_state.json").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint-4 in time"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert not json.loads((run / "manifest.json").read_text())["finished"]

    relaunch = launch_here(*args)
    assert relaunch.returncode == 0, relaunch.stderr[-3000:]
    assert [r["step"] for r in jsonl.read(run / "metrics.jsonl")] == list(range(1, 9))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["finished"] and manifest["final_step"] == 8
    assert manifest["resumes"] and manifest["resumes"][-1]["step"] >= 4
