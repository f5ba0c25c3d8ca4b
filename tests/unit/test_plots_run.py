"""A run's own plots (plots/*.png): the accuracy panel shows the periodic evaluation beside the training
batches, and a judge's mean score is titled as a score, not an accuracy."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import pytest
import yaml

from r1exp.tracking.plots import plot_run, run_figures


def _run_dir(tmp_path, rows, config=None):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    if config is not None:
        (run / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def _accuracy_axes(run):
    figures = dict(run_figures(run))
    ax = figures["accuracy.png"].axes[0]
    for fig in figures.values():
        plt.close(fig)
    return ax


def test_accuracy_plot_includes_the_periodic_eval_curve(tmp_path):
    rows = [{"step": s, "accuracy": s / 10, **({"eval/accuracy": s / 20} if s % 2 == 0 else {})} for s in range(1, 7)]
    config = {"reward": {"accuracy_term": "correct", "terms": {"correct": {"fn": "countdown_correct"}}}}
    ax = _accuracy_axes(_run_dir(tmp_path, rows, config))
    assert ax.get_title() == "Accuracy"
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"training batches (sampled)", "periodic eval (greedy, held-out)"}
    evals = lines["periodic eval (greedy, held-out)"]
    assert list(evals.get_xdata()) == [2, 4, 6] and list(evals.get_ydata()) == pytest.approx([0.1, 0.2, 0.3])
    files = plot_run(tmp_path / "run")
    assert [f.name for f in files] == ["reward.png", "accuracy.png", "response_length.png", "truncation.png"]
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in files)


def test_a_run_without_periodic_eval_draws_only_the_training_curve(tmp_path):
    ax = _accuracy_axes(_run_dir(tmp_path, [{"step": 1, "accuracy": 0.1}, {"step": 2, "accuracy": 0.2}]))
    assert [line.get_label() for line in ax.lines] == ["training batches (sampled)"]


def test_a_judge_score_is_titled_as_a_score(tmp_path):
    config = {"reward": {"accuracy_term": "answer", "terms": {"answer": {"fn": "judge_answer"}}}}
    ax = _accuracy_axes(_run_dir(tmp_path, [{"step": 1, "accuracy": 0.7, "eval/accuracy": 0.6}], config))
    assert ax.get_title() == "Judge score"
