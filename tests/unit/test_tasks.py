"""A task is one unit: each built-in `Task` declares its source, rewards, evaluation sets and reference,
and its reference renders, for its own rows only, into a completion its own reward and answer extraction
read back; `task_of` resolves a run's task from `data.source` (a built-in name, or an import path to a
Task, a DataSource or a plain function); the reward table is the general terms plus the tasks' own."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from r1exp.analysis.runs import accuracy_name
from r1exp.common.answers import scored_text
from r1exp.common.registry import Registry
from r1exp.common.templates import render_reference
from r1exp.errors import ConfigError
from r1exp.evaluation import score_samples
from r1exp.sampling import Sample
from r1exp.schema import CountdownData
from r1exp.tasks import GENERAL_REWARDS, REWARDS, TASKS, build_splits, data_columns, task_of
from r1exp.tasks.base import DataSource, Task, question_key
from r1exp.tasks.countdown.data import generate
from tests.conftest import ROOT, compose, groups

TEXT_SETS = ("math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school")

# name -> (its rewards, their accuracy names, its evaluation sets, reference columns, exact-match key)
DECLARED = {
    "countdown": ({"countdown_correct": "accuracy"}, ("countdown",), {"nums", "target"}, True),
    "math": ({"math_correct": "accuracy"}, TEXT_SETS, {"solution", "answer"}, False),
    "zh_general": (
        {"judge_answer": "judge score", "judge_reasoning": "judge score"},
        TEXT_SETS,
        {"reference"},
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_each_built_in_task_declares_its_source_rewards_and_evaluation_sets(name):
    task = TASKS[name]
    accuracy, eval_sets, reference_columns, exact = DECLARED[name]
    assert task.name == name and isinstance(task.source, DataSource)
    assert task_of(OmegaConf.create({"source": name})) is task
    # its rewards are in the reward table, under the names the reward configs use
    assert set(task.rewards) == set(accuracy) and task.accuracy_names == accuracy
    for reward, path in task.rewards.items():
        module, _, attr = path.partition(":")
        assert REWARDS[reward] is getattr(__import__(module, fromlist=[attr]), attr)
        term = {"reward.accuracy_term": "answer", "reward.terms.answer.fn": reward}
        assert accuracy_name(term) == accuracy[reward]
    assert task.eval_sets == eval_sets and set(eval_sets) <= set(groups()["bench"])
    assert task.reference_columns == reference_columns and task.exact_match_only is exact


def test_the_reward_table_is_the_general_terms_and_every_tasks_own():
    own = {reward for name in TASKS for reward in TASKS[name].rewards}
    assert set(REWARDS.names()) == set(GENERAL_REWARDS) | own
    assert not own & set(GENERAL_REWARDS)


def test_a_reward_name_declared_twice_is_refused(monkeypatch):
    import r1exp.tasks

    taken = Task(name="mine", source=lambda data: ([], []), rewards={"length": "my_pkg.rewards:length"})
    monkeypatch.setattr(r1exp.tasks, "TASKS", Registry("task", {"mine": taken}))
    with pytest.raises(ValueError, match="reward 'length' is already registered"):
        Registry("reward", GENERAL_REWARDS, load=r1exp.tasks._task_rewards).names()


# --- each task's reference, on rows of its own data source ------------------------------------------


def _countdown_rows() -> tuple[object, list[dict]]:
    cfg = compose(["data.train_size=6", "data.test_size=2"])
    return cfg, build_splits(cfg.data, cfg.template)[0]


def _math_rows(tmp_path) -> tuple[object, list[dict]]:
    path = tmp_path / "math_train.jsonl"
    records = [
        {"problem": f"What is {a} + {a}?", "solution": f"{a} + {a} = {2 * a}, so \\boxed{{{2 * a}}}.",
         "level": "Level 1", "type": "Algebra"}
        for a in range(3, 9)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    cfg = compose(["data=math", "data.hub=null", f"data.path={path}", "data.test_size=1", "reward=math"])
    return cfg, build_splits(cfg.data, cfg.template)[0]


def _zh_rows(tmp_path) -> tuple[object, list[dict]]:
    path = tmp_path / "zh_train.jsonl"
    records = [{"question": f"{a} 加 {a} 等于几?", "reference": f"{2 * a}。"} for a in range(3, 9)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    cfg = compose(["data=zh_general", f"data.path={path}", "data.test_size=1", "reward=zh_general"])
    return cfg, build_splits(cfg.data, cfg.template)[0]


@pytest.fixture
def rows_of(tmp_path) -> dict[str, tuple[object, list[dict]]]:
    """Each built-in task's (config, train rows), from its own data source at a tiny size."""
    return {"countdown": _countdown_rows(), "math": _math_rows(tmp_path), "zh_general": _zh_rows(tmp_path)}


