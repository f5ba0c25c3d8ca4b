"""Reward throughput: completions per second of each reward on the same completions, side by side.

    python benchmarks/reward_throughput.py [--n 2000] [--workers 2]

Rewards run inside every GRPO step (8-16 completions per prompt), so a slow one stalls generation.
Math verification runs in worker processes (hard time bound); the math rows compare 1 vs N workers.
With `$R1EXP_DATA_DIR/math500.test.jsonl` present, the last lines compare `math_correct` on the 500
MATH-500 reference solutions (each in an answer block) with sequential math-verify on the same
solutions (parse the whole text, verify against the gold, one process): the ratio and both scores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

from r1exp.schema import CountdownData
from r1exp.tasks import REWARDS
from r1exp.tasks.countdown.data import generate
from r1exp.tasks.math.reward import math_correct

PROMPT = "User: ...\nAssistant: Let me solve this step by step.\n<think>"


def countdown_batch(n: int) -> tuple[list, list, dict]:
    rows = generate(CountdownData(), n, seed=0)
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


def math500_versus_sequential(workers: int) -> None:
    """math_correct with `workers` processes vs sequential math-verify on MATH-500's reference solutions."""
    path = Path(os.environ.get("R1EXP_DATA_DIR", "")) / "math500.test.jsonl"
    if not path.is_file():
        print(f"MATH-500 comparison skipped: {path} not found (set R1EXP_DATA_DIR)")
        return
    from math_verify import parse, verify

    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    golds = [r["answer"] for r in rows]
    start = time.perf_counter()
    sequential = sum(bool(verify(parse("$" + g + "$"), parse(r["solution"]))) for g, r in zip(golds, rows, strict=True))
    seq_s = time.perf_counter() - start
    completions = [f"work</think>\n<answer>{r['solution']}</answer>" for r in rows]
    REWARDS["math_correct"]([PROMPT] * 2, completions[:2], answer=golds[:2], workers=workers)  # warm
    start = time.perf_counter()
    out = REWARDS["math_correct"]([PROMPT] * len(rows), completions, answer=golds, workers=workers)
    ours_s = time.perf_counter() - start
    correct = sum(v == 1.0 for v in out)
    print(f"MATH-500 sequential math-verify: {seq_s:.2f}s, {sequential}/{len(rows)} correct")
    print(f"MATH-500 math_correct ({workers} workers): {ours_s:.2f}s, {correct}/{len(rows)} correct")
    print(f"MATH-500 math_correct vs sequential math-verify: {seq_s / ours_s:.2f}x")


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
    math500_versus_sequential(args.workers)
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
