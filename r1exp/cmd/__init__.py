"""Commands: `cmd=NAME` runs `r1exp.cmd.NAME.run(cfg)`, imported only when chosen."""

from __future__ import annotations

import importlib
from typing import Any

from omegaconf import DictConfig

from r1exp.errors import ConfigError, UserError, exit_with

COMMANDS = {"train": "r1exp.cmd.train", "score": "r1exp.cmd.score"}


def run(cfg: DictConfig) -> Any:
    """Dispatch to the chosen command's `run(cfg)`.

    A user error in a single run is reported here as one line (exit status 2); in a multirun it is
    raised, so Hydra marks that one job failed and the sweep goes on.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    try:
        name = cfg.cmd.name
        if name not in COMMANDS:
            raise ConfigError(f"cmd={name} is unknown; choose one of {', '.join(COMMANDS)}")
        return importlib.import_module(COMMANDS[name]).run(cfg)
    except UserError as exc:
        if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
            raise
        exit_with(exc)
