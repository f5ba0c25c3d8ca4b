"""Sample recording: prompt, completion and per-term rewards of `logger.samples_per_step` completions
every `logger.samples_every` steps (and at step 1) into samples.jsonl, captured where the rewards are
computed (the recorder observes every reward term)."""

from __future__ import annotations

from r1exp.features import Feature, Run, Slot


class Samples(Feature):
    name = "samples"

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.logger.samples_every > 0 and cfg.logger.samples_per_step > 0

    def attach(self, run: Run) -> None:
        from r1exp.tracking.callbacks import SampleRecorder

        logger = self.cfg.logger
        recorder = SampleRecorder(run.out / "samples.jsonl", run.terms, logger.samples_every, logger.samples_per_step)
        run.observers.append(recorder)
        run.callbacks.append((Slot.AFTER_METRICS, recorder))


FEATURE = Samples
