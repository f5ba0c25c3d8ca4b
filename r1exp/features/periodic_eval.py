"""Periodic evaluation: greedy answers on a fixed held-out set every `periodic_eval.every` steps.

The set is the bench when one is chosen, else the data's test split; its eval/* numbers join the
metrics row of the step they were computed at (so its callback runs before the metrics callback).
"""

from __future__ import annotations

from r1exp.features import Feature, Run, Slot


class PeriodicEval(Feature):
    name = "periodic_eval"

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.periodic_eval.every > 0

    def attach(self, run: Run) -> None:
        from r1exp.tasks import task_of
        from r1exp.tracking.callbacks import PeriodicEvalCallback

        s = self.cfg
        pe, reward = self.cfg.periodic_eval, self.cfg.reward
        callback = PeriodicEvalCallback(
            run.data.eval_rows[: pe.prompts],
            run.terms,
            reward.accuracy_term,
            reward.format_term,
            pe.every,
            pe.max_new_tokens,
            pe.batch_size,
            format_metric=reward.format_metric,
            task=task_of(s.bench if s.bench_name else s.data),
        )
        run.callbacks.append((Slot.BEFORE_METRICS, callback))


FEATURE = PeriodicEval
