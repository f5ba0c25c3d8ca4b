"""Comparison tables from run dirs: windows named in every column, seeds as mean/sd/95 % interval,
each variant against the baseline with a Welch interval and a verdict, composed values for settings
nobody overrode, failures listed with their error, and plots of what the sweep varies."""

import csv
import json
import math

import pytest

from r1exp.analysis import comparison_table, load_runs, write_report
from r1exp.analysis.report import (
    BEST,
    EVAL,
    LAST,
    baseline_differences,
    mean_ci,
    t975,
    verdict,
    welch,
    zero_loss_start,
)
from r1exp.errors import ConfigError


def _job(
    sweep,
    num,
    overrides,
    status="ok",
    error=None,
    rewards=(0.1, 0.2, 0.3),
    losses=None,
    config=None,
    choices=None,
    extra=None,
):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if config is not None:
        import yaml

        (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    if choices is not None:
        import yaml

        (job / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}}))
    (job / "status.json").write_text(json.dumps({"status": status, "error": error, "wall_time_s": 10.0}))
    losses = losses or [0.5] * len(rewards)
    rows = [
        {
            "step": i + 1,
            "reward": r,
            "accuracy": r / 2,
            "loss": loss,
            "completion_length/mean": 100 + i,
            "truncation_rate": 0.0,
            **(extra(i) if extra else {}),
        }
        for i, (r, loss) in enumerate(zip(rewards, losses, strict=True))
    ]
    if status == "ok":
        (job / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return job


def _sweep(tmp_path, name="sweep"):
    sweep = tmp_path / name
    sweep.mkdir()
    (sweep / "multirun.yaml").write_text("{}\n")
    return sweep


def test_t_quantiles_match_the_table_and_interpolate():
    assert t975(1) == pytest.approx(12.706)
    assert t975(2) == pytest.approx(4.303)
    assert t975(30) == pytest.approx(2.042)
    assert 2.042 > t975(35) > 2.021
    assert t975(10**6) == pytest.approx(1.96, abs=1e-3)
    assert t975(2.5) == pytest.approx(3.6, abs=0.1)  # exact t(0.975, 2.5) = 3.50..3.70 by interpolation


def test_mean_ci_is_the_t_interval():
    stats = mean_ci([1.0, 2.0, 3.0])
    assert stats["mean"] == 2.0 and stats["sd"] == pytest.approx(1.0)
    half = 4.303 / math.sqrt(3)
    assert (stats["low"], stats["high"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert mean_ci([0.5])["sd"] is None and mean_ci([])["mean"] is None


def test_welch_difference_and_verdict():
    far = welch([0.9, 0.91, 0.92], [0.1, 0.11, 0.12])
    assert far["diff"] == pytest.approx(0.8) and far["low"] > 0
    assert verdict(far, 3, 3).startswith("higher than the baseline")
    assert verdict(welch([0.1, 0.11, 0.12], [0.9, 0.91, 0.92]), 3, 3).startswith("lower")
    near = welch([0.5, 0.6, 0.4], [0.45, 0.65, 0.5])
    assert near["low"] < 0 < near["high"]
    assert verdict(near, 3, 3) == "no detectable difference with 3 seeds"
    # Welch's df for equal variances and sizes is 2(n-1)
    assert welch([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])["df"] == pytest.approx(4.0)
    assert verdict(welch([0.5], [0.4]), 1, 1).startswith("not enough seeds: 1 vs 1 distinct")
    assert verdict(welch([0.5, 0.6, 0.7], [0.4]), 3, 1).startswith("not enough seeds: 3 vs 1 distinct")
    # Equal values on both sides: a zero-width interval is not a 95 % interval, and no verdict is drawn.
    flat = welch([0.5, 0.5], [0.4, 0.4])
    assert flat["low"] is None and verdict(flat, 2, 2).startswith("no spread")


def test_table_groups_seeds_names_windows_and_lists_failures(tmp_path):
    sweep = _sweep(tmp_path)
    # 10 steps each: the last-10 % window is the last step, the best window one step
    r = [0.0] * 9
    _job(sweep, 0, ["+experiment=smoke", "trainer.beta=0", "seed=1"], rewards=(*r, 0.4), losses=(0.0, 0.0, *[0.5] * 8))
    _job(sweep, 1, ["+experiment=smoke", "trainer.beta=0", "seed=2"], rewards=(*r, 0.6))
    _job(sweep, 2, ["+experiment=smoke", "trainer.beta=0.04", "seed=1"], rewards=(0.9, *r))
    _job(sweep, 3, ["+experiment=smoke", "trainer.beta=0.04", "seed=2"], status="failed", error="ConfigError: bad")
    runs = load_runs([sweep])
    table = comparison_table(runs)
    assert list(zip(table["trainer.beta"], table["runs"], table["status"], strict=True)) == [
        ("0", 2, "ok"),
        ("0.04", 1, "ok"),
        ("0.04", 1, "failed"),
    ]
    first = table.iloc[0]
    assert first[f"reward {LAST}"] == pytest.approx(0.5)  # mean over seeds of the last 10 % (1 step)
    assert first[f"reward {LAST} sd"] == pytest.approx(math.sqrt(0.02))
    assert first[f"reward {LAST} ci95 low"] == pytest.approx(0.5 - 12.706 * 0.1)
    assert table.iloc[1][f"reward {BEST}"] == pytest.approx(0.9) and table.iloc[1][f"reward {LAST}"] == 0.0
    # response length uses the same window as everything else (last step: 109), not the whole run
    assert first[f"response_length {LAST}"] == pytest.approx(109)
    assert first["zero_loss_start_steps"] == 1  # mean of 2 and 0
    assert table.iloc[2]["error"] == "ConfigError: bad"
    files = write_report(runs, sweep)
    md = files["md"].read_text()
    assert "1 did not finish: 3 (failed)" in md and "ConfigError: bad" in md
    assert "mean over the last 10 % of logged steps" in md and "0.5 ± 1.271" in md
    rows = list(csv.DictReader(files["csv"].open()))
    assert len(rows) == 3 and f"reward {LAST}" in rows[0]
    assert rows[0]["steps"] == "10" and rows[0]["runs"] == "2"  # counts stay whole numbers
    assert files["png"].read_bytes()[:4] == b"\x89PNG"


def test_seeds_give_a_baseline_difference_with_verdict(tmp_path):
    sweep = _sweep(tmp_path)
    n = 0
    for beta, level in (("0", 0.5), ("0.04", 0.51), ("0.1", 0.9)):
        for seed, noise in zip((1, 2, 3), (-0.02, 0.0, 0.02), strict=True):
            value = level + noise
            _job(
                sweep,
                n,
                [f"trainer.beta={beta}", f"seed={seed}"],
                rewards=(0.0, value * 2),
                extra=lambda i: {"kl": 0.1},
            )
            n += 1
    runs = load_runs([sweep])
    diffs = baseline_differences(runs)
    acc = diffs[diffs["metric"] == f"accuracy {LAST}"].set_index("variant")
    assert set(acc["baseline"]) == {"trainer.beta=0"}
    assert acc.loc["trainer.beta=0.04", "verdict"] == "no detectable difference with 3 seeds"
    assert acc.loc["trainer.beta=0.04", "difference"] == pytest.approx(0.01)
    assert acc.loc["trainer.beta=0.1", "verdict"].startswith("higher than the baseline")
    other = baseline_differences(runs, baseline="trainer.beta=0.1").set_index(["metric", "variant"])
    assert other.loc[(f"accuracy {LAST}", "trainer.beta=0"), "verdict"].startswith("lower")
    with pytest.raises(ConfigError, match=r"cmd\.baseline=trainer\.beta=7: no such variant"):
        baseline_differences(runs, baseline="trainer.beta=7")
    files = write_report(runs, sweep)
    md = files["md"].read_text()
    assert "## Against the baseline (trainer.beta=0)" in md and "no detectable difference with 3 seeds" in md
    assert "accuracy [last 10%] across seeds" in md and "95 % CI" in md
    assert f"kl {LAST}" in md  # the beta sweep's subject
    assert files["baseline_csv"].exists()


def test_settings_nobody_overrode_show_composed_values(tmp_path):
    sweep = _sweep(tmp_path)
    config = {"trainer": {"beta": 0.04, "max_completion_length": 256}, "seed": 42}
    _job(sweep, 0, ["trainer.beta=0", "reward=countdown_soft"], config=config, choices={"reward": "countdown_soft"})
    _job(sweep, 1, [], config=config, choices={"reward": "countdown", "hydra/launcher": "basic"})
    table = comparison_table(load_runs([sweep]))
    assert list(table["trainer.beta"]) == ["0", "0.04"]
    assert list(table["reward"]) == ["countdown_soft", "countdown"]


def test_eval_sweep_plots_what_it_varies(tmp_path):
    sweep = _sweep(tmp_path)
    for i, (budget, acc, trunc, length) in enumerate(
        ((64, 0.1, 0.8, 60.0), (128, 0.3, 0.4, 100.0), (256, 0.4, 0.1, 130.0))
    ):
        job = _job(sweep, i, [f"cmd.max_new_tokens={budget}"])
        (job / "metrics.jsonl").unlink()
        summary = {
            "accuracy": acc,
            "truncation_rate": trunc,
            "length_mean": length,
            "pass@1": acc,
            "pass@4": acc + 0.2,
            "maj@4": acc,
        }
        (job / "summary.json").write_text(json.dumps(summary))
    runs = load_runs([sweep])
    files = write_report(runs, sweep)
    rows = list(csv.DictReader(files["csv"].open()))
    assert [r["cmd.max_new_tokens"] for r in rows] == ["64", "128", "256"]
    assert [float(r[f"accuracy {EVAL}"]) for r in rows] == [0.1, 0.3, 0.4]
    assert f"pass@4 {EVAL}" in rows[0] and f"truncation_rate {EVAL}" in rows[0]
    from r1exp.analysis import comparison_figure

    fig = comparison_figure(runs)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["Accuracy", "pass@4", "Truncation rate", "Response length"]
    for ax in fig.axes:
        assert ax.lines and ax.get_xlabel() == "cmd.max_new_tokens"
        assert list(ax.lines[0].get_xdata()) == [64.0, 128.0, 256.0]
    assert list(fig.axes[0].lines[0].get_ydata()) == [0.1, 0.3, 0.4]
    assert any(line.get_label() == "token budget" for line in fig.axes[3].lines)


def test_training_figure_draws_seed_bands(tmp_path):
    sweep = _sweep(tmp_path)
    for i, seed in enumerate((1, 2)):
        _job(sweep, i, [f"seed={seed}"], rewards=(0.1 * seed, 0.2 * seed, 0.3 * seed))
    from r1exp.analysis import comparison_figure

    fig = comparison_figure(load_runs([sweep]))
    reward_ax = fig.axes[0]
    assert reward_ax.get_title() == "Reward" and reward_ax.collections  # the band
    assert "95 % interval over seeds" in fig._suptitle.get_text()
    # A seeds-only sweep has one variant: its legend names the seeds, not a job number.
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["all 2 seeds"]


def test_zero_loss_start_counts_leading_exact_zeros():
    assert zero_loss_start([{"loss": 0.0}, {"loss": 0}, {"loss": 1e-9}, {"loss": 0.0}]) == 2
    assert zero_loss_start([]) == 0


def test_not_a_run_dir_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="neither a run dir"):
        load_runs([tmp_path])
