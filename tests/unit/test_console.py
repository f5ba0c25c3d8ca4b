"""The console: one bar per phase with the key numbers, closed however training ends, a short summary
(steps this launch trained, where it resumed from, where the wandb run is) and cmd=eval's table."""

import logging
import re
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.tracking.console import (
    MAX_DIFFICULTY_COLUMNS,
    SFT_BAR_KEYS,
    ConsoleCallback,
    bar_postfix,
    eval_lines,
    no_dataset_bars,
    progress,
    quiet_trainer,
    summary_lines,
)


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


def test_summary_counts_the_steps_this_launch_trained_and_where_it_resumed():
    base = {"run_dir": "runs/a", "steps": 30, "wall_time_s": 88.25, "final": {}, "timing": {}}
    resumed = summary_lines({**base, "steps_trained": 20, "resumed_from": "checkpoint-10"})
    assert resumed[0] == "r1exp: trained 20 steps (resumed from checkpoint-10) in 88.2 s: runs/a"
    fresh = summary_lines({**base, "steps_trained": 30, "resumed_from": None})
    assert fresh[0] == "r1exp: trained 30 steps in 88.2 s: runs/a"
    # A summary without the two keys (older status.json) counts `steps`; one step is singular.
    assert summary_lines(base)[0] == "r1exp: trained 30 steps in 88.2 s: runs/a"
    assert summary_lines({**base, "steps_trained": 1, "resumed_from": "checkpoint-29"})[0].startswith(
        "r1exp: trained 1 step (resumed from checkpoint-29) in "
    )


def test_summary_says_where_the_wandb_run_is():
    base = {"run_dir": "runs/a", "steps": 3, "final": {}, "timing": {}}
    offline = summary_lines({**base, "wandb": {"offline": True, "dir": "runs/a/wandb/offline-run-1-x"}})
    assert offline[-1] == (
        "  wandb: offline run in runs/a/wandb/offline-run-1-x (upload: wandb sync runs/a/wandb/offline-run-1-x)"
    )
    online = summary_lines({**base, "wandb": {"offline": False, "dir": "d", "url": "https://wandb.ai/me/r1exp/runs/x"}})
    assert online[-1] == "  wandb: https://wandb.ai/me/r1exp/runs/x"
    assert not any("wandb" in line for line in summary_lines(base))


@settings(derandomize=True, deadline=None, max_examples=200)
@given(
    steps=st.integers(0, 10**6),
    trained=st.one_of(st.none(), st.integers(0, 10**6)),
    resumed=st.one_of(st.none(), st.from_regex(r"checkpoint-[0-9]{1,6}", fullmatch=True)),
    wall=st.one_of(st.none(), st.floats(0, 1e6)),
    final=st.dictionaries(
        st.sampled_from(["reward", "accuracy", "completion_length/mean", "kl"]),
        st.one_of(st.none(), st.booleans(), st.floats(allow_nan=False), st.integers(), st.text(max_size=5)),
    ),
)
def test_summary_lines_for_any_summary(steps, trained, resumed, wall, final):
    summary = {"run_dir": "r", "steps": steps, "wall_time_s": wall, "final": final, "timing": {}}
    if trained is not None:
        summary.update(steps_trained=trained, resumed_from=resumed)
    lines = summary_lines(summary)
    counted = trained if trained is not None else steps
    assert lines[0].startswith(f"r1exp: trained {counted} step")
    assert ("resumed from" in lines[0]) == (trained is not None and resumed is not None)
    if trained is not None and resumed is not None:
        assert f"(resumed from {resumed}) in " in lines[0]
    assert all("\n" not in line for line in lines)


def test_the_cold_start_bar_shows_the_sft_loss():
    console = ConsoleCallback(desc="cold start (SFT)", keys=SFT_BAR_KEYS)
    console.on_train_begin(None, _state(max_steps=10), None)
    assert console.bar.desc == "cold start (SFT)"
    console.on_log(None, _state(1, 10), None, logs={"loss": 6.44, "mean_token_accuracy": 0.0066, "grad_norm": 3.7})
    assert console.bar.postfix == "loss=6.44 tok_acc=0.0066"
    console.close()


def test_quiet_trainer_swaps_transformers_printing_for_the_bar():
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class Trainer:
        def __init__(self):
            self.callbacks = [ProgressCallback(), PrinterCallback(), "other"]

        def pop_callback(self, kind):
            found = next((c for c in self.callbacks if isinstance(c, kind)), None)
            if found is not None:
                self.callbacks.remove(found)
            return found

        def add_callback(self, callback):
            self.callbacks.append(callback)

    trainer, console = Trainer(), ConsoleCallback()
    quiet_trainer(trainer, console)
    assert trainer.callbacks == ["other", console]


def test_no_dataset_bars_turns_them_off_and_back_on():
    import datasets

    datasets.enable_progress_bars()
    with no_dataset_bars():
        assert not datasets.is_progress_bar_enabled()
    assert datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    with no_dataset_bars():
        pass
    assert not datasets.is_progress_bar_enabled()  # left as it was found
    datasets.enable_progress_bars()


