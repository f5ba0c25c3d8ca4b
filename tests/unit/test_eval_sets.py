"""Evaluation sets and metrics that mean one thing: evaluation data is refused for training, a bench is
scored by its task's reward, TinyZero's Countdown instances load in the generator's row shape, guided
samples are reported apart from the policy's own, a soft format term is a credit, and a reward term
given twice is refused."""

import json

import pandas as pd
import pytest
from omegaconf import OmegaConf

from r1exp.errors import ConfigError, DataError
from r1exp.eval_sets import (
    bench_rows,
    check_bench_reward,
    check_trainable,
    contamination_record,
    problem_text,
)
from r1exp.evaluation import summarize
from r1exp.sections import Sections
from r1exp.tasks import TASKS, build_splits
from tests.conftest import compose, groups


def test_evaluation_options_are_refused_for_training(data_dir):
    for option in ("math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school"):
        with pytest.raises(ConfigError, match=rf"data={option} is an evaluation set"):
            check_trainable(compose([f"data={option}"]).data)
    for option in ("countdown", "countdown_tasks", "math", "gsm8k_train", "zh_cqia_exam"):
        check_trainable(compose([f"data={option}"]).data)


def test_a_training_file_inside_the_evaluation_folder_is_refused(data_dir, tmp_path):
    inside = compose(["data=math", "data.hub=null", f"data.path={data_dir / 'math500.test.jsonl'}"]).data
    with pytest.raises(ConfigError, match="is in R1EXP_DATA_DIR, the folder of evaluation data"):
        check_trainable(inside)
    check_trainable(compose(["data=math", "data.hub=null", f"data.path={tmp_path / 'train.jsonl'}"]).data)


def test_a_bench_is_its_whole_file_and_needs_its_tasks_reward(data_dir):
    cfg = compose(["bench=math500", "reward=math"])
    assert Sections(cfg).bench_name == "math500"
    rows = bench_rows(Sections(cfg))
    assert len(rows) == 500 and all("<think>" in r["prompt"] for r in rows)
    check_bench_reward(Sections(cfg))
    with pytest.raises(ConfigError, match=r"bench=math500 is scored by math_correct.*reward=countdown"):
        check_bench_reward(Sections(compose(["bench=math500"])))
    assert Sections(compose([])).bench_name is None and bench_rows(Sections(compose([]))) == []
    countdown = compose(["bench=countdown"])
    check_bench_reward(Sections(countdown))
    assert len(bench_rows(Sections(countdown))) == 512 and bench_rows(Sections(countdown)) == bench_rows(
        Sections(compose(["bench=countdown", "seed=7"]))
    )


def test_countdown_problems_compare_by_numbers_and_target():
    countdown = TASKS["countdown"]
    a = {"nums": [3, 1, 2], "target": 6, "question": "Using the numbers [3, 1, 2] ..."}
    b = {"nums": [1, 2, 3], "target": 6, "question": "Using the numbers [1, 2, 3] ..."}
    assert problem_text(a, countdown) == problem_text(b, countdown) == "countdown 1 2 3 target 6"
    assert problem_text({"question": "What is 2+2?"}) == "What is 2+2?"


def test_contamination_record_of_a_generated_countdown_run():
    cfg = compose(["data.train_size=300", "data.test_size=40"])
    train, test = build_splits(cfg.data, cfg.template)
    record = contamination_record(Sections(cfg), train, {"countdown test split": test})
    # generated disjoint; the Countdown bench is checked without bench=countdown
    assert record["sets"]["countdown test split"]["exact"] == 0
    # another seed's generator draws the odd instance of the bench (1 of 512 here): counted, below 1 %
    assert record["sets"]["countdown"]["eval_rows"] == 512 and record["sets"]["countdown"]["fraction"] <= 0.01
    assert record["max_fraction"] == 0.01 and record["skipped"] == {} and record["ngram"] == 3
    loose = contamination_record(
        Sections(compose(["contamination.max_fraction=0.5"])), train, {"leaky": train[:5] + test}
    )
    # exact instances only: a neighbour with the same numbers and another target is another instance
    assert loose["sets"]["leaky"] == {
        "eval_rows": 45,
        "exact": 5,
        "near": 0,
        "renamed": 0,
        "fraction": round(5 / 45, 6),
    }
    untyped = OmegaConf.create(
        {"template": OmegaConf.to_container(cfg.template), "contamination": {"max_fraction": "lots"}}
    )
    with pytest.raises(ConfigError, match=r"^contamination\.max_fraction: .*'lots'"):
        contamination_record(Sections(untyped), train, {"leaky": test})
    with pytest.raises(ConfigError, match="overlaps the evaluation set leaky: 5 of 45 rows"):
        contamination_record(Sections(compose(["contamination.max_fraction=0.05"])), train, {"leaky": train[:5] + test})
    bench = compose(["bench=countdown"])
    assert (
        "countdown"
        not in contamination_record(Sections(bench), train, {"bench=countdown": bench_rows(Sections(bench))})["sets"]
    )


