"""Typed schemas of the config groups r1exp owns, as Hydra structured configs.

Each option file of a group names its schema first in its defaults list, e.g. conf/data/math.yaml:

    defaults:
      - /schema/data/math@_here_
      - _self_

so Hydra merges the file onto the dataclass: a key the schema lacks or a value of the wrong type
fails at compose time with the key's name (`data.train_size=abc`, a typo in an experiment file).
A config file of the user's own (a new task's data file) may name a schema or none. What types cannot
say (ranges, rules across the fields of a section) each schema checks itself: its `RANGES` and its
`check()`; what a section needs of the machine (a GPU, a wandb account) is its `validate()`.
`r1exp.sections` converts the composed config into these objects once, at a command's entry, and runs
the checks in the order the sections come. `trainer` and `generation` are GRPOConfig options, checked
against GRPOConfig's own fields in `r1exp.grpo_args`.

Hydra's `+key=value` adds a key even to a typed node, so the schemas alone cannot refuse one:
`r1exp.config.check_keys` does, right after composition, against `Root` (the top level) and each
node's schema (`+sede=3`, `+data.trian_size=5`), naming the closest valid key.

The schemas are stored in Hydra's ConfigStore by `store()`, which the `hydra_plugins/r1exp_schema`
plugin calls when Hydra starts (every entry point: launch.py, the compose API, notebooks).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from omegaconf import MISSING

from r1exp.common.arith import ALL_OPS
from r1exp.common.ranges import Range, check_ranges, require
from r1exp.errors import ConfigError, one_line

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

    RANGES: ClassVar[dict[str, Range]] = {
        "train_size": Range(0, whole=True, optional=True, fix="null: every row the test split leaves"),
        "test_size": Range(0, whole=True, optional=True, fix="null: the source's own default"),
    }

    def check(self, group: str = "data") -> None:
        """Rules across this source's own fields (none for most sources)."""

    def get(self, key: str, default: Any = None) -> Any:
        """A key's value, or `default`: a data section reads like its config node, so a data source
        written against the node (`data.get("path")`) takes either."""
        return getattr(self, key, default)


@dataclass
class CountdownData(DataBase):
    source: str = "countdown"
    min_numbers: int = 3
    max_numbers: int = 4
    min_value: int = 1
    max_value: int = 99
    min_target: int = 10
    max_target: int = 100
    ops: str = ALL_OPS
    # When set, each instance draws its allowed ops from these (mixed easy/hard data for curricula).
    ops_mix: Optional[list[str]] = None

    def check(self, group: str = "data") -> None:
        """Counts, values and targets are ranges low <= high; ops are a subset of +-*/ without repeats."""
        if not 2 <= self.min_numbers <= self.max_numbers <= 6:
            raise ConfigError(
                f"{group}.min_numbers={self.min_numbers}, {group}.max_numbers={self.max_numbers}: "
                "need 2 <= min_numbers <= max_numbers <= 6"
            )
        if not 0 <= self.min_value <= self.max_value:
            raise ConfigError(f"{group}.min_value/max_value: need 0 <= min_value <= max_value")
        if self.min_target > self.max_target:
            raise ConfigError(f"{group}.min_target/max_target: need min_target <= max_target")
        for ops in (self.ops, *(self.ops_mix or ())):
            if not ops or set(ops) - set(ALL_OPS) or len(set(ops)) != len(ops):
                where = f"{group}.ops_mix" if self.ops_mix else f"{group}.ops"
                raise ConfigError(f"{where}: {ops!r} is not a subset of '+-*/' without repeats")


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

    FIELDS: ClassVar[tuple[str, ...]] = (
        "question_field",
        "reference_field",
        "options_field",
        "label_field",
        "difficulty_field",
    )

    def check(self, group: str = "data") -> None:
        """Field names are names; a question, and a reference or a multiple-choice pair to build one from."""
        for key in self.FIELDS:
            value = getattr(self, key)
            require(
                value is None or (isinstance(value, str) and bool(value)),
                f"{group}.{key}={value!r} must be a field name or null",
            )
        require(bool(self.question_field), f"{group}.question_field is empty: name the field that holds the question")
        require(
            bool(self.reference_field) or bool(self.options_field and self.label_field),
            f"{group}.reference_field is null and no multiple-choice fields are set: set {group}.reference_field, "
            f"or {group}.options_field and {group}.label_field",
        )


