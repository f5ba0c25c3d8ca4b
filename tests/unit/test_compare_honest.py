"""Comparisons that claim no more than the runs show: replicates are distinct seeds (a repeated seed is
a duplicate, flagged and counted once), a verdict needs two distinct seeds per side, rates and their
intervals stay in [0, 1], the baseline is named without shell quoting, and a judge's mean score is
called a judge score."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.analysis import comparison_figure, comparison_table, load_runs, write_report
from r1exp.analysis.report import LAST, baseline_differences, parse_baseline, value_range
from r1exp.analysis.runs import Run, accuracy_name
from r1exp.errors import ConfigError
from tests.conftest import compose


def _write_job(sweep: Path, num: int, overrides: list[str], rows: list[dict], config: dict | None = None) -> None:
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if config is not None:
        import yaml

        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (job / "status.json").write_text(json.dumps({"status": "ok", "error": None, "wall_time_s": 5.0}))
    (job / "metrics.jsonl").write_text("".join(json.dumps({"step": i + 1, **r}) + "\n" for i, r in enumerate(rows)))


def _sweep(tmp_path: Path) -> Path:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}\n")
    return sweep


def test_two_runs_with_one_seed_are_one_replicate_and_give_no_verdict(tmp_path):
    # The case: two seed-42 runs of the baseline against two runs of the variant; the baseline's
    # "interval" came out as [-0.0677, -0.0677] and the verdict "lower than the baseline".
    sweep = _sweep(tmp_path)
    _write_job(sweep, 0, ["trainer.beta=0", "seed=42"], [{"reward": 0.5, "accuracy": 0.30}])
    _write_job(sweep, 1, ["trainer.beta=0", "seed=42"], [{"reward": 0.5, "accuracy": 0.30}])
    _write_job(sweep, 2, ["trainer.beta=0.04", "seed=42"], [{"reward": 0.4, "accuracy": 0.2323}])
    _write_job(sweep, 3, ["trainer.beta=0.04", "seed=42"], [{"reward": 0.4, "accuracy": 0.2323}])
    runs = load_runs([sweep])
    table = comparison_table(runs).set_index("trainer.beta")
    assert list(table["runs"]) == [2, 2] and list(table["seeds"]) == [1, 1]
    assert table.loc["0", "duplicates"] == "1 = 0 (seed 42)" and table.loc["0.04", "duplicates"] == "3 = 2 (seed 42)"
    assert f"accuracy {LAST} ci95 low" not in table  # one seed: no interval at all
    diffs = baseline_differences(runs)
    acc = diffs[diffs["metric"] == f"accuracy {LAST}"].iloc[0]
    assert acc["difference"] == pytest.approx(-0.0677)
    assert acc["seeds"] == "1 vs 1" and acc["verdict"].startswith("not enough seeds: 1 vs 1 distinct")
    assert pd_isna(acc["ci95 low"]) and pd_isna(acc["ci95 high"])
    md = write_report(runs, sweep)["md"].read_text()
    assert "Duplicates (the same seed and settings twice; counted once, as their mean): 1 = 0 (seed 42)" in md
    assert "lower than the baseline" not in md


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_a_duplicate_does_not_add_a_seed_to_a_verdict(tmp_path):
    sweep = _sweep(tmp_path)
    n = 0
    for beta, level in (("0", 0.5), ("0.04", 0.2)):
        for seed, noise in ((1, -0.01), (2, 0.0), (2, 0.0)):  # seed 2 twice on each side
            _write_job(sweep, n, [f"trainer.beta={beta}", f"seed={seed}"], [{"accuracy": level + noise}])
            n += 1
    runs = load_runs([sweep])
    table = comparison_table(runs)
    assert list(table["runs"]) == [3, 3] and list(table["seeds"]) == [2, 2]
    # The mean is over seeds (0.49 and 0.5), not over runs (0.49, 0.5, 0.5).
    assert table.loc[0, f"accuracy {LAST}"] == pytest.approx(0.495)
    acc = baseline_differences(runs).iloc[0]
    assert acc["seeds"] == "2 vs 2" and "2 seeds" in acc["verdict"]


def test_rate_intervals_stay_within_0_and_1(tmp_path):
    # The seeds table showed `truncation_rate 0.9167 ± 0.3586`: an interval reaching 1.28.
    sweep = _sweep(tmp_path)
    for i, (seed, trunc) in enumerate(((1, 1.0), (2, 1.0), (3, 0.75))):
        _write_job(sweep, i, [f"seed={seed}"], [{"reward": 0.1, "accuracy": 0.0, "truncation_rate": trunc}])
    runs = load_runs([sweep])
    table = comparison_table(runs)
    row = table.iloc[0]
    assert row[f"truncation_rate {LAST}"] == pytest.approx(0.9167, abs=1e-4)
    assert row[f"truncation_rate {LAST} ci95 high"] == 1.0 and 0.0 <= row[f"truncation_rate {LAST} ci95 low"] < 0.9167
    assert row[f"accuracy {LAST} ci95 low"] == 0.0 == row[f"accuracy {LAST} ci95 high"]
    md = write_report(runs, sweep)["md"].read_text()
    assert "0.9167 [0.5581, 1]" in md and "0.9167 ±" not in md
    assert "clipped to the metric's range" in md
    rows = list(csv.DictReader((sweep / "comparison.csv").open()))
    assert float(rows[0][f"truncation_rate {LAST} ci95 high"]) <= 1.0


@pytest.mark.parametrize(
    ("metric", "bounds"),
    [
        ("accuracy [last 10%]", (0.0, 1.0)),
        ("judge score [eval]", (0.0, 1.0)),
        ("eval/accuracy [last eval]", (0.0, 1.0)),
        ("truncation_rate", (0.0, 1.0)),
        ("pass@4 [eval]", (0.0, 1.0)),
        ("guided/share", (0.0, 1.0)),
        ("response_length [last 10%]", (0.0, float("inf"))),
        ("kl", (0.0, float("inf"))),
        ("reward [last 10%]", (float("-inf"), float("inf"))),
    ],
)
def test_value_ranges_by_name(metric, bounds):
    assert value_range(metric) == bounds


def test_baseline_forms_that_need_no_quoting(tmp_path):
    sweep = _sweep(tmp_path)
    n = 0
    for beta, level in (("0", 0.5), ("0.04", 0.3), ("0.1", 0.9)):
        for seed in (1, 2):
            _write_job(sweep, n, [f"trainer.beta={beta}", f"seed={seed}"], [{"accuracy": level + seed / 100}])
            n += 1
    runs = load_runs([sweep])
    for form in ("trainer.beta:0.04", "trainer.beta:4e-2", "trainer.beta=0.04", "3", "2"):
        diffs = baseline_differences(runs, baseline=form)
        assert set(diffs["baseline"]) == {"trainer.beta=0.04"}, form
    assert parse_baseline("trainer.beta:0.04,trainer.warmup_steps:0") == {
        "trainer.beta": "0.04",
        "trainer.warmup_steps": "0",
    }
    with pytest.raises(ConfigError) as err:
        baseline_differences(runs, baseline="trainer.beta:0.07")
    message = str(err.value)
    assert message.startswith("cmd.baseline=trainer.beta:0.07: no such variant; give KEY:VALUE")
    assert "cmd.baseline=trainer.beta:0.04" in message and "trainer.beta=0.1 (jobs 4,5)" in message
    with pytest.raises(ConfigError, match="no such variant"):
        baseline_differences(runs, baseline="seed:1")  # not what the variants differ in


def test_compare_command_takes_the_documented_baseline(tmp_path):
    """`launch.py cmd=compare cmd.runs=[SWEEP] cmd.baseline=trainer.beta:0.04` as typed in a shell."""
    from r1exp.cmd import compare
    from r1exp.sections import Sections

    sweep = _sweep(tmp_path)
    n = 0
    for beta, level in (("0", 0.5), ("0.04", 0.3)):
        for seed in (1, 2):
            _write_job(sweep, n, [f"trainer.beta={beta}", f"seed={seed}"], [{"accuracy": level + seed / 100}])
            n += 1
    out = tmp_path / "report"
    cfg = compose(["cmd=compare", f"cmd.runs=[{sweep}]", f"cmd.output={out}", "cmd.baseline=trainer.beta:0.04"])
    compare.run(Sections(cfg))
    md = (out / "comparison.md").read_text()
    assert "## Against the baseline (trainer.beta=0.04)" in md
    assert "lower" not in md and "higher than the baseline" in md
    bad = compose(["cmd=compare", f"cmd.runs=[{sweep}]", f"cmd.output={out}", "cmd.baseline=trainer.beta:7"])
    with pytest.raises(ConfigError, match=r"give KEY:VALUE \(e\.g\. cmd\.baseline=trainer\.beta:0\.04\) or the job"):
        compare.run(Sections(bad))


ZH_CONFIG = {
    "seed": 1,
    "reward": {
        "accuracy_term": "answer",
        "format_metric": "format_credit",
        "terms": {"answer": {"fn": "judge_answer"}, "format": {"fn": "soft_format"}},
    },
}


def test_a_judge_score_is_not_called_accuracy(tmp_path):
    sweep = _sweep(tmp_path)
    n = 0
    for beta in ("0", "0.04"):
        for seed in (1, 2):
            config = {**ZH_CONFIG, "seed": seed}
            rows = [{"reward": 1.0, "accuracy": 0.6 + seed / 10, "eval/accuracy": 0.5}]
            _write_job(sweep, n, [f"trainer.beta={beta}", f"seed={seed}"], rows, config=config)
            n += 1
    runs = load_runs([sweep])
    assert {r.accuracy_name for r in runs} == {"judge score"}
    table = comparison_table(runs)
    assert f"judge score {LAST}" in table and f"accuracy {LAST}" not in table
    assert "eval/judge score [last eval]" in table
    assert f"judge score {LAST}" in set(baseline_differences(runs)["metric"])
    md = write_report(runs, sweep)["md"].read_text()
    assert "`judge score`: mean score in [0, 1] the LLM judge gave" in md
    assert "### judge score [last 10%] across seeds" in md
    titles = [ax.get_title() for ax in comparison_figure(runs).axes if ax.get_visible()]
    assert "Judge score" in titles and "Periodic eval: judge score" in titles and "Accuracy" not in titles


@pytest.mark.parametrize(
    ("term_fn", "name"),
    [("countdown_correct", "accuracy"), ("math_correct", "accuracy"), ("judge_answer", "judge score"),
     ("my_pkg.rewards:graded", "answer score"), ("", "accuracy")],
)  # fmt: skip
def test_accuracy_name_follows_the_accuracy_terms_reward(term_fn, name):
    settings_ = {"reward.accuracy_term": "answer", "reward.terms.answer.fn": term_fn} if term_fn else {}
    assert accuracy_name(settings_) == name


# --- properties over generated run tables -------------------------------------------------------------

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
runs_of_a_variant = st.lists(st.tuples(st.integers(1, 3), unit, unit, st.floats(-5, 5)), min_size=1, max_size=5)


def _runs(variants: list[list[tuple[int, float, float, float]]]) -> list[Run]:
    out = []
    for v, members in enumerate(variants):
        for seed, acc, trunc, reward in members:
            name = str(len(out))
            out.append(
                Run(
                    path=Path("sweep") / name,
                    overrides={"trainer.beta": str(v), "seed": str(seed)},
                    status="ok",
                    metrics=[{"step": 1, "accuracy": acc, "truncation_rate": trunc, "reward": reward}],
                    settings={"seed": str(seed)},
                )
            )
    return out


@settings(derandomize=True, deadline=None, max_examples=20)
@given(st.lists(runs_of_a_variant, min_size=2, max_size=3))
def test_property_rates_and_their_intervals_stay_in_range(variants):
    runs = _runs(variants)
    table = comparison_table(runs)
    for col in (f"accuracy {LAST}", f"truncation_rate {LAST}"):
        for suffix in ("", " ci95 low", " ci95 high"):
            if f"{col}{suffix}" in table:
                values = table[f"{col}{suffix}"].dropna()
                assert ((values >= 0.0) & (values <= 1.0)).all(), (col, suffix, list(values))
    # seeds are the distinct seeds of each variant, never more than its runs
    for i, members in enumerate(variants):
        row = table[table["trainer.beta"] == str(i)].iloc[0]
        assert row["seeds"] == len({seed for seed, *_ in members}) <= row["runs"] == len(members)
    diffs = baseline_differences(runs)
    for _, d in diffs.iterrows():
        if d["metric"].startswith(("accuracy", "truncation_rate")) and not pd_isna(d["ci95 low"]):
            assert -1.0 <= d["ci95 low"] <= d["ci95 high"] <= 1.0
        n_variant, n_base = (int(x) for x in d["seeds"].split(" vs "))
        if min(n_variant, n_base) < 2:
            assert d["verdict"].startswith("not enough seeds")


@settings(derandomize=True, deadline=None, max_examples=20)
@given(st.lists(runs_of_a_variant, min_size=2, max_size=3), st.data())
def test_property_duplicates_never_raise_the_seed_count(variants, data):
    runs = _runs(variants)
    before = comparison_table(runs)
    diffs_before = baseline_differences(runs)
    # Repeat one run (same seed, same settings, same numbers) under a new job number.
    original = runs[data.draw(st.integers(0, len(runs) - 1))]
    copy = Run(
        path=Path("sweep") / str(len(runs)),
        overrides=dict(original.overrides),
        status="ok",
        metrics=list(original.metrics),
        settings=dict(original.settings),
    )
    after = comparison_table([*runs, copy])
    assert list(after["seeds"]) == list(before["seeds"])
    assert sum(after["runs"]) == sum(before["runs"]) + 1
    assert copy.name in ";".join(after["duplicates"])
    diffs_after = baseline_differences([*runs, copy])
    assert list(diffs_after["seeds"]) == list(diffs_before["seeds"])
    if sum(r.overrides == original.overrides for r in runs) == 1:
        # The copied seed had one run: its mean, and so every number and verdict, is unchanged.
        shared = [c for c in before.columns if c.endswith((LAST, " ci95 low", " ci95 high", " sd"))]
        assert after[shared].round(9).equals(before[shared].round(9))
        assert list(diffs_after["verdict"]) == list(diffs_before["verdict"])
