"""Countdown generator: solvable, deterministic, disjoint splits, op restrictions honoured."""

from collections import Counter

import numpy as np
import pytest

from r1exp.errors import ConfigError
from r1exp.schema import CountdownData
from r1exp.tasks.countdown.data import generate, row_key, solve, splits
from r1exp.tasks.countdown.reward import check_answer


def test_every_instance_is_solvable_and_its_solution_checks():
    rows = generate(CountdownData(), 200, seed=3)
    assert len(rows) == 200
    for r in rows:
        assert 3 <= len(r["nums"]) <= 4 and r["difficulty"] == len(r["nums"])
        assert all(1 <= n <= 99 for n in r["nums"]) and 10 <= r["target"] <= 100
        assert check_answer(r["solution"], r["nums"], r["target"], r["allowed_ops"])
        assert set(r) >= {"nums", "target", "solution", "source", "difficulty"}
        assert r["source"] == "countdown"


def test_generation_is_deterministic_by_seed():
    a = generate(CountdownData(), 50, seed=11)
    b = generate(CountdownData(), 50, seed=11)
    c = generate(CountdownData(), 50, seed=12)
    assert a == b
    assert a != c


def test_train_and_test_are_disjoint_on_sorted_numbers_and_target():
    train, test = splits(CountdownData(min_numbers=2, max_numbers=2, max_value=30), 150, 60, seed=0)
    assert len(train) == 150 and len(test) == 60
    assert not {row_key(r) for r in train} & {row_key(r) for r in test}
    assert len({row_key(r) for r in train}) == 150


@pytest.mark.parametrize("ops", ["+-", "+", "+*", "-/"])
def test_op_restrictions_are_honoured(ops):
    rows = generate(CountdownData(ops=ops), 40, seed=5)
    for r in rows:
        assert r["allowed_ops"] == ops
        used = {c for c in r["solution"] if c in "+-*/"}
        assert used <= set(ops), r["solution"]
        assert check_answer(r["solution"], r["nums"], r["target"], ops)
        assert ", ".join(ops) in r["question"]


@pytest.mark.parametrize("k", [2, 5, 6])
def test_configurable_count_of_numbers(k):
    rows = generate(CountdownData(min_numbers=k, max_numbers=k), 10, seed=1)
    assert all(len(r["nums"]) == k and check_answer(r["solution"], r["nums"], r["target"]) for r in rows)


def test_solver_finds_a_solution_or_proves_none():
    assert check_answer(solve([8, 3, 8, 3], 24), [8, 3, 8, 3], 24)
    assert solve([1, 1], 99) is None
    assert solve([5, 5], 10, "*") is None
    assert solve([5, 5], 25, "*") == "5 * 5"


@pytest.mark.parametrize(
    "spec",
    [
        CountdownData(min_numbers=1),
        CountdownData(max_numbers=7),
        CountdownData(min_numbers=4, max_numbers=3),
        CountdownData(ops="+^"),
        CountdownData(min_target=50, max_target=10),
    ],
)
def test_bad_specs_fail_with_a_config_error(spec):
    with pytest.raises(ConfigError, match="data\\."):
        generate(spec, 1, seed=0)


def test_impossible_request_fails_clearly_instead_of_looping():
    with pytest.raises(ConfigError, match="could only draw"):
        generate(CountdownData(min_numbers=2, max_numbers=2, max_value=2, min_target=90, max_target=100), 5, seed=0)


def test_rows_of_a_seed_do_not_depend_on_how_many_are_asked_for():
    many = generate(CountdownData(), 5000, seed=7)
    assert generate(CountdownData(), 10, seed=7) == many[:10]
    assert generate(CountdownData(), 4200, seed=7) == many[:4200]


def test_python_int_arithmetic_draws_the_same_rows_as_int64(monkeypatch):
    """Specs whose values could overflow int64 use Python ints; both paths are the same exact arithmetic."""
    from r1exp.tasks.countdown import data

    spec = CountdownData(min_numbers=2, max_numbers=5, max_value=60)
    assert data._exact_dtype(spec) is np.int64
    fast = generate(spec, 300, seed=2)
    monkeypatch.setattr(data, "_exact_dtype", lambda spec: object)
    assert generate(spec, 300, seed=2) == fast


def test_huge_values_are_exact():
    spec = CountdownData(min_numbers=6, max_numbers=6, max_value=10**9, min_target=-(10**60), max_target=10**60)
    from r1exp.tasks.countdown.data import _exact_dtype

    assert _exact_dtype(spec) is object
    rows = generate(spec, 20, seed=0)
    assert max(abs(r["target"]) for r in rows) > 2**63  # beyond int64, still exact
    for r in rows:
        assert check_answer(r["solution"], r["nums"], r["target"])


def test_generated_instances_follow_the_random_expression_process():
    """Counts of numbers, ops and targets as drawing uniform pairs and ops implies (loose bounds)."""
    rows = generate(CountdownData(), 4000, seed=0)
    four = sum(len(r["nums"]) == 4 for r in rows) / len(rows)
    ops = Counter(c for r in rows for c in r["solution"] if c in "+-*/")
    assert 0.25 < four < 0.4  # 4 numbers reach the target range less often than 3
    assert ops["-"] > ops["+"] > ops["/"] > 0 and ops["*"] > 0
    assert len({r["target"] for r in rows}) == 91  # every target in [10, 100]
