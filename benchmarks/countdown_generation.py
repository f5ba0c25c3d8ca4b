"""Countdown generation speed, side by side: vectorised constructive vs row-by-row constructive vs rejection.

    python benchmarks/countdown_generation.py [--n 20000] [--rounds 3] [--rejection-n 30]

All three draw solvable instances of 3-4 numbers in 1..99 with targets in 10..100, on one core.

- vectorised (r1exp's `generate`): random expressions drawn and evaluated exactly in numpy batches;
  only kept candidates become text, and each kept row is verified by the exact answer checker.
- row by row: the same process one candidate at a time in Python with Fractions (r1exp's
  generator before the vectorised one, kept here as the reference), also verified by the checker.
- rejection: numbers and a uniform target, kept when the exact subset-DP solver finds a solution.

Rounds alternate the generators and the median is reported, so a busy machine slows all alike.
"""

from __future__ import annotations

import os

# One core: numpy must not spread over threads (it does not for these operations; make it certain).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402

from r1exp.common.arith import apply_op, question  # noqa: E402
from r1exp.schema import CountdownData  # noqa: E402
from r1exp.tasks.countdown.data import generate, solve  # noqa: E402
from r1exp.tasks.countdown.reward import check_answer  # noqa: E402


def row_by_row(spec: CountdownData, n: int, seed: int) -> list[dict]:
    """The random-expression process one candidate at a time (Python ints and Fractions)."""
    rng = random.Random(seed)
    rows: list[dict] = []
    seen: set[tuple] = set()
    while len(rows) < n:
        k = rng.randint(spec.min_numbers, spec.max_numbers)
        nums = [rng.randint(spec.min_value, spec.max_value) for _ in range(k)]
        items = [(Fraction(v), str(v)) for v in nums]
        while len(items) > 1:
            i, j = rng.sample(range(len(items)), 2)
            (va, ea), (vb, eb) = items[i], items[j]
            op = rng.choice(spec.ops)
            if op == "/" and vb == 0:
                break
            items = [it for x, it in enumerate(items) if x not in (i, j)] + [
                (apply_op(va, op, vb), f"({ea} {op} {eb})")
            ]
        value, expr = items[0] if len(items) == 1 else (Fraction(1, 2), "")
        if value.denominator != 1 or not spec.min_target <= value <= spec.max_target:
            continue
        key = (tuple(sorted(nums)), int(value))
        if key in seen:
            continue
        solution = expr[1:-1]
        assert check_answer(solution, nums, int(value), spec.ops)
        seen.add(key)
        rows.append({"nums": nums, "target": int(value), "solution": solution, "question": question(nums, int(value))})
    return rows


def rejection(spec: CountdownData, n: int, seed: int) -> int:
    """Uniform numbers and target, kept when the exact solver finds a solution."""
    rng = random.Random(seed)
    found = 0
    while found < n:
        nums = [
            rng.randint(spec.min_value, spec.max_value) for _ in range(rng.randint(spec.min_numbers, spec.max_numbers))
        ]
        target = rng.randint(spec.min_target, spec.max_target)
        if solve(nums, target, spec.ops) is not None:
            found += 1
    return found


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="rows per constructive run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rejection-n", type=int, default=30, help="rows for the (slow) rejection sampler")
    args = parser.parse_args()
    spec = CountdownData()
    generate(spec, 10, seed=0)  # numpy import and first-call costs are start-up, not throughput

    # The row-by-row reference draws a quarter as many rows (it is ten times slower); rates compare.
    sizes = {"vectorised (r1exp)": args.n, "row by row": args.n // 4}
    fns = {"vectorised (r1exp)": generate, "row by row": row_by_row}
    seconds: dict[str, list[float]] = {name: [] for name in sizes}
    for r in range(args.rounds):
        for name in sizes if r % 2 == 0 else reversed(list(sizes)):
            seconds[name].append(timed(fns[name], spec, sizes[name], r))
    rejecting = timed(rejection, spec, args.rejection_n, 0)

    print(f"{'method':<28}{'rows':>7}{'median s':>10}{'rows/s':>10}")
    rate = {}
    for name, ts in seconds.items():
        rate[name] = sizes[name] / statistics.median(ts)
        print(f"{name:<28}{sizes[name]:>7}{statistics.median(ts):>10.3f}{rate[name]:>10.0f}")
    rate["rejection"] = args.rejection_n / rejecting
    print(f"{'rejection + exact solver':<28}{args.rejection_n:>7}{rejecting:>10.3f}{rate['rejection']:>10.0f}")
    fast = rate["vectorised (r1exp)"]
    print(f"vectorised vs row by row: {fast / rate['row by row']:.1f}x; vs rejection: {fast / rate['rejection']:.0f}x")


if __name__ == "__main__":
    main()
