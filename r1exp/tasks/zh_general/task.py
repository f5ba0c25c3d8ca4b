"""The Chinese general task: questions with a reference answer, judged by an LLM against it.

    {"question": "中国的首都是哪里?", "reference": "北京。", "source": "zh_general"}
    answer: <answer>北京</answer>   (judge_answer: a score in [0, 1] from the judge; judge_reasoning
                                       scores the think block)

Data: JSONL or a hub dataset, multiple choice included (`data.py`). Rewards: the judges (`judge.py`),
whose mean is a judge score, not an accuracy. Reference: the reference answer with an empty reasoning
block. Two rows are the same problem when their questions are; a training file is checked against
every local text evaluation set (Chinese math sets and the math sets alike).
"""

from __future__ import annotations

from r1exp.tasks.base import Task
from r1exp.tasks.zh_general.data import reference_parts, source


def extract_answer(text: str) -> str | None:
    """The answer the judge is shown: the last answer block, stripped (None when missing or empty)."""
    # Imported on use: reading the task's declarations (analysis, the reward table) loads no judge.
    from r1exp.tasks.zh_general.judge import answer_text

    return answer_text(text)


TASK = Task(
    name="zh_general",
    source=source,
    rewards={
        "judge_answer": "r1exp.tasks.zh_general.judge:judge_answer_reward",
        "judge_reasoning": "r1exp.tasks.zh_general.judge:judge_reasoning_reward",
    },
    accuracy_names={"judge_answer": "judge score", "judge_reasoning": "judge score"},
    reference_columns=frozenset({"reference"}),
    reference=reference_parts,
    extract_answer=extract_answer,
    eval_sets=("math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school"),
)
