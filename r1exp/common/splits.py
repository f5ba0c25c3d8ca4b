"""The one seeded train/test split, and the size settings it reads."""

from __future__ import annotations

import random
from typing import Any

from r1exp.errors import ConfigError


def split(
    rows: list[dict],
    test_size: int,
    train_size: int | None,
    seed: int,
    dedupe: str | None = None,
    file_order: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Seeded shuffle: the first `test_size` rows are test, the next `train_size` (or the rest) train.

    `dedupe` names a column: train then holds no row whose value of it is in test (a question asked
    twice in a file never leaks across). `file_order` keeps each split in file order instead of the
    shuffled order. The same rows and seed always give the same split.
    """
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    test_idx = order[:test_size]
    train_idx = order[test_size:]
    if dedupe is not None:
        held_out = {rows[i][dedupe] for i in test_idx}
        train_idx = [i for i in train_idx if rows[i][dedupe] not in held_out]
    if train_size is not None:
        train_idx = train_idx[:train_size]
    if file_order:
        test_idx, train_idx = sorted(test_idx), sorted(train_idx)
    return [rows[i] for i in train_idx], [rows[i] for i in test_idx]


def size(data: Any, key: str, optional: bool = True) -> int | None:
    """`data.<key>` as a whole number >= 0 (None when unset and `optional`); one line otherwise."""
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"data.{key}={value!r} must be a whole number >= 0" + (" (or null)" if optional else ""))
    return value
