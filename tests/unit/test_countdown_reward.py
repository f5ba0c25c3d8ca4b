"""The Countdown contract, clause by clause (see r1exp/rewards/countdown.py and format.py)."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from r1exp.common.answers import last_answer, scored_text
from r1exp.rewards import total
from r1exp.rewards.format import is_strictly_formatted, soft_format_score
from r1exp.tasks import REWARDS, build_terms
from r1exp.tasks.countdown.reward import check_answer

THINK_PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"
NUMS, TARGET = [48, 7, 45, 5], 91  # 48 + 45 - 7 + 5 = 91


@pytest.mark.parametrize(
    "answer, nums, target, ok",
    [
        # the plain case, and surrounding whitespace
        ("48 + 45 - 7 + 5", NUMS, TARGET, True),
        ("  48 + 45 - 7 + 5 \n", NUMS, TARGET, True),
        # parentheses and precedence
        ("(48 + 45) - (7 - 5)", NUMS, 91, True),
        ("48 + 45 - 7 - 5", NUMS, 81, True),
        ("48 + 45 * 7", [48, 45, 7], 363, True),
        ("(48 + 45) * 7", [48, 45, 7], 651, True),
        # optional trailing "= N" with N the target
        ("48 + 45 - 7 + 5 = 91", NUMS, TARGET, True),
        ("48 + 45 - 7 + 5 = 90", NUMS, TARGET, False),
        ("48 + 45 - 7 + 5 = 91 = 91", NUMS, TARGET, False),
        ("48 + 45 - 7 + 5 = x", NUMS, TARGET, False),
        ("= 91", NUMS, TARGET, False),
        # intermediate fractions are fine; exact rational arithmetic
        ("(1 / 3) * 3 + 9", [1, 3, 3, 9], 10, True),
        ("8 / (3 - 8 / 3)", [8, 3, 8, 3], 24, True),
        ("10 / 4", [10, 4], 2, False),
        # division by zero is incorrect, not an error
        ("5 / (3 - 3) + 1", [5, 3, 3, 1], 1, False),
        # each number exactly once, as a multiset
        ("48 + 45 - 7", NUMS, 86, False),
        ("48 + 45 - 7 + 5 + 5", NUMS, 96, False),
        ("2 + 2", [2, 2], 4, True),
        ("2 * 2", [2], 4, False),
        ("48 * (91 - 45)", NUMS, TARGET, False),  # the seed's step-2 answer: uses the target
        # not allowed: unary signs, **, implicit multiplication, decimals, other symbols
        ("-7 + 48 + 45 + 5", NUMS, 91, False),
        ("48 + 45 + (-7) + 5", NUMS, 91, False),
        ("2 ** 3", [2, 3], 8, False),
        ("2(3 + 1)", [2, 3, 1], 8, False),
        ("(3 + 1)(2)", [2, 3, 1], 8, False),
        ("2.0 * 3", [2, 0, 3], 6, False),
        ("2 × 3", [2, 3], 6, False),
        ("2 x 3", [2, 3], 6, False),
        ("2 − 1", [2, 1], 1, False),  # unicode minus
        ("２ + 3", [2, 3], 5, False),  # full-width digit
        ("2\t+ 3", [2, 3], 5, True),  # any whitespace between tokens
        ("2\u00a0+\n3 =\u30005", [2, 3], 5, True),
        ("2\u200b+ 3", [2, 3], 5, False),  # zero-width space is not whitespace
        ("1\t2 + 3", [12, 3], 15, False),  # whitespace separates literals: 1 and 2, not 12
        ("__import__('os')", [1], 1, False),
        # malformed structure
        ("(48 + 45 - 7 + 5", NUMS, TARGET, False),
        ("48 + 45 - 7 + 5)", NUMS, TARGET, False),
        ("48 + + 45 - 7 + 5", NUMS, TARGET, False),
        ("48 + 45 - 7 + 5 +", NUMS, TARGET, False),
        ("()48 + 45 - 7 + 5", NUMS, TARGET, False),
        ("", NUMS, TARGET, False),
        (None, NUMS, TARGET, False),
        # length bound: over 1000 characters is incorrect even if it would evaluate right
        ("(" * 600 + "2 + 2" + ")" * 600, [2, 2], 4, False),
        ("(" * 100 + "2 + 2" + ")" * 100, [2, 2], 4, True),
    ],
)
def test_check_answer(answer, nums, target, ok):
    assert check_answer(answer, nums, target) is ok


@pytest.mark.parametrize(
    "answer, nums, target, ok",
    [
        # the given integers, written as such
        ("3 + 4 + 5", [3, 4, 5], 12, True),
        ("0 + 3 + 4 + 5", [0, 3, 4, 5], 12, True),
        ("10 + 2", [10, 2], 12, True),
        ("100 - 88", [100, 88], 12, True),
        ("(0) + 12", [0, 12], 12, True),
        ("3 + 4 + 5 = 12", [3, 4, 5], 12, True),
        # a leading zero is not the given number, anywhere in the expression
        ("03 + 4 + 5", [3, 4, 5], 12, False),
        ("3 + 04 + 5", [3, 4, 5], 12, False),
        ("3 + 4 + 005", [3, 4, 5], 12, False),
        ("(03 + 4) + 5", [3, 4, 5], 12, False),
        ("3*(4+05)", [3, 4, 5], 27, False),
        ("00 + 12", [0, 12], 12, False),
        ("010 + 2", [10, 2], 12, False),
        # nor is a target written with one
        ("3 + 4 + 5 = 012", [3, 4, 5], 12, False),
        ("3 + 4 + 5 = +12", [3, 4, 5], 12, False),
    ],
)
def test_numbers_must_be_written_as_the_given_integers(answer, nums, target, ok):
    assert check_answer(answer, nums, target) is ok
    completion = f"work</think>\n<answer>{answer}</answer>"
    assert REWARDS["countdown_correct"]([THINK_PROMPT], [completion], nums=[nums], target=[target]) == [float(ok)]


@pytest.mark.parametrize(
    "answer, ops, ok",
    [
        ("48 + 45 - 7 + 5", "+-", True),
        ("48 + 45 - 7 + 5", "+-*/", True),
        ("(48 + 45) * 1", "+-", False),
        ("48 + 45 - 7 + 5", "+", False),
    ],
)
def test_allowed_ops_per_row(answer, ops, ok):
    nums = [48, 45, 7, 5] if "*" not in answer else [48, 45, 1]
    target = 91 if "*" not in answer else 93
    assert check_answer(answer, nums, target, ops) is ok


def test_scored_text_prefixes_think_only_when_prompt_opens_it():
    assert scored_text(THINK_PROMPT, "a</think>") == "<think>a</think>"
    assert scored_text(THINK_PROMPT + "  \n", "a") == "<think>a"
    assert scored_text("User: q\nAssistant:", "a") == "a"
    assert scored_text([{"role": "user", "content": "<think>"}], [{"role": "assistant", "content": "x"}]) == "x"


def test_last_answer_takes_the_last_block():
    assert last_answer("<answer>1</answer> text <answer>2</answer>") == "2"
    assert last_answer("<answer>1</answer><answer>2") == "1"
    assert last_answer("<answer> a <answer> b </answer>") == " b "
    assert last_answer("no answer here") is None
    assert last_answer("</answer><answer>") is None


GOOD = "<think>48 + 45 = 93, 93 - 7 = 86, 86 + 5 = 91</think>\n<answer>48 + 45 - 7 + 5</answer>"


@pytest.mark.parametrize(
    "text, ok",
    [
        (GOOD, True),
        ("  \n" + GOOD + "\n\n ", True),
        ("<think>x</think><answer>y</answer>", True),
        ("<think></think> \n <answer></answer>", True),
        # the seed's failure modes
        (GOOD + "\n<answer>48 + 45 - 7 + 5</answer>", False),  # several answers
        (GOOD + "\n\nUser: What's 12 minus 7?\n\nAssistant: 5", False),  # hallucinated second turn
        (GOOD + " Yes, it seems that we managed to reach 91.", False),  # text after the answer
        ("<think>48 + 45 = 93</think>\n<answer>48 + 45 - 7 + 5", False),  # no closing tag
        ("<think>48 + 45 = 93\n<answer>48 + 45 - 7 + 5</answer>", False),  # think never closed
        ("<think>a</think><think>b</think><answer>c</answer>", False),  # several think blocks
        ("<think>a <answer>1</answer></think><answer>c</answer>", False),  # tag inside think
        ("<think>a</think><answer>c <think></answer>", False),  # tag inside answer
        ("<think>a</think> so <answer>c</answer>", False),  # text between blocks
        ("intro <think>a</think><answer>c</answer>", False),  # text before
        ("<answer>c</answer><think>a</think>", False),  # wrong order
        ("", False),
    ],
)
def test_strict_format_with_think(text, ok):
    assert is_strictly_formatted(text, think=True) is ok


@pytest.mark.parametrize(
    "text, ok",
    [
        ("<answer>1 + 2</answer>", True),
        ("I add them: 1 + 2 = 3.\n<answer>1 + 2</answer>\n", True),
        ("<answer>1 + 2</answer> done", False),
        ("<answer>1</answer><answer>2</answer>", False),
        ("<answer>1 <think></answer>", False),
        ("1 + 2", False),
    ],
)
def test_strict_format_answer_only(text, ok):
    assert is_strictly_formatted(text, think=False) is ok


@pytest.mark.parametrize(
    "text, score",
    [
        (GOOD, 1.0),
        ("<think>a</think>", 0.5),
        ("<think>a</think><answer>b</answer><answer>c</answer>", 0.5),
        ("nothing", 0.0),
        ("<think><think></think>", 0.25),
    ],
)
def test_soft_format_quarter_per_tag_present_once(text, score):
    assert soft_format_score(text) == score


def test_countdown_reward_config_is_the_notes_score():
    """1.0 * correct + 0.1 * strictly formatted, through the registry as TRL would call it."""
    terms = build_terms(
        {
            "correct": {"fn": "countdown_correct", "weight": 1.0, "kwargs": {}},
            "format": {"fn": "strict_format", "weight": 0.1, "kwargs": {"think": True}},
        }
    )
    prompts = [THINK_PROMPT] * 4
    completions = [
        GOOD[len("<think>") :],  # correct and formatted
        GOOD[len("<think>") :] + "\nUser: next question",  # correct, badly formatted
        "48 = 48</think>\n<answer>48 + 45</answer>",  # formatted, wrong
        "I give up",  # neither
    ]
    cols = {"nums": [NUMS] * 4, "target": [TARGET] * 4}
    values = [{t.name: t(prompts, completions, **cols)[i] for t in terms} for i in range(4)]
    assert [total(v, terms) for v in values] == pytest.approx([1.1, 1.0, 0.1, 0.0])
    assert [t.__name__ for t in terms] == ["correct", "format"]


def test_rows_without_countdown_columns_are_not_applicable():
    out = REWARDS["countdown_correct"](["p", "p"], ["<answer>1</answer>", "x"], nums=[None, [1]], target=[None, 1])
    assert out == [None, 0.0]
    assert total(
        {"correct": None, "format": 1.0},
        build_terms({"correct": {"fn": "countdown_correct"}, "format": {"fn": "strict_format", "weight": 0.1}}),
    ) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "completion",
    [
        "<answer>" + "9" * 5000 + "</answer>",
        "<answer>" + "(" * 10000 + "</answer>",
        "<answer>" * 20000 + "</answer>" * 20000,
        "<think>" * 50000,
        "\x00\udcff" * 1000,
    ],
)
def test_rewards_never_raise_on_hostile_output(completion):
    for name in ("countdown_correct", "strict_format", "soft_format"):
        out = REWARDS[name]([THINK_PROMPT], [completion], nums=[[1, 2]], target=[3])
        assert len(out) == 1 and out[0] in (0.0, 0.25, 0.5, 0.75, 1.0)


WHITESPACE = [chr(c) for c in range(0x3001) if chr(c).isspace()]


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.data())
def test_a_solution_with_any_whitespace_between_tokens_scores_one(data):
    """Solved instances respaced with random Unicode whitespace still score 1; a wrong target still 0."""
    nums = data.draw(st.lists(st.integers(1, 99), min_size=2, max_size=4))
    ops = data.draw(st.lists(st.sampled_from("+-*"), min_size=len(nums) - 1, max_size=len(nums) - 1))
    pieces = [str(nums[0])]
    for op, n in zip(ops, nums[1:], strict=True):
        pieces += [op, str(n)]
    target = eval_ints(pieces)
    assume(target >= 0)  # Countdown targets are non-negative
    gaps = [data.draw(st.text(st.sampled_from(WHITESPACE), max_size=2)) for _ in pieces]
    answer = "".join(g + p for g, p in zip(gaps, pieces, strict=True))
    completion = f"x</think>\n<answer>{answer}</answer>"
    score = REWARDS["countdown_correct"]([THINK_PROMPT], [completion], nums=[nums], target=[target])
    assert score == [1.0], repr(answer)
    assert check_answer(answer + "\u00a0=\t" + str(target), nums, target)
    assert not check_answer(answer, nums, target + 1)


def eval_ints(pieces: list[str]) -> int:
    """Value of `a op b op c ...` with * before + and - (an independent reference, no eval)."""
    terms, sign, product = [], 1, int(pieces[0])
    for op, n in zip(pieces[1::2], pieces[2::2], strict=True):
        if op == "*":
            product *= int(n)
        else:
            terms.append(sign * product)
            sign, product = (1 if op == "+" else -1), int(n)
    return sum(terms) + sign * product
