"""Countdown: given numbers and a target, build an arithmetic expression that reaches the target.

Every generated instance is solvable with its allowed operations: a small exact solver (rationals,
memoised over the multiset of remaining values) checks it and records one solution. Generation is
deterministic for a seed, and the test split never shares a (sorted numbers, target) key with train.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from r1exp.errors import ConfigError

ALL_OPS = "+-*/"


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
        if not self.ops or set(self.ops) - set(ALL_OPS) or len(set(self.ops)) != len(self.ops):
            raise ConfigError(f"data.ops={self.ops!r}: use a subset of '+-*/' without repeats")


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


@lru_cache(maxsize=200_000)
def _solve(values: tuple[Fraction, ...], target: Fraction, ops: str) -> tuple[int, str, int] | None:
    """Return a (i, op, j) first step towards `target` from sorted `values`, or None."""
    if len(values) == 1:
        return (0, "", 0) if values[0] == target else None
    n = len(values)
    for i in range(n):
        for j in range(i + 1, n):
            rest = [values[k] for k in range(n) if k != i and k != j]
            for val, op, swapped in _combine(values[i], values[j], ops):
                nxt = tuple(sorted([*rest, val]))
                if _solve(nxt, target, ops) is not None:
                    return (j, op, i) if swapped else (i, op, j)
    return None


def solve(nums: list[int], target: int, ops: str = ALL_OPS) -> str | None:
    """One expression using every number of `nums` exactly once that equals `target`, or None."""
    exprs = [(Fraction(v), str(v)) for v in nums]
    goal = Fraction(target)
    if _solve(tuple(sorted(v for v, _ in exprs)), goal, ops) is None:
        return None
    # Replay the memoised search, carrying expression strings alongside values.
    while len(exprs) > 1:
        exprs.sort(key=lambda e: e[0])
        i, op, j = _solve(tuple(v for v, _ in exprs), goal, ops)
        (va, sa), (vb, sb) = exprs[i], exprs[j]
        val = {"+": lambda: va + vb, "-": lambda: va - vb, "*": lambda: va * vb, "/": lambda: va / vb}[op]()
        rest = [e for k, e in enumerate(exprs) if k not in (i, j)]
        exprs = [*rest, (val, f"({sa} {op} {sb})")]
    expr = exprs[0][1]
    return expr[1:-1] if expr.startswith("(") and len(nums) > 1 else expr


def question(nums: list[int], target: int, ops: str = ALL_OPS) -> str:
    """The task statement shown to the model (templates wrap it)."""
    names = ", ".join(ops)
    return (
        f"Using the numbers {list(nums)}, create an equation that equals {target}. "
        f"You can use basic arithmetic operations ({names}) and each number can only be used once."
    )


def generate(spec: CountdownSpec, n: int, seed: int, exclude: set[tuple] | None = None) -> list[dict]:
    """Draw `n` solvable instances deterministically; skip any whose key is in `exclude`."""
    spec.validate()
    rng = random.Random(seed)
    exclude = exclude or set()
    rows: list[dict] = []
    seen: set[tuple] = set()
    attempts = 0
    while len(rows) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ConfigError(
                f"data: could only draw {len(rows)} of {n} solvable Countdown instances; "
                "widen data.min_target/max_target or data.ops"
            )
        k = rng.randint(spec.min_numbers, spec.max_numbers)
        nums = [rng.randint(spec.min_value, spec.max_value) for _ in range(k)]
        target = rng.randint(spec.min_target, spec.max_target)
        key = (tuple(sorted(nums)), target)
        if key in exclude or key in seen:
            continue
        solution = solve(nums, target, spec.ops)
        if solution is None:
            continue
        seen.add(key)
        rows.append(
            {
                "nums": nums,
                "target": target,
                "solution": solution,
                "allowed_ops": spec.ops,
                "question": question(nums, target, spec.ops),
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
