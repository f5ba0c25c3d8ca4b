"""Countdown correctness: parse the last answer block as arithmetic, exactly, without eval.

The answer is an expression of non-negative ASCII integer literals, binary + - * /, parentheses and
spaces, optionally followed by one `= N` where N equals the target. The literals must be the row's
numbers as a multiset; the value, computed with rationals, must equal the target. Any other symbol,
unary sign, `**`, implicit multiplication, decimal, or division by zero makes it incorrect.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from typing import Any

from r1exp.common.answers import MAX_ANSWER_CHARS, last_answer, scored_text
from r1exp.common.arith import ALL_OPS, InvalidExpression, evaluate, tokenize


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
    except InvalidExpression:
        return False
    return value == Fraction(int(target))


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
