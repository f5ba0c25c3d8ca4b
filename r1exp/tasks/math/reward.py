"""Math correctness: the last answer block's (boxed) answer checked against the gold with math-verify.

Prediction: the content of the last `<answer>…</answer>` block; inside it the `\\boxed{…}` or
`\\fbox{…}` that closes last, else the whole content. A prediction whose shape cannot be an answer to
the gold (a relation, code, a hedge, text without math: see `r1exp.tasks.math.guard`) scores 0.0
without reaching math-verify (counted as `math/refused`). Gold and prediction go through the same
math-verify parse (see `r1exp.tasks.math.verify.parse_math`), and `verify` decides. A gold that
yields no math object is unparsable: that row scores None and `math/gold_unparsable` is counted.

Every verification runs in worker processes with a hard time bound per pair (see
`r1exp.tasks.math.verify`): an overrun is 0.0 (`math/timeout`), a pair whose worker died twice too
(`math/crash`). Identical (gold, prediction) pairs, common among the completions of one prompt, are
verified once per call.
"""

from __future__ import annotations

from typing import Any

from r1exp.common.answers import MAX_ANSWER_CHARS, last_answer, scan_braces, scored_text
from r1exp.rewards.base import Reward
from r1exp.tasks.math.guard import refusal
from r1exp.tasks.math.verify import CRASH, GOLD_UNPARSABLE, OK, TIMEOUT, Verifier

__all__ = ["CRASH", "OK", "TIMEOUT", "MathCorrect", "extract_prediction", "math_correct"]


def extract_prediction(text: str) -> str | None:
    """The answer to grade from a scored text, or None when there is nothing gradable.

    Nothing gradable: no answer block, an empty answer, an answer over MAX_ANSWER_CHARS, or (without
    a box) unbalanced braces, which could otherwise close the box the answer is parsed in.
    """
    content = last_answer(text)
    if content is None:
        return None
    span, balanced = scan_braces(content)
    if span is not None:
        pred = content[span[0] : span[1]]
    elif balanced:
        pred = content
    else:
        return None
    pred = pred.strip().rstrip(".").strip()  # a sentence's full stop is not part of the answer
    if not pred or len(pred) > MAX_ANSWER_CHARS:
        return None
    return pred


class MathCorrect(Reward):
    """The `math_correct` reward: callable like a TRL reward function; owns its worker pools.

    One pool per (workers, timeout) setting, started on first use; `close` stops them (their workers
    are daemon processes and end with the interpreter anyway).
    """

    columns = ("answer",)
    context_keys = ("counters",)
    value_range = (0.0, 1.0)
    __name__ = "math_correct"

    def __init__(self) -> None:
        self._verifiers: dict[tuple[Any, Any], Verifier] = {}

    def verifier(self, workers: Any, timeout: Any) -> Verifier:
        """The pool for these kwargs (a bad value is one ConfigError line naming the kwargs)."""
        key = (workers, timeout)
        if key not in self._verifiers:
            self._verifiers[key] = Verifier(workers, timeout)
        return self._verifiers[key]

    def check(self, kwargs: dict[str, Any]) -> None:
        """Refuse bad `workers`/`timeout` kwargs at start-up (building a Verifier starts no process)."""
        Verifier(kwargs.get("workers", 4), kwargs.get("timeout", 5.0))

    def close(self) -> None:
        """Stop every pool's workers."""
        for verifier in self._verifiers.values():
            verifier.close()
        self._verifiers.clear()

    def __call__(
        self,
        prompts: list,
        completions: list,
        answer: list | None = None,
        counters: Any = None,
        workers: int = 4,
        timeout: float = 5.0,
        **_: Any,
    ) -> list[float | None]:
        """1.0 when the last answer block's answer equals the row's gold `answer` (math-verify), else 0.0.

        None for rows without a gold, and for rows whose gold math-verify cannot parse (counted as
        `math/gold_unparsable`). Each distinct (gold, prediction) pair is graded within `timeout`
        seconds in one of `workers` processes; an overrun is 0.0 (counted as `math/timeout`), and so
        is a pair whose worker died twice (`math/crash`). A refused shape is 0.0 (`math/refused`).
        """
        verifier = self.verifier(workers, timeout)
        golds = answer if answer is not None else [None] * len(completions)
        jobs: dict[tuple[str, str | None], list[int]] = {}
        refused = 0
        for i, (p, c, g) in enumerate(zip(prompts, completions, golds, strict=True)):
            if g is None:
                continue
            gold, pred = str(g), extract_prediction(scored_text(p, c))
            if pred is not None and refusal(gold, pred) is not None:
                # Graded as no answer, so an unparsable gold is still told apart.
                pred = None
                refused += 1
            jobs.setdefault((gold, pred), []).append(i)
        out: list[float | None] = [None] * len(completions)
        if not jobs:
            return out
        if refused and counters is not None:
            counters.add("math/refused", refused)
        for rows, (status, result) in zip(jobs.values(), verifier.map(list(jobs)), strict=True):
            if result == GOLD_UNPARSABLE:
                if counters is not None:
                    counters.add("math/gold_unparsable", len(rows))
                continue
            if status in (TIMEOUT, CRASH) and counters is not None:
                counters.add(f"math/{status}", len(rows))
            for i in rows:
                out[i] = float(result)
        return out


math_correct = MathCorrect()
