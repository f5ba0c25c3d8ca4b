"""cmd=train's config as typed section objects, converted once at the command's entry.

The sections with a schema (r1exp/schema.py) become their dataclass (`OmegaConf.to_object`), so the
code below the entry reads attributes with the schema's types and defaults instead of string lookups
with a default written again. `trainer` and `generation` are GRPOConfig options (checked against
GRPOConfig's own fields in r1exp.grpo_args); only the keys r1exp itself reads are typed here.
Sections that a module of their own parses (data sources, template, curriculum, cold start) travel as
they are: that module owns their reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from r1exp import schema


@dataclass(frozen=True)
class TrainerKeys:
    """The trainer keys r1exp reads itself (the rest go to GRPOConfig as they are)."""

    beta: float
    max_steps: int
    save_total_limit: int | None
    guide_with_reference: bool


@dataclass(frozen=True)
class TrainSections:
    """What cmd=train reads of the composed config."""

    reward: schema.Reward
    logger: schema.Logger
    periodic_eval: schema.PeriodicEval
    trainer: TrainerKeys
    use_vllm: bool
    seed: int
    features: tuple[str, ...]
    # Parsed by their own modules (r1exp.tasks, r1exp.common.templates, r1exp.curriculum, r1exp.coldstart).
    data: Any
    template: Any
    curriculum: Any
    coldstart: Any
    # The whole composed config: GRPOConfig's options, the model and hardware, manifest.json's copy.
    composed: DictConfig


def typed(node: Any, cls: type) -> Any:
    """The section as its schema's dataclass (a node composed without the schema is merged onto it)."""
    if node is None:
        return cls()
    if OmegaConf.get_type(node) is not cls:
        node = OmegaConf.merge(OmegaConf.structured(cls), node)
    return OmegaConf.to_object(node)


def train_sections(cfg: DictConfig) -> TrainSections:
    """Convert once: the value checks (r1exp.config.check_train) have passed."""
    trainer = cfg.trainer
    limit = trainer.get("save_total_limit")
    return TrainSections(
        reward=typed(cfg.reward, schema.Reward),
        logger=typed(cfg.get("logger"), schema.Logger),
        periodic_eval=typed(cfg.get("periodic_eval"), schema.PeriodicEval),
        trainer=TrainerKeys(
            beta=float(trainer.beta),
            max_steps=int(trainer.max_steps),
            save_total_limit=None if limit is None else int(limit),
            guide_with_reference=bool(trainer.get("guide_with_reference")),
        ),
        use_vllm=bool(cfg.generation.get("use_vllm")),
        seed=int(cfg.seed),
        features=tuple(str(f) for f in (cfg.get("features") or ())),
        data=cfg.data,
        template=cfg.template,
        curriculum=cfg.get("curriculum"),
        coldstart=cfg.get("coldstart"),
        composed=cfg,
    )
