"""The Countdown task: reach a target with the given numbers and + - * /.

    {"question": "Using the numbers [3, 5, 7], create an equation that equals 22. ...",
     "nums": [3, 5, 7], "target": 22, "solution": "3 * 5 + 7", "allowed_ops": "+-*/", ...}
    answer: <answer>3 * 5 + 7</answer>   (countdown_correct: exact, without eval)

Data: generated instances, or TinyZero's from a file or the hub (`data.py`). Reward: `reward.py`.
Reference: a short search ending in the solver's solution (`traces.py`). Two rows are the same problem
when their numbers and target are; the guard compares that key whole, against the generated bench.
"""

from __future__ import annotations

from r1exp.tasks.base import Task
from r1exp.tasks.countdown.data import problem_key, source
from r1exp.tasks.countdown.traces import reference_parts

TASK = Task(
    name="countdown",
    source=source,
    rewards={"countdown_correct": "r1exp.tasks.countdown.reward:countdown_correct"},
    accuracy_names={"countdown_correct": "accuracy"},
    reference_columns=frozenset({"nums", "target"}),
    reference=reference_parts,
    eval_sets=("countdown",),
    problem_key=problem_key,
    exact_match_only=True,
)
