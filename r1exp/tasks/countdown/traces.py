"""Countdown reference completions: worked solutions in the style of a search.

Traces imitate the search the first note's model learned ("41 + 57 = 98 ... 98 is not 90, so let's
try a different combination") and end in the solver's solution. Used by cold-start SFT and by
reference-guided GRPO groups, as the Countdown task's reference (`r1exp.tasks.countdown.task`).
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from r1exp.common.arith import apply_op, evaluate, tokenize


def _num(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def expression_steps(expr: str) -> list[tuple[str, str, str, str]]:
    """The binary operations of a valid expression in evaluation order: (a, op, b, result)."""
    steps: list[tuple[Fraction, str, Fraction, Fraction]] = []
    evaluate(tokenize(expr), steps)
    return [(_num(a), op, _num(b), _num(r)) for a, op, b, r in steps]


def countdown_trace(nums: list[int], target: int, solution: str, rng: random.Random, wrong_attempts: int = 1) -> str:
    """A short search in the note's style: a few wrong combinations, then the solution's steps."""
    lines = []
    for _ in range(wrong_attempts):
        a, b = rng.sample(list(nums), 2) if len(nums) > 1 else (nums[0], nums[0])
        op = rng.choice("+-*")
        value = apply_op(Fraction(a), op, Fraction(b))
        if value == target:
            continue
        lines.append(f"{a} {op} {b} = {value}")
        lines.append(f"{value} is not {target}, so let's try a different combination.")
    lines += [f"{a} {op} {b} = {r}" for a, op, b, r in expression_steps(solution)]
    lines.append(f"{solution} = {target}")
    return "\n".join(lines)


def reference_parts(row: dict[str, Any], rng: random.Random, wrong_attempts: int = 1) -> tuple[str, str] | None:
    """(think, answer) for a Countdown row with a known solution (solved here when the row has none), else None."""
    if row.get("nums") is None or row.get("target") is None:
        return None
    solution = row.get("solution")
    if not solution:
        # Rows read from a dataset (data=countdown_tasks) carry no solution; the exact solver finds one.
        from r1exp.tasks.countdown.data import solve

        solution = solve(list(row["nums"]), int(row["target"]), str(row.get("allowed_ops") or "+-*/"))
        if solution is None:
            return None
    think = countdown_trace(list(row["nums"]), int(row["target"]), str(solution), rng, wrong_attempts)
    return think, str(solution)
