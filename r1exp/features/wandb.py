"""wandb (`logger=wandb`): the run dir holds the wandb run and its id, so a resume continues the same
run; transformers' WandbCallback runs after r1exp's callbacks, so it logs the names metrics.jsonl holds.
Only rank 0 logs to wandb and writes the id file."""

from __future__ import annotations

import os
import uuid

from r1exp.features import Feature, Run, Slot


class Wandb(Feature):
    name = "wandb"

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.logger.wandb

    def attach(self, run: Run) -> None:
        from transformers.integrations import WandbCallback

        callback = run.trainer.pop_callback(WandbCallback)
        if callback is not None:
            run.callbacks.append((Slot.LAST, callback))

    def before_train(self, run: Run) -> None:
        """Point wandb at the run dir with one run id per run dir (a run that starts over gets a new one)."""
        from r1exp.distributed import world

        if world()[0] != 0:
            return
        id_file = run.out / "wandb_id.txt"
        if not id_file.exists():
            id_file.write_text(uuid.uuid4().hex[:12])
        logger = self.cfg.logger
        os.environ.setdefault("WANDB_PROJECT", logger.project or "r1exp")
        if logger.entity:
            os.environ.setdefault("WANDB_ENTITY", logger.entity)
        os.environ["WANDB_DIR"] = str(run.out)
        os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
        os.environ["WANDB_RESUME"] = "allow"


FEATURE = Wandb
