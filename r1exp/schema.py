"""Typed schemas of the config groups r1exp owns, as Hydra structured configs.

Each option file of a group names its schema first in its defaults list, e.g. conf/data/math.yaml:

    defaults:
      - /schema/data/math@_here_
      - _self_

so Hydra merges the file onto the dataclass: a key the schema lacks or a value of the wrong type
fails at compose time with the key's name (`data.train_size=abc`, a typo in an experiment file).
A config file of the user's own (a new task's data file) may name a schema or none. Ranges and rules
across fields, which types cannot say, are checked in `r1exp.config`. `trainer` and `generation` are
GRPOConfig options, checked against GRPOConfig's own fields in `r1exp.grpo_args`.

Hydra's `+key=value` adds a key even to a typed node, so the schemas alone cannot refuse one:
`r1exp.config.check_keys` does, right after composition, against `Root` (the top level) and each
node's schema (`+sede=3`, `+data.trian_size=5`), naming the closest valid key.

The schemas are stored in Hydra's ConfigStore by `store()`, which the `hydra_plugins/r1exp_schema`
plugin calls when Hydra starts (every entry point: launch.py, the compose API, notebooks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING

# OmegaConf reads the annotations at run time and does not support `X | None` (OmegaConf 2.3).
# ruff: noqa: UP045


# --- data ---------------------------------------------------------------------------------------


@dataclass
class DataBase:
    """Keys every data source shares."""

    name: str = MISSING
    # A built-in source (countdown, math, zh_general) or an import path pkg.module:attr.
    source: str = MISSING
    # A local JSONL file, or a hub dataset (hub, hub_config, hub_split).
    path: Optional[str] = None
    hub: Optional[str] = None
    hub_config: Optional[str] = None
    hub_split: str = "train"
    # Evaluation sets: training on them is refused; the whole file is the test split.
    eval_only: bool = False
    # null: every row (evaluation sets), or the source's own default.
    test_size: Optional[int] = None
    train_size: Optional[int] = None
    answer_example: str = ""
    seed: int = 0
    # bench= sets: the correctness reward the set is scored by.
    scored_by: Optional[str] = None


@dataclass
class CountdownData(DataBase):
    source: str = "countdown"
    min_numbers: int = 3
    max_numbers: int = 4
    min_value: int = 1
    max_value: int = 99
    min_target: int = 10
    max_target: int = 100
    ops: str = "+-*/"
    ops_mix: Optional[list[str]] = None


@dataclass
class MathData(DataBase):
    source: str = "math"
    question_field: str = "question"
    answer_field: str = "answer"
    answer_format: str = "field"
    solution_field: Optional[str] = None
    difficulty_field: Optional[str] = None
    extra_fields: list[str] = field(default_factory=list)


@dataclass
class ZhGeneralData(DataBase):
    source: str = "zh_general"
    question_field: Optional[str] = "question"
    reference_field: Optional[str] = "reference"
    options_field: Optional[str] = None
    label_field: Optional[str] = None
    difficulty_field: Optional[str] = None


# --- reward, lora, logger, periodic_eval ------------------------------------------------------------


@dataclass
class Reward:
    name: str = MISSING
    # The term whose mean is `accuracy` (and the curriculum's pass signal); null: none.
    accuracy_term: Optional[str] = None
    format_term: Optional[str] = None
    # The format term's metric name: format_rate (a 0/1 term) or format_credit (partial credit).
    format_metric: str = "format_rate"
    # name -> {fn, weight, kwargs} or null (switched off). Values stay untyped so that
    # `+reward.terms.NAME={...}` can add a term; `r1exp.rewards.base.term_spec` checks their shape.
    terms: dict[str, Any] = field(default_factory=dict)


@dataclass
class Lora:
    name: str = MISSING
    # null: full fine-tune.
    r: Optional[int] = None
    alpha: Optional[int] = None
    dropout: float = 0.0
    # A list of module names, or a string peft understands ("all-linear").
    target_modules: Any = None


@dataclass
class Logger:
    name: str = MISSING
    jsonl: bool = True
    wandb: bool = False
    samples_every: int = 0
    samples_per_step: int = 0
    project: Optional[str] = None
    entity: Optional[str] = None


@dataclass
class PeriodicEval:
    # Every N optimizer steps; 0 = off.
    every: int = 0
    prompts: int = 64
    max_new_tokens: int = 1024
    batch_size: int = 32


# --- hardware -----------------------------------------------------------------------------------


@dataclass
class Hardware:
    name: str = MISSING
    device: str = "cpu"
    bf16: bool = False
    gradient_checkpointing: bool = False
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    # Memory cap in GiB for the process's accelerator; null = no cap.
    max_memory_gb: Optional[float] = None
    # A run is nodes x processes_per_node processes.
    nodes: int = 1
    processes_per_node: int = 1
    gpus_per_node: int = 0
    vllm_server_gpus: int = 0
    # null, zero2, zero3 or a DeepSpeed .json file.
    deepspeed: Optional[str] = None


# --- curriculum, coldstart ----------------------------------------------------------------------


@dataclass
class CurriculumNone:
    name: str = "none"
    kind: str = "none"


@dataclass
class StagedCurriculum:
    name: str = MISSING
    kind: str = "staged"
    window: int = 10
    # [{name, where: {column: [values]}, until_step, until_accuracy}]; checked by the curriculum itself.
    stages: list[Any] = field(default_factory=list)


@dataclass
class AdaptiveCurriculum:
    name: str = MISSING
    kind: str = "adaptive"
    band: list[float] = field(default_factory=lambda: [0.2, 0.8])
    explore: float = 0.25
    floor_weight: float = 0.05


@dataclass
class ColdStartNone:
    name: str = "none"


@dataclass
class SolverTraces:
    name: str = "solver_traces"
    max_steps: int = 200
    learning_rate: float = 1.0e-5
    per_device_train_batch_size: int = 8
    rows: int = 2000
    max_wrong_attempts: int = 2
    max_length: int = 1024


# --- judge --------------------------------------------------------------------------------------


@dataclass
class OpenAIJudge:
    base_url: str = "http://127.0.0.1:8001/v1"
    model: str = MISSING
    api_key_env: Optional[str] = None
    concurrency: int = 8
    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    temperature: float = 0.0
    max_tokens: int = 256
    cache: bool = True
    cache_dir: Optional[str] = None


@dataclass
class ReferenceJudge:
    max_new_tokens: int = 32
    batch_size: int = 8
    chat_wrapper: str = "{system}\n{prompt}"


@dataclass
class Judge:
    # openai (an OpenAI-compatible server) or reference (the run's reference model, in process).
    backend: str = "openai"
    system: str = ""
    max_chars: int = 4000
    replies_path: Optional[str] = None
    # Above this share of failed judge calls in a step, the run stops.
    max_failure_rate: float = 0.2
    # Top of the scale the judge prompts ask for: `SCORE: x` reads as x / score_scale; a score outside
    # [0, score_scale] is a failed judgment (never clamped).
    score_scale: float = 1.0
    # Longest judge reply in bytes (openai: the whole response body, read as a stream); longer fails.
    max_reply_bytes: int = 65536
    openai: OpenAIJudge = field(default_factory=OpenAIJudge)
    reference: ReferenceJudge = field(default_factory=ReferenceJudge)
    prompts: dict[str, str] = field(default_factory=dict)


# --- cmd ----------------------------------------------------------------------------------------


@dataclass
class TrainCmd:
    name: str = "train"


@dataclass
class EvalCmd:
    name: str = "eval"
    checkpoint: Optional[str] = None
    split: str = "test"
    limit: Optional[int] = None
    k: int = 4
    temperature: float = 0.6
    top_p: float = 1.0
    max_new_tokens: int = 1024
    batch_size: int = 32
    correct_threshold: float = 1.0


@dataclass
class ScoreCmd:
    name: str = "score"
    input: str = MISSING
    output: str = MISSING
    overwrite: bool = False


@dataclass
class CompareCmd:
    name: str = "compare"
    runs: Any = MISSING
    output: Optional[str] = None
    # The variant the others are compared with: KEY:VALUE (e.g. trainer.beta:0.04) or a job number; null: the first.
    baseline: Optional[str] = None


@dataclass
class PlanCmd:
    name: str = "plan"
    prompt_tokens: int = 256
    card_gb: Optional[float] = None
    output: Optional[str] = None


# --- the top level ------------------------------------------------------------------------------


@dataclass
class Contamination:
    # Share of an evaluation problem's n-grams a training text must hold to count as a copy
    # (r1exp/common/contamination.py; measured in docs/benchmarks.md).
    min_overlap: float = 0.65
    # Refuse to train when more than this fraction of an evaluation set is found in training.
    max_fraction: float = 0.01


@dataclass
class Root:
    """The top level of the composed config: one key per config group of conf/config.yaml's defaults
    list (typed by the group's own schema), and the run-wide keys conf/config.yaml sets itself.

    Not Hydra's schema for the primary config (a group of the user's own, on `hydra.searchpath`, may
    add its key): `r1exp.config.check_keys` refuses any other top-level key.
    """

    cmd: Any = None
    model: Any = None
    data: Any = None
    bench: Any = None
    template: Any = None
    reward: Any = None
    judge: Any = None
    lora: Any = None
    curriculum: Any = None
    coldstart: Any = None
    trainer: Any = None
    generation: Any = None
    hardware: Any = None
    logger: Any = None
    periodic_eval: Any = None
    launcher: Any = None
    # Seed of data generation, model init and the trainer (numpy's and torch's range: 0 .. 2**32 - 1).
    seed: int = 42
    contamination: Contamination = field(default_factory=Contamination)
    # auto | never (r1exp.config.RESUME_MODES).
    resume: str = "auto"
    # cmd=train's plug-ins (r1exp.features).
    features: list[str] = field(default_factory=list)


def root_keys() -> tuple[str, ...]:
    """Every top-level key r1exp knows (`Root`'s fields); `hydra` is Hydra's own."""
    from dataclasses import fields

    return tuple(f.name for f in fields(Root))


# group -> option name -> schema; stored as /schema/<group>/<name>.
SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"countdown": CountdownData, "math": MathData, "zh_general": ZhGeneralData},
    "reward": {"reward": Reward},
    "lora": {"lora": Lora},
    "logger": {"logger": Logger},
    "periodic_eval": {"periodic_eval": PeriodicEval},
    "hardware": {"hardware": Hardware},
    "curriculum": {"none": CurriculumNone, "staged": StagedCurriculum, "adaptive": AdaptiveCurriculum},
    "coldstart": {"none": ColdStartNone, "solver_traces": SolverTraces},
    "judge": {"judge": Judge},
    "contamination": {"contamination": Contamination},
    "cmd": {"train": TrainCmd, "eval": EvalCmd, "score": ScoreCmd, "compare": CompareCmd, "plan": PlanCmd},
}


def store() -> None:
    """Put every schema in Hydra's ConfigStore (idempotent)."""
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    for group, options in SCHEMAS.items():
        for name, node in options.items():
            cs.store(group=f"schema/{group}", name=name, node=node)