def test_text_training_is_checked_against_every_local_evaluation_set_without_bench(data_dir):
    """bench=none: 300 MATH-500 problems behind a prefix are refused; a clean file lists what was checked."""
    math500 = [json.loads(line)["problem"] for line in (data_dir / "math500.test.jsonl").read_text().splitlines()]
    cfg = compose(["data=math", "data.hub=null", "data.path=train.jsonl"])
    assert Sections(cfg).bench_name is None
    leaked = [{"question": "Problem: " + p} for p in math500[:300]]
    # 300 copies, and one MATH-500 problem that is another's template with other numbers
    with pytest.raises(
        ConfigError, match=r"overlaps the evaluation set math500: 30[01] of 500 rows \(0 exact, 300 near"
    ):
        contamination_record(Sections(cfg), leaked, {})
    clean = [{"question": f"Compute the sum of the first {k} odd numbers."} for k in range(3, 60)]
    record = contamination_record(Sections(cfg), clean, {})
    assert set(record["sets"]) == {"math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school"}
    assert all(counts["fraction"] == 0 for counts in record["sets"].values()) and record["skipped"] == {}


def test_evaluation_sets_missing_here_are_listed_as_skipped(tmp_path, monkeypatch):
    monkeypatch.setenv("R1EXP_DATA_DIR", str(tmp_path))
    cfg = compose(["data=math", "data.hub=null", "data.path=train.jsonl"])
    record = contamination_record(Sections(cfg), [{"question": "What is 2 + 2?"}], {})
    assert record["sets"] == {}
    assert set(record["skipped"]) == {"math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school"}
    assert str(tmp_path) in record["skipped"]["math500"] and "no file" in record["skipped"]["math500"]


def _instances(n):
    return [{"target": 10 + i % 50, "nums": [i % 9 + 1, i % 7 + 2, 10 + i % 5]} for i in range(n)]


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_tinyzero_instances_load_in_the_generator_row_shape(tmp_path, suffix):
    path = tmp_path / f"tasks.{suffix}"
    rows = _instances(30)
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pd.DataFrame(rows).to_parquet(path)
    cfg = compose(
        ["data=countdown_tasks", "data.hub=null", f"data.path={path}", "data.train_size=20", "data.test_size=6"]
    )
    train, test = build_splits(cfg.data, cfg.template)
    assert [r["target"] for r in train] == [r["target"] for r in rows[:20]]  # dataset order, TinyZero's split
    assert [r["nums"] for r in test] == [r["nums"] for r in rows[20:26]]
    generated, _ = build_splits(compose(["data.train_size=2", "data.test_size=1"]).data, cfg.template)
    assert set(train[0]) == set(generated[0]) and train[0]["source"] == "countdown_tasks"
    assert train[0]["question"] in train[0]["prompt"] and train[0]["solution"] is None
    bench = compose(["bench=countdown_tasks", "bench.hub=null", f"bench.path={path}", "bench.train_size=20"])
    assert [r["nums"] for r in bench_rows(Sections(bench))] == [r["nums"] for r in rows[20:30]]


def test_a_countdown_instance_without_a_solution_is_solved_for_guided_groups_and_cold_start():
    import random

    from r1exp.tasks import TASKS
    from r1exp.tasks.countdown.reward import check_answer

    reference_parts = TASKS["countdown"].reference

    think, answer = reference_parts({"nums": [3, 5, 7], "target": 22, "solution": None}, random.Random(0), 0)
    assert check_answer(answer, [3, 5, 7], 22, "+-*/") and answer in think
    assert reference_parts({"nums": [1, 1], "target": 97, "solution": None}, random.Random(0), 0) is None


def test_a_broken_instance_names_its_line(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"target": 10, "nums": [1, 2]}) + "\n" + json.dumps({"target": "x", "nums": [1]}) + "\n")
    cfg = compose(
        ["data=countdown_tasks", "data.hub=null", f"data.path={path}", "data.train_size=1", "data.test_size=1"]
    )
    with pytest.raises(DataError, match=r"tasks\.jsonl:2: a Countdown row needs `nums`"):
        build_splits(cfg.data, cfg.template)


