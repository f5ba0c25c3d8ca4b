"""Countdown reward speed: r1exp's exact checker vs a regex-whitelist + eval verifier, side by side.

    python benchmarks/countdown_reward.py [--n 4000] [--rounds 7]

Both sides score the same realistic mix of completions (correct, wrong value, wrong numbers,
malformed, long thinking, several answer tags, missing or unclosed tags, leading zeros, `**`, unary
signs, decimals) for correctness and strict format, in batches of 64 like a GRPO step:

- r1exp: the registered `countdown_correct` and `strict_format` rewards (exact rational arithmetic,
  no eval, every contract clause of tests/unit/test_countdown_reward.py).
- whitelist+eval: the method TinyZero uses, written here: the last `<answer>` block found by regex,
  a character whitelist (digits, + - * / ( ) . and spaces), the numbers compared as sorted lists,
  then `eval` with no builtins and a float tolerance; format by one DOTALL regex. It is neither
  exact (floats) nor safe (the whitelist admits `**`, so `9**9**9` hangs it), which is why r1exp does
  not use it; it is the speed to match.

Every r1exp verdict is also checked against an independent exact reference (Python's `ast` parser
walked with Fractions), so a speed-up that changes one answer fails the run. Rounds alternate the two
sides and the median round is reported, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import ast
import random
import re
import statistics
import time
from collections import Counter
from fractions import Fraction

from r1exp.rewards.format import strict_format
from r1exp.schema import CountdownData
from r1exp.tasks.countdown.data import generate
from r1exp.tasks.countdown.reward import countdown_correct

PROMPT = (
    "A conversation between User and Assistant. ...\nUser: Using the numbers ..., create an equation ...\n"
    "Assistant: Let me solve this step by step.\n<think>"
)
BATCH = 64

# ---------------------------------------------------------------- the whitelist + eval verifier
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_ALLOWED = re.compile(r"^[\d+\-*/().\s]+$")
_NUMBER = re.compile(r"\d+")
_FORMAT = re.compile(r"^<think>.*?</think>\s*<answer>.*?</answer>$", re.DOTALL)


def whitelist_eval_correct(text: str, nums: list[int], target: int) -> float:
    """1.0 when eval of the last answer block's whitelisted expression is the target (TinyZero's way)."""
    matches = _ANSWER.findall(text)
    if not matches:
        return 0.0
    equation = matches[-1].strip()
    if sorted(int(n) for n in _NUMBER.findall(equation)) != sorted(nums):
        return 0.0
    if not _ALLOWED.match(equation):
        return 0.0
    try:
        result = eval(equation, {"__builtins__": None}, {})
    except Exception:
        return 0.0
    return float(abs(result - target) < 1e-5)


def whitelist_eval_rewards(prompts: list, completions: list, nums: list, target: list) -> list[float]:
    out = []
    for p, c, ns, t in zip(prompts, completions, nums, target, strict=True):
        text = "<think>" + c if p.rstrip().endswith("<think>") else c
        correct = whitelist_eval_correct(text, ns, t)
        fmt = float(_FORMAT.match(text.strip()) is not None)
        out.append(correct + 0.1 * fmt)
    return out


def r1exp_rewards(prompts: list, completions: list, nums: list, target: list) -> list[float]:
    # Rows carry their allowed ops (all four here), as generated rows do in training.
    correct = countdown_correct(prompts, completions, nums=nums, target=target, allowed_ops=["+-*/"] * len(nums))
    fmt = strict_format(prompts, completions)
    return [c + 0.1 * f for c, f in zip(correct, fmt, strict=True)]


# ---------------------------------------------------------------- the independent exact reference
def _reference_value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Fraction(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _reference_value(node.left), _reference_value(node.right)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        return a / b  # ZeroDivisionError: not correct
    raise ValueError("not an answer")


def reference_correct(text: str, nums: list[int], target: int) -> bool:
    """The contract, by other means: last block, ASCII digits/ops/parens/spaces, optional `= target`."""
    end = text.rfind("</answer>")
    start = text.rfind("<answer>", 0, end) if end >= 0 else -1
    if start < 0:
        return False
    answer = text[start + len("<answer>") : end].strip()
    if not answer or len(answer) > 1000:
        return False
    expr, eq, rhs = answer.partition("=")
    if eq and not (rhs.strip().isascii() and rhs.strip().isdigit() and int(rhs) == target):
        return False
    if not expr.strip() or set(expr) - set("0123456789+-*/() "):
        return False
    literals = re.findall(r"[0-9]+", expr)
    if any(len(lit) > 1 and lit[0] == "0" for lit in literals):
        return False  # numbers are written as the given integers
    if sorted(int(lit) for lit in literals) != sorted(nums):
        return False
    try:
        return _reference_value(ast.parse(expr.strip(), mode="eval").body) == target
    except (SyntaxError, ValueError, ZeroDivisionError):
        return False


# ---------------------------------------------------------------- a realistic mix of completions
def _thinking(rng: random.Random, nums: list[int], target: int, long: bool) -> str:
    steps = []
    for _ in range(rng.randint(40, 80) if long else rng.randint(1, 4)):
        a, b = rng.sample(nums, 2) if len(nums) > 1 else (nums[0], nums[0])
        op = rng.choice("+-*")
        steps.append(f"Let's try {a} {op} {b} = {eval(f'{a} {op} {b}')}. That is not {target}.")
    return " ".join(steps)


def _wrong_value(rng: random.Random, solution: str) -> str:
    ops = [i for i, ch in enumerate(solution) if ch in "+-*/"]
    i = rng.choice(ops)
    return solution[:i] + rng.choice([o for o in "+-*/" if o != solution[i]]) + solution[i + 1 :]


def completion_mix(n: int, seed: int = 0) -> tuple[list[str], list[str], list[list[int]], list[int], list[str]]:
    """`n` completions of a policy mid-training, with their rows and the kind of each."""
    rng = random.Random(seed)
    rows = generate(CountdownData(), n, seed=seed)
    kinds = [
        ("correct", 25),
        ("correct = target", 5),
        ("wrong value", 18),
        ("wrong numbers", 10),
        ("malformed", 8),
        ("long thinking", 10),
        ("several answer tags", 6),
        ("missing answer tag", 6),
        ("unclosed answer", 4),
        ("text after answer", 3),
        ("leading zero", 2),
        ("power / unary / decimal", 3),
    ]
    names = [k for k, _ in kinds]
    weights = [w for _, w in kinds]
    completions, labels = [], []
    for row in rows:
        nums, target, sol = row["nums"], row["target"], row["solution"]
        kind = rng.choices(names, weights)[0]
        labels.append(kind)
        think = _thinking(rng, nums, target, long=kind == "long thinking")
        answer = sol
        tail = ""
        if kind == "correct = target":
            answer = f"{sol} = {target}"
        elif kind == "wrong value":
            answer = _wrong_value(rng, sol)
        elif kind == "wrong numbers":
            answer = rng.choice([" + ".join(map(str, nums[:-1])), f"{sol} + {nums[0]}", f"{target} - 0"])
        elif kind == "malformed":
            answer = rng.choice([f"({sol}", f"{sol} +", f"{sol} x 1", f"{sol.replace(' ', '')} ×", f"{sol} = ?"])
        elif kind == "long thinking":
            answer = sol if rng.random() < 0.5 else _wrong_value(rng, sol)
        elif kind == "several answer tags":
            think += f" <answer>{_wrong_value(rng, sol)}</answer> no, again."
        elif kind == "leading zero":
            answer = re.sub(r"\b(\d+)\b", lambda m: "0" + m.group(1), sol, count=1)
        elif kind == "power / unary / decimal":
            answer = rng.choice([f"-{sol}", f"{sol} ** 1", sol.replace(str(nums[0]), f"{nums[0]}.0", 1)])
        elif kind == "text after answer":
            tail = f"\nSo the answer is {target}."
        text = f" {think}</think>\n<answer>{answer}</answer>{tail}"
        if kind == "missing answer tag":
            text = f" {think}</think>\nThe answer is {sol}."
        elif kind == "unclosed answer":
            text = f" {think}</think>\n<answer>{sol}"
        completions.append(text)
    return [PROMPT] * n, completions, [r["nums"] for r in rows], [r["target"] for r in rows], labels


def time_round(sides: dict, prompts, completions, nums, target, flip: bool) -> dict[str, float]:
    """Seconds each side spends on the whole mix, the two sides alternating batch by batch."""
    spent = dict.fromkeys(sides, 0.0)
    order = list(sides)
    for i in range(0, len(completions), BATCH):
        s = slice(i, i + BATCH)
        for name in reversed(order) if flip ^ (i // BATCH) % 2 else order:
            start = time.perf_counter()
            sides[name](prompts[s], completions[s], nums[s], target[s])
            spent[name] += time.perf_counter() - start
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000, help="completions in the mix")
    parser.add_argument("--rounds", type=int, default=7, help="alternating timed rounds per side")
    args = parser.parse_args()
    prompts, completions, nums, target, labels = completion_mix(args.n)
    counts = Counter(labels)

    ours = r1exp_rewards(prompts, completions, nums, target)
    theirs = whitelist_eval_rewards(prompts, completions, nums, target)
    wrong = [
        i for i, c in enumerate(completions) if (ours[i] >= 1.0) != reference_correct("<think>" + c, nums[i], target[i])
    ]
    if wrong:
        raise SystemExit(
            f"r1exp disagrees with the exact reference on {len(wrong)} completions, e.g. {completions[wrong[0]]!r}"
        )
    differ = Counter(labels[i] for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if (a >= 1.0) != (b >= 1.0))

    sides = {"r1exp": r1exp_rewards, "whitelist+eval": whitelist_eval_rewards}
    rounds = [time_round(sides, prompts, completions, nums, target, flip=r % 2 == 1) for r in range(args.rounds)]
    times = {name: [r[name] for r in rounds] for name in sides}
    # Batch-by-batch alternation puts both sides under the same machine load; the median round's
    # ratio is the figure (a busy neighbour slows both alike).
    ratio = statistics.median(r["whitelist+eval"] / r["r1exp"] for r in rounds)

    print("mix: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    print(f"correct under r1exp's contract: {sum(o >= 1.0 for o in ours)} of {args.n} (all match the exact reference)")
    print(
        "correctness verdicts where whitelist+eval differs: "
        + (", ".join(f"{k} {v}" for k, v in differ.items()) or "none")
    )
    print(f"{'verifier':<18}{'completions':>12}{'median s':>10}{'per second':>12}")
    rate = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        rate[name] = args.n / med
        print(f"{name:<18}{args.n:>12}{med:>10.3f}{rate[name]:>12.0f}")
    print(f"r1exp / whitelist+eval speed: {ratio:.2f}x (median over {args.rounds} rounds)")


if __name__ == "__main__":
    main()
