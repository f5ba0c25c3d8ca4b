"""Math correctness: the answer block read by an allow-list of answer shapes, then checked with math-verify.

The content of the last `<answer>…</answer>` block goes to the guard (`r1exp.tasks.math.guard`, after
`r1exp.tasks.math.normalize`): it accepts only one final answer in an allowed shape (boxes, a whole
value, `LHS = RHS`, `x \\in S`, a list of assignments, short prose stating the answer) and turns it
into claims, the values that must each equal the gold. Anything else scores 0.0 without reaching
math-verify and is counted by reason as `math/refused/<reason>` (`no_answer`, `relation`, `symbol`,
`word`, `hedge`, ...), so a run's metrics show how its policy writes answers. Gold and claims go
through the same math-verify parse (see `r1exp.tasks.math.verify.parse_math`), and `verify` decides;
decimals are compared exactly (see the guard). A gold that yields no math object is unparsable: that
row scores None and `math/gold_unparsable` is counted (not a refusal, whatever the answer).

Every verification runs in worker processes with a hard time bound per pair (see
`r1exp.tasks.math.verify`): an overrun is 0.0 (`math/timeout`), a pair whose worker died twice too
(`math/crash`). Identical (gold, claims) pairs, common among the completions of one prompt, are
verified once per call; a claim that is the gold's own text (whitespace aside) is equal without a
worker, and without asking whether math-verify can parse that gold.
"""

from __future__ import annotations

from typing import Any

from r1exp.common.answers import last_answer, scored_text
from r1exp.rewards.base import Reward
from r1exp.tasks.math.guard import Reading, read_answer, read_gold
from r1exp.tasks.math.verify import CRASH, GOLD_UNPARSABLE, OK, TIMEOUT, Verifier

__all__ = ["CRASH", "OK", "TIMEOUT", "MathCorrect", "math_correct", "read_completion"]


def read_completion(gold: str, text: str) -> Reading:
    """The guard's reading of a scored text's last answer block against `gold` (claims or a refusal)."""
    return read_answer(gold, last_answer(text))


def _same_text(claim: str, gold: str) -> bool:
    """Whether a claim is the (normalised) gold's text, whitespace aside."""
    return "".join(claim.split()) == "".join(gold.split())


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
        is a pair whose worker died twice (`math/crash`). A refused answer is 0.0
        (`math/refused/<reason>`).
        """
        verifier = self.verifier(workers, timeout)
        golds = answer if answer is not None else [None] * len(completions)
        jobs: dict[tuple[str, tuple[str, ...] | None], list[int]] = {}
        refused: dict[tuple[str, tuple[str, ...] | None], dict[str, int]] = {}
        identical: list[int] = []
        for i, (p, c, g) in enumerate(zip(prompts, completions, golds, strict=True)):
            if g is None:
                continue
            gold = str(g)
            reading = read_completion(gold, scored_text(p, c))
            gold_text = read_gold(gold).text or gold
            if reading.claims and all(_same_text(claim, gold_text) for claim in reading.claims):
                # The gold's own text, in an allowed shape: equal without a worker (the common case
                # for a right answer, which boxes the gold as written).
                identical.append(i)
                continue
            # A refused answer is graded as no answer, so an unparsable gold is still told apart.
            key = (gold_text, reading.claims or None)
            jobs.setdefault(key, []).append(i)
            if reading.reason is not None:
                reasons = refused.setdefault(key, {})
                reasons[reading.reason] = reasons.get(reading.reason, 0) + 1
        out: list[float | None] = [None] * len(completions)
        for i in identical:
            out[i] = 1.0
        if not jobs:
            return out
        for key, (status, result) in zip(jobs, verifier.map(list(jobs)), strict=True):
            rows = jobs[key]
            if result == GOLD_UNPARSABLE:
                if counters is not None:
                    counters.add("math/gold_unparsable", len(rows))
                continue
            if counters is not None:
                for reason, n in refused.get(key, {}).items():
                    counters.add(f"math/refused/{reason}", n)
                if status in (TIMEOUT, CRASH):
                    counters.add(f"math/{status}", len(rows))
            for i in rows:
                out[i] = float(result)
        return out


math_correct = MathCorrect()
