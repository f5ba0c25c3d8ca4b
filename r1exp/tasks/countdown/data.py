"""Countdown: given numbers and a target, build an arithmetic expression that reaches the target.

Every generated instance is solvable with its allowed operations: it is drawn from a random
expression over its numbers, which is recorded as the solution and verified by the exact answer
checker. `solve`/`reachable` is an exact solver (rationals, DP over subsets) for any instance.
Generation is deterministic for a seed, and the test split never shares a (sorted numbers, target)
key with train. With data.path or data.hub (data=countdown_tasks), the instances are read from a
dataset instead (TinyZero's Countdown-Tasks-3to4: `nums`, `target`) in the same row shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from r1exp.common.arith import ALL_OPS, question
from r1exp.errors import ConfigError, DataError
from r1exp.schema import CountdownData, as_data
from r1exp.tasks.base import DataSource
from r1exp.tasks.countdown.reward import check_answer


def _combine(a: Fraction, b: Fraction, ops: str):
    """Yield (value, op, swapped) for every allowed binary op on a pair."""
    if "+" in ops:
        yield a + b, "+", False
    if "*" in ops:
        yield a * b, "*", False
    if "-" in ops:
        yield a - b, "-", False
        yield b - a, "-", True
    if "/" in ops:
        if b != 0:
            yield a / b, "/", False
        if a != 0:
            yield b / a, "/", True


def reachable(nums: list[int], ops: str = ALL_OPS) -> dict[Fraction, str]:
    """Every value reachable using all of `nums` exactly once, each with one expression.

    Dynamic programming over subsets: the values of a subset come from combining the values of
    every split of it into two parts, so equal intermediate values are explored once.
    """
    n = len(nums)
    table: dict[int, dict[Fraction, str]] = {1 << i: {Fraction(v): str(v)} for i, v in enumerate(nums)}
    for mask in range(1, 1 << n):
        if mask in table:
            continue
        values: dict[Fraction, str] = {}
        sub = (mask - 1) & mask
        while sub:
            other = mask ^ sub
            if sub < other:  # each unordered split once; _combine covers both orders
                for va, ea in table[sub].items():
                    for vb, eb in table[other].items():
                        for val, op, swapped in _combine(va, vb, ops):
                            if val not in values:
                                values[val] = f"({eb} {op} {ea})" if swapped else f"({ea} {op} {eb})"
            sub = (sub - 1) & mask
        table[mask] = values
    return table[(1 << n) - 1]


def _strip_outer(expr: str) -> str:
    return expr[1:-1] if expr.startswith("(") and expr.endswith(")") and _balanced(expr[1:-1]) else expr


def _balanced(expr: str) -> bool:
    depth = 0
    for ch in expr:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return False
    return depth == 0


def solve(nums: list[int], target: int, ops: str = ALL_OPS) -> str | None:
    """One expression using every number of `nums` exactly once that equals `target`, or None."""
    expr = reachable(list(nums), ops).get(Fraction(target))
    return None if expr is None else _strip_outer(expr)


# Candidates drawn per vectorised batch. Fixed, so the rows of a seed do not depend on `n`: the
# first m rows of generate(spec, n, seed) are generate(spec, m, seed) for every m <= n.
_BATCH = 4096


@dataclass
class _Candidates:
    """A batch of random expressions, drawn and evaluated at once (numpy), in draw order."""

    k: Any  # (size,) count of numbers
    nums: Any  # (size, max_numbers) the numbers; the first k are used
    ops: list[str]  # (size,) allowed ops of each candidate
    picks: Any  # (size, max_numbers - 1, 3) per combination step: operand i, operand j, op
    value: Any  # (size,) the integer value where ok (0 elsewhere)
    ok: Any  # (size,) bool: no division by zero, integer value in the target range


def _exact_dtype(spec: CountdownData) -> Any:
    """int64 when no expression of the spec can overflow it, else Python ints (numpy object arrays)."""
    import numpy as np

    # |numerator|, |denominator| <= 2^(k-1) * max_value^k over any expression of k numbers.
    bound = 2 ** (spec.max_numbers - 1) * max(spec.max_value, 1) ** spec.max_numbers
    return np.int64 if bound < 2**62 else object


def _draw_candidates(rng: Any, spec: CountdownData, size: int) -> _Candidates:
    """Random expressions over random numbers, evaluated exactly as (numerator, denominator) pairs.

    The same process as combining items one by one: at every step an ordered pair of the remaining
    items is drawn uniformly, and an allowed op uniformly; the result replaces the pair. Values stay
    unreduced integer fractions (int64 when the spec's bounds cannot overflow, Python ints otherwise),
    so the arithmetic is exact. Candidates with the same count of numbers are evaluated together.
    """
    import numpy as np

    width = spec.max_numbers
    dtype = _exact_dtype(spec)
    k = rng.integers(spec.min_numbers, spec.max_numbers + 1, size)
    nums = rng.integers(spec.min_value, spec.max_value + 1, (size, width))
    mix = spec.ops_mix or (spec.ops,)
    which = rng.integers(0, len(mix), size)
    uniform = rng.random((size, width - 1, 3))
    # Op codes 0..3 index ALL_OPS; each mix entry's own ops, padded.
    table = np.array([[ALL_OPS.index(o) for o in (ops * 4)[:4]] for ops in mix])
    lengths = np.array([len(ops) for ops in mix])[which]
    # Per step: operand i among the m remaining items, operand j among the other m - 1, the op.
    remaining = k[:, None] - np.arange(width - 1)[None, :]
    picks = np.empty((size, width - 1, 3), dtype=np.int64)
    picks[:, :, 0] = uniform[:, :, 0] * remaining
    picks[:, :, 1] = uniform[:, :, 1] * (remaining - 1)
    picks[:, :, 1] += picks[:, :, 1] >= picks[:, :, 0]
    picks[:, :, 2] = table[which[:, None], (uniform[:, :, 2] * lengths[:, None]).astype(np.int64)]

    value = np.zeros(size, dtype=dtype)
    ok = np.zeros(size, dtype=bool)
    for count in range(spec.min_numbers, spec.max_numbers + 1):
        group = np.flatnonzero(k == count)
        num = nums[group, :count].astype(dtype)
        den = np.ones_like(num)
        good = np.ones(len(group), dtype=bool)
        rows = np.arange(len(group))
        for step in range(count - 1):
            i, j, code = (picks[group, step, c] for c in range(3))
            na, da, nb, db = num[rows, i], den[rows, i], num[rows, j], den[rows, j]
            cross = na * db
            res_num = np.select([code == 0, code == 1, code == 2], [cross + nb * da, cross - nb * da, na * nb], cross)
            res_den = np.where(code == 3, da * nb, da * db)
            good &= (code != 3) | (nb != 0)
            # Swap-remove: the last item fills the higher slot, the result takes the lower one.
            last = count - 1 - step
            hi, lo = np.maximum(i, j), np.minimum(i, j)
            num[rows, hi], den[rows, hi] = num[:, last], den[:, last]
            num[rows, lo], den[rows, lo] = res_num, res_den
        top, bottom = num[:, 0], den[:, 0]
        good &= bottom != 0  # a division by zero leaves 0 here
        bottom = np.where(good, bottom, 1)
        good &= top % bottom == 0
        whole = np.where(good, top // bottom, 0)
        good &= (whole >= spec.min_target) & (whole <= spec.max_target)
        value[group] = whole
        ok[group] = good
    return _Candidates(k, nums, [mix[w] for w in which.tolist()], picks, value, ok)


def _expression(nums: list[int], picks: list[list[int]]) -> str:
    """The expression a candidate's picks build, without its outer parentheses (the solution)."""
    items = [str(v) for v in nums]
    for step, (i, j, code) in enumerate(picks[: len(nums) - 1]):
        last = len(nums) - step - 1
        combined = f"({items[i]} {ALL_OPS[code]} {items[j]})"
        lo, hi = (i, j) if i < j else (j, i)
        items[hi] = items[last]
        items[lo] = combined
    return items[0][1:-1]


def generate(spec: CountdownData, n: int, seed: int, exclude: set[tuple] | None = None) -> list[dict]:
    """Draw `n` solvable instances deterministically; skip any whose key is in `exclude`.

    Each instance is built from a random expression over its numbers whose value is an integer in
    the target range, so it is solvable with the allowed ops by construction; that expression is the
    recorded solution, and the exact answer checker verifies it. Expressions are drawn and evaluated
    in vectorised batches; only the kept ones are turned into text.
    """
    import numpy as np

    spec.check()
    rng = np.random.default_rng(seed % 2**64)
    exclude = exclude or set()
    rows: list[dict] = []
    seen: set[tuple] = set()
    drawn = 0
    while len(rows) < n:
        if drawn >= 200 * n + 1000:
            raise ConfigError(
                f"data: could only draw {len(rows)} of {n} distinct solvable Countdown instances; "
                "widen data.min_target/max_target, data.min_value/max_value or data.ops, or ask for fewer rows"
            )
        batch = _draw_candidates(rng, spec, _BATCH)
        drawn += _BATCH
        kept = np.flatnonzero(batch.ok)
        for c, k, nums_c, picks, value in zip(
            kept.tolist(),
            batch.k[kept].tolist(),
            batch.nums[kept].tolist(),
            batch.picks[kept].tolist(),
            batch.value[kept].tolist(),
            strict=True,
        ):
            nums = nums_c[:k]
            target = int(value)
            key = (tuple(sorted(nums)), target)
            if key in exclude or key in seen:
                continue
            ops = batch.ops[c]
            solution = _expression(nums, picks)
            if not check_answer(solution, nums, target, ops):
                raise AssertionError(f"generated solution does not check: {solution} -> {target}")
            seen.add(key)
            rows.append(
                {
                    "nums": nums,
                    "target": target,
                    "solution": solution,
                    "allowed_ops": ops,
                    "question": question(nums, target, ops),
                    "source": "countdown",
                    "difficulty": k,
                }
            )
            if len(rows) == n:
                break
    return rows


def row_key(row: dict) -> tuple:
    """The identity used to keep splits disjoint: (sorted numbers, target)."""
    return (tuple(sorted(row["nums"])), row["target"])


def problem_key(row: dict) -> str:
    """The same identity as text, for the contamination guard: short on purpose and compared whole (the
    question's long template is shared by every instance)."""
    nums, target = row_key(row)
    return f"countdown {' '.join(map(str, nums))} target {target}"


def splits(spec: CountdownData, train_size: int, test_size: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Train and test rows, disjoint on (sorted numbers, target)."""
    test = generate(spec, test_size, seed=seed + 1_000_003)
    train = generate(spec, train_size, seed=seed, exclude={row_key(r) for r in test})
    return train, test


def _instance_records(data: CountdownData) -> list[tuple[str, dict]]:
    """Records of a file (.jsonl, .parquet) or hub dataset of Countdown instances (data=countdown_tasks)."""
    path, hub = data.path, data.hub
    if path and hub:
        raise ConfigError(f"data.path={path!r}, data.hub={hub!r}: set at most one (a file or a hub dataset id)")
    if hub:
        from r1exp.common.hub import read_hub

        fix = "point data.path at a local .jsonl/.parquet copy (with data.hub=null)"
        return read_hub(str(hub), str(data.hub_split), "data.hub", fix, data.hub_config)
    from pathlib import Path

    from hydra.utils import to_absolute_path

    file = Path(to_absolute_path(str(Path(str(path)).expanduser())))
    if not file.is_file():
        raise DataError(f"data.path={path}: no such file; give a .jsonl or .parquet file of nums/target rows")
    if file.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(file)
        return [(f"{file}:row {i}", rec) for i, rec in enumerate(frame.to_dict("records"), start=1)]
    from r1exp.common.jsonl import read_records

    return read_records(file)


def _whole(value: Any) -> int:
    if isinstance(value, (bool, str)) or int(value) != value:
        raise ValueError(value)
    return int(value)


def instance_row(record: dict, where: str, ops: str, name: str) -> dict:
    """A dataset's {nums, target} as a generator-shaped row (the solution is found when needed)."""
    try:
        nums = [_whole(v) for v in record["nums"]]
        target = _whole(record["target"])
    except (TypeError, ValueError, KeyError):
        need = "`nums` (a list of integers) and `target` (an integer)"
        raise DataError(f"{where}: a Countdown row needs {need}") from None
    if not 2 <= len(nums) <= 6:
        raise DataError(f"{where}: `nums` has {len(nums)} numbers; Countdown rows have 2 to 6")
    return {
        "nums": nums,
        "target": target,
        # Solved on demand (cold start, guided groups): solving 300k rows up front costs minutes.
        "solution": None,
        "allowed_ops": ops,
        "question": question(nums, target, ops),
        "source": name,
        "difficulty": len(nums),
    }


def dataset_splits(data: CountdownData) -> tuple[list[dict], list[dict]]:
    """Rows [0, train_size) train and [train_size, train_size + test_size) test, in dataset order (TinyZero's split)."""
    train_size, test_size = int(data.train_size), int(data.test_size)
    ops = str(data.ops)
    records = _instance_records(data)
    if data.eval_only:
        # An evaluation set: the test rows only (TinyZero's test slice).
        records = records[train_size : train_size + test_size]
        return [], [instance_row(r, w, ops, str(data.name)) for w, r in records]
    if train_size + test_size > len(records):
        raise ConfigError(
            f"data.train_size={train_size}, data.test_size={test_size}: the dataset has {len(records)} rows; lower them"
        )
    rows = [instance_row(r, w, ops, str(data.name)) for w, r in records[: train_size + test_size]]
    return rows[:train_size], rows[train_size:]


def countdown_source(data: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows drawn from the `data=countdown` settings, or read from a dataset (path/hub)."""
    data = as_data(data, CountdownData)
    if data.path or data.hub:
        return dataset_splits(data)
    return splits(data, int(data.train_size), int(data.test_size), int(data.seed))


def columns(data: Any) -> set[str]:
    """Columns every Countdown row carries."""
    return {"question", "nums", "target", "source"}


source = DataSource(countdown_source, columns)
