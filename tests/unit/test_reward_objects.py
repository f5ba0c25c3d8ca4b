"""Rewards are objects with declared capabilities; a run's terms are built once and called like functions."""

import pytest

from r1exp.rewards import Reward, reward
from r1exp.rewards.counters import Counters
from r1exp.tasks import REWARDS, build_terms
from r1exp.tasks.zh_general import judge
from tests.conftest import compose
from tests.unit.test_judge import PROMPT, FakeReference


def test_built_in_rewards_declare_the_columns_they_read():
    assert REWARDS["countdown_correct"].columns == ("nums", "target")
    assert REWARDS["math_correct"].columns == ("answer",)
    assert REWARDS["judge_answer"].columns == ("reference",)
    assert REWARDS["strict_format"].columns == () and REWARDS["length"].needs_token_ids
    for name in REWARDS:
        assert isinstance(REWARDS[name], Reward)
        low, high = REWARDS[name].value_range
        assert low <= high


def test_a_term_is_called_like_a_function_under_its_own_name_and_shows_every_call():
    (term,) = build_terms({"fmt": {"fn": "soft_format", "weight": 0.5}})
    seen = []
    term.observers.append(lambda name, prompts, completions, values, columns: seen.append((name, values, columns)))
    values = term(prompts=["p"], completions=["<think>a</think><answer>1</answer>"], trainer_state=None)
    assert term.__name__ == "fmt" and values == [1.0] and term.weight == 0.5
    assert seen == [("fmt", [1.0], {"trainer_state": None})]


def test_declared_capabilities_reach_the_term():
    @reward(columns=("x",), context_keys=("counters",))
    def probe(prompts, completions, x=None, counters=None, **_):
        counters.add("calls", len(completions))
        return [float(v) for v in x]

    REWARDS.add("test_probe", probe)
    try:
        counters = Counters()
        (term,) = build_terms({"p": {"fn": "test_probe"}}, {"counters": counters, "judge": None})
        assert term.columns == ("x",) and term(["a"], ["b"], x=[3]) == [3.0]
        assert counters.drain() == {"calls": 1}
    finally:
        REWARDS.pop("test_probe")


def test_a_plain_function_by_import_path_is_a_reward():
    (term,) = build_terms({"d": {"fn": "r1exp.rewards.sanity:digit_density"}})
    assert term(["p"], ["a1"]) == [0.5] and term.columns == ()


def test_the_judge_backend_is_built_once_per_run(monkeypatch):
    built = []
    real = judge.make_backend

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(judge, "make_backend", counting)
    fake = FakeReference()
    context = {"counters": Counters(), "judge": compose(["judge.backend=reference"]).judge, "reference_model": fake}
    (term,) = build_terms({"r": {"fn": "judge_reasoning"}}, context)
    for _ in range(3):  # three reward batches
        assert term([PROMPT], ["step one</think><answer>2</answer>"]) == [0.5]
    assert built == [1] and len(fake.calls) == 3


@pytest.mark.parametrize("fn", ["judge_answer", "judge_reasoning"])
def test_a_judge_term_without_a_run_context_still_builds(fn):
    (term,) = build_terms({"j": {"fn": fn}})
    assert "backend" not in term.kwargs
