"""Curriculum: which prompts each generation batch draws, decided from the pass rate as training goes.

The schedule (r1exp/curriculum) is built over the train rows; the trainer draws batches through its
sampler; the accuracy term's values feed it; its state is saved with every checkpoint and restored on
resume (so the trainer does not replay batches to skip data: `ignore_data_skip`), and its stage
changes go into manifest.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from r1exp.errors import ConfigError
from r1exp.features import Feature, Run, Slot


class Curriculum(Feature):
    name = "curriculum"

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.schedule: Any = None

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.curriculum.kind != "none"

    def check(self, run: Run) -> None:
        if not self.cfg.reward.accuracy_term:
            raise ConfigError(f"curriculum={self.cfg.curriculum.name} needs reward.accuracy_term (the pass signal)")

    def grpo_args(self, run: Run) -> dict[str, Any]:
        # The curriculum's own state is restored from the checkpoint; replaying batches would move it.
        return {"ignore_data_skip": True}

    def on_data(self, run: Run) -> None:
        from r1exp.curriculum import build_curriculum

        self.schedule = build_curriculum(self.cfg.curriculum, run.data.train_rows, self.cfg.seed)

    def trainer_kwargs(self, run: Run) -> dict[str, Any]:
        return {"curriculum": self.schedule}

    def attach(self, run: Run) -> None:
        from r1exp.curriculum import CurriculumCallback

        schedule, accuracy_term = self.schedule, self.cfg.reward.accuracy_term

        def feed(name, prompts, completions, values, columns):
            state = columns.get("trainer_state")
            if name == accuracy_term and columns.get("row_id") is not None:
                schedule.observe(columns["row_id"], values, (state.global_step + 1) if state else 0)

        callback = CurriculumCallback(schedule)
        run.observers.append(feed)
        run.callbacks.append((Slot.AFTER_METRICS, callback))
        run.sources["curriculum"] = callback

    def on_resume(self, run: Run, checkpoint: Path) -> None:
        from r1exp.curriculum.sampler import load_state

        if load_state(self.schedule, checkpoint) is None:
            raise ConfigError(f"{checkpoint} has no curriculum state; resume with the curriculum the run started with")

    def on_finish(self, run: Run, record: dict[str, Any]) -> None:
        record["curriculum"] = self.schedule.state_dict().get("changes")


FEATURE = Curriculum
