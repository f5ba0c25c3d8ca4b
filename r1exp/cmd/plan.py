"""cmd=plan: does this config fit my card? Peak GPU memory estimated from the composed config.

No model is loaded and no GPU is needed: shapes come from r1exp.plan's Qwen2.5 table, a local
config.json or the tiny model's spec, so the answer takes seconds. The table goes to stdout and the
figures to plan.json in the run dir (and to cmd.output when set).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path

from r1exp.plan import plan_for
from r1exp.sections import Sections


def run(s: Sections) -> dict[str, Any]:
    # Every section the estimate reads, checked (cmd.prompt_tokens, cmd.card_gb: schema.PlanCmd) before
    # anything is computed, so a wrong value is reported as itself; the trainer first, as other
    # sections interpolate its keys (periodic_eval.max_new_tokens).
    s.check("plan").read("trainer", "hardware", "lora", "generation", "periodic_eval")
    cmd = s.cmd
    plan = plan_for(s, cmd.prompt_tokens, cmd.card_gb)
    print(plan.table(), flush=True)
    record = plan.to_dict()
    if HydraConfig.initialized():
        (Path(HydraConfig.get().runtime.output_dir) / "plan.json").write_text(json.dumps(record, indent=1) + "\n")
    if cmd.output:
        out = Path(to_absolute_path(str(cmd.output)))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1) + "\n")
    return record
