"""Countdown arithmetic, exact and without eval: tokens, one operation, a whole expression.

Expressions are non-negative ASCII integer literals, binary + - * /, parentheses and whitespace (any
Unicode whitespace between tokens: a tab, a no-break space, a line break read as a space). Values
are exact (integers while they stay integers, Fractions after an inexact division), so nothing
rounds; division by zero, unary signs, implicit multiplication and any other symbol raise
`InvalidExpression`. Also the Countdown statement, which the offline tiny model's tokenizer is
trained on as well as the task itself.

Rewards parse every completion of every step with this, so the hot path avoids per-character Python:
one regex decides the alphabet, `str.replace` pads the operators, `str.split` cuts the tokens, and
the evaluator runs one loop with no per-token function call.
"""

from __future__ import annotations

import operator
import re
from fractions import Fraction

ALL_OPS = "+-*/"
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
# The whole alphabet of an expression: ASCII digits, the four operators, parentheses, whitespace (`\s` is
# Unicode whitespace, the characters `str.split()` cuts on, so the tokenizer sees what was allowed).
_ALPHABET = re.compile(r"[0-9+\-*/()\s]*")

Value = int | Fraction


class InvalidExpression(Exception):
    """Text that is not a well-formed expression of the allowed shape."""


def apply_op(a: Fraction, op: str, b: Fraction) -> Fraction:
    """a op b, exactly; only the chosen operation is evaluated (division by zero raises)."""
    return _OPS[op](a, b)


def tokenize(expr: str) -> list[str]:
    """Split into integer literals, operators and parentheses; anything else is invalid."""
    if _ALPHABET.fullmatch(expr) is None:
        stray = next(ch for ch in expr if _ALPHABET.fullmatch(ch) is None)
        raise InvalidExpression(stray)
    # Chained str.replace is several times faster than a regex findall or a str.translate to strings.
    padded = expr.replace("(", " ( ").replace(")", " ) ").replace("+", " + ").replace("-", " - ")
    return padded.replace("*", " * ").replace("/", " / ").split()


def evaluate(
    tokens: list[str], steps: list[tuple[Fraction, str, Fraction, Fraction]] | None = None
) -> tuple[Value, list[int]]:
    """Exact value (an int or a Fraction) and literals of a binary-operator expression (shunting-yard).

    When `steps` is a list, each operation is appended to it in evaluation order as (a, op, b, result),
    all Fractions.
    """
    values: list[Value] = []
    # The whole expression sits in one implicit pair of parentheses: the end of input closes it.
    ops: list[str] = ["("]
    literals: list[int] = []
    expect_operand = True
    precedence = PRECEDENCE.get
    for tok in (*tokens, None):
        prec = precedence(tok)
        if prec is None and tok != ")" and tok is not None:
            if tok == "(":
                if not expect_operand:
                    raise InvalidExpression("implicit multiplication")
                ops.append(tok)
            elif tok.isdigit():
                if not expect_operand:
                    raise InvalidExpression("implicit multiplication")
                value = int(tok)
                literals.append(value)
                values.append(value)
                expect_operand = False
            else:
                raise InvalidExpression(tok)
            continue
        if expect_operand:
            raise InvalidExpression("unary, doubled or dangling operator, or empty parentheses")
        # Reduce while the operator on the stack binds at least as tightly (up to the open parenthesis).
        while ops[-1] != "(" and (prec is None or precedence(ops[-1]) >= prec):
            op = ops.pop()
            b = values.pop()
            a = values.pop()
            # The one arithmetic site, inlined (a call per operation costs as much as the operation).
            if op == "+":
                result = a + b
            elif op == "-":
                result = a - b
            elif op == "*":
                result = a * b
            elif b == 0:
                raise InvalidExpression("division by zero")
            elif type(a) is int and type(b) is int:
                quotient, rest = divmod(a, b)
                result = quotient if rest == 0 else Fraction(a, b)
            else:
                result = a / b
            if steps is not None:
                steps.append((Fraction(a), op, Fraction(b), Fraction(result)))
            values.append(result)
        if prec is not None:
            ops.append(tok)
            expect_operand = True
        else:
            ops.pop()  # the matching "(" (the implicit one at the end of input)
            if (tok is None) != (not ops):
                raise InvalidExpression("unbalanced parentheses")
    return values[0], literals


def question(nums: list[int], target: int, ops: str = ALL_OPS) -> str:
    """The Countdown task statement shown to the model (templates wrap it)."""
    names = ", ".join(ops)
    return (
        f"Using the numbers {list(nums)}, create an equation that equals {target}. "
        f"You can use basic arithmetic operations ({names}) and each number can only be used once."
    )
