"""cmd=train's features as plug-ins: a feature is one class in its own module and one config entry.

`features:` in conf/config.yaml lists them (a built-in name is the module `r1exp.features.<name>`, whose
`FEATURE` is the class; `pkg.module:Class` names one of your own). Each decides from its own config
section whether it is on (`enabled`), so `curriculum=none` or `periodic_eval.every=0` leaves it out.
cmd/train.py calls the hooks below at fixed points and names no feature:

    check(run)            before any model loads, with the other value checks
    grpo_args(run)        GRPOConfig options the feature needs (curriculum: ignore_data_skip)
    on_data(run)          the train/eval rows are built (curriculum: its schedule over them)
    base_model(run, path) the model GRPO starts from and its record (cold start: SFT first)
    trainer_kwargs(run)   keyword arguments of r1exp's GRPOTrainer subclass
    attach(run)           the trainer exists: reward observers, callbacks (`Slot`), metrics sources
    on_resume(run, ckpt)  resuming from a checkpoint (curriculum: restore its state)
    before_train(run)     the run's records are written; last chance to set the environment (wandb)
    on_finish(run, rec)   the run finished; add to manifest.json's record

Callbacks are ordered by slot, and within a slot by the order of `features:`:
the step timer, BEFORE_METRICS (periodic eval: its eval/* numbers join the step's row), the metrics
callback, the console bar, AFTER_METRICS (samples, curriculum), the checkpoint marker (the last of
r1exp's on_save handlers), LAST (wandb: it logs the names metrics.jsonl holds).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from r1exp.errors import ConfigError


class Slot(IntEnum):
    """Where a feature's callback goes among r1exp's own (see the module docstring)."""

    BEFORE_METRICS = 1
    AFTER_METRICS = 2
    LAST = 3


@dataclass
class Run:
    """What the features see of a training run; filled in as cmd=train builds it."""

    # The typed config sections (r1exp.sections.Sections).
    cfg: Any
    out: Path
    terms: list[Any]
    counters: Any
    # The reference model's handle for terms that read it (the judge on the reference model).
    reference: Any = None
    args: Any = None
    data: Any = None
    trainer: Any = None
    timer: Any = None
    # Reward-term observers: observe(name, prompts, completions, values, columns), shown every reward call.
    observers: list[Any] = field(default_factory=list)
    # (slot, callback) pairs, and metrics sources: prefix -> object with drain() (and optionally amend()).
    callbacks: list[tuple[Slot, Any]] = field(default_factory=list)
    sources: dict[str, Any] = field(default_factory=dict)


class Feature:
    """One plug-in of cmd=train; every hook is optional (the defaults do nothing)."""

    #: The name used in `features:` and in messages.
    name = "feature"

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg

    @classmethod
    def enabled(cls, cfg: Any) -> bool:
        """Whether the run's config turns the feature on."""
        return True

    def check(self, run: Run) -> None:
        """Refuse a config the feature cannot run, in one ConfigError line."""

    def grpo_args(self, run: Run) -> dict[str, Any]:
        return {}

    def on_data(self, run: Run) -> None:
        pass

    def base_model(self, run: Run, path: str) -> tuple[str, dict[str, Any]] | None:
        """(path, record) of the model GRPO starts from instead of `path`; None: `path` unchanged."""
        return None

    def trainer_kwargs(self, run: Run) -> dict[str, Any]:
        return {}

    def attach(self, run: Run) -> None:
        pass

    def on_resume(self, run: Run, checkpoint: Path) -> None:
        pass

    def before_train(self, run: Run) -> None:
        pass

    def on_finish(self, run: Run, record: dict[str, Any]) -> None:
        pass


def feature_class(name: str) -> type[Feature]:
    """The class of a `features:` entry: a built-in name or an import path `pkg.module:Class`."""
    module, _, attr = name.partition(":") if ":" in name else (f"r1exp.features.{name}", ":", "FEATURE")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"features: {name!r} is neither a built-in feature (a module of r1exp/features/) nor an import "
            f"path pkg.module:Class ({type(exc).__name__}: {exc}); fix or remove the entry"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Feature)):
        raise ConfigError(f"features: {name!r} is {cls!r}, not a subclass of r1exp.features.Feature")
    return cls


def build_features(names: list[str], cfg: Any) -> list[Feature]:
    """The features the config turns on, in the order `features:` lists them."""
    out = []
    for name in names:
        cls = feature_class(str(name))
        if cls.enabled(cfg):
            out.append(cls(cfg))
    return out


def ordered_callbacks(run: Run, timer: Any, metrics: Any, console: Any, marker: Any) -> list[Any]:
    """r1exp's callbacks and the features' in the one order they need (see the module docstring)."""

    def slot(s: Slot) -> list[Any]:
        return [cb for where, cb in run.callbacks if where == s]

    return [timer, *slot(Slot.BEFORE_METRICS), metrics, console, *slot(Slot.AFTER_METRICS), marker, *slot(Slot.LAST)]
