"""Peer suites' math cases as table tests of r1exp's math reward.

Each case is (gold, the answer block's content, the peer's verdict, r1exp's verdict). The content is
the peer's completion or prediction put in the answer block as written. Where the two verdicts differ
the reason is in the comment and in docs/grading.md ("Where r1exp differs from its peers").
"""

from __future__ import annotations

import pytest

from r1exp.tasks.math.reward import math_correct

THINK_PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"

# (gold, content, peer verdict, r1exp verdict)
CASES = [
    # huggingface/open-r1 tests/test_rewards.py: accuracy_reward (test_accuracy_reward_correct_answer,
    # test_accuracy_reward_wrong_answer, test_multiple_completions, test_cosine_scaled_reward)
    ("\\frac{63}{400}", "\\boxed{\\frac{63}{400}}", 1, 1),
    ("\\frac{63}{400}", "\\boxed{\\frac{64}{400}}", 0, 0),
    # huggingface/Math-Verify tests/test_all.py: test_number_extraction
    ("-5", "-5", 1, 1),
    ("7425000", "7,425,000", 1, 1),
    ("1000", "1 000", 1, 1),
    ("1000", "1000.0", 1, 1),
    ("1000.0", "1,000.0", 1, 1),
    ("1000.99", "1000,99", 1, 0),  # decimal comma: r1exp reads `1000,99` as a list of two numbers
    ("1,22", "1.22", 1, 0),  # decimal comma in the gold: a list `1, 22` to r1exp
    ("2.74", "Soucis : 2,74 $ a..", 1, 0),  # prose that is no statement of the answer, decimal comma
    ("0.4", ".4", 1, 1),
    ("1000.99", "1,000.99", 1, 1),
    ("1000.99", "$1,000.99", 1, 1),
    ("1000.99", "1,000.99$", 1, 1),
    ("1000.99", "the number is not 10 which is 1,000.99€", 1, 0),  # a negation in prose is refused
    ("1000.99", "so the number is 10 which is 1,000.99m²", 1, 0),  # two values in prose: refused
    ("1000.99", "not it's not 10 it's 1,000.99m²", 1, 0),  # a negation in prose is refused
    ("0,111", "0.111", 1, 1),  # math-verify reads the gold `0,111` as 0.111
    ("2", "AZYUK2A", 0, 0),
    # test_simple_fraction_notation
    ("10/9", "\\frac{10}{9}", 1, 1),
    ("-10/9", "-\\frac{10}{9}", 1, 1),
    # test_sets_handling
    ("[0,1)", "$[0,1)$", 1, 1),
    ("[0,9)", "$[0,1)$", 0, 0),
    ("(0,9)", "$[0,9)$", 0, 0),
    ("1", "$-[0,1)$", 0, 0),
    # test_latex_notation
    ("9", "Answer \\[ 9 \\]", 1, 1),
    ("9", "Answer $ 9 $", 1, 1),
    ("9", "Answer $$ 9 $$", 1, 1),
    ("9", "Answer \\( 9 \\)", 1, 1),
    ("10", "Answer \\( (9+1) \\)", 1, 1),
    ("9", "Answer $ \n 9 \n $", 0, 1),  # r1exp reads line breaks as spaces: the answer block is one answer
    ("9", "Answer \\[ \n 9 \n \\]", 1, 1),
    ("10/9", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", 1, 1),
    ("1/3", "$\\frac13 $", 1, 1),
    ("1", "$\\frac3{3} $", 1, 1),
    ("\\sqrt{3}", "$\\sqrt3 $", 1, 1),
    ("1/3", "$\\cfrac{1}{3} $", 1, 1),
    ("1/3", "$\\dfrac{1}{3} $", 1, 1),
    ("1/3", "$\\tfrac{1}{3} $", 1, 1),
    ("1/3", "$ 1/3 $", 1, 1),
    ("1/3", "$\\left( \\frac{1}{3} \\right)$", 1, 1),
    ("1/3", "$\\boxed{\\frac{1}{3}}$", 1, 1),
    ("1/3", "$\\frac{1}{3} \\text{meters}$", 1, 1),
    ("1/3", "$\\frac{1}{3} \\textbf{meters}$", 1, 1),
    ("1/3", "$k = \\frac{1}{3}$", 1, 1),
    # test_percent_notation
    ("28\\%", "28 percent", 1, 1),
    ("28\\%", "28 pct", 1, 1),
    ("28\\%", "28 %", 1, 1),
    ("28\\%", "$28$ %", 1, 1),
    ("28\\%", "$28$ percent", 1, 1),
    ("28\\%", "$\\boxed{28}$ pct", 1, 1),
    ("28\\%", "28", 1, 1),
    ("0.28", "28", 0, 0),
    ("28/100", "28", 0, 0),
    ("28", "28/100", 0, 0),
    ("\\frac{28}{100}", "28", 0, 0),
    ("28*\\frac{1}{100}", "28", 0, 0),
    # test_math_extraction_*: whole solutions with a box
    ("2-2p", "Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. Thus $x-p=\\boxed{2-2p}$.", 1, 1),
    (
        "\\frac{14}{3}",
        "$f(-2)+f(-1)+f(0)=\\frac{3(-2)-2}{-2-2}+\\frac{3(-1)-2}{-1-2}+\\frac{3(0)-2}{0-2}=\\frac{-8}{-4}"
        "+\\frac{-5}{-3}+\\frac{-2}{-2}=2+\\frac{5}{3}+1=\\boxed{\\frac{14}{3}}$",
        1,
        1,
    ),
    ("\\text{Evelyn}", "Therefore, $\\boxed{\\text{Evelyn}}$ is our answer.", 1, 1),
    ("(3, \\frac{\\pi}{2})", "the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$", 1, 1),
    # uiuc-kang-lab/deepscaler deepscaler/rewards/math_reward.py (its __main__ example; the gold list
    # ["10", "$x^{4}-2 x^{3}-13 x^{2}+14 x+24$"] is one gold per row in r1exp: the second is used)
    ("x^{4}-2 x^{3}-13 x^{2}+14 x+24", "The answer is \\boxed{24 + 14*x + (-13)*x^2 - 2*x^3 + x^4}.", 1, 1),
]


@pytest.fixture(scope="module")
def verdicts() -> dict[int, float | None]:
    """Every case through the reward in one batch."""
    completions = [f"reasoning</think>\n<answer>{content}</answer>" for _, content, _, _ in CASES]
    out = math_correct(
        [THINK_PROMPT] * len(CASES), completions, answer=[g for g, _, _, _ in CASES], workers=2, timeout=5.0
    )
    return dict(enumerate(out))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[repr(c[1])[:40] for c in CASES])
def test_peer_case(verdicts, i):
    gold, content, _peer, ours = CASES[i]
    assert verdicts[i] == float(ours), (gold, content)


def test_every_difference_is_documented():
    """Each case where r1exp differs from the peer has its reason written in docs/grading.md."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "grading.md").read_text(encoding="utf-8")
    for gold, content, peer, ours in CASES:
        if peer != ours:
            assert f"`{content.strip()}`".replace("\n", "\\n") in doc or repr(content) in doc, (gold, content)
