"""cmd=eval on a tiny checkpoint: summary.json and eval.jsonl, a short table on the console; re-scoring
eval.jsonl with cmd=score gives the same numbers; periodic greedy eval during training lands in
metrics.jsonl."""

import json
import re

import pytest

from r1exp.common import jsonl
from tests.conftest import error_lines

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(launch_here, tmp_path):
    run = tmp_path / "run"
    proc = launch_here(
        "+experiment=smoke",
        "trainer.max_steps=4",
        "trainer.save_steps=100",
        "periodic_eval.every=2",
        "periodic_eval.prompts=4",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run


def test_eval_summary_and_rescoring(launch_here, trained, tmp_path):
    rows = jsonl.read(trained / "metrics.jsonl")
    assert [("eval/accuracy" in r) for r in rows] == [False, True, False, True]
    assert all(r["eval/length_mean"] > 0 for r in rows if "eval/length_mean" in r)

    out = tmp_path / "eval"
    proc = launch_here(
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
    # The console: the generation bar and a short table of summary.json's numbers, no raw dict, no loading bars.
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == (
        f"r1exp: evaluated {trained / 'checkpoints' / 'final'} on countdown (test split): 6 prompts x 4 samples, "
        "up to 48 new tokens, temperature 0.6"
    )
    assert len(lines) <= 16 and not any("{" in line for line in lines)
    assert lines[-1] == f"  written: {out / 'summary.json'} (every completion: eval.jsonl)"
    table = {row[0]: row[1:] for row in (re.split(r"\s{2,}", line.strip()) for line in lines[2:-1])}
    for key, label in (("accuracy", "accuracy"), ("pass@4", "pass@4"), ("truncation_rate", "truncation_rate")):
        assert float(table[label][0]) == pytest.approx(summary[key], abs=5e-4), label
    assert table["prompts"][0] == "6" and float(table["length mean"][0]) == pytest.approx(
        summary["length_mean"], abs=0.05
    )
    assert "Loading weights" not in proc.stderr and "generating" in proc.stderr
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
    proc = launch_here("cmd=score", "+experiment=smoke", f"cmd.input={out / 'eval.jsonl'}", f"cmd.output={rescored}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = jsonl.read(rescored)
    assert [r["rewards"] for r in again] == [r["rewards"] for r in evals]
    assert [r["reward"] for r in again] == pytest.approx([r["reward"] for r in evals])


def test_eval_refuses_greedy_with_several_samples(launch_here, tmp_path):
    proc = launch_here(
        "cmd=eval", "+experiment=smoke", "cmd.k=4", "cmd.temperature=0", f"hydra.run.dir={tmp_path / 'e'}"
    )
    assert proc.returncode == 2 and "cmd.k=1" in proc.stderr


def test_eval_context_sweep_compares_budgets(launch_here, trained, tmp_path):
    """+sweep=eval_context evaluates one checkpoint at several token budgets, and the report reads it."""
    import csv

    sweep = tmp_path / "ctx"
    proc = launch_here(
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
    assert all(r["status"] == "ok" and r["pass@2 [eval]"] != "" and r["accuracy [eval]"] != "" for r in rows)
    # a longer budget never truncates more often
    assert float(rows[1]["truncation_rate [eval]"]) <= float(rows[0]["truncation_rate [eval]"])
    assert float(rows[1]["response_length [eval]"]) > float(rows[0]["response_length [eval]"])
    # the plot shows what the sweep varies: metrics against the token budget, not empty step axes
    png = (sweep / "comparison.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 20000


def test_eval_of_a_run_dir_uses_the_run_config_and_records_the_protocol(launch_here, trained, tmp_path):
    """No +experiment here: data, template, reward and token budget come from the run's own config."""
    out = tmp_path / "eval"
    proc = launch_here(
        "cmd=eval",
        f"cmd.checkpoint={trained}",
        "hardware=cpu",
        "cmd.k=2",
        "cmd.limit=5",
        "reward.terms.format.weight=0.25",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    protocol = summary["protocol"]
    assert protocol["run_dir"] == str(trained)
    # the run's test split (smoke: 32 generated instances, seed 42), its reward with its soft-format
    # term, its template and its 32-token budget; not the defaults of a fresh config
    assert protocol["eval_set"] == "countdown (test split)" and protocol["template"] == "r1zero_base"
    assert protocol["reward_terms"]["soft_format"] == {"fn": "soft_format", "weight": 0.5}  # smoke's, from the run
    assert protocol["reward_terms"]["format"] == {"fn": "strict_format", "weight": 0.25}  # the override on top
    assert summary["max_new_tokens"] == 32 and protocol["max_new_tokens"] == 32
    assert protocol["overrides"] == ["reward.terms.format.weight=0.25"]
    assert summary["prompts"] == 5
    evals = jsonl.read(out / "eval.jsonl")
    run_config = (trained / ".hydra" / "config.yaml").read_text()
    assert "train_size: 256" in run_config
    assert set(evals[0]["rewards"]) == {"correct", "format", "soft_format"}
    assert (out / "eval_config.yaml").exists()


def test_eval_on_a_bench_by_name(launch_here, trained, tmp_path):
    out = tmp_path / "bench"
    proc = launch_here(
        "cmd=eval", f"cmd.checkpoint={trained}", "hardware=cpu", "bench=countdown", "cmd.k=1", "cmd.temperature=0",
        "cmd.limit=4", f"hydra.run.dir={out}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"]["eval_set"] == "bench=countdown" and summary["prompts"] == 4
    proc = launch_here(
        "cmd=eval", f"cmd.checkpoint={trained}", "hardware=cpu", "bench=math500", f"hydra.run.dir={out}2"
    )
    assert proc.returncode == 2
    assert "bench=math500 is scored by math_correct" in error_lines(proc.stderr)[-1]
