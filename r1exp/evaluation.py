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
from r1exp.errors import ConfigError
from r1exp.rewards.base import RewardTerm, score_batch
from r1exp.sampling import Sample
from r1exp.tasks.base import Task, question_key


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


# --- evaluation sets: which rows a run is judged on, and that it never trains on them ---------------

DATA_DIR_ENV = "R1EXP_DATA_DIR"


def bench_name(cfg: Any) -> str | None:
    """The run's `bench=` evaluation set, or None (bench=none)."""
    bench = cfg.get("bench")
    name = bench.get("name") if bench else None
    return None if name in (None, "none") else str(name)


def check_trainable(data: Any) -> None:
    """Refuse to train on an evaluation set: an `eval_only` option, or a file in $R1EXP_DATA_DIR."""
    import os
    from pathlib import Path

    name = data.get("name")
    fix = (
        "train on a training option (data=math, data=gsm8k_train, data=countdown, data=zh_general "
        f"data.path=FILE, ...) and evaluate on it with bench={name}"
    )
    if data.get("eval_only"):
        raise ConfigError(f"data={name} is an evaluation set (data.eval_only=true): training on it is refused; {fix}")
    path, folder = data.get("path"), os.environ.get(DATA_DIR_ENV)
    if path and folder and Path(folder).is_dir():
        from hydra.utils import to_absolute_path

        file = Path(to_absolute_path(str(Path(str(path)).expanduser()))).resolve()
        if file.is_relative_to(Path(folder).resolve()):
            raise ConfigError(
                f"data.path={path} is in {DATA_DIR_ENV}, the folder of evaluation data: training on it is refused; "
                "train on a training set (data=math, data=gsm8k_train, or your own file outside that folder)"
            )


def check_bench_reward(cfg: Any) -> None:
    """A bench is scored by its task's correctness reward: the run's accuracy term must be it."""
    name = bench_name(cfg)
    wanted = cfg.bench.get("scored_by") if name else None
    if not wanted:
        return
    accuracy_term = cfg.reward.get("accuracy_term")
    terms = cfg.reward.get("terms") or {}
    term = terms.get(accuracy_term) if accuracy_term else None
    fn = term.get("fn") if term else None
    if fn != wanted:
        raise ConfigError(
            f"bench={name} is scored by {wanted}, but reward={cfg.reward.get('name')} counts accuracy with "
            f"{fn or 'no term'}; pick the reward of that task (e.g. reward=math for math sets)"
        )


def bench_rows(cfg: Any) -> list[dict]:
    """The rows of the run's `bench=` set (all of it), prompts rendered with the run's template."""
    from r1exp.tasks import build_splits

    return build_splits(cfg.bench, cfg.template)[1] if bench_name(cfg) else []


def problem_text(row: dict, task: Task | None = None) -> str:
    """What the contamination guard compares for `row`: its task's problem key (without a task, the
    question text, the key of every task but Countdown)."""
    return (task.problem_key if task is not None else question_key)(row)


def bench_config(name: str) -> Any:
    """The `bench=NAME` option's composed config (inside a running Hydra app, or from the repo's conf/)."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = [f"bench={name}"]
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=overrides).bench
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=overrides).bench


def eval_set_rows(name: str, template: Any) -> tuple[list[dict] | None, str | None]:
    """(rows, None) of the evaluation set `name`, or (None, why) when it is not available here."""
    return _bench_set_rows(bench_config(name), template)


def _bench_set_rows(bench: Any, template: Any) -> tuple[list[dict] | None, str | None]:
    """(rows, None) of a composed `bench=` config, or (None, why) when its data is not available here."""
    import os
    from pathlib import Path

    from hydra.utils import to_absolute_path

    from r1exp.tasks import build_splits

    path = bench.get("path")
    if path is not None:
        # Relative paths are relative to where the user launched (Hydra's own rule; cwd outside Hydra).
        file = Path(to_absolute_path(str(Path(str(path)).expanduser())))
        if not file.is_file():
            return None, f"no file {path} (set {DATA_DIR_ENV}; now {os.environ.get(DATA_DIR_ENV)!r})"
    elif bench.get("hub"):
        # The guard never downloads: a hub-only set is checked only when the run names it with bench=.
        return None, f"hub dataset {bench.hub}, not a local file"
    return build_splits(bench, template)[1], None


def contamination_record(cfg: Any, train_rows: Sequence[dict], eval_sets: dict[str, Sequence[dict]]) -> dict:
    """Check the train split against the given sets and every available evaluation set of its task.

    The given sets are rows of the run's own task, except `bench=NAME` for the run's bench, whose rows
    are its data config's task; each evaluation set of the task (`Task.eval_sets`) is read through its
    bench config, whose `source` names its task. Every set's problems are keyed by its own task
    (`Task.problem_key`, compared whole where `Task.exact_match_only`).

    Refused above `contamination.max_fraction` of any set; the returned record (manifest.json) lists
    every set checked, with its counts, and the sets skipped, with the reason.
    """
    from r1exp.common.contamination import NGRAM, check
    from r1exp.tasks import task_of

    guard = cfg.get("contamination") or {}
    try:
        min_overlap = float(guard.get("min_overlap", 0.65))
        max_fraction = float(guard.get("max_fraction", 0.01))
    except (TypeError, ValueError):
        raise ConfigError(
            f"contamination.min_overlap={guard.get('min_overlap')!r}, contamination.max_fraction="
            f"{guard.get('max_fraction')!r}: need two fractions between 0 and 1"
        ) from None
    task = task_of(cfg.data)
    bench = bench_name(cfg)
    sets: dict[str, tuple[Task, list[dict]]] = {
        name: (task_of(cfg.bench) if bench and name == f"bench={bench}" else task, list(rows))
        for name, rows in eval_sets.items()
        if rows
    }
    skipped: dict[str, str] = {}
    if train_rows:
        for name in task.eval_sets:
            if name in sets or f"bench={name}" in sets:
                continue
            config = bench_config(name)
            rows, why = _bench_set_rows(config, cfg.template)
            if rows:
                sets[name] = (task_of(config), rows)
            else:
                skipped[name] = why or "empty"
    counts = check(
        [task.problem_key(r) for r in train_rows],
        {name: [owner.problem_key(r) for r in rows] for name, (owner, rows) in sets.items()},
        min_overlap=min_overlap,
        max_fraction=max_fraction,
        exact_only=[name for name, (owner, _) in sets.items() if owner.exact_match_only],
    )
    # The n-gram size is part of the measured method (docs/benchmarks.md), not a setting: recorded as used.
    record = {"ngram": NGRAM, "min_overlap": min_overlap, "max_fraction": max_fraction}
    return {**record, "sets": counts, "skipped": skipped}
