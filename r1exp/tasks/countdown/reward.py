"""Countdown correctness: parse the last answer block as arithmetic, exactly, without eval.

The answer is an expression of non-negative ASCII integer literals, binary + - * /, parentheses and
whitespace (any Unicode whitespace: tabs, no-break spaces, line breaks), optionally followed by one
`= N` where N is the target. The literals must be the row's
numbers as a multiset, each written as that integer (no leading zeros: `03` is not 3, and `= 091` is
not 91); the value, computed with rationals, must equal the target. Any other symbol, unary sign,
`**`, implicit multiplication, decimal, or division by zero makes it incorrect.

Cheap refusals come first (length, alphabet, ops, the numbers as written), so the exact evaluation
only runs on answers that use exactly the row's numbers.
"""

from __future__ import annotations

import re
from typing import Any

from r1exp.common.answers import MAX_ANSWER_CHARS, as_text, last_answer
from r1exp.common.arith import ALL_OPS, InvalidExpression, evaluate, tokenize
from r1exp.rewards.base import reward

# A literal of several digits starting with 0.
_LEADING_ZERO = re.compile(r"(?<![0-9])0[0-9]")


def check_answer(answer: str | None, nums: list[int], target: int, allowed_ops: str | None = None) -> bool:
    """Whether an answer block's content solves the Countdown instance (see module docstring)."""
    if answer is None:
        return False
    text = answer.strip()
    if not text or len(text) > MAX_ANSWER_CHARS:
        return False
    expr, eq, rhs = text.partition("=")
    # The target as written: a second "=", a sign, a leading zero or a non-ASCII digit all differ.
    if eq and rhs.strip() != str(int(target)):
        return False
    if allowed_ops is not None and allowed_ops != ALL_OPS:
        allowed = allowed_ops if isinstance(allowed_ops, str) else "".join(allowed_ops)
        if any(op in expr for op in ALL_OPS if op not in allowed):
            return False
    # Each number written as the given integer: `03` is not 3.
    if _LEADING_ZERO.search(expr):
        return False
    try:
        tokens = tokenize(expr)
    except InvalidExpression:
        return False
    # The multiset check comes before evaluation, so the numbers evaluated are bounded by the row's own.
    if sorted([int(tok) for tok in tokens if tok.isdigit()]) != sorted(map(int, nums)):
        return False
    try:
        value, _ = evaluate(tokens)
    except InvalidExpression:
        return False
    return value == int(target)


@reward(columns=("nums", "target"))
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
    for c, ns, t, ops in zip(completions, nums, target, allowed_ops, strict=True):
        if ns is None or t is None:
            out.append(None)
            continue
        # The completion alone: the `<think>` that scored_text puts back in front can neither hold nor
        # complete an answer tag, so the last answer block is the same without the copy.
        out.append(float(check_answer(last_answer(as_text(c)), ns, int(t), ops)))
    return out
