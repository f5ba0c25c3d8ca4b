"""Reference completions: worked solutions rendered in the template's format.

Countdown traces imitate the search the first note's model learned ("41 + 57 = 98 ... 98 is not 90,
so let's try a different combination") and end in the solver's solution; math rows use the dataset's
own solution and gold answer. Used by cold-start SFT and by reference-guided GRPO groups.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from r1exp.rewards.countdown import apply_op, tokenize

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2}


def _num(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def expression_steps(expr: str) -> list[tuple[str, str, str, str]]:
    """The binary operations of a valid expression in evaluation order: (a, op, b, result)."""
    values: list[Fraction] = []
    ops: list[str] = []
    steps: list[tuple[str, str, str, str]] = []

    def apply() -> None:
        op = ops.pop()
        b, a = values.pop(), values.pop()
        r = apply_op(a, op, b)
        steps.append((_num(a), op, _num(b), _num(r)))
        values.append(r)

    for tok in tokenize(expr):
        if tok.isdigit():
            values.append(Fraction(int(tok)))
        elif tok == "(":
            ops.append(tok)
        elif tok == ")":
            while ops[-1] != "(":
                apply()
            ops.pop()
        else:
            while ops and ops[-1] != "(" and _PREC[ops[-1]] >= _PREC[tok]:
                apply()
            ops.append(tok)
    while ops:
        apply()
    return steps


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
    """(think, answer) for a row that has a known solution, else None."""
    if row.get("nums") is not None and row.get("solution"):
        think = countdown_trace(list(row["nums"]), int(row["target"]), str(row["solution"]), rng, wrong_attempts)
        return think, str(row["solution"])
    if row.get("solution") and row.get("answer") is not None:
        return str(row["solution"]).strip(), f"\\boxed{{{row['answer']}}}"
    return None


def render_reference(template: Any, think: str, answer: str) -> str:
    """The completion text a model following `template` would produce for this solution.

    The r1zero_base prompt already opened <think>, so its completion starts inside the block.
    """
    return template.guide.replace("{think}", think).replace("{answer}", answer)
