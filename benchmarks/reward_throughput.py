"""Reward throughput: completions per second of each reward on the same completions, side by side.

    python benchmarks/reward_throughput.py [--n 2000] [--workers 2]

Rewards run inside every GRPO step (8-16 completions per prompt), so a slow one stalls generation.
Math verification runs in worker processes (hard time bound); the last rows compare 1 vs N workers.
"""

from __future__ import annotations

import argparse
import random
import time

from r1exp.tasks import REWARDS
from r1exp.tasks.countdown.data import CountdownSpec, generate
from r1exp.tasks.math.reward import math_correct

PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"


def countdown_batch(n: int) -> tuple[list, list, dict]:
    rows = generate(CountdownSpec(), n, seed=0)
    rng = random.Random(0)
    completions = []
    for r in rows:
        answer = r["solution"] if rng.random() < 0.5 else " + ".join(map(str, r["nums"]))
        completions.append(f"{r['solution']} = {r['target']}</think>\n<answer>{answer}</answer>")
    cols = {"nums": [r["nums"] for r in rows], "target": [r["target"] for r in rows]}
    return [PROMPT] * n, completions, cols


def math_batch(n: int) -> tuple[list, list, dict]:
    rng = random.Random(0)
    golds, completions = [], []
    for _ in range(n):
        a, b = rng.randint(1, 50), rng.randint(2, 50)
        gold = f"\\frac{{{a}}}{{{b}}}"
        pred = f"{a}/{b}" if rng.random() < 0.5 else f"{a / b:.6f}"
        golds.append(gold)
        completions.append(f"work</think>\n<answer>\\boxed{{{pred}}}</answer>")
    return [PROMPT] * n, completions, {"answer": golds}


def timed(fn, prompts, completions, **kwargs) -> float:
    start = time.perf_counter()
    fn(prompts, completions, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="completions per reward")
    parser.add_argument("--workers", type=int, default=2, help="math-verify worker processes to compare with 1")
    args = parser.parse_args()

    prompts, completions, cols = countdown_batch(args.n)
    rows = []
    for name in ("strict_format", "soft_format", "countdown_correct", "digit_density"):
        rows.append((name, args.n, timed(REWARDS[name], prompts, completions, **cols)))
    m_prompts, m_completions, m_cols = math_batch(args.n // 4)
    for workers in (1, args.workers):
        REWARDS["math_correct"](m_prompts[:8], m_completions[:8], workers=workers, **{"answer": m_cols["answer"][:8]})
        seconds = timed(REWARDS["math_correct"], m_prompts, m_completions, workers=workers, **m_cols)
        rows.append((f"math_correct ({workers} worker{'s' if workers > 1 else ''})", len(m_prompts), seconds))
    math_correct.close()

    base = rows[0][1] / rows[0][2]
    print(f"{'reward':<28}{'completions':>12}{'seconds':>10}{'per second':>12}{'vs strict_format':>18}")
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"{name:<28}{n:>12}{seconds:>10.3f}{rate:>12.0f}{rate / base:>17.3f}x")
    m1, mn = rows[-2], rows[-1]
    print(f"math_correct speed-up with {args.workers} workers: {m1[2] / mn[2]:.2f}x")


if __name__ == "__main__":
    main()
