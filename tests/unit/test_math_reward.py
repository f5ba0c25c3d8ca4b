"""The math reward contract (see r1exp/tasks/math/reward.py): reading the answer block, math-verify
equivalence, refusals counted by reason, gold that cannot be parsed, the time bound, and the MATH-500
reference solutions and their `LHS = answer` phrasings graded against their golds."""

import json
import re
import threading
import time

import pytest

from r1exp.common.answers import last_boxed
from r1exp.errors import ConfigError
from r1exp.rewards import total
from r1exp.rewards.counters import Counters
from r1exp.tasks import REWARDS, build_terms
from r1exp.tasks.math.reward import OK, TIMEOUT, math_correct, read_completion
from r1exp.tasks.math.verify import Verifier

THINK_PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"
# One pool for the whole module (two workers, the default bound), so tests do not restart workers.
SETTINGS = {"workers": 2, "timeout": 5.0}


def score(golds, completions, counters=None, **settings):
    return math_correct(
        [THINK_PROMPT] * len(completions), completions, answer=golds, counters=counters, **{**SETTINGS, **settings}
    )


def answer(content: str) -> str:
    """A completion (after the prompt's opening <think>) whose answer block holds `content`."""
    return f"reasoning</think>\n<answer>{content}</answer>"


@pytest.mark.parametrize(
    "text, boxed",
    [
        ("\\boxed{5}", "5"),
        ("a \\boxed{4} then \\boxed{5}.", "5"),
        ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("\\boxed {\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces are content, a space before { is fine
        ("\\fbox{7}", "7"),
        ("\\boxed{\\boxed{5} + 1}", "\\boxed{5} + 1"),  # the box that closes last
        ("\\boxed{5} and \\boxed{6", "5"),  # an unclosed box is ignored
        ("\\boxed{}", ""),
        ("\\boxed 5", None),
        ("no box", None),
        ("}{\\boxed{", None),
    ],
)
def test_last_boxed(text, boxed):
    assert last_boxed(text) == boxed


@pytest.mark.parametrize(
    "text, claims, reason",
    [
        ("<think>x</think><answer>\\boxed{5}</answer>", ("5",), None),
        ("<answer>The answer is \\boxed{x = 5}.</answer>", ("5",), None),
        ("<answer> 12.5 </answer>", ("\\frac{125}{10}",), None),
        ("<answer>42.</answer>", ("42",), None),  # a sentence's full stop
        ("<answer>1</answer> <answer>2</answer>", ("2",), None),  # the last answer block
        ("<think>\\boxed{5}</think><answer>6</answer>", ("6",), None),  # a box outside the answer block is ignored
        ("<answer>\\boxed{}</answer>", (), "empty"),
        ("<answer>  </answer>", (), "empty"),
        ("\\boxed{5}", (), "no_answer"),
        ("<answer>5", (), "no_answer"),
        ("<answer>5}</answer>", (), "unbalanced"),  # unbalanced braces could close the box the answer is parsed in
        ("<answer>" + "1" * 1001 + "</answer>", (), "too_long"),  # over MAX_ANSWER_CHARS
        ("<answer>" + "x" * 5000 + "\\boxed{3}</answer>", ("3",), None),  # a long block with a short box is fine
    ],
)
def test_read_completion(text, claims, reason):
    reading = read_completion("5", text)
    assert (reading.claims, reading.reason) == (claims, reason)


EQUIVALENCES = [
    # fractions, decimals, percentages and number formats
    ("\\frac{1}{2}", "\\boxed{0.5}", 1.0),
    ("\\frac12", "1/2", 1.0),
    ("0.5", "\\boxed{\\frac{1}{2}}", 1.0),
    ("\\frac{2}{4}", "\\boxed{\\dfrac{1}{2}}", 1.0),
    ("\\frac{1}{3}", "\\boxed{0.333}", 0.0),
    ("\\frac{1}{3}", "\\boxed{\\frac{1}{4}}", 0.0),
    ("3", "\\boxed{3.0}", 1.0),
    ("10", "\\boxed{10.01}", 0.0),
    ("1000", "\\boxed{1,000}", 1.0),
    ("2,125", "\\boxed{2125}", 1.0),
    ("18", "\\boxed{\\$18}", 1.0),
    ("90^\\circ", "\\boxed{90}", 1.0),
    ("12%", "12%", 1.0),
    ("12%", "\\boxed{0.12}", 1.0),
    ("-2", "\\boxed{2}", 0.0),
    # intervals
    ("(1,2]", "\\boxed{(1, 2]}", 1.0),
    ("(1,2]", "\\boxed{(1,2)}", 0.0),
    ("(1,2]", "\\boxed{[1,2]}", 0.0),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{(-\\infty,2)\\cup(3,\\infty)}", 1.0),
    ("(-\\infty, 2) \\cup (3, \\infty)", "\\boxed{(-\\infty,2)\\cup[3,\\infty)}", 0.0),
    # sets (order does not matter) and tuples (order does)
    ("\\{1,2,3\\}", "\\boxed{\\{3,2,1\\}}", 1.0),
    ("1,2,3", "\\boxed{3, 2, 1}", 1.0),
    ("\\{1,2\\}", "\\boxed{\\{1,3\\}}", 0.0),
    ("\\{1,2\\}", "\\boxed{\\{1,2,3\\}}", 0.0),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "\\boxed{(3, \\pi/2)}", 1.0),
    ("(1,2)", "\\boxed{(2,1)}", 0.0),
    ("(1,2,3)", "\\boxed{(1,2)}", 0.0),
    # expressions and equations
    ("x^2+2x+1", "\\boxed{(x+1)^2}", 1.0),
    ("x^2+2x+1", "\\boxed{(x-1)^2}", 0.0),
    ("2\\sqrt{2}", "\\boxed{\\sqrt{8}}", 1.0),
    ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{1}{2}\\sqrt{3}}", 1.0),
    ("\\pi", "\\boxed{3.14}", 0.0),
    ("5", "\\boxed{x = 5}", 1.0),
    ("5", "x = 5", 1.0),
    ("y = 2x + 3", "\\boxed{2x+3}", 1.0),
    # text answers
    ("\\text{Evelyn}", "\\boxed{\\text{Evelyn}}", 1.0),
    ("\\text{(C)}", "\\boxed{C}", 1.0),
    ("\\text{(C)}", "\\boxed{D}", 0.0),
    # where the answer is taken from
    ("5", "The answer is \\boxed{5}.", 1.0),
    ("5", "\\boxed{4}, no: \\boxed{5}", 0.0),  # several boxes: each must equal a value gold
    ("5", "\\boxed{5}, or equivalently \\boxed{\\frac{10}{2}}", 1.0),
    ("4", "\\boxed{4}, no: \\boxed{5}", 0.0),
    ("5", "\\fbox{5}", 1.0),
    ("5", "$5$", 1.0),
    ("5", "5 or 6", 0.0),  # a hedge is a set, not the gold
    ("6", "5 or 6", 0.0),
    ("5", "\\boxed{}", 0.0),  # empty box
    ("5", "", 0.0),  # empty answer block
    ("5", "\\boxed{5", 0.0),  # an unclosed box (a truncated answer): unbalanced braces
    ("5", "5}", 0.0),
]