def test_each_tasks_reference_renders_for_its_own_rows(rows_of):
    for name, (cfg, rows) in rows_of.items():
        task = task_of(cfg.data)
        assert task is TASKS[name] and task.reference_columns <= data_columns(cfg.data)
        for row in rows:
            think, answer = task.reference(row, random.Random(0), 1)
            completion = render_reference(cfg.template, think, answer)
            text = scored_text(row["prompt"], completion)
            # the answer the task reads back from the rendered completion is the reference's
            assert task.extract_answer(text).strip() == answer.strip()
            for other in TASKS:  # a row of one task gets no reference from another
                if other != name:
                    assert TASKS[other].reference(row, random.Random(0), 1) is None, (name, other)
            if name == "countdown":
                assert REWARDS["countdown_correct"]([row["prompt"]], [completion], **_columns(row)) == [1.0]
            elif name == "math":
                from r1exp.tasks.math.reward import read_completion

                assert (think, answer) == (row["solution"].strip(), f"\\boxed{{{row['answer']}}}")
                assert read_completion(row["answer"], text).claims == (row["answer"],)
            else:
                assert (think, answer) == ("", row["reference"])


def test_a_row_of_one_task_gets_no_reference_from_another(rows_of):
    for name, (_, rows) in rows_of.items():
        for other in TASKS:
            if other != name:
                assert all(TASKS[other].reference(row, random.Random(0), 1) is None for row in rows), (name, other)


def _columns(row: dict) -> dict:
    return {"nums": [row["nums"]], "target": [row["target"]], "allowed_ops": [row["allowed_ops"]]}


TEMPLATE = compose([]).template
PROMPT = "Using the numbers ...\nAssistant: Let me solve this step by step.\n<think>"


@settings(max_examples=60)
@given(
    numbers=st.tuples(st.integers(2, 4), st.integers(0, 2)),
    ops=st.sampled_from(["+-*/", "+-", "+*", "-*/", "+-*", "+"]),
    seed=st.integers(0, 2**32 - 1),
    solved=st.booleans(),
    wrong_attempts=st.integers(0, 3),
)
def test_countdown_references_are_correct_answers(numbers, ops, seed, solved, wrong_attempts):
    """Generated instances, with their recorded solution or solved on demand (as rows read from a dataset
    carry none), give a reference the Countdown reward scores 1.0 after any number of wrong attempts."""
    low = numbers[0]
    spec = CountdownData(min_numbers=low, max_numbers=min(4, low + numbers[1]), ops=ops, max_target=200)
    task = TASKS["countdown"]
    for row in generate(spec, 3, seed):
        if not solved:
            row = {**row, "solution": None}
        parts = task.reference(row, random.Random(seed), wrong_attempts)
        assert parts is not None
        completion = render_reference(TEMPLATE, *parts)
        assert REWARDS["countdown_correct"]([PROMPT], [completion], **_columns(row)) == [1.0]
        assert task.extract_answer(scored_text(PROMPT, completion)) == parts[1]


