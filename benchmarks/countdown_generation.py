"""Countdown generation speed: constructive (random expression = solution) vs rejection sampling.

    python benchmarks/countdown_generation.py [--n 300]

Rejection sampling draws numbers and a uniform target, then asks the exact solver whether the target
is reachable, and retries when not. The constructive generator draws a random expression over the
numbers and keeps it when its value lands in the target range; its expression is the solution.
"""

from __future__ import annotations

import argparse
import random
import time

from r1exp.tasks.countdown.data import CountdownSpec, generate, solve


def rejection(spec: CountdownSpec, n: int, seed: int) -> int:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    spec = CountdownSpec()
    start = time.perf_counter()
    generate(spec, args.n, seed=0)
    constructive = time.perf_counter() - start
    start = time.perf_counter()
    rejection(spec, args.n, seed=0)
    rejecting = time.perf_counter() - start
    print(f"{'method':<28}{'rows':>6}{'seconds':>10}{'rows/s':>10}")
    print(f"{'constructive':<28}{args.n:>6}{constructive:>10.3f}{args.n / constructive:>10.0f}")
    print(f"{'rejection + exact solver':<28}{args.n:>6}{rejecting:>10.3f}{args.n / rejecting:>10.0f}")
    print(f"constructive is {rejecting / constructive:.1f}x faster")


if __name__ == "__main__":
    main()
