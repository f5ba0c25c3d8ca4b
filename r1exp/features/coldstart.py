"""Cold start (`coldstart=solver_traces`): supervised fine-tuning on solver traces before GRPO
(r1exp/coldstart.py). GRPO starts from the SFT weights, which are also its reference model."""

from __future__ import annotations

from typing import Any

from r1exp.features import Feature, Run


class ColdStart(Feature):
    name = "coldstart"

    @classmethod
    def enabled(cls, cfg) -> bool:
        return cfg.coldstart.name != "none"

    def base_model(self, run: Run, path: str) -> tuple[str, dict[str, Any]]:
        from r1exp.coldstart import cold_start

        model_path = str(cold_start(self.cfg, path, run.data.train_rows, run.out))
        return model_path, {"kind": self.cfg.coldstart.name, "from": path, "path": model_path}


FEATURE = ColdStart
