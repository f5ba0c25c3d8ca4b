"""cmd=eval on a tiny checkpoint: summary.json and eval.jsonl; re-scoring eval.jsonl with cmd=score
gives the same numbers; periodic greedy eval during training lands in metrics.jsonl."""

import json

import pytest

from r1exp.common import jsonl

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(launch, tmp_path):
    run = tmp_path / "run"
    proc = launch(
        "+experiment=smoke",
        "trainer.max_steps=4",
        "trainer.save_steps=100",
        "periodic_eval.every=2",
        "periodic_eval.prompts=4",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def test_eval_summary_and_rescoring(launch, trained, tmp_path):
    rows = jsonl.read(trained / "metrics.jsonl")
    assert [("eval/accuracy" in r) for r in rows] == [False, True, False, True]
    assert all(r["eval/length_mean"] > 0 for r in rows if "eval/length_mean" in r)

    out = tmp_path / "eval"
    proc = launch(
        "cmd=eval",
        "+experiment=smoke",
        f"cmd.checkpoint={trained}",
        "cmd.k=4",
        "cmd.limit=6",
        "cmd.max_new_tokens=48",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["samples"] == 24 and summary["prompts"] == 6 and summary["max_new_tokens"] == 48
    for key in (
        "accuracy",
        "pass@1",
        "pass@2",
        "pass@4",
        "maj@4",
        "format_rate",
        "truncation_rate",
        "length_mean",
        "length_median",
        "length_p90",
        "by_difficulty",
    ):
        assert key in summary, key
    assert set(summary["by_difficulty"]) <= {"3", "4"} and summary["by_difficulty"]
    assert summary["checkpoint"].endswith("checkpoints/final")
    evals = jsonl.read(out / "eval.jsonl")
    assert len(evals) == 24 and all(r["completion_tokens"] <= 48 for r in evals)
    assert any(r["truncated"] for r in evals) == (summary["truncation_rate"] > 0)

    rescored = tmp_path / "rescored.jsonl"
    proc = launch("cmd=score", "+experiment=smoke", f"cmd.input={out / 'eval.jsonl'}", f"cmd.output={rescored}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = jsonl.read(rescored)
    assert [r["rewards"] for r in again] == [r["rewards"] for r in evals]
    assert [r["reward"] for r in again] == pytest.approx([r["reward"] for r in evals])


def test_eval_refuses_greedy_with_several_samples(launch, tmp_path):
    proc = launch("cmd=eval", "+experiment=smoke", "cmd.k=4", "cmd.temperature=0", f"hydra.run.dir={tmp_path / 'e'}")
    assert proc.returncode == 2 and "cmd.k=1" in proc.stderr


def test_eval_context_sweep_compares_budgets(launch, trained, tmp_path):
    """+sweep=eval_context evaluates one checkpoint at several token budgets, and the report reads it."""
    import csv

    sweep = tmp_path / "ctx"
    proc = launch(
        "+sweep=eval_context",
        "+experiment=smoke",
        f"cmd.checkpoint={trained}",
        "cmd.k=2",
        "cmd.limit=3",
        "cmd.max_new_tokens=8,24",
        f"hydra.sweep.dir={sweep}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [r["cmd.max_new_tokens"] for r in rows] == ["8", "24"]
    assert all(r["status"] == "ok" and r["pass@2"] != "" and r["accuracy"] != "" for r in rows)
    # a longer budget never truncates more often
    assert float(rows[1]["truncation_rate"]) <= float(rows[0]["truncation_rate"])
    assert float(rows[1]["response_length"]) > float(rows[0]["response_length"])
