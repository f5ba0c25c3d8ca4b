"""Evaluation: sample k completions per prompt, score them with the run's reward, summarise.

Shared by `cmd=eval` (a checkpoint on a test split, any token budget) and the periodic greedy
evaluation during training. Accuracy is the mean of the accuracy term alone (no format credit);
pass@k uses the unbiased estimator 1 - C(n-c, k) / C(n, k); maj@k takes the most frequent answer
(whitespace-insensitive) and counts it correct when a sample with that answer was graded correct.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from r1exp.common.answers import scored_text
from r1exp.rewards.base import RewardTerm, score_batch
from r1exp.sampling import Sample
from r1exp.tasks.base import Task


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al., 2021)."""
    if not 0 <= c <= n or k < 1 or k > n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(answers: Sequence[str | None], correct: Sequence[bool]) -> bool:
    """maj@k: the most frequent non-empty answer (ties: first seen) is correct."""
    keyed = ["".join(a.split()) if a else None for a in answers]
    counts = Counter(a for a in keyed if a)
    if not counts:
        return False
    best = max(counts.values())
    winner = next(a for a in keyed if a and counts[a] == best)
    return any(ok for a, ok in zip(keyed, correct, strict=True) if a == winner)


def score_samples(rows: Sequence[dict], samples: Sequence[Sample], terms: list[RewardTerm], task: Task) -> list[dict]:
    """eval.jsonl rows: the data row's columns, the completion, per-term rewards and the total.

    `answer_text` (what maj@k votes on) is the answer `task.extract_answer` reads from the scored text.
    """
    extract_answer = task.extract_answer
    prompts = [rows[s.prompt_index]["prompt"] for s in samples]
    completions = [s.completion for s in samples]
    keys = sorted({k for r in rows for k in r} - {"prompt"})
    columns = {k: [rows[s.prompt_index].get(k) for s in samples] for k in keys}
    columns["completion_ids"] = [s.token_ids for s in samples]
    out = []
    for i, (s, (values, reward)) in enumerate(
        zip(samples, score_batch(prompts, completions, columns, terms), strict=True)
    ):
        row = {k: rows[s.prompt_index].get(k) for k in keys if k != "completion_ids"}
        row.update(
            prompt=prompts[i],
            completion=s.completion,
            prompt_index=s.prompt_index,
            completion_tokens=s.completion_tokens,
            truncated=s.truncated,
            answer_text=extract_answer(scored_text(prompts[i], s.completion)),
            rewards=values,
            reward=reward,
        )
        out.append(row)
    return out


def _stats(
    rows: list[dict], accuracy_term: str | None, format_term: str | None, threshold: float, format_metric: str
) -> dict:
    lengths = sorted(r["completion_tokens"] for r in rows)
    out: dict[str, Any] = {
        "samples": len(rows),
        "prompts": len({r["prompt_index"] for r in rows}),
        "reward": _mean(r["reward"] for r in rows),
        "truncation_rate": _mean(float(r["truncated"]) for r in rows),
        "length_mean": _mean(lengths),
        "length_median": statistics.median(lengths) if lengths else None,
        "length_p90": lengths[min(len(lengths) - 1, math.ceil(0.9 * len(lengths)) - 1)] if lengths else None,
    }
    if format_term:
        out[format_metric] = _mean(r["rewards"].get(format_term) for r in rows)
    if accuracy_term:
        out["accuracy"] = _mean(r["rewards"].get(accuracy_term) for r in rows)
        by_prompt: dict[int, list[dict]] = defaultdict(list)
        for r in rows:
            by_prompt[r["prompt_index"]].append(r)
        n = min(len(v) for v in by_prompt.values())
        ks = sorted({1, n, *[2**i for i in range(1, n.bit_length()) if 2**i <= n]})
        for k in ks:
            vals = []
            for group in by_prompt.values():
                ok = [(g["rewards"].get(accuracy_term) or 0.0) >= threshold for g in group[:n]]
                vals.append(pass_at_k(n, sum(ok), k))
            out[f"pass@{k}"] = _mean(vals)
        out[f"maj@{n}"] = _mean(
            float(
                majority_correct(
                    [g["answer_text"] for g in group[:n]],
                    [(g["rewards"].get(accuracy_term) or 0.0) >= threshold for g in group[:n]],
                )
            )
            for group in by_prompt.values()
        )
    return out


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None


def summarize(
    rows: list[dict],
    accuracy_term: str | None,
    format_term: str | None,
    threshold: float = 1.0,
    format_metric: str = "format_rate",
) -> dict[str, Any]:
    """summary.json: overall numbers and the same broken down by difficulty.

    The format term's mean is named `format_metric`: format_rate for a 0/1 term, format_credit for one
    that gives partial credit (the mean credit is not a rate).
    """
    summary = _stats(rows, accuracy_term, format_term, threshold, format_metric)
    by_difficulty: dict[Any, list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("difficulty") is not None:
            by_difficulty[r["difficulty"]].append(r)
    summary["by_difficulty"] = {
        str(d): _stats(group, accuracy_term, format_term, threshold, format_metric)
        for d, group in sorted(by_difficulty.items())
    }
    return summary
