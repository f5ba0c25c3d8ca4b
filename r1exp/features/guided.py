"""Reference-guided GRPO groups (`trainer.guide_with_reference=true`).

In each group the first completion is replaced by the row's reference solution (the run's task renders
it: r1exp.tasks), in the template's format, tokenized and ending with EOS. TRL then scores it, computes
its advantage and its log-probs with the policy like any completion. A reference longer than the token
budget is skipped (counted), never cut. The inserted references' rewards are kept apart, so
`accuracy` and the format metric report the policy's own samples, and guided/* the references'.
"""

from __future__ import annotations

import random
from typing import Any

from r1exp.errors import ConfigError
from r1exp.features import Feature, Run


class GuidedGroups:
    """The trainer's completion hook, a reward-term observer and a metrics source, in one object."""

    def __init__(self, template: Any, reference: Any, seed: int, accuracy_term, format_term, format_metric: str):
        self.template = template
        # (row, rng, wrong_attempts) -> (think, answer) | None: the task's reference completion.
        self.reference = reference
        self.rng = random.Random(seed)
        self.names = ((accuracy_term, "accuracy"), (format_term, format_metric))
        self.counts = {"guided": 0, "samples": 0, "skipped": 0}
        # Which completions of the current generation batch (this process) are inserted references,
        # and per reward term the sums of policy and guided values since the last drain.
        self.mask: list[bool] | None = None
        self.sums: dict[str, dict[str, list[float]]] = {"policy": {}, "guided": {}}

    def begin_batch(self) -> None:
        self.mask = None

    def __call__(self, trainer: Any, rows: list[dict], completion_ids: list, logprobs: list | None, n: int):
        """Insert the references into this process's completions of a generation batch (groups of n)."""
        offset = trainer.accelerator.process_index * len(completion_ids)
        eos = trainer.eos_token_ids[0] if trainer.eos_token_ids else trainer.processing_class.eos_token_id
        self.mask = [False] * len(completion_ids)
        for i, row in enumerate(rows):
            self.counts["samples"] += 1
            if (offset + i) % n != 0:
                continue
            ids = self.reference_ids(row, trainer.processing_class, trainer.max_completion_length)
            if ids is None:
                continue
            # reference_ids returns only references that fit the budget with their EOS.
            completion_ids[i] = [*ids, eos]
            if logprobs is not None:
                # Sampling log-probs exist only for generated text; none for the inserted solution.
                logprobs[i] = None
            self.mask[i] = True
            self.counts["guided"] += 1
        return completion_ids, logprobs

    def reference_ids(self, row: dict[str, Any], tokenizer: Any, budget: int) -> list[int] | None:
        """Token ids of the row's reference completion: a clean trace, or just its final line if that fits.

        None when the row has no reference, or when even the short form does not fit the token budget
        with its EOS: a reference cut mid-answer would teach a broken completion (counted as skipped).
        """
        from r1exp.common.templates import render_reference

        parts = self.reference(row, self.rng, 0)
        if parts is None:
            return None
        think, answer = parts
        # The whole reasoning, else its last line; a reference with no reasoning (a reference answer)
        # has one form only.
        lines = think.splitlines()
        for candidate in dict.fromkeys((think, lines[-1] if lines else think)):
            text = render_reference(self.template, candidate, answer)
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            if len(ids) < budget:
                return ids
        self.counts["skipped"] += 1
        return None

    def observe(self, name: str, prompts, completions, values, columns) -> None:
        """A reward-term observer: sums each term's values apart for policy samples and inserted references."""
        mask = self.mask
        if mask is None or len(mask) != len(values):
            return
        for guided, value in zip(mask, values, strict=True):
            if value is not None:
                sums = self.sums["guided" if guided else "policy"].setdefault(name, [0.0, 0])
                sums[0] += float(value)
                sums[1] += 1

    def drain(self) -> dict[str, Any]:
        """Guided share and skips since the last call, and per-term means of policy and guided samples."""
        counts, self.counts = self.counts, {"guided": 0, "samples": 0, "skipped": 0}
        sums, self.sums = self.sums, {"policy": {}, "guided": {}}
        if not counts["samples"]:
            return {}
        means = {side: {t: s / n for t, (s, n) in terms.items() if n} for side, terms in sums.items()}
        return {"share": counts["guided"] / counts["samples"], "skipped": counts["skipped"], **means}

    def into_row(self, row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """Accuracy and format of the policy's own samples under the usual names; the references' apart
        (guided/accuracy, guided/<format metric>). TRL's rewards/<term> stay the mean over all samples.
        """
        values = dict(values)
        policy, guided = values.pop("policy", {}), values.pop("guided", {})
        for term, name in self.names:
            if term is None:
                continue
            if term in policy:
                row[name] = policy[term]
            if term in guided:
                values[name] = guided[term]
        return values


class Guided(Feature):
    name = "guided"

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.groups: GuidedGroups | None = None

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.trainer.guide_with_reference

    def check(self, run: Run) -> None:
        if self.cfg.use_vllm:
            raise ConfigError("trainer.guide_with_reference=true needs generation=hf (vLLM sampling log-probs)")

    def trainer_kwargs(self, run: Run) -> dict[str, Any]:
        from r1exp.tasks import task_of

        reward = self.cfg.reward
        self.groups = GuidedGroups(
            self.cfg.template,
            task_of(self.cfg.data).reference,
            self.cfg.seed,
            reward.accuracy_term,
            reward.format_term,
            reward.format_metric,
        )
        return {"completion_hooks": [self.groups]}

    def attach(self, run: Run) -> None:
        run.observers.append(self.groups.observe)
        run.sources["guided"] = self.groups


FEATURE = Guided
