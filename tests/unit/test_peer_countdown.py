"""Peer agreement: TinyZero's Countdown scorer (`compute_score` in verl/utils/reward_score/countdown.py of
Jiayi-Pan/TinyZero at f36b1b8: extract_solution, validate_equation, evaluate_equation) on the cases of its
code paths and of the public test suites written around it, against r1exp's `countdown_correct`.

TinyZero scores 1.0 (correct), 0.1 (an answer tag was found but the equation is wrong: its format score)
or 0 (no answer tag on the last line after "Assistant:"). r1exp's correctness is 0/1; its 0.1 comes from
a separate strict-format term. Where the two disagree on correctness, the case says why (the lead's
table in docs/design.md has one row per such case).
"""

import pytest

from r1exp.rewards.format import is_strictly_formatted
from r1exp.tasks import REWARDS

PROMPT = "User: Using the numbers ..., create an equation ...\nAssistant: Let me solve this step by step.\n<think>"
TZ = "TinyZero countdown.py@f36b1b8"
SUITE = "public tests of TinyZero's compute_score (verl fork)"

# (completion after the prompt, numbers, target, TinyZero's score, r1exp correct, source, why they differ)
CASES = [
    ("x</think> <answer>5+3</answer>", [5, 3], 8, 1.0, 1, SUITE + ": right answer", None),
    ("x</think> <answer>5+3</answer>", [5, 3], 10, 0.1, 0, SUITE + ": formatted, wrong value", None),
    ("x</think> <answer>5+4</answer>", [5, 3], 9, 0.1, 0, SUITE + ": a number not given", None),
    ("x</think> I don't know", [5, 3], 8, 0.0, 0, SUITE + ": no answer", None),
    ("x</think> <answer>(5+3)*2</answer>", [5, 3, 2], 16, 1.0, 1, SUITE + ": parentheses", None),
    ("x</think> <answer>5+abc</answer>", [5, 3], 8, 0.1, 0, SUITE + ": letters", None),
    ("x</think> <answer>1+1!</answer>", [1, 2], 3, 0.1, 0, SUITE + ": invalid symbol", None),
    ("x</think> <answer>1-2</answer>", [1, 2], 3, 0.1, 0, SUITE + ": wrong answer", None),
    ("x</think> <answer>5+3</answer>", [], 8, 0.1, 0, SUITE + ": empty number list", None),
    ("x</think> <answer>5+3</answer> then <answer>8*2</answer>", [8, 2], 16, 1.0, 1, SUITE + ": last tag", None),
    ("x</think> <answer>((2+3))</answer>", [2, 3], 5, 1.0, 1, TZ + ": eval of nested parentheses", None),
    ("x</think> <answer>8/(3-8/3)</answer>", [8, 3, 8, 3], 24, 1.0, 1, TZ + ": float within 1e-5", None),
    ("x</think> <answer>(1 / 3) * 3 + 9</answer>", [1, 3, 3, 9], 10, 1.0, 1, TZ + ": fractions on the way", None),
    ("x</think> <answer>03+4+5</answer>", [3, 4, 5], 12, 0.1, 0, TZ + ": eval refuses 03", None),
    ("x</think> <answer>2(3+1)</answer>", [2, 3, 1], 8, 0.1, 0, TZ + ": eval error caught", None),
    ("x</think> <answer>5/(3-3)+1</answer>", [5, 3, 3, 1], 1, 0.1, 0, TZ + ": division by zero", None),
    ("x</think> <answer>2 × 3</answer>", [2, 3], 6, 0.1, 0, TZ + ": character allow-list", None),
    ("x</think> <answer>２+3</answer>", [2, 3], 5, 0.1, 0, TZ + ": \\d admits ２, eval does not", None),
    ("x</think> <answer>48\t+ 45 - 7 + 5</answer>", [48, 45, 7, 5], 91, 1.0, 1, TZ + ": \\s in allow-list", None),
    # where they differ
    (
        "x</think> <answer>48 + 45 - 7 + 5 = 91</answer>",
        [48, 45, 7, 5],
        91,
        0.1,
        1,
        TZ + ": no `=` in the allow-list",
        "r1exp accepts `expr = target` (the target as written): models write equations",
    ),
    (
        "x</think> <answer>2**3</answer>",
        [2, 3],
        8,
        1.0,
        0,
        TZ + ": `*` twice passes the allow-list, eval powers",
        "`**` is not one of the four operations; `9**9**9` would hang eval",
    ),
    (
        "x</think> <answer>2.0*3</answer>",
        [2, 0, 3],
        6,
        1.0,
        0,
        TZ + ": `.` allowed, `\\d+` reads 2.0 as the numbers 2 and 0",
        "a decimal point joins two given numbers; the numbers must be written as the integers",
    ),
    (
        "x</think> <answer>-7+48+45+5</answer>",
        [48, 45, 7, 5],
        91,
        1.0,
        0,
        TZ + ": eval reads unary minus",
        "binary operations only: a unary minus is an operation the task does not offer",
    ),
    (
        "x</think> <answer>1/1000000 + 5</answer>",
        [1, 1000000, 5],
        5,
        1.0,
        0,
        TZ + ": abs(result - target) < 1e-5",
        "exact rational arithmetic: 5.000001 is not 5",
    ),
    (
        "x</think> <answer>2\u00a0+\u00a03</answer>",
        [2, 3],
        5,
        0.1,
        1,
        TZ + ": \\s admits a no-break space, eval does not",
        "any Unicode whitespace between tokens reads as a space",
    ),
    (
        "x</think> <answer>48 +\n45 - 7 + 5</answer>",
        [48, 45, 7, 5],
        91,
        0.0,
        1,
        TZ + ": only the last line is searched for the tag",
        "the last answer block is read wherever it is, line breaks included",
    ),
    (
        "x</think> <answer>1+2</answer>\nDone.",
        [1, 2],
        3,
        0.0,
        1,
        TZ + ": last line `Done.` holds no tag",
        "correct is correct; text after the answer costs the strict-format 0.1 instead",
    ),
    (
        "x</think> <answer>10/3</answer>",
        [10, 3],
        3,
        1.0,
        0,
        SUITE + ": float target 10/3 scored 1.0",
        "targets are integers (r1exp reads int(target): 3 here); 10/3 is not 3",
    ),
]