EVAL_SUMMARY = {
    "samples": 24,
    "prompts": 6,
    "reward": 0.1875,
    "truncation_rate": 0.5,
    "length_mean": 40.25,
    "length_median": 41.0,
    "length_p90": 48,
    "format_rate": 0.25,
    "accuracy": 0.125,
    "pass@1": 0.125,
    "pass@2": 0.2,
    "pass@4": 0.3333,
    "maj@4": 0.1667,
    "by_difficulty": {
        "3": {"prompts": 4, "accuracy": 0.1875, "pass@1": 0.1875, "format_rate": 0.25, "length_mean": 39.0},
        "4": {"prompts": 2, "accuracy": 0.0, "pass@1": 0.0, "format_rate": 0.25, "length_mean": 42.75},
    },
    "checkpoint": "runs/a/checkpoints/final",
    "model_path": "runs/a/checkpoints/final",
    "split": "test",
    "reward_stats": {},
    "k": 4,
    "max_new_tokens": 48,
    "temperature": 0.6,
    "protocol": {"eval_set": "countdown (test split)"},
}


def test_eval_prints_a_short_table_not_a_dict():
    lines = eval_lines(EVAL_SUMMARY, "out/eval")
    assert lines == [
        "r1exp: evaluated runs/a/checkpoints/final on countdown (test split): 6 prompts x 4 samples, up to 48 new "
        "tokens, temperature 0.6",
        "                     all  difficulty 3  difficulty 4",
        "  prompts              6             4             2",
        "  accuracy         0.125         0.188         0.000",
        "  pass@1           0.125         0.188         0.000",
        "  pass@2           0.200             -             -",
        "  pass@4           0.333             -             -",
        "  maj@4            0.167             -             -",
        "  format_rate      0.250         0.250         0.250",
        "  truncation_rate  0.500             -             -",
        "  length mean       40.2          39.0          42.8",
        "  length p90          48             -             -",
        "  reward           0.188             -             -",
        "  written: out/eval/summary.json (every completion: eval.jsonl)",
    ]
    judged = eval_lines({**EVAL_SUMMARY, "reward_stats": {"judge/calls": 24, "judge/failures": 0}}, "o")
    assert "  reward stats: judge/calls 24" in judged


METRIC = st.one_of(st.none(), st.floats(0, 1e4, allow_nan=False), st.integers(0, 10**6))


@settings(derandomize=True, deadline=None, max_examples=150)
@given(
    present=st.sets(
        st.sampled_from(
            [
                *("accuracy", "pass@1", "pass@2", "pass@8", "maj@8", "format_rate", "format_credit"),
                *("truncation_rate", "length_mean", "length_p90", "reward"),
            ]
        )
    ),
    values=st.lists(METRIC, min_size=11, max_size=11),
    difficulties=st.lists(st.integers(1, 12), unique=True, max_size=9),
)
def test_eval_table_for_any_summary(present, values, difficulties):
    summary = {key: value for key, value in zip(sorted(present), values, strict=False)}
    summary.update(prompts=3, k=2, by_difficulty={str(d): {"prompts": 1, **summary} for d in difficulties})
    lines = eval_lines(summary, "o")
    table = lines[1:-1]
    # one header, a row for prompts and one per metric present; difficulty columns only when they fit
    assert len(table) == 2 + len(present)
    columns = 1 + (len(difficulties) if 1 < len(difficulties) <= MAX_DIFFICULTY_COLUMNS else 0)
    assert table[0].split("  ")[-1].strip() == ("all" if columns == 1 else f"difficulty {difficulties[-1]}")
    for line in table[1:]:
        # label, then one cell per column (cells are separated by two spaces or more, labels have one)
        assert len(re.split(r"\s{2,}", line.strip())) == 1 + columns, line
    assert not any("{" in line for line in lines)


def test_transformers_false_alarm_about_mtime_stays_off_the_console(tmp_path, caplog):
    # Two checkpoints saved within a second (any small run) made transformers warn that the filesystem's
    # mtime "may not be reliable"; its fallback (the step number) is the right order, so the line is noise.
    import transformers.trainer_utils as tu

    from r1exp.tracking.console import quiet_libraries

    for step in (2, 4, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
    quiet_libraries(wandb=False)
    quiet_libraries(wandb=False)  # idempotent: one filter, not two
    tu.logger.warning_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        order = tu.sort_checkpoints(str(tmp_path), use_mtime=True)
    assert [p.rsplit("-", 1)[1] for p in order] == ["2", "4", "10"]
    assert not [r for r in caplog.records if "mtime" in r.getMessage()]
    assert len(logging.getLogger("transformers.trainer_utils").filters) == 1
    # Other warnings of that logger still pass.
    with caplog.at_level(logging.WARNING):
        tu.logger.warning("something else")
    assert "something else" in caplog.text
