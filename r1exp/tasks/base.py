"""What a task is: one object that declares its data source, its rewards, its reference completions,
how an answer is read, what makes two rows the same problem, and the evaluation sets it is checked
against. Each built-in task package has one (`r1exp/tasks/<task>/task.py`, `TASK`); a task of one's
own is the same object in one's own file (docs/extending.md)."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from r1exp.common.answers import last_answer

Rows = tuple[list[dict], list[dict]]


@dataclass(frozen=True)
class DataSource:
    """`load(data) -> (train, test)` rows, each with a `question`; `columns(data)` names the columns every
    row carries (None: unknown), so a reward that reads a column the data lacks is refused at start-up."""

    load: Callable[[Any], Rows]
    columns: Callable[[Any], set[str]] | None = None

    def __call__(self, data: Any) -> Rows:
        return self.load(data)


def question_key(row: dict) -> str:
    """The default problem key: the question text."""
    return str(row.get("question") or "")


def no_reference(row: dict, rng: random.Random, wrong_attempts: int = 1) -> None:
    """The default reference: none (guided groups and cold start are refused for such a task)."""
    return None


@dataclass(frozen=True)
class Task:
    """One task, declared in one place.

    - `source`: the data source (`data.source` names the task, or this object's import path).
    - `rewards`: reward name -> "module:attr" of the task's own reward terms (the built-in tasks' names
      join the reward table, `r1exp.tasks.REWARDS`).
    - `accuracy_names`: reward name -> what the mean of that reward is called when it is the accuracy
      term ("accuracy" for a 0/1 verdict, "judge score" for a judge's graded score).
    - `reference_columns` and `reference(row, rng, wrong_attempts) -> (think, answer) | None`: the columns
      a row needs for a reference completion (empty: the task has none), and its rendering (cold start,
      reference-guided groups). `wrong_attempts` asks for that many failed tries before the solution,
      where the task has a search to show.
    - `extract_answer(text) -> str | None`: the answer a scored text gives (majority vote in evaluation).
    - `eval_sets`: the `bench=` options its training data is checked against for contamination.
    - `problem_key(row) -> str`: what makes two rows the same problem; `exact_match_only` when that key
      is compared only whole (Countdown's numbers and target), not by n-gram overlap.
    """

    name: str
    source: DataSource | Callable[[Any], Rows]
    rewards: Mapping[str, str] = field(default_factory=dict)
    accuracy_names: Mapping[str, str] = field(default_factory=dict)
    reference_columns: frozenset[str] = frozenset()
    reference: Callable[[dict, random.Random, int], tuple[str, str] | None] = no_reference
    extract_answer: Callable[[str], str | None] = last_answer
    eval_sets: tuple[str, ...] = ()
    problem_key: Callable[[dict], str] = question_key
    exact_match_only: bool = False
