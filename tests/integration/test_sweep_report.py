"""A tiny 2x2 sweep ends with comparison.md/.csv/.png of 4 variants; failed jobs are reported as
failed and the report is still written; cmd=compare and the notebook read the same sweep."""

import csv
import json

import pytest

from tests.conftest import ROOT, error_lines
from tests.inprocess import run_launch_here

pytestmark = pytest.mark.slow

TINY = ["+experiment=smoke", "trainer.max_steps=4", "trainer.save_steps=100", "logger.samples_every=0"]


def _launch(args, cwd, cache, timeout=600):
    # In this process (tests/inprocess.py): Hydra's basic launcher runs a sweep's jobs one after another
    # in the launching process anyway.
    return run_launch_here(args, cache, cwd, timeout)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory, tiny_cache):
    root = tmp_path_factory.mktemp("sweep")
    sweep = root / "warmup_x_beta"
    proc = _launch(
        ["-m", *TINY, "trainer.warmup_steps=0,0.5", "trainer.beta=0,0.04", f"hydra.sweep.dir={sweep}"], root, tiny_cache
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sweep


def test_two_by_two_sweep_writes_the_comparison(sweep_dir):
    rows = list(csv.DictReader((sweep_dir / "comparison.csv").open()))
    assert len(rows) == 4
    assert {(r["trainer.warmup_steps"], r["trainer.beta"]) for r in rows} == {
        ("0", "0"),
        ("0", "0.04"),
        ("0.5", "0"),
        ("0.5", "0.04"),
    }
    for r in rows:
        assert r["status"] == "ok" and r["steps"] == "4"
        for col in (
            "reward [last 10%]",
            "reward [best 10% window]",
            "accuracy [last 10%]",
            "format_rate [last 10%]",
            "response_length [last 10%]",
            "truncation_rate [last 10%]",
            "zero_loss_start_steps",
            "wall_time_s",
            "tokens",
        ):
            assert r[col] != "", col
        # the beta sweep's subject: kl where the run has a reference model
        assert (r["kl [last 10%]"] != "") == (r["trainer.beta"] != "0")
        manifest = json.loads((sweep_dir / r["run"] / "manifest.json").read_text())
        assert (manifest["reference"] == "none (beta = 0)") == (r["trainer.beta"] == "0")
    md = (sweep_dir / "comparison.md").read_text()
    table = md.split("\n\n")[2]
    assert table.count("\n| ") == 4 and table.startswith("| ")  # header + 4 variants
    assert "## Against the baseline (trainer.beta=0, trainer.warmup_steps=0)" in md
    assert "not enough seeds: 1 vs 1 distinct" in md
    png = (sweep_dir / "comparison.png").read_bytes()
    assert png[:4] == b"\x89PNG" and len(png) > 20000
    # warmup really changes training (a constant schedule would silently ignore it)
    by = {(r["trainer.warmup_steps"], r["trainer.beta"]): r for r in rows}
    assert by[("0", "0")]["reward [last 10%]"] != by[("0.5", "0")]["reward [last 10%]"] or (
        by[("0", "0")]["tokens"] != by[("0.5", "0")]["tokens"]
    )


def test_a_failed_job_is_reported_and_the_report_still_written(tmp_path, tiny_cache):
    sweep = tmp_path / "sweep"
    proc = _launch(["-m", *TINY, "trainer.num_generations=4,3", f"hydra.sweep.dir={sweep}"], tmp_path, tiny_cache)
    assert proc.returncode == 2
    lines = error_lines(proc.stderr)
    assert lines and "1 of 2 jobs failed" in lines[-1] and "job 1" in lines[-1] and "num_generations=3" in lines[-1]
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [(r["trainer.num_generations"], r["status"]) for r in rows] == [("4", "ok"), ("3", "failed")]
    assert "multiple of trainer.num_generations=3" in rows[1]["error"]
    assert json.loads((sweep / "1" / "status.json").read_text())["status"] == "failed"
    assert (sweep / "comparison.png").exists()


def test_compare_command_reports_any_runs(sweep_dir, tmp_path, tiny_cache):
    out = tmp_path / "report"
    proc = _launch(
        ["cmd=compare", f"cmd.runs=[{sweep_dir / '0'},{sweep_dir / '3'}]", f"cmd.output={out}"], tmp_path, tiny_cache
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert [r["run"] for r in rows] == ["0", "3"]
    assert (out / "comparison.png").exists() and (out / "comparison.md").exists()
    proc = _launch(["cmd=compare", f"cmd.runs=[{sweep_dir}]", f"cmd.output={out}"], tmp_path, tiny_cache)
    assert proc.returncode == 0 and len(list(csv.DictReader((out / "comparison.csv").open()))) == 4


def test_notebook_runs_on_the_sweep(sweep_dir, monkeypatch):
    import nbclient
    import nbformat

    path = ROOT / "notebooks" / "ablations.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code"), (
        "commit notebooks without outputs"
    )
    monkeypatch.setenv("R1EXP_SWEEP_DIR", str(sweep_dir))
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert "4 runs in" in outputs[0]["text"]
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {}) for o in outputs)


