"""Countdown arithmetic: the fast tokenizer and evaluator agree with an independent exact reference."""

import ast
import re
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.common.arith import InvalidExpression, evaluate, tokenize

_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _reference(node: ast.AST) -> Fraction:
    """Python's own parser, walked with Fractions: only integer literals and binary + - * /."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        a, b = _reference(node.left), _reference(node.right)
        return {"+": a + b, "-": a - b, "*": a * b}[_OPS[type(node.op)]] if type(node.op) is not ast.Div else a / b
    raise ValueError("not an expression of the allowed shape")


def reference_value(expr: str) -> Fraction | None:
    if {ch for ch in expr if not ch.isspace()} - set("0123456789+-*/()") or not expr.strip():
        return None
    # Any whitespace separates tokens (Python's parser would end the expression at a line break).
    spaced = "".join(" " if ch.isspace() else ch for ch in expr)
    # Python refuses leading zeros (`07`); the arithmetic reads them as the integer.
    cleaned = re.sub(r"(?<![0-9])0+(?=[0-9])", "", spaced).strip()
    try:
        return _reference(ast.parse(cleaned, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return None


def ours(expr: str) -> Fraction | None:
    try:
        value, _ = evaluate(tokenize(expr))
    except InvalidExpression:
        return None
    return Fraction(value)


PIECES = ["1", "2", "7", "12", "0", "3", "+", "-", "*", "/", "(", ")", " ", "**", "x", "\t", "\u00a0", "\n", "２", "."]


@settings(max_examples=800, derandomize=True, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_evaluate_agrees_with_an_exact_reference(pieces):
    expr = "".join(pieces)
    assert ours(expr) == reference_value(expr), expr


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.recursive(
        st.integers(0, 99).map(str),
        lambda e: st.tuples(e, st.sampled_from("+-*/"), e).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        max_leaves=8,
    )
)
def test_well_formed_expressions_evaluate_exactly(expr):
    assert ours(expr) == reference_value(expr), expr


@pytest.mark.parametrize(
    "expr, value",
    [
        ("8 / (3 - 8 / 3)", Fraction(24)),
        ("1 / 3", Fraction(1, 3)),
        ("(1 / 3) * 3", Fraction(1)),
        ("2 - 3 - 4", Fraction(-5)),
        ("2 * 3 + 4 * 5", Fraction(26)),
        ("((((2))))", Fraction(2)),
        ("100 / 7 / 2", Fraction(50, 7)),
    ],
)
def test_values_are_exact_and_integers_stay_integers(expr, value):
    result, literals = evaluate(tokenize(expr))
    assert result == value
    if "/" not in expr:
        assert type(result) is int
    assert literals == [int(t) for t in re.findall(r"[0-9]+", expr)]


@pytest.mark.parametrize("expr", ["", "()", "(2", "2)", "2 +", "+ 2", "2 (3)", "(2) 3", "2 3", "1 / 0", "1 / (2 - 2)"])
def test_malformed_expressions_raise(expr):
    with pytest.raises(InvalidExpression):
        evaluate(tokenize(expr))


@pytest.mark.parametrize("expr", ["2 x 3", "２ + 3", "2.5", "2\u200b+ 3", "2 \u00b7 3"])
def test_symbols_outside_the_alphabet_raise(expr):
    with pytest.raises(InvalidExpression):
        tokenize(expr)


# Every character Python (and `str.split`) calls whitespace: tab, line breaks, no-break and ideographic
# spaces, the typographic spaces of U+2000-U+200A, ...; U+200B (zero width) is not whitespace.
WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.sampled_from(["1", "2", "7", "12", "(", ")", "+", "-", "*", "/"]), min_size=1, max_size=10),
    st.data(),
)
def test_any_whitespace_between_tokens_reads_as_a_space(pieces, data):
    spaced = " ".join(pieces)
    gaps = [data.draw(st.text(st.sampled_from(WHITESPACE), min_size=1, max_size=3)) for _ in pieces]
    odd = "".join(p + g for p, g in zip(pieces, gaps, strict=True))
    assert tokenize(odd) == tokenize(spaced)
    assert ours(odd) == ours(spaced) == reference_value(spaced)


def test_steps_are_recorded_in_evaluation_order_as_fractions():
    steps: list = []
    evaluate(tokenize("8 / (3 - 8 / 3)"), steps)
    assert steps == [
        (Fraction(8), "/", Fraction(3), Fraction(8, 3)),
        (Fraction(3), "-", Fraction(8, 3), Fraction(1, 3)),
        (Fraction(8), "/", Fraction(1, 3), Fraction(24)),
    ]
    assert all(type(x) is Fraction for step in steps for x in (step[0], step[2], step[3]))
