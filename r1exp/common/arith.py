"""Countdown arithmetic, exact and without eval: tokens, one operation, a whole expression.

Expressions are non-negative ASCII integer literals, binary + - * /, parentheses and spaces. Values
are Fractions, so nothing rounds; division by zero, unary signs, implicit multiplication and any
other symbol raise `InvalidExpression`. Also the Countdown statement, which the offline tiny model's
tokenizer is trained on as well as the task itself.
"""

from __future__ import annotations

import operator
from fractions import Fraction

ALL_OPS = "+-*/"
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


class InvalidExpression(Exception):
    """Text that is not a well-formed expression of the allowed shape."""


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
            raise InvalidExpression(ch)
    return tokens


def evaluate(
    tokens: list[str], steps: list[tuple[Fraction, str, Fraction, Fraction]] | None = None
) -> tuple[Fraction, list[int]]:
    """Value and literals of a binary-operator expression (shunting-yard, iterative, exact).

    When `steps` is a list, each operation is appended to it in evaluation order as (a, op, b, result).
    """
    values: list[Fraction] = []
    ops: list[str] = []
    literals: list[int] = []

    def apply() -> None:
        op = ops.pop()
        if len(values) < 2:
            raise InvalidExpression(op)
        b, a = values.pop(), values.pop()
        if op == "/" and b == 0:
            raise InvalidExpression("division by zero")
        result = apply_op(a, op, b)
        if steps is not None:
            steps.append((a, op, b, result))
        values.append(result)

    expect_operand = True
    for tok in tokens:
        if tok.isdigit():
            if not expect_operand:
                raise InvalidExpression("implicit multiplication")
            literals.append(int(tok))
            values.append(Fraction(int(tok)))
            expect_operand = False
        elif tok == "(":
            if not expect_operand:
                raise InvalidExpression("implicit multiplication")
            ops.append(tok)
        elif tok == ")":
            if expect_operand:
                raise InvalidExpression("empty parentheses or dangling operator")
            while ops and ops[-1] != "(":
                apply()
            if not ops:
                raise InvalidExpression("unbalanced")
            ops.pop()
        else:
            if expect_operand:
                raise InvalidExpression("unary or doubled operator")
            while ops and ops[-1] != "(" and PRECEDENCE[ops[-1]] >= PRECEDENCE[tok]:
                apply()
            ops.append(tok)
            expect_operand = True
    if expect_operand:
        raise InvalidExpression("dangling operator")
    while ops:
        if ops[-1] == "(":
            raise InvalidExpression("unbalanced")
        apply()
    if len(values) != 1:
        raise InvalidExpression("malformed")
    return values[0], literals


def question(nums: list[int], target: int, ops: str = ALL_OPS) -> str:
    """The Countdown task statement shown to the model (templates wrap it)."""
    names = ", ".join(ops)
    return (
        f"Using the numbers {list(nums)}, create an equation that equals {target}. "
        f"You can use basic arithmetic operations ({names}) and each number can only be used once."
    )