def test_a_sweep_over_seeds_reports_intervals_and_a_verdict(tmp_path, tiny_cache):
    sweep = tmp_path / "beta_x_seeds"
    fast = ["+experiment=smoke", "trainer.max_steps=2", "trainer.save_steps=100", "logger.samples_every=0"]
    proc = _launch(["-m", *fast, "trainer.beta=0,0.04", "seed=1,2", f"hydra.sweep.dir={sweep}"], tmp_path, tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [(r["trainer.beta"], r["runs"], r["seeds"]) for r in rows] == [("0", "2", "2"), ("0.04", "2", "2")]
    for r in rows:
        low, mean, high = (float(r[f"reward [last 10%]{s}"]) for s in (" ci95 low", "", " ci95 high"))
        assert low <= mean <= high and r["reward [last 10%] sd"] != ""
    md = (sweep / "comparison.md").read_text()
    assert "## Against the baseline (trainer.beta=0)" in md and "with 2 seeds" in md
    diffs = list(csv.DictReader((sweep / "comparison_baseline.csv").open()))
    assert {d["variant"] for d in diffs} == {"trainer.beta=0.04"}
    # Every metric gets an interval, except one every seed gave the same value for (the tiny model's
    # accuracy is 0 throughout): a zero-width "interval" would claim a certainty nothing measured.
    assert all(d["ci95 low"] != "" or d["verdict"].startswith("no spread") for d in diffs)
    assert any(d["metric"] == "reward [last 10%]" and d["ci95 low"] != "" for d in diffs)


def test_a_sweep_repeating_one_seed_claims_no_replicates(tmp_path, tiny_cache):
    """The user's sweep: `seed=42,42` against two runs of another beta gave "2 vs 2 seeds", a zero-width
    interval and a verdict. The same seed twice is one replicate: flagged, counted once, no verdict."""
    sweep = tmp_path / "same_seed"
    fast = ["+experiment=smoke", "trainer.max_steps=2", "trainer.save_steps=100", "logger.samples_every=0"]
    proc = _launch(["-m", *fast, "trainer.beta=0,0.04", "seed=42,42", f"hydra.sweep.dir={sweep}"], tmp_path, tiny_cache)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert [(r["trainer.beta"], r["runs"], r["seeds"]) for r in rows] == [("0", "2", "1"), ("0.04", "2", "1")]
    assert [r["duplicates"] for r in rows] == ["1 = 0 (seed 42)", "3 = 2 (seed 42)"]
    md = (sweep / "comparison.md").read_text()
    assert "Duplicates (the same seed and settings twice; counted once, as their mean)" in md
    assert "not enough seeds: 1 vs 1 distinct" in md
    assert "lower than the baseline" not in md and "higher than the baseline" not in md
    for r in rows:
        assert 0.0 <= float(r["truncation_rate [last 10%]"]) <= 1.0