# --- template -------------------------------------------------------------------------------------


@dataclass
class Template:
    """How a row's question becomes the prompt, and a worked solution the completion (r1exp.common.templates)."""

    name: str = MISSING
    # The prompt: {question} is the row's question, {answer_example} the data's answer_example.
    text: str = MISSING
    # The format asks for a <think> block (format rewards read it: `${template.think}`).
    think: bool = True
    # Chat messages (an optional system message, then the user's) instead of plain text.
    chat: bool = False
    system: Optional[str] = None
    # The completion a model following the template writes, {think} and {answer} filled in (reference-
    # guided groups, cold-start traces); null: none, and those features are refused.
    guide: Optional[str] = None

    def check(self) -> None:
        require("{question}" in self.text, f"template.text of template={self.name} must contain {{question}}")


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

    def check(self) -> None:
        """Each term is {fn, weight, kwargs} or null, and no two terms count the same thing."""
        from r1exp.rewards.base import term_spec

        seen: dict[str, str] = {}
        for name, spec in self.terms.items():
            if spec is None:
                continue
            term_spec(str(name), spec)
            # Two terms with the same function and settings count one thing twice (e.g. +experiment=smoke's
            # soft_format term on top of reward=zh_general's own soft format term).
            key = f"{spec.get('fn')}|{sorted((spec.get('kwargs') or {}).items())}"
            if key in seen:
                raise ConfigError(
                    f"reward.terms.{seen[key]} and reward.terms.{name} are the same reward ({spec.get('fn')}): it "
                    f"would count twice; drop one with reward.terms.{name}=null"
                )
            seen[key] = str(name)

    def active_terms(self) -> dict[str, dict[str, Any]]:
        """The terms switched on: name -> {fn, weight, kwargs}."""
        return {str(name): spec for name, spec in self.terms.items() if spec is not None}


@dataclass
class Lora:
    name: str = MISSING
    # null: full fine-tune.
    r: Optional[int] = None
    alpha: Optional[int] = None
    dropout: float = 0.0
    # A list of module names, or a string peft understands ("all-linear").
    target_modules: Any = None

    RANGES: ClassVar[dict[str, Range]] = {
        "r": Range(1, whole=True, optional=True, fix="the adapters' rank; null: full fine-tune"),
        "alpha": Range(1, whole=True, optional=True),
        "dropout": Range(0, 1, high_open=True, optional=True),
    }

    def check(self) -> None:
        if self.r is not None:
            check_ranges(self, "lora", self.RANGES)


@dataclass
class Logger:
    name: str = MISSING
    jsonl: bool = True
    wandb: bool = False
    samples_every: int = 0
    samples_per_step: int = 0
    project: Optional[str] = None
    entity: Optional[str] = None

    RANGES: ClassVar[dict[str, Range]] = {
        "samples_every": Range(0, whole=True, optional=True, fix="record samples every N steps; 0 never"),
        "samples_per_step": Range(0, whole=True, optional=True, fix="completions recorded each time"),
    }

    def check(self) -> None:
        check_ranges(self, "logger", self.RANGES)
        every, per_step = self.samples_every, self.samples_per_step
        require(
            every == 0 or per_step >= 1,
            f"logger.samples_every={every} records nothing with logger.samples_per_step={per_step!r}; set "
            "samples_per_step >= 1, or samples_every=0",
        )

    def validate(self) -> None:
        """logger=wandb online needs an account key: said before training, not at wandb's prompt."""
        if not self.wandb:
            return
        mode = os.environ.get("WANDB_MODE", "online").strip().lower()
        if mode in WANDB_LOCAL_MODES or os.environ.get("WANDB_API_KEY") or _wandb_netrc_key():
            return
        raise ConfigError(
            f"logger=wandb with WANDB_MODE={mode} needs a wandb API key and none is set: run `wandb login`, set "
            "WANDB_API_KEY, or run with WANDB_MODE=offline (sync later) or logger=jsonl"
        )


