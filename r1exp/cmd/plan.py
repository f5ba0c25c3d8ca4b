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
from omegaconf import DictConfig, OmegaConf

from r1exp.errors import ConfigError
from r1exp.plan import plan_for


def run(cfg: DictConfig) -> dict[str, Any]:
    prompt_tokens = cfg.cmd.get("prompt_tokens")
    if not isinstance(prompt_tokens, int) or isinstance(prompt_tokens, bool) or prompt_tokens < 1:
        raise ConfigError(f"cmd.prompt_tokens={prompt_tokens!r} must be a positive integer (tokens of a prompt)")
    card = cfg.cmd.get("card_gb")
    if card is not None and (isinstance(card, bool) or not isinstance(card, (int, float)) or card <= 0):
        raise ConfigError(f"cmd.card_gb={card!r} must be a positive number of GiB, or null for the preset's card")
    plan = plan_for(OmegaConf.to_container(cfg, resolve=True), int(prompt_tokens), card)
    print(plan.table(), flush=True)
    record = plan.to_dict()
    if HydraConfig.initialized():
        (Path(HydraConfig.get().runtime.output_dir) / "plan.json").write_text(json.dumps(record, indent=1) + "\n")
    if cfg.cmd.get("output"):
        out = Path(to_absolute_path(str(cfg.cmd.output)))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record, indent=1) + "\n")
    return record
