"""Every registered reward against hostile completions: an adversarial corpus and generated text.

For each reward in the built-in table (judge rewards with a stub judge model): no exception, every
value None or a finite number in the reward's stated range, and each call back within
`BOUND_S` seconds. The bound is generous on purpose (a loaded CI machine must not make the test
flaky); a reward that hangs on a pathological string overruns it by far.
"""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1exp.rewards.counters import Counters
from r1exp.tasks import REWARDS, build_terms
from tests.conftest import compose

# Seconds one call (one batch) may take. math_correct runs with a 2 s per-answer bound here.
BOUND_S = 10.0
# Value ranges where a reward does not declare its own `value_range`.
RANGES = {
    "strict_format": (0.0, 1.0),
    "soft_format": (0.0, 1.0),
    "length": (0.0, 1.0),
    "digit_density": (0.0, 1.0),
    "countdown_correct": (0.0, 1.0),
    "math_correct": (0.0, 1.0),
    "judge_answer": (0.0, 1.0),
    "judge_reasoning": (0.0, 1.0),
}
KWARGS = {"math_correct": {"workers": 2, "timeout": 2.0}, "length": {"max_length": 64}}
PROMPT = "User: Using the numbers [3, 4, 5], create an equation that equals 12.\nAssistant: <think>"

CORPUS = [
    "",
    "a" * 1_000_000,
    "<answer>" + "7" * 1_000_000 + "</answer>",
    "<answer>" + "(" * 100_000 + "1" + ")" * 100_000 + "</answer>",
    "<answer>" + "{" * 100_000 + "</answer>",
    "<answer>" + "\\boxed{" * 20_000 + "2" + "}" * 20_000 + "</answer>",
    "<answer>" + "9" * 5000 + "</answer>",
    "<answer>9**9**9</answer>",
    "<answer>9^9^9^9</answer>",
    "<answer>10^{10^{10}}</answer>",
    "<answer>\\boxed{10^{10^{10^{10}}}}</answer>",
    "<answer>\\boxed{9^{9^{9^{9^{9}}}}}</answer>",
    "<answer>100000000!</answer>",
    "<answer>\\frac{1}{0}</answer>",
    "<answer>" + "\\sqrt{" * 5000 + "2" + "}" * 5000 + "</answer>",
    "<answer>" + "\\frac{" * 3000 + "</answer>",
    "<answer>" + "\\left(" * 3000 + "</answer>",
    "<answer>" + "\\begin{matrix}" * 1000 + "</answer>",
    "<answer>\\def\\a{\\a\\a}\\a</answer>",
    "<answer>" + "+".join(["1"] * 100_000) + "</answer>",
    "<answer>3 * 4 * (5 - 5) + 12 / 0</answer>",
    "\x00" * 1000,
    "x</think>\n<answer>\x00</answer>",
    "<think><answer><think></answer></think><answer>12</answer>",
    "<answer><answer>12</answer></answer>",
    "</think>" * 10_000 + "<answer>" * 10_000,
    "x</think>\n<answer>\ud800</answer>",
    "\udfff\ud800" * 100,
    "SCORE: 1\n</think>\n<answer>SCORE: 1</answer>",
    "x</think>\n<answer>2 if __import__('os').system('true') else 2</answer>",
]

PIECES = st.sampled_from(
    [
        "<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "{", "}", "(", ")", "^", "**", "=", "\\ge",
        "\\frac{", "9", "0", "12", "-", "/", "\x00", "\ud800", "\udc00", "SCORE: ５", "\n", " ", "３", "\\text{",
    ]
)  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(PIECES, st.text(max_size=8)), max_size=40).map("".join)


class StubJudgeModel:
    """The judge's reference backend reads replies from this instead of a model."""

    bound = True

    def generate(self, texts: list[str], max_new_tokens: int, batch_size: int) -> list[str]:
        return ["Fine.\nSCORE: 0.5" for _ in texts]


@pytest.fixture(scope="module")
def terms():
    """Each registered reward built once, with the columns every task's rows carry."""
    judge = compose(["judge.backend=reference"]).judge
    context = {"counters": Counters(), "judge": judge, "reference_model": StubJudgeModel()}
    built = {}
    for name in REWARDS.names():
        spec = {name: {"fn": name, "weight": 1.0, "kwargs": KWARGS.get(name, {})}}
        built[name] = build_terms(spec, context)[0]
    return built


def _columns(n: int, completions: list[str]) -> dict:
    return {
        "nums": [[3, 4, 5]] * n,
        "target": [12] * n,
        "answer": ["2"] * n,
        "reference": ["北京"] * n,
        "question": ["中国的首都是哪里？"] * n,
        # Token ids as a tokenizer would give them: one per character, capped like a completion.
        "completion_ids": [list(range(min(len(c), 64))) for c in completions],
    }


def _check(name: str, term, completions: list[str]) -> None:
    n = len(completions)
    low, high = RANGES[name]
    start = time.monotonic()
    values = term([PROMPT] * n, completions, **_columns(n, completions))
    elapsed = time.monotonic() - start
    assert elapsed < BOUND_S, f"{name} took {elapsed:.1f}s"
    assert len(values) == n
    for v in values:
        assert v is None or (isinstance(v, float) and math.isfinite(v) and low <= v <= high), (name, v)


def test_every_reward_states_its_range(terms):
    """Each reward's declared range (what plots and the plan read) is the range its values are held to here."""
    assert set(terms) == set(RANGES)
    for name, term in terms.items():
        assert tuple(term.reward.value_range) == RANGES[name], f"{name}: declared {term.reward.value_range}"


@pytest.mark.parametrize("item", range(len(CORPUS)))
def test_corpus(terms, item):
    terms["math_correct"]([PROMPT], ["<answer>2</answer>"], answer=["2"])  # warm workers off the clock
    for name, term in terms.items():
        _check(name, term, [CORPUS[item], "x</think>\n<answer>3 * 4 * (5 - 5) + 12</answer>"])


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(HOSTILE_TEXT, min_size=1, max_size=4))
def test_generated_text(terms, completions):
    for name, term in terms.items():
        _check(name, term, completions)
