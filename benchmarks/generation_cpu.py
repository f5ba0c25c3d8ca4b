"""Rollout throughput on CPU: generated tokens/s of generation=hf vs generation=paged, side by side.

    python benchmarks/generation_cpu.py [--prompts 8] [--generations 4] [--tokens 96] [--repeats 3]

Same tiny model, same prompts, same token budget, in one process. Two workloads: `budget` is greedy
and ignores EOS, so every completion runs to the budget (the worst case of a random policy) and both
engines must produce the same tokens; `sampled` samples at temperature 1 like a GRPO rollout and stops
at EOS, so lengths vary and finished completions free their slot. Rows:

- hf: `model.generate` on the left-padded batch (TRL's default path), dynamic cache;
- hf static cache: the same with `cache_implementation="static"` (GRPOConfig.cache_implementation);
- paged: `model.generate_batch` with the cache sized to the step (r1exp.paged, generation=paged);
- paged, transformers' sizing (`--auto-sizing`): the cache sized from free memory, as TRL leaves it.

Tokens/s counts generated tokens up to and including EOS (never padding); the best of `--repeats`
timed runs after one warm-up. The last column is the speed relative to hf on the same workload.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it.\n"
    "User: Using the numbers {nums}, create an equation that equals {target}. You can use basic arithmetic "
    "operations (+, -, *, /) and each number can only be used once. Show your work in <think> </think> tags. "
    "And return the final answer in <answer> </answer> tags.\nAssistant: Let me solve this step by step.\n<think>"
)


def prompts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        nums = [rng.randint(1, 99) for _ in range(rng.randint(3, 4))]
        out.append(TEMPLATE.format(nums=nums, target=rng.randint(10, 100)))
    return out


def run_hf(model, tokenizer, ids: list[list[int]], gen_config, cache: str | None) -> list[list[int]]:
    import torch

    pad = tokenizer.pad_token_id
    width = max(map(len, ids))
    input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in ids])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in ids])
    with torch.no_grad():
        out = model.generate(
            input_ids=input_ids, attention_mask=mask, generation_config=gen_config, cache_implementation=cache
        )
    eos = gen_config.eos_token_id
    completions = []
    for row in out[:, width:].tolist():
        # What TRL keeps: everything up to and including the first EOS.
        cut = row.index(eos) + 1 if eos is not None and eos in row else len(row)
        completions.append(row[:cut])
    return completions


def run_paged(model, ids: list[list[int]], gen_config, auto_sizing: bool) -> list[list[int]]:
    from transformers.generation import ContinuousBatchingConfig

    from r1exp.paged import sized_config

    config = ContinuousBatchingConfig(max_memory_percent=0.5)
    if not auto_sizing:
        config = sized_config(config, ids, gen_config.max_new_tokens)
    out = model.generate_batch(ids, generation_config=gen_config, continuous_batching_config=config)
    return [o.generated_tokens for o in out.values()]


def timed(fn, repeats: int) -> tuple[float, list[list[int]]]:
    fn()  # warm-up
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8, help="distinct prompts per step")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt")
    parser.add_argument("--tokens", type=int, default=96, help="token budget per completion")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = one core)")
    parser.add_argument("--auto-sizing", action="store_true", help="also time transformers' own cache sizing")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
    from transformers.utils import logging as hf_logging

    from r1exp.models import TinySpec, build_tiny

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    path = build_tiny(TinySpec(), Path(tempfile.gettempdir()) / "r1exp-bench")
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ids = [p for p in tokenizer(prompts(args.prompts))["input_ids"] for _ in range(args.generations)]

    rows = []
    for workload, sample in (("budget", False), ("sampled", True)):
        torch.manual_seed(0)
        gen_config = GenerationConfig(
            max_new_tokens=args.tokens,
            do_sample=sample,
            temperature=1.0 if sample else None,
            top_k=0 if sample else None,
            eos_token_id=tokenizer.eos_token_id if sample else None,
            pad_token_id=tokenizer.pad_token_id,
        )
        cases = [
            ("hf", partial(run_hf, model, tokenizer, ids, gen_config, None)),
            ("hf static cache", partial(run_hf, model, tokenizer, ids, gen_config, "static")),
            ("paged", partial(run_paged, model, ids, gen_config, False)),
        ]
        if args.auto_sizing:
            cases.append(("paged, transformers' sizing", partial(run_paged, model, ids, gen_config, True)))
        results = {}
        for name, fn in cases:
            seconds, completions = timed(fn, args.repeats)
            results[name] = completions
            tokens = sum(map(len, completions))
            rows.append([workload, name, tokens, seconds, tokens / seconds])
        if not sample:
            # Greedy decoding must give the same tokens whichever engine runs it.
            same = sum(a == b for a, b in zip(results["hf"], results["paged"], strict=True))
            rows.append([workload, f"paged == hf (greedy): {same}/{len(ids)} completions", None, None, None])

    print(
        f"tiny model, {args.prompts} prompts x {args.generations} completions, {args.tokens}-token budget, "
        f"{args.threads} thread(s), torch {torch.__version__}\n"
    )
    print(f"{'workload':<8} {'engine':<30} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'vs hf':>6}")
    base = {r[0]: r[4] for r in rows if r[1] == "hf"}
    for workload, name, tokens, seconds, rate in rows:
        if rate is None:
            print(f"{workload:<8} {name}")
            continue
        print(f"{workload:<8} {name:<30} {tokens:>7} {seconds:>8.2f} {rate:>9.0f} {rate / base[workload]:>5.2f}x")


if __name__ == "__main__":
    main()