def test_soft_format_is_reported_as_a_credit():
    rows = [
        {"prompt_index": i, "completion_tokens": 5, "truncated": False, "reward": 1.0, "answer_text": "1",
         "rewards": {"correct": 1.0, "soft_format": credit}}
        for i, credit in enumerate((0.25, 0.75))
    ]  # fmt: skip
    summary = summarize(rows, "correct", "soft_format", format_metric="format_credit")
    assert summary["format_credit"] == 0.5 and "format_rate" not in summary
    assert compose(["reward=zh_general"]).reward.format_metric == "format_credit"
    assert compose(["reward=countdown_soft"]).reward.format_metric == "format_credit"
    assert compose([]).reward.format_metric == "format_rate"


def test_a_reward_counted_twice_is_refused():
    with pytest.raises(ConfigError, match=r"reward.terms.format and reward.terms.soft_format are the same reward"):
        Sections(compose(["+experiment=smoke", "reward=zh_general"])).check("score")
    Sections(compose(["+experiment=smoke"])).check("score")
    Sections(compose(["+experiment=smoke", "reward=countdown_soft"])).check("score")


def _groups(template=None, reference=None):
    from r1exp.features.guided import GuidedGroups

    return GuidedGroups(template, reference, 0, "correct", "format", "format_rate")


def test_metrics_report_the_policy_apart_from_guided_samples(tmp_path):
    from r1exp.tracking.callbacks import MetricsCallback

    groups = _groups()
    # One generation batch of 4 on this process: the first completion is an inserted reference.
    groups.mask = [True, False, False, False]
    groups.counts = {"guided": 1, "samples": 4, "skipped": 1}
    groups.observe("correct", None, None, [1.0, 0.0, 0.3, 0.0], {})
    groups.observe("format", None, None, [1.0, 0.9, 0.0, 0.0], {})
    cb = MetricsCallback(tmp_path / "m.jsonl", "correct", "format", 0.04, True, {"guided": groups})
    logs = {"loss": 0.1, "reward": 0.5, "rewards/correct/mean": 0.325, "rewards/format/mean": 0.475}
    state = type("S", (), {"global_step": 3, "is_world_process_zero": True})()
    cb.on_log(None, state, None, logs=logs)
    row = json.loads((tmp_path / "m.jsonl").read_text())
    assert row["accuracy"] == pytest.approx(0.1) and row["format_rate"] == pytest.approx(0.3)  # the policy's own
    assert row["guided/accuracy"] == 1.0 and row["guided/format_rate"] == 1.0
    assert row["guided/share"] == 0.25 and row["guided/skipped"] == 1
    assert row["rewards/correct"] == 0.325  # TRL's mean over all samples stays under its own name
    assert "guided/policy" not in row and "guided/guided" not in row


def test_a_reference_longer_than_the_budget_is_skipped_not_cut():
    from r1exp.tasks import TASKS

    class Tok:
        def __call__(self, text, add_special_tokens=False):
            return {"input_ids": list(range(len(text.split())))}

    groups = _groups(OmegaConf.create(compose([]).template), TASKS["countdown"].reference)
    row = {"nums": [3, 5, 7], "target": 22, "solution": "3 * 5 + 7"}
    assert groups.reference_ids(row, Tok(), 400) is not None and groups.counts["skipped"] == 0
    assert groups.reference_ids(row, Tok(), 4) is None and groups.counts["skipped"] == 1


def test_tinyzero_instances_from_the_hub_fail_offline_in_one_line(monkeypatch):
    from huggingface_hub import constants

    import r1exp.common.hub

    cfg = compose(["data=countdown_tasks"])
    assert (cfg.data.hub, cfg.data.train_size, cfg.data.test_size) == ("Jiayi-Pan/Countdown-Tasks-3to4", 327680, 1024)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(r1exp.common.hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(DataError) as err:
        build_splits(cfg.data, cfg.template)
    assert str(err.value).startswith("data.hub=Jiayi-Pan/Countdown-Tasks-3to4: ") and "data.path" in str(err.value)


@pytest.mark.parametrize("name", [n for n in groups()["bench"] if n != "none"])
@pytest.mark.parametrize("seed", [0, 7])
def test_an_evaluation_set_composed_alone_is_the_runs_own_bench_section(data_dir, name, seed):
    """The contamination guard composes the `bench` group alone (not the whole config per set): the
    section it gets is the one a run with that seed and bench=NAME reads."""
    from r1exp.eval_sets import bench_config

    whole = Sections(compose([f"bench={name}", f"seed={seed}"])).bench
    alone = bench_config(name, seed)
    assert type(alone) is type(whole) and alone == whole
