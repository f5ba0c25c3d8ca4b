"""judge.backend=reference: a tiny LoRA run judges with its own reference model, and that judge is the
base model (adapters disabled), not the trained policy.

The check: every judgment the run logged (judge.replies_path) is regenerated here, greedily, by the
base model loaded fresh from model.path, and must match exactly; the trained policy (base + final
adapter) must disagree on at least one of them, so the check could tell the two apart.
"""

import json

import pytest

from r1exp.common import jsonl
from r1exp.models import load_model, load_tokenizer
from r1exp.tasks.zh_general.judge import fill
from tests.conftest import error_lines
from tests.integration.test_judge_http import write_questions, zh_smoke

pytestmark = pytest.mark.slow

MAX_NEW_TOKENS = 12


def greedy(model, tokenizer, text: str) -> str:
    """What ReferenceModel.generate does for one prompt (batch of one, so no padding)."""
    import torch

    enc = tokenizer([text], return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)[0]


def test_reference_judge_runs_on_the_base_weights(launch_here, tmp_path):
    from peft import PeftModel

    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    replies = run / "judge_replies.jsonl"
    proc = launch_here(
        *zh_smoke(data),
        "lora=r8",
        "judge.backend=reference",
        "judge.reference.batch_size=1",
        f"judge.reference.max_new_tokens={MAX_NEW_TOKENS}",
        f"judge.replies_path={replies}",
        # A random tiny model never writes a SCORE line: tolerate that here (the stop is tested below).
        "judge.max_failure_rate=1.0",
        "trainer.max_steps=3",
        "trainer.save_steps=100",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["reward_stats/judge/calls"] > 0 for r in rows)
    # Every judgment is a parse failure, counted, and (at max_failure_rate=1) training goes on.
    assert sum(r.get("reward_stats/judge/parse_failures", 0) for r in rows) > 0

    logged = jsonl.read(replies)
    assert logged and {r["backend"] for r in logged} == {"reference"}
    manifest = json.loads((run / "manifest.json").read_text())
    cfg = manifest["config"]["judge"]
    tokenizer = load_tokenizer(manifest["model"]["path"])
    base = load_model(manifest["model"]["path"], "float32").eval()
    texts = [fill(cfg["reference"]["chat_wrapper"], {"system": cfg["system"], "prompt": r["prompt"]}) for r in logged]
    assert [greedy(base, tokenizer, t) for t in texts] == [r["reply"] for r in logged]

    trained = PeftModel.from_pretrained(base, str(run / "checkpoints" / "final")).eval()
    assert any(greedy(trained, tokenizer, t) != r["reply"] for t, r in zip(texts, logged, strict=True))


def test_a_reference_judge_that_cannot_follow_the_prompt_stops_the_run_with_one_line(launch_here, tmp_path):
    """The default judge.max_failure_rate: a model whose judgments never give a score stops the run at
    its first reward batch, on the console and in status.json, instead of training on the format term."""
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    proc = launch_here(
        *zh_smoke(data),
        "lora=r8",
        "judge.backend=reference",
        f"judge.reference.max_new_tokens={MAX_NEW_TOKENS}",
        "trainer.max_steps=3",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in error_lines(proc.stderr) if "error" in ln]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "judgments failed" in lines[0] and "judge.max_failure_rate=0.2" in lines[0]
    assert "judge.backend=openai" in lines[0]  # the way out for a model that cannot judge
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "judgments failed" in status["error"]
