"""The shape guard in front of math-verify: each rule, the gaming cases it stops, the answers it must let through."""

from __future__ import annotations

import pytest

from r1exp.tasks.math.guard import has_math, has_relation, refusal

REFUSED = [
    # (gold, prediction, rule)
    ("2", "2**3", "code"),
    ("2", "2 if __import__('os').system('echo hi') else 2", "code"),
    ("2", "`2`", "code"),
    ("2", "lambda: 2", "code"),
    ("2", "3 = 2", "relation"),
    ("2", "y = 3 = 2", "relation"),
    ("2", "\\ge 2", "relation"),
    ("2", "\\geq 2", "relation"),
    ("2", "\\le 2", "relation"),
    ("2", "> 2", "relation"),
    ("2", "≥ 2", "relation"),
    ("2", "\\approx 2", "relation"),
    ("2", "\\sim 2", "relation"),
    ("2", "\\neg 2", "relation"),
    ("2", "\\neq 2", "relation"),
    ("2", "2 \\not= 3", "relation"),
    ("2", "\\nleq 2", "relation"),
    ("2", "x \\in 2", "relation"),
    ("2", "\\pm 2", "relation"),
    ("2", "x \\to 2", "relation"),
    ("2", "x = \\ge 2", "relation"),
    ("2", "not 2", "hedge"),
    ("2", "\\text{not } 2", "hedge"),
    ("2", "2 or 3", "hedge"),
    ("2", "2 \\text{ or } 3", "hedge"),
    ("2", "\\text{hello}", "no math"),
    ("2", "hello", "no math"),
]

ACCEPTED = [
    ("2", "2"),
    ("2", "x = 2"),
    ("2", "a_{1} = 2"),
    ("2", "\\theta = 2"),
    ("3", "f(x) = 3"),
    ("2", "\\frac{4}{2}"),
    ("2", "2.0"),
    ("2", "2!"),
    ("2", "2 \\text{ cm}"),
    ("2", "2~\\text{cm}"),
    ("-3", "-3"),
    ("\\frac{\\pi}{2}", "\\pi/2"),
    ("\\text{(B)}", "\\text{(B)}"),
    ("\\text{(B)}", "B"),
    ("\\text{(B)}", "(B)"),
    ("\\text{Monday}", "Monday"),
    ("\\text{no}", "no"),
    ("(1, 2]", "(1,2]"),
    ("x \\ge 2", "x \\ge 2"),
    ("x \\ge 2", "[2, \\infty)"),
    ("y=2x+1", "y = 2x+1"),
]


@pytest.mark.parametrize(("gold", "pred", "rule"), REFUSED)
def test_refused(gold, pred, rule):
    assert refusal(gold, pred) == rule


@pytest.mark.parametrize(("gold", "pred"), ACCEPTED)
def test_accepted(gold, pred):
    assert refusal(gold, pred) is None


@pytest.mark.parametrize(
    ("text", "relation", "math"),
    [("2", False, True), ("x \\ge 2", True, True), ("\\text{(B)}", False, True), ("\\text{Monday}", False, False)],
)
def test_shape_predicates(text, relation, math):
    assert has_relation(text) is relation
    assert has_math(text) is math
