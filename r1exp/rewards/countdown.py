"""Countdown correctness: parse the last answer block as arithmetic, exactly, without eval.

The answer is an expression of non-negative ASCII integer literals, binary + - * /, parentheses and
spaces, optionally followed by one `= N` where N equals the target. The literals must be the row's
numbers as a multiset; the value, computed with rationals, must equal the target. Any other symbol,
unary sign, `**`, implicit multiplication, decimal, or division by zero makes it incorrect.
"""

from __future__ import annotations

import operator
from collections import Counter
from fractions import Fraction
from typing import Any

from r1exp.rewards.parsing import MAX_ANSWER_CHARS, last_answer, scored_text
from r1exp.rewards.registry import register

ALL_OPS = "+-*/"
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


class _Invalid(Exception):
    pass


_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def apply_op(a: Fraction, op: str, b: Fraction) -> Fraction:
    """a op b, exactly; only the chosen operation is evaluated (division by zero raises)."""
    return _OPS[op](a, b)


def tokenize(expr: str) -> list[str]:
    """Split into integer literals, operators and parentheses; anything else is invalid."""
    tokens: list[str] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == " ":
            i += 1
        elif "0" <= ch <= "9":
            j = i
            while j < len(expr) and "0" <= expr[j] <= "9":
                j += 1
            tokens.append(expr[i:j])
            i = j
        elif ch in "+-*/()":
            tokens.append(ch)
            i += 1
        else:
            raise _Invalid(ch)
    return tokens


def evaluate(tokens: list[str]) -> tuple[Fraction, list[int]]:
    """Value and literals of a binary-operator expression (shunting-yard, iterative, exact)."""
    values: list[Fraction] = []
    ops: list[str] = []
    literals: list[int] = []

    def apply() -> None:
        op = ops.pop()
        if len(values) < 2:
            raise _Invalid(op)
        b, a = values.pop(), values.pop()
        if op == "/" and b == 0:
            raise _Invalid("division by zero")
        values.append(apply_op(a, op, b))

    expect_operand = True
    for tok in tokens:
        if tok.isdigit():
            if not expect_operand:
                raise _Invalid("implicit multiplication")
            literals.append(int(tok))
            values.append(Fraction(int(tok)))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                raise _Invalid("implicit multiplication")
            ops.append(tok)
        elif tok == ")":
            if expect_operand:
                raise _Invalid("empty parentheses or dangling operator")
            while ops and ops[-1] != "(":
                apply()
            if not ops:
                raise _Invalid("unbalanced")
            ops.pop()
        else:
            if expect_operand:
                raise _Invalid("unary or doubled operator")
            while ops and ops[-1] != "(" and _PRECEDENCE[ops[-1]] >= _PRECEDENCE[tok]:
                apply()
            ops.append(tok)
            expect_operand = True
    if expect_operand:
        raise _Invalid("dangling operator")
    while ops:
        if ops[-1] == "(":
            raise _Invalid("unbalanced")
        apply()
    if len(values) != 1:
        raise _Invalid("malformed")
    return values[0], literals


def check_answer(answer: str | None, nums: list[int], target: int, allowed_ops: str | None = None) -> bool:
    """Whether an answer block's content solves the Countdown instance (see module docstring)."""
    if answer is None:
        return False
    text = answer.strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return False
    if "=" in text:
        expr, _, rhs = text.partition("=")
        rhs = rhs.strip()
        if not rhs or not all("0" <= c <= "9" for c in rhs) or int(rhs) != int(target):
            return False
    else:
        expr = text
    try:
        tokens = tokenize(expr)
        used_ops = {t for t in tokens if t in ALL_OPS}
        if allowed_ops is not None and used_ops - set(allowed_ops):
            return False
        literals = [int(t) for t in tokens if t.isdigit()]
        # The multiset check comes first, so the numbers evaluated are bounded by the row's own.
        if Counter(literals) != Counter(int(n) for n in nums):
            return False
        value, _ = evaluate(tokens)
    except _Invalid:
        return False
    return value == Fraction(int(target))


@register("countdown_correct")
def countdown_correct(
    prompts: list,
    completions: list,
    nums: list | None = None,
    target: list | None = None,
    allowed_ops: list | None = None,
    **_: Any,
) -> list[float | None]:
    """1.0 when the last answer block solves the row's instance; None for rows without Countdown columns."""
    n = len(completions)
    nums = nums if nums is not None else [None] * n
    target = target if target is not None else [None] * n
    allowed_ops = allowed_ops if allowed_ops is not None else [None] * n
    out: list[float | None] = []
    for p, c, ns, t, ops in zip(prompts, completions, nums, target, allowed_ops, strict=True):
        if ns is None or t is None:
            out.append(None)
            continue
        out.append(float(check_answer(last_answer(scored_text(p, c)), list(ns), int(t), ops)))
    return out