# WANDB_MODE values under which wandb needs no account.
WANDB_LOCAL_MODES = ("offline", "disabled", "dryrun")


def _wandb_netrc_key() -> bool:
    """Whether ~/.netrc (where `wandb login` writes) holds a key for the wandb host."""
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    try:
        entry = netrc.netrc().authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return False
    return bool(entry and entry[2])


@dataclass
class PeriodicEval:
    # Every N optimizer steps; 0 = off.
    every: int = 0
    prompts: int = 64
    max_new_tokens: int = 1024
    batch_size: int = 32

    RANGES: ClassVar[dict[str, Range]] = {
        "every": Range(0, whole=True, optional=True, fix="evaluate every N steps; 0 turns it off"),
        "prompts": Range(1, whole=True, optional=True),
        "max_new_tokens": Range(1, whole=True, optional=True),
        "batch_size": Range(1, whole=True, optional=True),
    }

    def check(self) -> None:
        check_ranges(self, "periodic_eval", self.RANGES)


# --- model --------------------------------------------------------------------------------------

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass
class Model:
    """A model preset (conf/model/): weights loaded from `path`, or built here (`builder: tiny`)."""

    name: str = MISSING
    # Hub id or local directory, loaded with from_pretrained.
    path: Optional[str] = None
    revision: Optional[str] = None
    dtype: str = "auto"
    instruct: bool = False
    # null: loaded from path; tiny: built offline from `tiny` (r1exp.models).
    builder: Optional[str] = None
    cache_dir: Optional[str] = None
    tiny: Optional[dict[str, Any]] = None

    def check(self) -> None:
        require(self.dtype in DTYPES, f"model.dtype={self.dtype!r} is unknown; use one of {', '.join(DTYPES)}")
        if self.builder == "tiny" and self.path:
            raise ConfigError(
                f"model.path={self.path} is ignored by model=tiny, which builds its own offline model; drop "
                "model.path, or choose a model preset (model=qwen0.5b ...) to load that path"
            )


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

    RANGES: ClassVar[dict[str, Range]] = {
        "per_device_train_batch_size": Range(1, whole=True, optional=True),
        "gradient_accumulation_steps": Range(1, whole=True, optional=True),
        "nodes": Range(1, whole=True, optional=True),
        "processes_per_node": Range(1, whole=True, optional=True),
        "gpus_per_node": Range(0, whole=True, optional=True),
        "vllm_server_gpus": Range(0, whole=True, optional=True),
        "max_memory_gb": Range(0, low_open=True, optional=True, fix="GiB; null: no cap"),
    }

    def check(self) -> None:
        require(self.device in ("cpu", "cuda"), f"hardware.device={self.device!r} is unknown; use cpu or cuda")
        check_ranges(self, "hardware", self.RANGES)

    def validate(self) -> None:
        """A CUDA preset needs a visible GPU (the machine, checked after every value)."""
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ConfigError(
                    f"hardware={self.name} needs a CUDA GPU and none is visible; use hardware=cpu on this machine"
                )


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

# judge.backend: an OpenAI-compatible server, or the run's reference model in process.
BACKENDS = ("openai", "reference")
# The placeholders each judge prompt template must hold; each becomes a quoted block.
PLACEHOLDERS = {"answer": ("question", "reference", "answer"), "reasoning": ("question", "reasoning")}
# The largest judge.score_scale the score line can write (four integer digits).
MAX_SCORE_SCALE = 1000
# Letters, digits and `_`, not starting with a digit: what a shell can `export`.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# A key made only of letters, digits and `_` (`gsk_` + 52 random characters) still has a long word with
# digits or with both cases; the words of a variable name are short, or spelled in one case.
_KEY_LIKE_WORD = re.compile(
    r"(?=[A-Za-z0-9]*[0-9]|[A-Za-z0-9]*[a-z][A-Za-z0-9]*[A-Z]|[A-Za-z0-9]*[A-Z][A-Za-z0-9]*[a-z])[A-Za-z0-9]{16,}"
)
KEY_IN_CONFIG = (
    "judge.openai.api_key_env must be the NAME of an environment variable (letters, digits and _, e.g. "
    "JUDGE_API_KEY); the value given is not one and may be the key itself, so it is not shown: run "
    "`export JUDGE_API_KEY=<the key>` and pass judge.openai.api_key_env=JUDGE_API_KEY"
)


