"""Length-reward shapes, the reward registry and weighted totals."""

import math

import pytest

from r1exp.errors import ConfigError
from r1exp.rewards import total
from r1exp.rewards.length import SHAPES, length_score
from r1exp.tasks import REWARDS, build_terms


@pytest.mark.parametrize(
    "shape, n, expected",
    [
        ("linear", 512, 0.5),
        ("quadratic", 512, 0.25),
        ("cubic", 512, 0.125),
        ("cosine", 512, 0.5),
        ("cosine", 0, 0.0),
        ("cosine", 1024, 1.0),
        ("exponential", 0, 0.0),
        ("exponential", 1024, 1.0),
        ("exponential", 512, (math.exp(1.5) - 1) / (math.exp(3) - 1)),
        ("sliding_window", 128, 0.5),
        ("sliding_window", 512, 1.0),
        ("sliding_window", 896, 0.5),
        ("sliding_window", 1024, 0.0),
        ("linear", 5000, 1.0),  # clamped
    ],
)
def test_length_shapes(shape, n, expected):
    assert length_score(n, 1024, shape) == pytest.approx(expected)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_is_monotone_until_the_window_and_in_unit_range(shape):
    values = [length_score(n, 100, shape) for n in range(0, 101)]
    assert all(0.0 <= v <= 1.0 for v in values)
    rising = values[:26]
    assert rising == sorted(rising)


def test_length_reward_reads_token_ids_and_is_not_applicable_without_them():
    rew = REWARDS["length"]
    assert rew(["p", "p"], ["a", "b"], completion_ids=[[1] * 10, [1] * 40], max_length=40) == [0.25, 1.0]
    assert rew(["p"], ["a"], max_length=40) == [None]
    assert rew(["p"], ["a"], completion_ids=[[1] * 20], max_length=40, shape="quadratic") == [0.25]


def test_unknown_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="shape"):
        length_score(1, 10, "zigzag")


def test_registry_refuses_duplicate_names():
    with pytest.raises(ValueError, match="already registered"):
        REWARDS.register("strict_format")(lambda prompts, completions, **_: [])


def test_build_terms_names_functions_after_terms_and_binds_kwargs():
    terms = build_terms(
        {
            "len": {"fn": "length", "weight": 0.5, "kwargs": {"max_length": 10, "shape": "linear"}},
            "off": None,
        }
    )
    assert [t.name for t in terms] == ["len"] and terms[0].__name__ == "len"
    assert terms[0].needs_token_ids
    assert terms[0](["p"], ["c"], completion_ids=[[0] * 5]) == [0.5]


@pytest.mark.parametrize(
    "spec, match",
    [
        ({}, "empty"),
        ({"x": {"fn": "nope"}}, "not a registered reward"),
        ({"x": {"fn": "soft_format", "weight": "heavy"}}, "not a number"),
        ({"x": None}, "every term is null"),
    ],
)
def test_build_terms_errors_name_the_field(spec, match):
    with pytest.raises(ConfigError, match=match):
        build_terms(spec)


def test_total_is_the_weighted_sum_of_applicable_terms():
    terms = build_terms({"a": {"fn": "soft_format", "weight": 2.0}, "b": {"fn": "strict_format", "weight": 0.5}})
    assert total({"a": 0.5, "b": 1.0}, terms) == pytest.approx(1.5)
    assert total({"a": None, "b": 1.0}, terms) == pytest.approx(0.5)
    assert total({"a": None, "b": float("nan")}, terms) is None


def test_context_is_bound_only_into_rewards_that_ask_for_it():
    from r1exp.rewards.counters import Counters

    seen = {}

    @REWARDS.register("test_context_probe")
    def probe(prompts, completions, counters=None, **_):
        seen["counters"] = counters
        counters.add("calls", len(completions))
        counters.observe("latency", 0.5)
        counters.observe("latency", 1.5)
        return [1.0] * len(completions)

    probe.context_keys = ("counters",)
    try:
        counters = Counters()
        terms = build_terms(
            {"p": {"fn": "test_context_probe"}, "f": {"fn": "soft_format"}}, {"counters": counters, "other": 1}
        )
        assert terms[0](["a", "b"], ["c", "d"]) == [1.0, 1.0]
        assert seen["counters"] is counters and "counters" not in terms[1].kwargs
        assert counters.drain() == {"calls": 2, "latency_mean": 1.0}
        assert counters.drain() == {}
    finally:
        REWARDS.pop("test_context_probe")