@pytest.mark.parametrize("gold, content, expected", EQUIVALENCES)
def test_equivalence_table(gold, content, expected):
    assert score([gold], [answer(content)]) == [expected]


@pytest.mark.parametrize(
    "completion",
    [
        "reasoning only, the answer is \\boxed{5}",  # no answer block
        "reasoning</think>\n<answer>5",  # answer block never closed
        "",
    ],
)
def test_missing_answer_block_is_zero(completion):
    assert score(["5"], [completion]) == [0.0]


def test_rows_without_a_gold_are_not_applicable():
    out = REWARDS["math_correct"](
        [THINK_PROMPT] * 3, [answer("\\boxed{5}")] * 3, answer=[None, "5", 5], workers=2, timeout=5.0
    )
    assert out == [None, 1.0, 1.0]  # a numeric gold is read as its text
    assert REWARDS["math_correct"]([THINK_PROMPT], [answer("5")]) == [None]  # no answer column at all


def test_unparsable_gold_is_none_and_counted():
    counters = Counters()
    golds = ["", "}{", "\\frac{", "5"]
    out = score(golds, [answer("\\boxed{5}"), answer("5"), "no answer block", answer("5")], counters)
    assert out == [None, None, None, 1.0]
    assert counters.drain() == {"math/gold_unparsable": 3}
    assert score(["}{"], [answer("}{")]) == [None]  # never 1.0, even for the identical string