def is_env_name(value: Any) -> bool:
    """True for a plausible environment-variable name; False for anything else, a key pasted in its place included."""
    if not isinstance(value, str) or _ENV_NAME.fullmatch(value) is None:
        return False
    return not any(_KEY_LIKE_WORD.fullmatch(word) for word in value.split("_"))


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

    RANGES: ClassVar[dict[str, Range]] = {
        "max_chars": Range(1, whole=True),
        "max_reply_bytes": Range(64, whole=True, fix="bytes of a judge reply; 65536 is usual"),
        "openai.concurrency": Range(1, whole=True),
        "openai.timeout_s": Range(0.001),
        "openai.retries": Range(0, whole=True),
        "openai.backoff_s": Range(0),
        "openai.max_backoff_s": Range(0),
        "openai.temperature": Range(0),
        "openai.max_tokens": Range(1, whole=True),
        "reference.max_new_tokens": Range(1, whole=True),
        "reference.batch_size": Range(1, whole=True),
    }

    def check(self) -> Judge:
        """The settings a judge reward runs with (checked when a reward term uses the judge); returns self."""
        # First, and never echoed: a key pasted here must not reach any message.
        key_env = self.openai.api_key_env
        require(key_env is None or is_env_name(key_env), KEY_IN_CONFIG)
        require(
            self.backend in BACKENDS, f"judge.backend={self.backend!r} is unknown; use one of {', '.join(BACKENDS)}"
        )
        for kind, names in PLACEHOLDERS.items():
            template = self.prompts.get(kind)
            require(
                isinstance(template, str) and bool(template.strip()),
                f"judge.prompts.{kind}={template!r} must be a non-empty string",
            )
            missing = [f"{{{n}}}" for n in names if f"{{{n}}}" not in template]
            require(not missing, f"judge.prompts.{kind} must contain {', '.join(missing)}")
        require("{prompt}" in self.reference.chat_wrapper, "judge.reference.chat_wrapper must contain {prompt}")
        for key in ("openai.base_url", "openai.model", "replies_path", "openai.cache_dir"):
            group, _, name = key.rpartition(".")
            value = getattr(getattr(self, group) if group else self, name)
            optional = name in ("replies_path", "cache_dir")
            require(
                (value is None and optional) or (isinstance(value, str) and bool(value.strip())),
                f"judge.{key}={value!r} must be a non-empty string",
            )
        for key, allowed in self.RANGES.items():
            group, _, name = key.rpartition(".")
            allowed.check_value(getattr(getattr(self, group) if group else self, name), f"judge.{key}")
        rate = self.max_failure_rate
        require(
            0 <= rate <= 1,
            f"judge.max_failure_rate={rate!r} must be a number from 0 to 1 (a share of requests)",
        )
        require(
            0 < self.score_scale <= MAX_SCORE_SCALE,
            f"judge.score_scale={self.score_scale!r} must be a number above 0 and at most {MAX_SCORE_SCALE}: the "
            "top of the scale the judge prompts ask for (1 for 0-1, 10 for a 0-10 judge; a score is divided by it)",
        )
        return self


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

    def check(self) -> None:
        require(self.split in ("test", "train"), f"cmd.split={self.split!r}: use test or train")
        require(self.k >= 1, f"cmd.k={self.k} must be at least 1")
        require(
            not (self.temperature == 0 and self.k > 1),
            f"cmd.k={self.k} with cmd.temperature=0: greedy decoding gives one sample; set cmd.k=1",
        )


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

    def check(self) -> None:
        require(
            self.prompt_tokens >= 1,
            f"cmd.prompt_tokens={self.prompt_tokens!r} must be a positive integer (tokens of a prompt)",
        )
        require(
            self.card_gb is None or self.card_gb > 0,
            f"cmd.card_gb={self.card_gb!r} must be a positive number of GiB, or null for the preset's card",
        )


