"""Countdown: given numbers and a target, build an arithmetic expression that reaches the target.

Every generated instance is solvable with its allowed operations: it is drawn from a random
expression over its numbers, which is recorded as the solution and verified by the exact answer
checker. `solve`/`reachable` is an exact solver (rationals, DP over subsets) for any instance.
Generation is deterministic for a seed, and the test split never shares a (sorted numbers, target)
key with train.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from r1exp.common.arith import ALL_OPS, apply_op, question
from r1exp.errors import ConfigError
from r1exp.tasks.countdown.reward import check_answer


@dataclass(frozen=True)
class CountdownSpec:
    """How to draw Countdown instances."""

    min_numbers: int = 3
    max_numbers: int = 4
    min_value: int = 1
    max_value: int = 99
    min_target: int = 10
    max_target: int = 100
    ops: str = ALL_OPS
    # When set, each instance draws its allowed ops from these (mixed easy/hard data for curricula).
    ops_mix: tuple[str, ...] | None = None

    def validate(self) -> None:
        if not 2 <= self.min_numbers <= self.max_numbers <= 6:
            raise ConfigError(
                f"data.min_numbers={self.min_numbers}, data.max_numbers={self.max_numbers}: "
                "need 2 <= min_numbers <= max_numbers <= 6"
            )
        if not 0 <= self.min_value <= self.max_value:
            raise ConfigError("data.min_value/max_value: need 0 <= min_value <= max_value")
        if self.min_target > self.max_target:
            raise ConfigError("data.min_target/max_target: need min_target <= max_target")
        for ops in (self.ops, *(self.ops_mix or ())):
            if not ops or set(ops) - set(ALL_OPS) or len(set(ops)) != len(ops):
                field = "data.ops_mix" if self.ops_mix else "data.ops"
                raise ConfigError(f"{field}: {ops!r} is not a subset of '+-*/' without repeats")


def _combine(a: Fraction, b: Fraction, ops: str):
    """Yield (value, op, swapped) for every allowed binary op on a pair."""
    if "+" in ops:
        yield a + b, "+", False
    if "*" in ops:
        yield a * b, "*", False
    if "-" in ops:
        yield a - b, "-", False
        yield b - a, "-", True
    if "/" in ops:
        if b != 0:
            yield a / b, "/", False
        if a != 0:
            yield b / a, "/", True


def reachable(nums: list[int], ops: str = ALL_OPS) -> dict[Fraction, str]:
    """Every value reachable using all of `nums` exactly once, each with one expression.

    Dynamic programming over subsets: the values of a subset come from combining the values of
    every split of it into two parts, so equal intermediate values are explored once.
    """
    n = len(nums)
    table: dict[int, dict[Fraction, str]] = {1 << i: {Fraction(v): str(v)} for i, v in enumerate(nums)}
    for mask in range(1, 1 << n):
        if mask in table:
            continue
        values: dict[Fraction, str] = {}
        sub = (mask - 1) & mask
        while sub:
            other = mask ^ sub
            if sub < other:  # each unordered split once; _combine covers both orders
                for va, ea in table[sub].items():
                    for vb, eb in table[other].items():
                        for val, op, swapped in _combine(va, vb, ops):
                            if val not in values:
                                values[val] = f"({eb} {op} {ea})" if swapped else f"({ea} {op} {eb})"
            sub = (sub - 1) & mask
        table[mask] = values
    return table[(1 << n) - 1]


def _strip_outer(expr: str) -> str:
    return expr[1:-1] if expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]) else expr


def _balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def solve(nums: list[int], target: int, ops: str = ALL_OPS) -> str | None:
    """One expression using every number of `nums` exactly once that equals `target`, or None."""
    expr = reachable(list(nums), ops).get(Fraction(target))
    return None if expr is None else _strip_outer(expr)


def _random_expression(rng: random.Random, nums: list[int], ops: str) -> tuple[Fraction, str] | None:
    """Combine the numbers in a random order with random allowed ops; None on division by zero."""
    items = [(Fraction(v), str(v)) for v in nums]
    while len(items) > 1:
        i, j = rng.sample(range(len(items)), 2)
        (va, ea), (vb, eb) = items[i], items[j]
        op = rng.choice(ops)
        if op == "/" and vb == 0:
            return None
        val = apply_op(va, op, vb)
        items = [it for k, it in enumerate(items) if k not in (i, j)] + [(val, f"({ea} {op} {eb})")]
    return items[0]


def generate(spec: CountdownSpec, n: int, seed: int, exclude: set[tuple] | None = None) -> list[dict]:
    """Draw `n` solvable instances deterministically; skip any whose key is in `exclude`.

    Each instance is built from a random expression over its numbers whose value is an integer in
    the target range, so it is solvable with the allowed ops by construction; that expression is the
    recorded solution, and the exact answer checker verifies it.
    """
    spec.validate()
    rng = random.Random(seed)
    exclude = exclude or set()
    rows: list[dict] = []
    seen: set[tuple] = set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 200 * n + 1000:
            raise ConfigError(
                f"data: could only draw {len(rows)} of {n} distinct solvable Countdown instances; "
                "widen data.min_target/max_target, data.min_value/max_value or data.ops, or ask for fewer rows"
            )
        k = rng.randint(spec.min_numbers, spec.max_numbers)
        nums = [rng.randint(spec.min_value, spec.max_value) for _ in range(k)]
        ops = rng.choice(spec.ops_mix) if spec.ops_mix else spec.ops
        drawn = _random_expression(rng, nums, ops)
        if drawn is None:
            continue
        value, expr = drawn
        if value.denominator != 1 or not spec.min_target <= value <= spec.max_target:
            continue
        target = int(value)
        key = (tuple(sorted(nums)), target)
        if key in exclude or key in seen:
            continue
        solution = _strip_outer(expr)
        if not check_answer(solution, nums, target, ops):
            raise AssertionError(f"generated solution does not check: {solution} -> {target}")
        seen.add(key)
        rows.append(
            {
                "nums": nums,
                "target": target,
                "solution": solution,
                "allowed_ops": ops,
                "question": question(nums, target, ops),
                "source": "countdown",
                "difficulty": k,
            }
        )
    return rows


def row_key(row: dict) -> tuple:
    """The identity used to keep splits disjoint: (sorted numbers, target)."""
    return (tuple(sorted(row["nums"])), row["target"])


def splits(spec: CountdownSpec, train_size: int, test_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Train and test rows, disjoint on (sorted numbers, target)."""
    test = generate(spec, test_size, seed=seed + 1_000_003)
    train = generate(spec, train_size, seed=seed, exclude={row_key(r) for r in test})
    return train, test


def countdown_source(data: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows drawn from the `data=countdown` settings."""
    spec = CountdownSpec(
        min_numbers=int(data.min_numbers),
        max_numbers=int(data.max_numbers),
        min_value=int(data.min_value),
        max_value=int(data.max_value),
        min_target=int(data.min_target),
        max_target=int(data.max_target),
        ops=str(data.ops),
        ops_mix=tuple(str(o) for o in data.ops_mix) if data.get("ops_mix") else None,
    )
    return splits(spec, int(data.train_size), int(data.test_size), int(data.seed))