@pytest.mark.parametrize("completion, nums, target, tinyzero, ours, source, why", CASES)
def test_countdown_correct_against_tinyzero(completion, nums, target, tinyzero, ours, source, why):
    got = REWARDS["countdown_correct"]([PROMPT], [completion], nums=[nums], target=[target])
    assert got == [float(ours)], source
    # every disagreement on correctness is explained, and every explained case does disagree
    assert (tinyzero == 1.0) != bool(ours) if why else (tinyzero == 1.0) == bool(ours), source


def test_format_credit_is_strict_where_tinyzero_pays_any_tag():
    """TinyZero pays its 0.1 for any answer tag on the last line; r1exp's 0.1 needs the strict layout."""
    loose = "I think <answer>5+4</answer>"  # no think block: TinyZero 0.1, r1exp format 0
    assert not is_strictly_formatted("<think>" + loose, think=True)
    assert is_strictly_formatted("<think>work</think>\n<answer>5+4</answer>", think=True)
    assert REWARDS["countdown_correct"]([PROMPT], [loose], nums=[[5, 3]], target=[8]) == [0.0]


def test_the_completion_alone_is_scored_without_an_assistant_marker():
    """TinyZero returns 0 when the text has no `Assistant:` / `<|im_start|>assistant` marker (it scores
    prompt + completion); r1exp scores the completion TRL hands it, whatever the template."""
    assert REWARDS["countdown_correct"](["chat prompt"], ["<answer>1+2</answer>"], nums=[[1, 2]], target=[3]) == [1.0]
