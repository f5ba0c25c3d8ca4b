"""Data sources by name: each turns `data=` config into train/test rows carrying a `question`.

Sources register themselves with `@source(NAME)`; `build_splits` applies the template so every row
gets its `prompt`. A name registered twice is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1exp.data import countdown
from r1exp.data.templates import render
from r1exp.errors import ConfigError

SourceFn = Callable[[Any], tuple[list[dict], list[dict]]]
SOURCES: dict[str, SourceFn] = {}


def source(name: str) -> Callable[[SourceFn], SourceFn]:
    def deco(fn: SourceFn) -> SourceFn:
        if name in SOURCES:
            raise ValueError(f"data source {name!r} is already registered")
        SOURCES[name] = fn
        return fn

    return deco


@source("countdown")
def countdown_source(data: Any) -> tuple[list[dict], list[dict]]:
    spec = countdown.CountdownSpec(
        min_numbers=int(data.min_numbers),
        max_numbers=int(data.max_numbers),
        min_value=int(data.min_value),
        max_value=int(data.max_value),
        min_target=int(data.min_target),
        max_target=int(data.max_target),
        ops=str(data.ops),
        ops_mix=tuple(str(o) for o in data.ops_mix) if data.get("ops_mix") else None,
    )
    return countdown.splits(spec, int(data.train_size), int(data.test_size), int(data.seed))


def build_splits(data: Any, template: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows with the template applied (`prompt` column)."""
    name = data.get("source")
    if name not in SOURCES:
        raise ConfigError(f"data.source={name!r} is unknown; known: {', '.join(sorted(SOURCES))}")
    train, test = SOURCES[name](data)
    example = str(data.get("answer_example") or "")
    for row in (*train, *test):
        row["prompt"] = render(template, row["question"], example)
    return train, test


# Sources defined in their own modules register themselves on import.
from r1exp.data import math, zh_general  # noqa: E402, F401
