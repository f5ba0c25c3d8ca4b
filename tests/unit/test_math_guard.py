"""The answer-shape allow-list in front of math-verify (r1exp/tasks/math/guard.py) and the normaliser.

Unit level: what the guard refuses (and why), what it hands on as claims, and generated answers in
both directions. Where a verdict needs math-verify (a claim that is not the gold), the cases go through
the reward's pool in one batch.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.tasks.math.guard import exact_decimals, read_answer, read_gold
from r1exp.tasks.math.normalize import normalize
from r1exp.tasks.math.reward import math_correct

THINK_PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"
SETTINGS = {"workers": 2, "timeout": 5.0}


def claims(gold: str, content: str) -> tuple[str, ...] | None:
    reading = read_answer(gold, content)
    return None if reading.reason is not None else reading.claims


def grade(golds: list[str], contents: list[str]) -> list[float | None]:
    """The reward on answer blocks holding `contents`, one batch."""
    completions = [f"work</think>\n<answer>{c}</answer>" for c in contents]
    return math_correct([THINK_PROMPT] * len(completions), completions, answer=golds, **SETTINGS)


# --- the issue's wrong answers: every one is refused, each for a named reason ------------------------

REFUSED = [
    # (gold, answer, reason)
    ("2", "⩾ 2", "relation"),
    ("2", "≧ 2", "relation"),
    ("2", "≒ 2", "relation"),
    ("2", "3 \\coloneqq 2", "relation"),
    ("2", "\\therefore 2", "relation"),
    ("2", "3 \\Longrightarrow 2", "relation"),
    ("2", "\\cancel{3} 2", "symbol"),
    ("2", "2_{3}", "subscript"),
    ("2", "2₃", "subscript"),
    ("2", "\\boxed{3 \\boxed{2}}", "nested_box"),
    ("2", "3 ? 2", "symbol"),
    ("2", "n\u200bot 2", "hedge"),
    ("2", "不是 2", "word"),
    ("2", "大于 2", "word"),
    ("2", "约等于 2", "word"),
    ("2", "3 或 2", "word"),
    ("2", "2**3", "code"),
    ("2", "`2`", "symbol"),
    ("2", "2 if __import__('os').system('true') else 2", "word"),
    ("2", "\\ge 2", "relation"),
    ("2", "> 2", "relation"),
    ("2", "\\approx 2", "relation"),
    ("2", "\\neq 2", "relation"),
    ("2", "\\pm 2", "relation"),
    ("2", "x \\in 2", "relation"),
    ("2", "not 2", "hedge"),
    ("2", "\\text{not } 2", "hedge"),
    ("2", "2 or 3", "hedge"),
    ("2", "= 2", "equation"),
    ("2", "(2", "brackets"),
    ("2", "hello", "word"),
    ("2", "3 \\ge \\boxed{2}", "relation"),
    ("2", "3 ⩾ \\boxed{2}", "relation"),
    ("2", "It is not \\boxed{2}", "hedge"),
    ("2", "不是\\boxed{2}", "hedge"),
    ("2", "\\boxed{2", "unbalanced"),
    ("2", "2}", "unbalanced"),
    ("2", "the answer or its negative is 2", "hedge"),
    ("2", "", "empty"),
    ("2", "  ", "empty"),
    ("2", "1" * 1001, "too_long"),
    ("2", "\\boxed{" + "1" * 1001 + "}", "too_long"),
    ("-2, 1", "x = -2 \\text{ maybe}, x = 1", "hedge"),
    ("2", "\\boxed{\\text{The answer is not } 2}", "hedge"),
]


@pytest.mark.parametrize(("gold", "answer", "reason"), REFUSED)
def test_refused_with_a_reason(gold, answer, reason):
    assert read_answer(gold, answer).reason == reason


def test_no_answer_block_is_a_reason_too():
    assert read_answer("2", None).reason == "no_answer"


# --- right answers in every allowed shape: their claims ------------------------------------------------

ACCEPTED = [
    # (gold, answer, claims handed to math-verify)
    ("5", "$x = 5$", ("5",)),
    ("5", "\\(x = 5\\)", ("5",)),
    ("5", "$$x = 5$$", ("5",)),
    ("5", "\\[x = 5\\]", ("5",)),
    ("\\frac{1}{3}", "$k = \\frac{1}{3}$", ("\\frac{1}{3}",)),
    ("5", "a + b = 5", ("5",)),
    ("2", "f(3) = 2", ("2",)),
    ("5", "AB = 5", ("5",)),
    ("30", "\\angle ABC = 30^\\circ", ("30^\\circ",)),
    ("(2,3)", "(x, y) = (2, 3)", ("(2, 3)",)),
    ("-2, 1", "x = -2, x = 1", ("-2, 1",)),
    ("-2, 1", "x = -2 \\text{ or } x = 1", ("-2, 1",)),
    ("2", "r^2 = 2", ("2",)),
    ("[-2,7]", "x \\in [-2, 7]", ("[-2, 7]",)),
    ("5", "The answer is $5$", ("5",)),
    ("34", "Final Answer: the largest $n$ is 34", ("34",)),
    ("5", "答案是 5", ("5",)),
    ("5", "所以答案为：5。", ("5",)),
    ("1, 2", "\\boxed{1}, \\boxed{2}", ("1, 2",)),
    ("5", "\\text{Area} = 5", ("5",)),
    ("5", "\\boxed{\\text{The answer is } 5}", ("5",)),
    ("5", "So $x = \\boxed{5}$.", ("5",)),
    ("2", "x = \\frac{4}{2} = 2", ("\\frac{4}{2}", "2")),  # a side that is one number is a claim too
    ("2", "x = 3 = 2", ("3", "2")),  # two claims: math-verify refuses the 3
    ("17", "36 - 7 - 2 - 10 = 17 = x", ("17",)),  # a chain that ends in the name
    ("3", "\\equiv \\boxed{3} \\pmod{7}", ("3",)),
    (
        "\\frac{639}{40}",
        "\\boxed{15\\frac{39}{40}}, or \\boxed{\\frac{639}{40}}",
        ("15\\frac{39}{40}", "\\frac{639}{40}"),
    ),
    ("x \\ge 2", "x \\ge 2", ("x \\ge 2",)),  # a relation gold: math-verify compares relations
    ("\\text{(B)}", "(B)", ("(B)",)),
    ("\\text{Evelyn}", "Evelyn", ("Evelyn",)),
    ("2", "2 \\text{ cm}", ("2 \\text{ cm}",)),
    ("\\$18.90", "\\$18.90", ("\\$\\frac{1890}{100}",)),
    ("2516_8", "2516_8", ("2516_8",)),  # a base subscript where the gold has one
    ("1 \\pm \\sqrt{19}", "1 \\pm \\sqrt{19}", ("1 \\pm \\sqrt{19}",)),
    ("1000", "1\\,000", ("1000",)),
    ("1000", "1 000", ("1000",)),
    ("2500", "2\\,500", ("2500",)),
    ("10080", "10{,}080", ("10080",)),
    ("25", "5²", ("5^{2}",)),
    ("\\frac12", "0.5", ("\\frac{5}{10}",)),
    ("\\sqrt{2}", "1.414", ("\\frac{1414}{1000}",)),
    ("2", "３", ("3",)),
]


@pytest.mark.parametrize(("gold", "answer", "expected"), ACCEPTED)
def test_accepted_shapes_and_their_claims(gold, answer, expected):
    assert claims(gold, answer) == expected


def test_the_issue_answers_grade_as_stated():
    """The right answers of the issue score 1 through the reward; the wrong ones (and the number misreads) 0."""
    right = [
        ("5", "$x = 5$"),
        ("5", "\\(x = 5\\)"),
        ("\\frac{1}{3}", "$k = \\frac{1}{3}$"),
        ("5", "a + b = 5"),
        ("2", "f(3) = 2"),
        ("5", "AB = 5"),
        ("30", "\\angle ABC = 30^\\circ"),
        ("(2,3)", "(x, y) = (2, 3)"),
        ("-2, 1", "x = -2, x = 1"),
        ("2", "r^2 = 2"),
        ("[-2,7]", "x \\in [-2, 7]"),
        ("5", "The answer is $5$"),
        ("34", "Final Answer: the largest $n$ is 34"),
        ("1, 2", "\\boxed{1}, \\boxed{2}"),
        ("1000", "1\\,000"),
        ("2500", "2\\,500"),
        ("1000", "1 000"),
        ("5", "答案是 5"),
    ]
    wrong = [(g, a) for g, a, _ in REFUSED] + [
        ("2", "3 ＝ 2"),
        ("2", "x = 3 = 2"),
        ("0", "1\\,000"),
        ("502", "2\\,500"),
    ]
    out = grade([g for g, _ in right + wrong], [a for _, a in right + wrong])
    assert out[: len(right)] == [1.0] * len(right), [r for r, v in zip(right, out, strict=False) if v != 1.0]
    assert out[len(right) :] == [0.0] * len(wrong), [w for w, v in zip(wrong, out[len(right) :], strict=True) if v]


# --- decimals are exact --------------------------------------------------------------------------------


def test_decimals_equal_only_the_exact_value():
    """0.5 is 1/2 and 2.50 is 5/2; 1.414214 is not sqrt(2), 0.333333 is not 1/3, 3.141593 is not pi."""
    golds = ["\\frac12", "\\frac52", "2", "\\sqrt{2}", "\\frac13", "\\pi", "\\frac{14}{3}", "e", "5.4", "1.25"]
    preds = ["0.5", "2.50", "2.0", "1.414214", "0.333333", "3.141593", "4.666667", "2.718282", "5.40", "\\frac54"]
    assert grade(golds, preds) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]


@given(st.integers(0, 10**6), st.integers(0, 10**4))
@settings(derandomize=True, deadline=None, max_examples=200)
def test_exact_decimals_keeps_the_value(whole, frac):
    from fractions import Fraction

    text = f"{whole}.{frac:04d}"
    rewritten = exact_decimals(text)
    num, den = rewritten.removeprefix("\\frac{").removesuffix("}").split("}{")
    assert Fraction(int(num), int(den)) == Fraction(text)


# --- the normaliser --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("３ ＝ ２", "3 = 2"),
        ("n\u200bot\u202e 2\ufeff", "not 2"),
        ("$x = 5$", "x = 5"),
        ("\\(x\\) = \\[5\\]", "x = 5"),
        ("$$5$$", "5"),
        ("\\$5", "\\$5"),
        ("1\\,000", "1000"),
        ("11,\\! 111,\\! 111,\\! 100", "11111111100"),
        ("1 000 000", "1000000"),
        ("12 34", "12 34"),  # not groups of three
        ("x² + y₁", "x^{2} + y_{1}"),
        ("−3 × 2 ÷ 1", "-3 \\times 2 \\div 1"),
        ("θ = π/2", "\\theta = \\pi /2"),
        ("½", "1/2"),
    ],
)
def test_normalize(text, normal):
    assert normalize(text) == normal


@given(st.text(max_size=60))
@settings(derandomize=True, deadline=None, max_examples=300)
def test_normalize_leaves_no_format_characters_and_is_idempotent(text):
    once = normalize(text)
    assert not any(unicodedata.category(ch) == "Cf" for ch in once)
    assert normalize(once) == once


# --- generated wrong answers: any relation, arrow, hedge or annotation between W and G ----------------

BLOCKS = {
    "Arrows": (0x2190, 0x21FF),
    "Mathematical Operators": (0x2200, 0x22FF),
    "Miscellaneous Technical": (0x2300, 0x23FF),
    "Supplemental Arrows-A": (0x27F0, 0x27FF),
    "Supplemental Arrows-B": (0x2900, 0x297F),
    "Supplemental Mathematical Operators": (0x2A00, 0x2AFF),
    "Small Form Variants": (0xFE50, 0xFE6B),
    "Fullwidth Forms": (0xFF01, 0xFF5E),
}
BLOCK_SYMBOLS = [
    chr(c) for lo, hi in BLOCKS.values() for c in range(lo, hi + 1) if unicodedata.category(chr(c)) != "Cn"
]
LATEX_RELATIONS = (
    "ge geq geqq geqslant gt le leq leqq leqslant lt ne neq approx approxeq sim simeq equiv cong propto neg lnot "
    "not in notin ni subset subseteq supset supseteq to rightarrow Rightarrow leftarrow Leftarrow longrightarrow "
    "Longrightarrow implies impliedby iff leftrightarrow Leftrightarrow mapsto mid nmid parallel perp ll gg prec "
    "succ preceq succeq doteq models vdash dashv pm mp coloneqq eqqcolon therefore because cancel sout xcancel "
    "bcancel nleq ngeq nless ngtr lessapprox gtrapprox lesssim gtrsim asymp bowtie vee wedge lor land star ast "
    "circledast oplus otimes hookrightarrow rightsquigarrow nearrow searrow uparrow downarrow"
).split()
CHINESE = [
    "不是",
    "大于",
    "小于",
    "约等于",
    "或",
    "不等于",
    "大约",
    "至少",
    "至多",
    "或者",
    "约为",
    "近似于",
    "并非",
    "非",
]
ENGLISH = ["not", "or", "maybe", "approximately", "about", "except", "unless", "roughly", "never", "nor", "perhaps"]
JOINERS = BLOCK_SYMBOLS + ["\\" + name + " " for name in LATEX_RELATIONS] + CHINESE + ENGLISH + ["?", "~", ";", "&"]
# `W X G` shapes with nothing to mark G as the answer.
TEMPLATES = [
    "{w} {x} {g}",
    "{x} {g}",
    "{w}{x}{g}",
    "\\boxed{{{w} {x} {g}}}",
    "\\boxed{{{x} {g}}}",
    "The answer is {w} {x} {g}",
    "答案是 {x} {g}",
]
# A box marks G as the answer; the reasoning before it is not graded, except the symbol or word right
# before the box.
BOX_TEMPLATES = ["{w} {x} \\boxed{{{g}}}", "{x} \\boxed{{{g}}}"]
# Symbols the normaliser turns into a value character or command (NFKC: `３ ＋ ２` is `3 + 2`; `×` is
# `\times`): the answer is then a plain expression, graded by math-verify like any other.
VALUE_CHARACTERS = (
    set("=+-*/^_()[]{},.!|%':0123456789") | {chr(c) for c in range(65, 91)} | {chr(c) for c in range(97, 123)}
)
VALUE_LIKE = {
    x
    for x in BLOCK_SYMBOLS
    if normalize(x) in VALUE_CHARACTERS | {"", "\\"}
    or normalize(x).startswith(("\\times", "\\div", "\\cdot", "\\sqrt", "\\infty", "\\cup", "\\cap", "\\emptyset"))
}
# What may stand right before a box: `=`, punctuation, reasoning text, spacing, and approximations (the
# boxed value must still equal the gold exactly): see docs/grading.md.
APPROXIMATIONS = {"approximately", "about", "roughly", "or", "约等于", "大约", "约为", "近似于", "或", "或者"}
BEFORE_BOX_ALLOWED = APPROXIMATIONS | {
    x
    for x in JOINERS
    if normalize(x) in ("\\approx", "\\equiv", "~")
    or normalize(x)[-1:] in "=:,.;([{)]}'\""
    or normalize(x)[-1:].isalnum()
}


def _wrong_claims_only(gold: str, wrong: str, content: str) -> bool:
    """Refused, or every way math-verify could read it still includes a claim that is not the gold."""
    reading = read_answer(gold, content)
    if reading.reason is not None:
        return True
    return any(normalize(c).replace(" ", "") != gold for c in reading.claims)


@given(
    w=st.integers(0, 999),
    g=st.integers(0, 999),
    x=st.sampled_from([j for j in JOINERS if j not in VALUE_LIKE]),
    template=st.sampled_from(TEMPLATES),
)
@settings(derandomize=True, deadline=None, max_examples=3000)
def test_generated_relations_hedges_and_annotations_are_refused(w, g, x, template):
    """Any symbol of the Unicode relation/arrow/operator blocks, any LaTeX relation or annotation
    command and any Chinese or English hedge between a wrong W and the gold G: refused outright."""
    content = template.format(w=w, x=x, g=g)
    reading = read_answer(str(g), content)
    assert reading.reason is not None, (content, reading)


@given(
    w=st.integers(0, 999),
    g=st.integers(0, 999),
    x=st.sampled_from([j for j in JOINERS if j not in BEFORE_BOX_ALLOWED]),
    template=st.sampled_from(BOX_TEMPLATES),
)
@settings(derandomize=True, deadline=None, max_examples=1500)
def test_generated_relations_and_negations_right_before_a_box_are_refused(w, g, x, template):
    content = template.format(w=w, x=x, g=g)
    reading = read_answer(str(g), content)
    assert reading.reason is not None, (content, reading)


def test_every_block_symbol_between_3_and_2_scores_0():
    """The issue's measurement: `3 X 2` and `X 2` for every X of the blocks (and the LaTeX and Chinese
    joiners) against gold 2. The guard refuses all but the symbols NFKC makes plain ASCII; those are
    graded by the reward in one batch, and none scores 1 except `X 2` where X is a fullwidth or small
    plus sign (`+2`), dollar sign (a math delimiter: `$2`) or backslash (`\\ 2`, a space): each is 2."""
    cases = [(f"3 {x} 2", x) for x in JOINERS] + [(f"{x} 2", x) for x in JOINERS]
    passed = [(content, x) for content, x in cases if read_answer("2", content).reason is None]
    assert {x for _, x in passed} <= VALUE_LIKE
    assert len(cases) > 2500  # the issue measured 1,642 of the Unicode blocks alone
    out = grade(["2"] * len(passed), [content for content, _ in passed])
    scored = sorted(content for (content, _), v in zip(passed, out, strict=True) if v == 1.0)
    assert scored == sorted(f"{x} 2" for x in "＋﹢＄﹩＼﹨")


@given(w=st.integers(0, 999), g=st.integers(0, 999), x=st.sampled_from(sorted(VALUE_LIKE)))
@settings(derandomize=True, deadline=None, max_examples=300)
def test_value_like_symbols_never_leave_only_the_gold(w, g, x):
    """`W ＝ G`, `W ， G`, ...: what the guard lets through always holds a claim other than the bare gold."""
    if w == g or x in {"＋", "﹢", "（", "）", "［", "］", "｛", "｝", "﹙", "﹚", "﹛", "﹜", "．", "﹒"}:
        return
    assert _wrong_claims_only(str(g), str(w), f"{w} {x} {g}")


# --- generated right answers in every allowed shape ------------------------------------------------------

VALUES = st.one_of(
    st.integers(-999, 999).map(str),
    st.tuples(st.integers(1, 99), st.integers(2, 99)).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
    st.tuples(st.integers(1, 9), st.integers(2, 50)).map(lambda t: f"{t[0]}\\sqrt{{{t[1]}}}"),
    st.tuples(st.integers(0, 99), st.integers(1, 99)).map(lambda t: f"{t[0]}.{t[1]:02d}"),
)
SHAPES = [
    "{v}",
    "\\boxed{{{v}}}",
    "${v}$",
    "\\({v}\\)",
    "x = {v}",
    "$x = {v}$",
    "\\(k = {v}\\)",
    "f(3) = {v}",
    "AB = {v}",
    "a + b = {v}",
    "m+n = {v}",
    "r^2 = {v}",
    "\\text{{Area}} = {v}",
    "\\angle ABC = {v}",
    "x_1 = {v}",
    "\\theta = {v}",
    "So $x = \\boxed{{{v}}}$.",
    "The answer is ${v}$",
    "the answer is {v}.",
    "Final Answer: the largest $n$ is {v}",
    "Final Answer: {v}",
    "Therefore, the value of $f(2)$ is ${v}$.",
    "答案是 {v}",
    "所以答案为 ${v}$。",
    "\\boxed{{x = {v}}}",
    "\\boxed{{\\text{{the answer is }} {v}}}",
]


@given(v=VALUES, shape=st.sampled_from(SHAPES))
@settings(derandomize=True, deadline=None, max_examples=1500)
def test_generated_right_answers_pass_as_the_value(v, shape):
    """Every allowed shape around a random value hands on exactly that value (decimals made exact)."""
    content = shape.format(v=v)
    assert claims(v, content) == (exact_decimals(normalize(v)),), content


def test_every_shape_scores_1_through_the_reward():
    """Each allowed shape with a few values, through the reward in one batch."""
    values = ["7", "-12", "\\frac{3}{4}", "2\\sqrt{3}", "0.25"]
    cases = [(v, shape.format(v=v)) for v in values for shape in SHAPES]
    out = grade([v for v, _ in cases], [c for _, c in cases])
    assert [c for (_, c), r in zip(cases, out, strict=True) if r != 1.0] == []


@given(
    roots=st.lists(st.integers(-20, 20), min_size=2, max_size=4, unique=True),
    joiner=st.sampled_from([", ", " \\text{ or } ", " or ", " and ", ", \\quad "]),
)
@settings(derandomize=True, deadline=None, max_examples=200)
def test_generated_lists_of_assignments(roots, joiner):
    gold = ", ".join(map(str, roots))
    content = joiner.join(f"x = {r}" for r in roots)
    assert claims(gold, content) == (", ".join(map(str, roots)),)
    boxes = ", ".join(f"\\boxed{{{r}}}" for r in roots)
    assert claims(gold, boxes) == (", ".join(map(str, roots)),)


def test_gold_kinds():
    assert read_gold("-2, 1").kind == "list"
    assert read_gold("\\{1,2\\}").kind == "set"
    assert read_gold("(-\\infty, 0]").kind == "set"
    assert read_gold("(0,9) \\cup (9,36)").kind == "set"
    assert read_gold("\\frac{1}{2}").kind == "value"
    assert read_gold("y = 2x + 3").relation and not read_gold("2x+3").relation


# --- what stands around a box: an `=` chain's numbers are claims, a relation or hedge after it refuses --

AROUND_BOX_WRONG = [
    "{w} = \\boxed{{{g}}}",
    "x = {w} = \\boxed{{{g}}}",
    "so we have {w} = \\boxed{{{g}}}",
    "\\boxed{{{g}}} = {w}",
    "\\boxed{{{g}}} \\neq {w}",
    "\\boxed{{{g}}} < {w}",
    "\\boxed{{{g}}} \\ge {w}",
    "\\boxed{{{g}}} or {w}",
    "\\boxed{{{g}}} (not really)",
    "\\boxed{{{g}}}, maybe {w}",
    "\\boxed{{{g}}} 或 {w}",
    "\\boxed{{{g}}} 不对",
]
AROUND_BOX_RIGHT = [
    "x = \\boxed{{{g}}}",
    "{a} + {b} = \\boxed{{{g}}}",
    "The answer is $\\boxed{{{g}}}$.",
    "$\\boxed{{{g}}}$ feet less than Martha.",
    "\\boxed{{{g}}} \\text{{ cm}}",
]


@given(w=st.integers(0, 999), g=st.integers(0, 999), template=st.sampled_from(AROUND_BOX_WRONG))
@settings(derandomize=True, deadline=None, max_examples=600)
def test_a_box_with_a_wrong_number_or_a_hedge_beside_it_is_never_only_the_gold(w, g, template):
    """`3 = \\boxed{2}` claims 3 too; `\\boxed{2} \\neq 3`, `\\boxed{2} or 3`: refused."""
    if w == g:
        return
    assert _wrong_claims_only(str(g), str(w), template.format(w=w, g=g))


@given(a=st.integers(0, 500), b=st.integers(0, 500), template=st.sampled_from(AROUND_BOX_RIGHT))
@settings(derandomize=True, deadline=None, max_examples=300)
def test_a_box_with_a_derivation_or_prose_beside_it_is_the_gold(a, b, template):
    g = a + b
    assert claims(str(g), template.format(a=a, b=b, g=g)) == (str(g),)