PATHOLOGICAL = [
    "\\boxed{9^{9^{9^{9}}}}",
    "\\boxed{123456789^{123456789}}",
    "\\boxed{10^{10^{10}} + 1}",
    "\\boxed{100000000!!}",
    "\\boxed{" + "(" * 10000 + "1" + ")" * 10000 + "}",
    "\\boxed{" + "(" * 450 + "1" + ")" * 450 + "}",
    "\\boxed{" + "{" * 450 + "1" + "}" * 450 + "}",
    "\\boxed{" + "1+" * 450 + "1}",
    "\\frac{" * 3000,
]


@pytest.mark.parametrize("content", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_answers_are_incorrect_within_the_bound(content):
    score(["5"], [answer("5")])  # the pool is warm before the clock starts
    start = time.monotonic()
    out = score(["5"], [answer(content)])
    elapsed = time.monotonic() - start
    print(f"pathological input {content[:30]!r}...: {elapsed:.2f}s")
    assert out == [0.0]
    assert elapsed < SETTINGS["timeout"] + 2.0


def test_a_worker_that_overruns_is_killed_and_replaced():
    """The hard bound, below math-verify's own one-second alarm: the pool kills the worker."""
    pool = Verifier(workers=1, timeout=0.6)
    try:
        pool.map([("1", "1")])  # started and warm
        start = time.monotonic()
        results = pool.map([("5", "9^{9^{9^{9}}}"), ("5", "5"), ("2", "2.0")])
        elapsed = time.monotonic() - start
        assert results[0] == (TIMEOUT, 0.0)
        assert [r[1] for r in results[1:]] == [1.0, 1.0]  # a fresh worker took over
        assert elapsed < 30.0  # worker restart included; the stuck item itself cost 0.6 s
    finally:
        pool.close()


def test_a_worker_that_dies_is_replaced_and_its_item_retried():
    import multiprocessing
    import os
    import signal

    others = {p.pid for p in multiprocessing.active_children()}
    pool = Verifier(workers=1, timeout=5.0)
    try:
        pool.map([("1", "1")])
        mine = [p for p in multiprocessing.active_children() if p.pid not in others]
        assert mine
        for p in mine:
            os.kill(p.pid, signal.SIGKILL)  # e.g. the OOM killer, between two calls
            p.join(10)
        assert pool.map([("5", "5"), ("5", "6")]) == [(OK, 1.0), (OK, 0.0)]
    finally:
        pool.close()


def test_timeouts_are_counted():
    counters = Counters()
    settings = {"workers": 1, "timeout": 0.6}
    score(["1"], [answer("1")], **settings)
    assert score(["5", "5"], [answer("\\boxed{9^{9^{9^{9}}}}"), answer("5")], counters, **settings) == [0.0, 1.0]
    assert counters.drain() == {"math/timeout": 1}


def test_safe_and_bounded_outside_the_main_thread():
    """signal.alarm only works in a main thread; the workers are processes, so any thread may call."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(score(["5", "5"], [answer("5"), answer(PATHOLOGICAL[0])])))
    start = time.monotonic()
    thread.start()
    thread.join(60)
    assert out == [[1.0, 0.0]]
    assert time.monotonic() - start < 30.0


def test_identical_pairs_are_verified_once_and_mapped_back():
    golds = ["\\frac12", "\\frac12", "3", "\\frac12"]
    completions = [answer("0.5"), answer("0.5"), answer("0.5"), answer("\\boxed{1/2}")]
    assert score(golds, completions) == [1.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"timeout": 0}, {"workers": "many"}, {"timeout": None}])
def test_bad_kwargs_are_one_clear_line(kwargs):
    with pytest.raises(ConfigError, match="workers must be an integer >= 1"):
        math_correct([THINK_PROMPT], [answer("5")], answer=["5"], **kwargs)


@pytest.mark.parametrize(
    "completion",
    ["<answer>" * 20000 + "</answer>" * 20000, "\x00\udcff" * 1000, answer("\\" * 999), answer("$" * 999)],
    ids=["tags", "bytes", "backslashes", "dollars"],
)
def test_never_raises_on_hostile_output(completion):
    assert score(["5"], [completion]) == [0.0]


def test_math_reward_config_is_correct_plus_a_tenth_for_format():
    """Through the registry as TRL calls it, with the counters bound from the run context."""
    counters = Counters()
    terms = build_terms(
        {
            "correct": {"fn": "math_correct", "weight": 1.0, "kwargs": SETTINGS},
            "format": {"fn": "strict_format", "weight": 0.1, "kwargs": {"think": True}},
        },
        {"counters": counters},
    )
    completions = [
        answer("\\boxed{\\frac{1}{2}}"),  # correct and formatted
        answer("0.5") + "\nUser: next",  # correct, badly formatted
        answer("\\boxed{2}"),  # formatted, wrong
        "I give up",  # neither
        answer("\\boxed{1}"),  # gold unparsable: only the format term applies
    ]
    golds = ["\\frac12"] * 4 + ["}{"]
    values = [t([THINK_PROMPT] * 5, completions, answer=golds) for t in terms]
    rows = [{t.name: v[i] for t, v in zip(terms, values, strict=True)} for i in range(5)]
    assert [total(r, terms) for r in rows] == pytest.approx([1.1, 1.0, 0.1, 0.0, 0.1])
    assert counters.drain() == {"math/gold_unparsable": 1, "math/refused/no_answer": 1}


def test_refusals_are_counted_by_reason():
    counters = Counters()
    contents = ["3 \\ge 2", "不是 2", "not 2", "2_{3}", "2", "\\boxed{3 \\boxed{2}}"]
    out = score(["2"] * 7, [answer(c) for c in contents] + ["no answer block"], counters)
    assert out == [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert counters.drain() == {
        "math/refused/relation": 1,
        "math/refused/word": 1,
        "math/refused/hedge": 1,
        "math/refused/subscript": 1,
        "math/refused/nested_box": 1,
        "math/refused/no_answer": 1,
    }


def test_a_refusal_against_an_unparsable_gold_counts_only_the_gold():
    counters = Counters()
    assert score(["}{"], [answer("3 \\ge 2")], counters) == [None]
    assert counters.drain() == {"math/gold_unparsable": 1}


def _digits(text: str) -> list[str]:
    return re.findall(r"\d+", text)


def test_math500_reference_solutions_grade_as_their_answers(data_dir):
    """Every MATH-500 solution, put in the answer block, is correct against its own answer and wrong
    against the next row's answer that has other digits (so "5" and "x=5" are never paired)."""
    rows = [json.loads(line) for line in (data_dir / "math500.test.jsonl").read_text().splitlines() if line.strip()]
    n = len(rows)
    assert n == 500
    others = []
    for i, row in enumerate(rows):
        j = (i + 1) % n
        while _digits(rows[j]["answer"]) == _digits(row["answer"]):
            j = (j + 1) % n
        others.append(rows[j]["answer"])
    completions = [answer(r["solution"]) for r in rows] * 2
    golds = [r["answer"] for r in rows] + others
    counters = Counters()
    start = time.monotonic()
    out = score(golds, completions, counters)
    elapsed = time.monotonic() - start
    agreement = sum(v == 1.0 for v in out[:n]) / n
    false_positive = sum(v == 1.0 for v in out[n:]) / n
    misses = [rows[i]["unique_id"] for i in range(n) if out[i] != 1.0]
    print(
        f"MATH-500 self-consistency: {agreement:.1%} of solutions correct, {false_positive:.1%} correct against "
        f"another answer; {2 * n} verifications in {elapsed:.1f}s; misses: {misses}"
    )
    # Every gold parses and nothing timed out; the guard refuses only shapes paired with another row's
    # gold (e.g. an inequality against a number), never a solution against its own answer (agreement 1.0).
    assert all(name.startswith("math/refused/") for name in counters.drain())
    assert agreement == 1.0
    assert false_positive == 0.0
