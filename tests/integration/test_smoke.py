"""`+experiment=smoke` trains the tiny model for real and writes the whole run directory."""

import json

import pytest

from r1exp.common import jsonl
from r1exp.models import load_model, weights_hash

pytestmark = pytest.mark.slow


def test_smoke_trains_and_writes_the_run_dir(launch, tmp_path):
    run = tmp_path / "run"
    proc = launch("+experiment=smoke", f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr[-3000:]

    # The console: one progress bar (stderr), no raw log dicts, the run's summary at the end of stdout.
    assert "{'loss'" not in proc.stdout + proc.stderr and "WANDB offline" not in proc.stdout
    summary = proc.stdout.strip().splitlines()[-4:]
    assert summary[0].startswith("r1exp: trained 30 steps in ") and summary[0].endswith(str(run))
    assert summary[1].startswith("  last step: reward ") and " acc " in summary[1]
    assert summary[2].startswith("  time: ") and "s/step (generation " in summary[2] and "train " in summary[2]
    assert summary[3].startswith(f"  plots: {run / 'plots'} (reward.png")
    status = json.loads((run / "status.json").read_text())
    assert status["summary"]["steps"] == 30 and status["summary"]["timing"]["steps_timed"] == 30
    assert set(status["summary"]["timing"]["mean_split_s"]) == {"generation", "reward", "logprobs", "other", "train"}

    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(1, 31))
    for key in (
        "reward",
        "rewards/correct",
        "rewards/format",
        "rewards/soft_format",
        "accuracy",
        "format_rate",
        "completion_length/mean",
        "completion_length/min",
        "completion_length/max",
        "truncation_rate",
        "kl",
        "loss",
        "grad_norm",
        "lr",
        "step_time",
    ):
        assert all(key in r for r in rows), key
    assert any(r["grad_norm"] > 0 for r in rows)
    # Where each step's time went: the parts are non-negative and add up to the step.
    for r in rows:
        parts = [r[f"time/{k}"] for k in ("generation", "reward", "logprobs", "other", "train")]
        assert min(parts) >= 0 and r["time/generation"] > 0 and r["perf/generated_tokens_per_s"] > 0
        assert sum(parts) == pytest.approx(r["time/step"], abs=1e-4)

    samples = jsonl.read(run / "samples.jsonl")
    assert samples and {s["step"] for s in samples} <= {1, 5, 10, 15, 20, 25, 30}
    assert set(samples[0]["rewards"]) == {"correct", "format", "soft_format"}
    assert samples[0]["prompt"].endswith("<think>")

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["finished"] and manifest["final_step"] == 30
    assert manifest["reference_hash"] == manifest["base_hash"] and len(manifest["reference_hash"]) == 64
    assert manifest["versions"]["trl"].startswith("1.16") and manifest["seed"] == 42
    assert manifest["config"]["trainer"]["beta"] == 0.04

    # the weights changed, and the reference (the base at model.path) did not
    final = load_model(str(run / "checkpoints" / "final"), "float32")
    assert weights_hash(final) != manifest["base_hash"]
    assert weights_hash(load_model(manifest["model"]["path"], "float32")) == manifest["reference_hash"]

    for name in ("reward.png", "accuracy.png", "response_length.png", "truncation.png"):
        png = run / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert (run / ".hydra" / "config.yaml").exists()
    assert any((run / "checkpoints").glob("checkpoint-*"))
