"""The console: one bar with the key numbers, closed however training ends, and a short summary."""

import logging
from types import SimpleNamespace

import pytest

from r1exp.tracking.console import ConsoleCallback, bar_postfix, progress, summary_lines


def _state(step=0, max_steps=3):
    return SimpleNamespace(is_world_process_zero=True, max_steps=max_steps, global_step=step)


def test_bar_shows_the_key_numbers_and_keeps_the_last_step():
    console = ConsoleCallback()
    console.on_train_begin(None, _state(), None)
    logs = {"loss": 0.1, "reward": 0.5, "accuracy": 0.25, "completion_length/mean": 31.5, "time/step": 1.5, "kl": 2}
    console.on_log(None, _state(1), None, logs=logs)
    assert console.bar.postfix == "reward=0.5 acc=0.25 len=31.5 s/step=1.5"
    console.on_log(None, _state(3), None, logs={"train_runtime": 9.0})  # transformers' end-of-training dict
    assert console.final() == {"reward": 0.5, "accuracy": 0.25, "completion_length/mean": 31.5}
    console.on_train_end(None, _state(3), None)
    assert console.bar is None
    assert bar_postfix({"reward": None}) == ""


def test_an_error_during_training_closes_the_bar_first(capsys):
    console = ConsoleCallback()
    console.on_train_begin(None, _state(), None)
    with pytest.raises(RuntimeError), progress(console):
        logging.getLogger("r1exp").warning("a warning goes above the bar")
        raise RuntimeError("boom")
    # Closed: whatever prints next (the one-line error) starts on a line of its own.
    assert console.bar is None
    err = capsys.readouterr().err
    assert err.endswith("\n") and "a warning goes above the bar\n" in err


def test_summary_lines():
    summary = {
        "run_dir": "runs/a",
        "steps": 30,
        "wall_time_s": 42.0,
        "final": {"reward": 0.61, "accuracy": 0.5},
        "plots": ["runs/a/plots/reward.png", "runs/a/plots/accuracy.png"],
        "timing": {"steps_timed": 30, "mean_step_s": 1.25, "mean_split_s": {"generation": 1.0, "train": 0.25}},
    }
    assert summary_lines(summary) == [
        "r1exp: trained 30 steps in 42.0 s: runs/a",
        "  last step: reward 0.61  acc 0.5",
        "  time: 1.25 s/step (generation 1.00, train 0.25)",
        "  plots: runs/a/plots (reward.png, accuracy.png)",
    ]
