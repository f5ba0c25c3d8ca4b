"""Commands: `cmd=NAME` runs `r1exp.cmd.NAME.run(cfg)`, imported only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import DictConfig

from r1exp.errors import ConfigError

COMMANDS = {"train": "r1exp.cmd.train", "score": "r1exp.cmd.score"}


def run(cfg: DictConfig) -> Any:
    """Dispatch to the chosen command's `run(cfg)`."""
    name = cfg.cmd.name
    if name not in COMMANDS:
        raise ConfigError(f"cmd={name} is unknown; choose one of {', '.join(COMMANDS)}")
    return importlib.import_module(COMMANDS[name]).run(cfg)
