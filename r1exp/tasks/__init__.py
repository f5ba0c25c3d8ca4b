"""The built-in tasks: tables of their data sources and rewards, and the split builder.

Each table maps a name to a "module:attr" path that the registry imports on first use, so importing
this package registers nothing by side effect and loads no task. A config may also name an entry
that lives outside r1exp by its import path (`data.source=my_pkg.data:source`,
`reward.terms.X.fn=my_pkg.rewards:my_reward`).

A data source takes the `data=` config and returns (train, test) rows carrying a `question`;
`build_splits` applies the template so every row gets its `prompt`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from r1exp.common.registry import Registry
from r1exp.common.templates import render
from r1exp.rewards.base import RewardTerm
from r1exp.rewards.base import build_terms as build_reward_terms

SOURCES = Registry(
    "data source",
    {
        "countdown": "r1exp.tasks.countdown.data:source",
        "math": "r1exp.tasks.math.data:source",
        "zh_general": "r1exp.tasks.zh_general.data:source",
    },
)

REWARDS = Registry(
    "reward",
    {
        # task-independent terms
        "strict_format": "r1exp.rewards.format:strict_format",
        "soft_format": "r1exp.rewards.format:soft_format",
        "length": "r1exp.rewards.length:length",
        "digit_density": "r1exp.rewards.sanity:digit_density",
        # task terms
        "countdown_correct": "r1exp.tasks.countdown.reward:countdown_correct",
        "math_correct": "r1exp.tasks.math.reward:math_correct",
        "judge_answer": "r1exp.tasks.zh_general.judge:judge_answer_reward",
        "judge_reasoning": "r1exp.tasks.zh_general.judge:judge_reasoning_reward",
    },
)


def build_terms(terms: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any] | None = None) -> list[RewardTerm]:
    """The weighted reward terms of a reward config, from the built-in table or import paths."""
    return build_reward_terms(terms, context, REWARDS)


def build_splits(data: Any, template: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows with the template applied (`prompt` column)."""
    train, test = SOURCES.get(data.get("source"), "data.source")(data)
    example = str(data.get("answer_example") or "")
    for row in (*train, *test):
        row["prompt"] = render(template, row["question"], example)
    return train, test


def data_columns(data: Any) -> set[str] | None:
    """The columns every row of `data` will carry (None when its source does not say), before loading it."""
    declared = getattr(SOURCES.get(data.get("source"), "data.source"), "columns", None)
    if not callable(declared):
        return None
    # build_splits adds the prompt; TRL adds the completion ids.
    return set(declared(data)) | {"prompt", "question", "completion_ids"}


# The columns each built-in task's reference completion is rendered from (`reference_parts`): Countdown
# solves its instance, math shows the worked solution and its boxed answer, Chinese general questions
# give the reference answer.
REFERENCE_COLUMNS = (frozenset({"nums", "target"}), frozenset({"solution", "answer"}), frozenset({"reference"}))


def reference_parts(row: dict[str, Any], rng: random.Random, wrong_attempts: int = 1) -> tuple[str, str] | None:
    """(think, answer) of a reference completion for a row that has one (Countdown, math, zh), else None."""
    from r1exp.tasks.countdown.traces import reference_parts as countdown_parts
    from r1exp.tasks.math.data import reference_parts as math_parts
    from r1exp.tasks.zh_general.data import reference_parts as zh_parts

    return countdown_parts(row, rng, wrong_attempts) or math_parts(row) or zh_parts(row)


def has_reference(columns: set[str] | None) -> bool | None:
    """Whether rows with these columns have a reference completion (None when the source does not say)."""
    if columns is None:
        return None
    return any(need <= columns for need in REFERENCE_COLUMNS)
