"""The built-in tasks, the reward table, and the split builder.

A task is one object (`r1exp.tasks.base.Task`, one `task.py` per task package) that declares its data
source, rewards, reference completions, answer extraction, problem key and evaluation sets. `TASKS`
maps each built-in task's name (its `data.source`) to the "module:attr" path of its `TASK`, imported on
first use, so importing this package registers nothing by side effect and loads no task. `task_of`
resolves a run's task from `data.source`: a built-in name or an import path (`my_pkg.task:TASK`, or a
bare data source `my_pkg.data:source`). The reward table holds the task-independent terms and each
built-in task's own; a reward term may also name a function outside r1exp by its import path
(`reward.terms.X.fn=my_pkg.rewards:my_reward`).

A data source takes the `data=` config and returns (train, test) rows carrying a `question`;
`build_splits` applies the template so every row gets its `prompt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from r1exp.common.registry import Registry
from r1exp.common.templates import render
from r1exp.errors import ConfigError
from r1exp.rewards.base import RewardTerm
from r1exp.rewards.base import build_terms as build_reward_terms

if TYPE_CHECKING:
    from r1exp.tasks.base import Task

TASKS = Registry(
    "task",
    {
        "countdown": "r1exp.tasks.countdown.task:TASK",
        "math": "r1exp.tasks.math.task:TASK",
        "zh_general": "r1exp.tasks.zh_general.task:TASK",
    },
)

# Reward terms that belong to no task; each task's own terms are in its declaration (`Task.rewards`).
GENERAL_REWARDS = {
    "strict_format": "r1exp.rewards.format:strict_format",
    "soft_format": "r1exp.rewards.format:soft_format",
    "length": "r1exp.rewards.length:length",
    "digit_density": "r1exp.rewards.sanity:digit_density",
}


def _task_rewards() -> list[tuple[str, Any]]:
    """Every built-in task's own reward terms (`Task.rewards`), read from the tasks on first use."""
    return [(name, path) for task in TASKS for name, path in TASKS[task].rewards.items()]


# The reward table: GENERAL_REWARDS, then every built-in task's rewards (importing this package imports
# no task). A name declared twice is refused.
REWARDS = Registry("reward", GENERAL_REWARDS, load=_task_rewards)


def task_of(data: Any) -> Task:
    """The task of a `data=` config, from its `source`: a built-in task's name, or an import path to a
    Task, or to a bare data source (a `DataSource` or a function), which becomes a task with that source
    and nothing else (no reference, no evaluation sets, the question as its problem key)."""
    from r1exp.tasks.base import Task

    name = data.get("source")
    found = TASKS.get(name, "data.source")
    if isinstance(found, Task):
        return found
    if callable(found):
        return Task(name=str(data.get("name") or name), source=found)
    raise ConfigError(
        f"data.source={name} is a {type(found).__name__}, neither a Task nor a data source "
        "(r1exp.tasks.base.DataSource, or a function data -> (train, test) rows)"
    )


def build_terms(terms: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any] | None = None) -> list[RewardTerm]:
    """The weighted reward terms of a reward config, from the built-in table or import paths."""
    return build_reward_terms(terms, context, REWARDS)


def build_splits(data: Any, template: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows with the template applied (`prompt` column)."""
    train, test = task_of(data).source(data)
    example = str(data.get("answer_example") or "")
    for row in (*train, *test):
        row["prompt"] = render(template, row["question"], example)
    return train, test


def data_columns(data: Any) -> set[str] | None:
    """The columns every row of `data` will carry (None when its source does not say), before loading it."""
    declared = getattr(task_of(data).source, "columns", None)
    if not callable(declared):
        return None
    # build_splits adds the prompt; TRL adds the completion ids.
    return set(declared(data)) | {"prompt", "question", "completion_ids"}
