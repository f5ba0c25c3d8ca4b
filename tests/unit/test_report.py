"""Comparison tables from run dirs: swept values, seeds averaged, failures listed with their error."""

import json

import pytest

from r1exp.analysis import comparison_table, load_runs, write_report
from r1exp.analysis.report import zero_loss_start
from r1exp.errors import ConfigError


def _job(sweep, num, overrides, status="ok", error=None, rewards=(0.1, 0.2, 0.3), losses=(0.0, 0.0, 0.5)):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    (job / "status.json").write_text(json.dumps({"status": status, "error": error, "wall_time_s": 10.0}))
    rows = [
        {
            "step": i + 1,
            "reward": r,
            "accuracy": r / 2,
            "loss": loss,
            "completion_length/mean": 100 + i,
            "truncation_rate": 0.0,
        }
        for i, (r, loss) in enumerate(zip(rewards, losses, strict=True))
    ]
    if status == "ok":
        (job / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return job


def test_table_groups_seeds_and_lists_failures(tmp_path):
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}\n")
    _job(sweep, 0, ["+experiment=smoke", "trainer.beta=0", "seed=1"], rewards=(0.0, 0.2, 0.4))
    _job(sweep, 1, ["+experiment=smoke", "trainer.beta=0", "seed=2"], rewards=(0.0, 0.2, 0.6))
    _job(sweep, 2, ["+experiment=smoke", "trainer.beta=0.04", "seed=1"])
    _job(sweep, 3, ["+experiment=smoke", "trainer.beta=0.04", "seed=2"], status="failed", error="ConfigError: bad")
    runs = load_runs([sweep])
    assert [r.name for r in runs] == ["0", "1", "2", "3"]
    table = comparison_table(runs)
    assert [(row["trainer.beta"], row["runs"], row["status"]) for row in table] == [
        ("0", 2, "ok"),
        ("0.04", 1, "ok"),
        ("0.04", 1, "failed"),
    ]
    assert table[0]["final_reward"] == pytest.approx(0.5)  # mean over seeds of the last step
    assert table[0]["zero_loss_start_steps"] == 2
    assert table[2]["error"] == "ConfigError: bad"
    files = write_report(runs, sweep)
    md = files["md"].read_text()
    assert "1 did not finish: 3 (failed)" in md and "ConfigError: bad" in md
    assert files["csv"].read_text().count("\n") == 4
    assert files["png"].read_bytes()[:4] == b"\x89PNG"


def test_zero_loss_start_counts_leading_exact_zeros():
    assert zero_loss_start([{"loss": 0.0}, {"loss": 0}, {"loss": 1e-9}, {"loss": 0.0}]) == 2
    assert zero_loss_start([]) == 0


def test_not_a_run_dir_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="neither a run dir"):
        load_runs([tmp_path])
