"""MATH-500's own `LHS = answer` phrasings, unboxed, grade correct (the exceptions are named, with why).

For each reference solution, the last math segment (`$…$`, `$$…$$`, `\\[…\\]`, `\\(…\\)`) holding
`= \\boxed{…}`, with the box command removed and its content kept, is put in the answer block as the
whole answer: `$x = 83$`, `$5 \\times 6 \\times 8 = 240$`,
`$f(-2)+f(-1)+f(0) = … = \\frac{14}{3}$`. See docs/grading.md for the table of exceptions.
"""

from __future__ import annotations

import json
import re

from r1exp.common.answers import box_spans
from r1exp.rewards.counters import Counters
from r1exp.tasks.math.guard import read_answer
from r1exp.tasks.math.reward import math_correct

THINK_PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"
SEGMENT = re.compile(
    r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\[(.+?)\\\]|\\\((.+?)\\\)",
    re.S,
)
# The phrasings the guard refuses on purpose (unique_id: reason), each explained in docs/grading.md.
EXCEPTIONS = {
    "test/intermediate_algebra/90.json": "symbol",  # an aligned derivation: `&=` and `\\` line breaks
    "test/prealgebra/1044.json": "relation",  # `\frac{\$2.33}{43} \approx \$0.054 = 5.4`: `\approx` unboxed
    "test/counting_and_probability/119.json": "relation",  # `\Rightarrow`: an arrow
    "test/algebra/518.json": "relation",  # `\Rightarrow`
    "test/algebra/1031.json": "relation",  # `x \ge \frac{8+3}{2} = \frac{11}{2}`: an inequality for a value
    "test/prealgebra/1995.json": "symbol",  # `\cancelto`: an annotation
    "test/algebra/2253.json": "symbol",  # `9 \& 2`: an operator the problem defines
    "test/algebra/1842.json": "symbol",  # `\frac{7}{30} @ \frac{10}{21}`: same
    "test/algebra/2789.json": "symbol",  # `5 \star 1`: same
}


def phrasing(solution: str) -> str | None:
    """The last math segment with `= \\boxed{…}`, box removed, or None when the solution has none."""
    segments = [m.group(0) for m in SEGMENT.finditer(solution) if re.search(r"=\s*\\boxed\s*\{", m.group(0))]
    if not segments:
        return None
    segment = segments[-1]
    spans, _, _ = box_spans(segment)
    start, inner, end = spans[-1]
    return segment[:start] + segment[inner:end] + segment[end + 1 :]


def test_math500_lhs_phrasings_grade_correct(data_dir):
    rows = [json.loads(line) for line in (data_dir / "math500.test.jsonl").read_text().splitlines() if line.strip()]
    cases = [(r["unique_id"], r["answer"], p) for r in rows if (p := phrasing(r["solution"])) is not None]
    assert len(cases) >= 295  # the issue counted 295 `LHS = \boxed{…}` lines
    refused = {uid: read_answer(gold, p).reason for uid, gold, p in cases}
    refused = {uid: reason for uid, reason in refused.items() if reason is not None}
    assert refused == EXCEPTIONS
    graded = [(uid, gold, p) for uid, gold, p in cases if uid not in EXCEPTIONS]
    counters = Counters()
    out = math_correct(
        [THINK_PROMPT] * len(graded),
        [f"work</think>\n<answer>{p}</answer>" for _, _, p in graded],
        answer=[gold for _, gold, _ in graded],
        counters=counters,
        workers=2,
        timeout=5.0,
    )
    wrong = [(uid, p) for (uid, _, p), v in zip(graded, out, strict=True) if v != 1.0]
    print(f"MATH-500 phrasings: {len(cases)}, graded correct {len(graded) - len(wrong)}, refused {len(refused)}")
    assert wrong == []
    assert counters.drain() == {}
