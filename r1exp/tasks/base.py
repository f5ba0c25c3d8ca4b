"""What a task's data source is: a loader of (train, test) rows that says which columns they carry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Rows = tuple[list[dict], list[dict]]


@dataclass(frozen=True)
class DataSource:
    """`load(data) -> (train, test)` rows, each with a `question`; `columns(data)` names the columns every
    row carries (None: unknown), so a reward that reads a column the data lacks is refused at start-up."""

    load: Callable[[Any], Rows]
    columns: Callable[[Any], set[str]] | None = None

    def __call__(self, data: Any) -> Rows:
        return self.load(data)