# --- task_of ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "task"),
    [("countdown", "countdown"), ("countdown_tasks", "countdown"), ("math", "math"), ("gsm8k_train", "math"),
     ("zh_general", "zh_general"), ("zh_cqia_exam", "zh_general"), ("gaokao_mc", "zh_general")],
)  # fmt: skip
def test_task_of_a_built_in_data_option(data, task):
    assert task_of(compose([f"data={data}"]).data) is TASKS[task]


@pytest.fixture
def sort_task(monkeypatch):
    """The example task of docs/extending.md, importable as a user's own module would be."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "fixtures" / "sort_task"))
    import sort_numbers

    return sort_numbers


def test_task_of_an_import_path_to_a_task(sort_task):
    task = task_of(OmegaConf.create({"name": "sort_numbers", "source": "sort_numbers:TASK"}))
    assert task is sort_task.TASK and task.source is sort_task.source
    row = {"question": "Sort these numbers from smallest to largest: [3, 1, 2]", "numbers": [3, 1, 2]}
    assert task.reference(row, random.Random(0), 1) == ("", "1, 2, 3")


@pytest.mark.parametrize("attr", ["source", "load"])
def test_task_of_an_import_path_to_a_data_source_or_a_function(sort_task, attr):
    """An old config's `data.source` (a DataSource, or a plain function): a task with that source and
    defaults for everything else."""
    task = task_of(OmegaConf.create({"name": "mine", "source": f"sort_numbers:{attr}"}))
    assert task.name == "mine" and task.source is getattr(sort_task, attr)
    assert task.rewards == {} and task.eval_sets == () and not task.exact_match_only
    assert not task.reference_columns and task.reference({"numbers": [2, 1]}, random.Random(0), 1) is None
    assert task.problem_key({"question": "q", "numbers": [1]}) == question_key({"question": "q"}) == "q"
    data = OmegaConf.create({"name": "mine", "source": f"sort_numbers:{attr}", "seed": 0, "count": 3,
                             "train_size": 4, "test_size": 2})  # fmt: skip
    train, test = build_splits(data, TEMPLATE)
    assert (len(train), len(test)) == (4, 2) and all("prompt" in row for row in train)
    assert data_columns(data) == ({"prompt", "question", "numbers", "completion_ids"} if attr == "source" else None)


def test_task_of_something_else_is_one_line(sort_task):
    with pytest.raises(ConfigError, match=r"data.source=sort_numbers:__doc__ is a str, neither a Task nor"):
        task_of(OmegaConf.create({"source": "sort_numbers:__doc__"}))
    with pytest.raises(ConfigError, match=r"data.source='nope' is not a registered task; known: countdown, math"):
        task_of(OmegaConf.create({"source": "nope"}))


def test_evaluation_reads_answers_with_the_tasks_extraction():
    rows = [{"prompt": "q", "question": "q"}]
    samples = [Sample(0, "<answer>  北京 </answer>", [1, 2], False)]
    zh = score_samples(rows, samples, [], TASKS["zh_general"])
    assert zh[0]["answer_text"] == "北京"
    assert score_samples(rows, samples, [], TASKS["countdown"])[0]["answer_text"] == "  北京 "


def test_a_template_without_a_guide_refuses_reference_completions_in_one_line():
    """A template of the user's own may leave `guide` out; what needs it (cold start, guided groups) says so."""
    from r1exp.schema import Template, typed

    template = typed({"name": "mine", "text": "Q: {question}\nA:"}, Template)
    assert template.guide is None and template.think and not template.chat
    with pytest.raises(ConfigError, match=r"^template=mine has no guide: .*give template.guide") as err:
        render_reference(template, "think", "42")
    assert "\n" not in str(err.value)


def test_a_template_without_the_question_is_refused_where_the_section_is_read():
    from r1exp.sections import Sections

    cfg = compose(["template.text=no placeholder"])
    with pytest.raises(ConfigError, match=r"template.text of template=r1zero_base must contain \{question\}"):
        Sections(cfg).read("template")
