"""The math task: word problems with a gold answer (MATH, GSM8K, CMATH and files shaped like them).

    {"question": "What is the smallest prime greater than 20?", "answer": "23",
     "solution": "21 = 3 * 7 and 22 = 2 * 11, so ... \\boxed{23}", "source": "math", "difficulty": 1}
    answer: <answer>\\boxed{23}</answer>   (math_correct: the guard's allowed shapes, then math-verify)

Data: a local JSONL file or a hub dataset, mapped by config (`data.py`). Reward: `reward.py` (guard,
normalize, verify). Reference: the row's worked solution and its boxed gold, where the data keeps one
(`data.solution_field`). Two rows are the same problem when their questions are (n-gram overlap), and a
training file is checked against every local text evaluation set: Chinese math reaches data=math files
too, so the Chinese sets (gaokao_mc, cn_middle_school) are among them.
"""

from __future__ import annotations

from r1exp.tasks.base import Task
from r1exp.tasks.math.data import reference_parts, source

TASK = Task(
    name="math",
    source=source,
    rewards={"math_correct": "r1exp.tasks.math.reward:math_correct"},
    accuracy_names={"math_correct": "accuracy"},
    reference_columns=frozenset({"solution", "answer"}),
    reference=reference_parts,
    eval_sets=("math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school"),
)
