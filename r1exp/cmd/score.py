"""cmd=score: score a JSONL file of completions offline with the composed reward.

Each input row holds `prompt`, `completion` and the columns the reward reads; each output row is the
input row plus `rewards` (term -> value) and `reward` (weighted total). A malformed row is reported
with its line number and skipped; the rest are still scored. The output is written atomically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.utils import to_absolute_path

from r1exp.common import jsonl
from r1exp.errors import ConfigError, DataError
from r1exp.rewards import score_batch
from r1exp.rewards.base import preflight
from r1exp.rewards.counters import Counters
from r1exp.sections import Sections
from r1exp.tasks import build_terms

REQUIRED = ("prompt", "completion")


def read_rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """Rows with their line numbers, and one message per malformed line (the row is skipped)."""
    numbered, bad = jsonl.read_numbered(path)
    problems = [(lineno, problem) for lineno, problem in bad]
    rows = []
    for lineno, row in numbered:
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            problems.append((lineno, f"missing field {', '.join(missing)}"))
        else:
            rows.append((lineno, row))
    return rows, [f"{path}:{lineno}: {problem}; row skipped" for lineno, problem in sorted(problems)]


def score_rows(rows: list[dict], terms, tokenizer=None) -> list[dict]:
    """Every term over all rows at once (rewards see column lists, as in training)."""
    prompts = [r["prompt"] for r in rows]
    completions = [r["completion"] for r in rows]
    keys = sorted({k for r in rows for k in r} - {"prompt", "completion", "rewards", "reward"})
    columns: dict[str, Any] = {k: [r.get(k) for r in rows] for k in keys}
    if tokenizer is not None:
        columns["completion_ids"] = [
            tokenizer(c if isinstance(c, str) else "", add_special_tokens=False)["input_ids"] for c in completions
        ]
    scored = score_batch(prompts, completions, columns, terms)
    return [{**row, "rewards": values, "reward": reward} for row, (values, reward) in zip(rows, scored, strict=True)]


def run(s: Sections) -> dict[str, Any]:
    s.check("score")
    cmd = s.cmd
    counters = Counters()
    terms = build_terms(s.reward.active_terms(), {"counters": counters, "judge": s.judge})
    src = Path(to_absolute_path(str(cmd.input)))
    dst = Path(to_absolute_path(str(cmd.output)))
    if not src.is_file():
        raise DataError(f"cmd.input={cmd.input}: no such file")
    if dst.resolve() == src.resolve():
        raise ConfigError("cmd.output is the same file as cmd.input; write the scores to another file")
    if dst.exists() and not cmd.overwrite:
        raise ConfigError(f"cmd.output={cmd.output} exists; pass cmd.overwrite=true or choose another path")
    # A judge that cannot be reached or read is one line now, not after the file was read.
    preflight(terms)
    tokenizer = None
    if any(t.needs_token_ids for t in terms):
        from r1exp.models import load_tokenizer, resolve_path

        tokenizer = load_tokenizer(resolve_path(s.model), s.model.revision)
    numbered, problems = read_rows(src)
    for msg in problems:
        print(f"r1exp: score: {msg}", file=sys.stderr)
    scored = score_rows([r for _, r in numbered], terms, tokenizer) if numbered else []
    dst.parent.mkdir(parents=True, exist_ok=True)
    jsonl.write_atomic(dst, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored))
    means = {}
    for t in terms:
        vals = [r["rewards"][t.name] for r in scored if r["rewards"][t.name] is not None]
        means[t.name] = sum(vals) / len(vals) if vals else None
    summary = {
        "scored": len(scored),
        "malformed": len(problems),
        "mean": means,
        "reward_stats": counters.drain(),
        "output": str(dst),
    }
    print(json.dumps(summary))
    return summary