# --- the top level ------------------------------------------------------------------------------


@dataclass
class Contamination:
    # Share of an evaluation problem's n-grams a training text must hold to count as a copy
    # (r1exp/common/contamination.py; measured in docs/benchmarks.md).
    min_overlap: float = 0.65
    # Refuse to train when more than this fraction of an evaluation set is found in training.
    max_fraction: float = 0.01

    RANGES: ClassVar[dict[str, Range]] = {
        "min_overlap": Range(
            0, 1, fix="share of a problem's n-grams a training text must hold to count as a copy; 0.65 measured"
        ),
        "max_fraction": Range(0, 1, fix="the share of an evaluation set found in training that refuses a run"),
    }

    def check(self) -> None:
        check_ranges(self, "contamination", self.RANGES)


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


def typed(node: Any, cls: type) -> Any:
    """A config node as its schema's dataclass (a node composed without the schema is merged onto it)."""
    from omegaconf import OmegaConf

    if node is None:
        return cls()
    if not OmegaConf.is_config(node):
        node = OmegaConf.create(node)
    if OmegaConf.get_type(node) is not cls:
        # Resolved first: merged onto the schema the node leaves its config, and `${template.think}` with it.
        plain = OmegaConf.to_container(node, resolve=True) if node._get_root() is not node else node
        node = OmegaConf.merge(OmegaConf.structured(cls), plain)
    return OmegaConf.to_object(node)


def as_data(data: Any, cls: type) -> Any:
    """A built-in source's data section as its schema `cls` (a node or mapping is typed here), checked."""
    if isinstance(data, cls):
        return data
    from omegaconf.errors import OmegaConfBaseException

    try:
        section = typed(data, cls)
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", "") or "").split(".")[-1]
        value = f"={data.get(key)!r}" if key and hasattr(data, "get") else ""
        message = one_line(getattr(exc, "msg", None) or str(exc))
        raise ConfigError(f"data.{key}{value}: {message}; fix the value" if key else f"data: {message}") from None
    return _checked(section, "data")


def _checked(section: DataBase, group: str) -> DataBase:
    """A typed data section after its schema's checks: `RANGES`, then `check()`."""
    check_ranges(section, group, type(section).RANGES)
    section.check(group)
    return section


def data_section(node: Any, group: str = "data") -> Any:
    """A `data`/`bench` node as its schema's object, checked (`RANGES`, `check()`).

    A data file names its source's schema (`/schema/data/countdown@_here_`); one that names none (a
    user's own task, whose keys are its source's own) stays a node, with the shared keys' ranges checked.
    """
    from omegaconf import OmegaConf

    cls = OmegaConf.get_type(node)
    if not (isinstance(cls, type) and issubclass(cls, DataBase)):
        check_ranges(node, group, DataBase.RANGES)
        return node
    return _checked(typed(node, cls), group)


def curriculum_section(node: Any) -> Any:
    """A `curriculum` node as its kind's schema (`CurriculumNone` when absent or off)."""
    if node is None or node.get("kind") in (None, "none"):
        return CurriculumNone(name=str(node.get("name") or "none")) if node is not None else CurriculumNone()
    kind = str(node.get("kind"))
    cls = SCHEMAS["curriculum"].get(kind)
    if cls is None:
        raise ConfigError(f"curriculum.kind={kind!r} is unknown; use staged or adaptive")
    return typed(node, cls)


def root_keys() -> tuple[str, ...]:
    """Every top-level key r1exp knows (`Root`'s fields); `hydra` is Hydra's own."""
    from dataclasses import fields

    return tuple(f.name for f in fields(Root))


# group -> option name -> schema; stored as /schema/<group>/<name>.
SCHEMAS: dict[str, dict[str, type]] = {
    "data": {"countdown": CountdownData, "math": MathData, "zh_general": ZhGeneralData},
    "template": {"template": Template},
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
