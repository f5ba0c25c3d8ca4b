"""The composed config as typed section objects, converted once at a command's entry.

`r1exp.cmd.run` builds one `Sections` from Hydra's composed config and hands it to the command; the
commands and the functions below them read attributes of typed objects, never the DictConfig. A
section with a schema (r1exp/schema.py) becomes its dataclass (`OmegaConf.to_object`) and runs its own
checks (`RANGES`, `check()`) as it is converted; `trainer` and `generation` are GRPOConfig options
(checked against GRPOConfig's own fields in r1exp.grpo_args) of which the keys r1exp reads are typed
here. `data` and `bench` become the schema their data file names (`schema.data_section`: Countdown's
`CountdownData` checks its own ranges); a data file of the user's own that names no schema stays a node,
its keys its source's own; `curriculum` becomes its kind's schema (`schema.curriculum_section`).

The order of the checks is the order `check` converts the sections in: the keys (nothing unknown),
the trainer's values first (other sections interpolate them, so a wrong one is reported as itself),
then each section, then the rules across sections, and only then what a command needs of the machine
(`validate`: a GPU, a wandb account), so a wrong value is reported as itself and not as a missing GPU.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from r1exp import schema
from r1exp.common.ranges import Range, check_ranges, is_whole, require
from r1exp.config import check_complete, check_keys, chosen_groups, omegaconf_line
from r1exp.errors import ConfigError
from r1exp.schema import typed

RESUME_MODES = ("auto", "never")
# numpy's and torch's seed range (numpy refuses anything else with a traceback).
SEED_MAX = 2**32 - 1


def _one_line(func):
    """A value OmegaConf cannot resolve while a section is read is one ConfigError line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_line(exc)) from None

    return wrapper


@dataclass(frozen=True)
class Trainer:
    """The trainer group: GRPOConfig options (all of them in `options`), the ones r1exp reads typed."""

    name: str | None  # the conf/trainer option chosen
    beta: float
    max_steps: int
    max_completion_length: int
    num_generations: int
    per_device_train_batch_size: int | None
    gradient_accumulation_steps: int | None
    steps_per_generation: int | None
    generation_batch_size: int | None
    save_total_limit: int | None
    # r1exp's own: insert the row's reference completion into its group (r1exp.features.guided).
    guide_with_reference: bool
    options: Mapping[str, Any]

    # The numeric options whose wrong values TRL accepts or fails on late, each with its range.
    RANGES: ClassVar[dict[str, Range]] = {
        # 0 is allowed: a frozen-policy control run is a standard ablation (learning must come from the lr).
        "learning_rate": Range(0, fix="e.g. 1e-6; 0 for a frozen-policy control"),
        "max_completion_length": Range(1, whole=True, fix="the token budget of each completion"),
        "temperature": Range(0, low_open=True, fix="GRPO samples its groups; 1.0 is usual"),
        "top_p": Range(0, 1, low_open=True, optional=True, fix="nucleus sampling; 1.0 keeps every token"),
        "top_k": Range(0, whole=True, optional=True, fix="0 keeps every token"),
        "min_p": Range(0, 1, optional=True, fix="null turns it off"),
        "num_generations": Range(2, whole=True, fix="GRPO compares the completions of a group; 8 is usual"),
        "beta": Range(0, fix="the KL weight; 0 turns the reference model off"),
        "epsilon": Range(0, 1, low_open=True, high_open=True, optional=True, fix="the clipping range; 0.2 is usual"),
        "epsilon_high": Range(0, low_open=True, optional=True, fix="the upper clipping range; null: epsilon"),
        "num_iterations": Range(1, whole=True, optional=True, fix="policy updates per generation batch"),
        "warmup_steps": Range(
            0, optional=True, fix="a number of steps, or below 1 a fraction of max_steps: 0.1 warms up the first 10 %"
        ),
        "weight_decay": Range(0, optional=True),
        "max_grad_norm": Range(0, optional=True, fix="0 turns clipping off"),
        "max_steps": Range(1, whole=True, fix="the number of optimizer steps to train"),
        "save_steps": Range(1, whole=True, optional=True, fix="checkpoint every N steps"),
    }

    @classmethod
    def of(cls, node: DictConfig) -> Trainer:
        """Check the node's values (before anything reads them as numbers), then type it."""
        check_ranges(node, "trainer", cls.RANGES)
        warmup = node.get("warmup_steps")
        require(
            warmup is None or warmup < 1 or float(warmup).is_integer(),
            f"trainer.warmup_steps={warmup!r}: from 1 up it counts steps, so give a whole number (or a fraction "
            "below 1)",
        )
        options = OmegaConf.to_container(node, resolve=True)
        get = options.get
        limit = get("save_total_limit")
        return cls(
            name=get("name"),
            beta=float(get("beta")),
            max_steps=int(get("max_steps")),
            max_completion_length=int(get("max_completion_length")),
            num_generations=int(get("num_generations")),
            per_device_train_batch_size=get("per_device_train_batch_size"),
            gradient_accumulation_steps=get("gradient_accumulation_steps"),
            steps_per_generation=get("steps_per_generation"),
            generation_batch_size=get("generation_batch_size"),
            save_total_limit=None if limit is None else int(limit),
            guide_with_reference=bool(get("guide_with_reference")),
            options=options,
        )


@dataclass(frozen=True)
class Generation:
    """The generation group: GRPOConfig's generation options (all in `options`), the ones r1exp reads typed."""

    name: str | None  # the conf/generation option chosen
    use_vllm: bool
    vllm_mode: str | None
    # r1exp's own: the longest prompt in tokens, which sizes vLLM's context (null: vLLM's own).
    prompt_budget: int | None
    vllm_max_model_length: int | None
    # generation=paged: transformers' continuous batching.
    paged: bool
    options: Mapping[str, Any]

    RANGES: ClassVar[dict[str, Range]] = {
        "prompt_budget": Range(1, whole=True, optional=True, fix="the longest prompt in tokens, e.g. 1024"),
        "vllm_max_model_length": Range(1, whole=True, optional=True, fix="null: prompt_budget + max_completion_length"),
    }

    @classmethod
    def of(cls, node: DictConfig | None) -> Generation:
        options = OmegaConf.to_container(node, resolve=True) if node is not None else {}
        check_ranges(options, "generation", cls.RANGES)
        return cls(
            name=options.get("name"),
            use_vllm=bool(options.get("use_vllm")),
            vllm_mode=options.get("vllm_mode"),
            prompt_budget=options.get("prompt_budget"),
            vllm_max_model_length=options.get("vllm_max_model_length"),
            paged=bool(options.get("use_transformers_continuous_batching")),
            options=options,
        )


def _node(cfg: DictConfig, key: str) -> Any:
    return cfg._get_node(key) if key in cfg else None


class Sections:
    """What a command reads of the composed config, each section typed and checked on first use.

    `check(command)` converts every section the command reads, in the documented order; a section
    a command does not read (cmd=score's hardware) is never converted, so it cannot fail that command.
    """

    def __init__(self, cfg: DictConfig) -> None:
        # The whole composed config: manifest.json's copy, a run's identity, GRPOConfig's options.
        self.composed = cfg

    # --- the run-wide keys conf/config.yaml sets itself ------------------------------------------

    @cached_property
    def seed(self) -> int:
        seed = self.composed.get("seed")
        require(
            is_whole(seed) and 0 <= seed <= SEED_MAX,
            f"seed={seed!r} must be a whole number in [0, {SEED_MAX}] (it seeds numpy and torch too)",
        )
        return int(seed)

    @cached_property
    def resume(self) -> str:
        mode = self.composed.get("resume", schema.Root.resume)
        require(mode in RESUME_MODES, f"resume={mode!r} is unknown; use one of {', '.join(RESUME_MODES)}")
        return str(mode)

    @cached_property
    @_one_line
    def contamination(self) -> schema.Contamination:
        return self._typed("contamination", schema.Contamination)

    @cached_property
    def features(self) -> tuple[str, ...]:
        return tuple(str(f) for f in (self.composed.get("features") or ()))

    @cached_property
    def launcher(self) -> str:
        """Where the run's jobs run: the launcher group's name (local, slurm)."""
        return str(OmegaConf.select(self.composed, "launcher.name", default=None) or "local")

    # --- the groups -------------------------------------------------------------------------------

    @cached_property
    @_one_line
    def cmd(self) -> Any:
        check_complete(self.composed, ["cmd"])
        node = self.composed.cmd
        cls = schema.SCHEMAS["cmd"].get(str(node.get("name")))
        return self._typed("cmd", cls) if cls is not None else node

    @cached_property
    @_one_line
    def trainer(self) -> Trainer:
        return Trainer.of(self.composed.trainer)

    @cached_property
    @_one_line
    def generation(self) -> Generation:
        return Generation.of(_node(self.composed, "generation"))

    @cached_property
    @_one_line
    def model(self) -> schema.Model:
        return self._typed("model", schema.Model)

    @cached_property
    @_one_line
    def reward(self) -> schema.Reward:
        return self._typed("reward", schema.Reward)

    @cached_property
    @_one_line
    def hardware(self) -> schema.Hardware:
        return self._typed("hardware", schema.Hardware)

    @cached_property
    @_one_line
    def lora(self) -> schema.Lora:
        return self._typed("lora", schema.Lora, name="none")

    @cached_property
    @_one_line
    def logger(self) -> schema.Logger:
        return self._typed("logger", schema.Logger, name="none")

    @cached_property
    @_one_line
    def periodic_eval(self) -> schema.PeriodicEval:
        return self._typed("periodic_eval", schema.PeriodicEval)

    @cached_property
    @_one_line
    def judge(self) -> schema.Judge | None:
        """The judge group (its values are checked by a judge reward that uses it: `schema.Judge.check`)."""
        node = _node(self.composed, "judge")
        return None if node is None or node._is_none() else typed(node, schema.Judge)

    # The task's data source reads these (r1exp.tasks): typed by the schema the data file names.
    @cached_property
    @_one_line
    def data(self) -> Any:
        return schema.data_section(self.composed.data)

    @cached_property
    @_one_line
    def bench(self) -> Any:
        """The bench=SET's data section, or None (bench=none)."""
        node = _node(self.composed, "bench")
        if node is None or node._is_none() or node.get("name") in (None, "none"):
            return None
        return schema.data_section(node, "bench")

    @cached_property
    def template(self) -> schema.Template:
        return self._typed("template", schema.Template)

    @cached_property
    @_one_line
    def curriculum(self) -> Any:
        """The curriculum option as its kind's schema (schema.CurriculumNone when off)."""
        return schema.curriculum_section(_node(self.composed, "curriculum"))

    @cached_property
    @_one_line
    def coldstart(self) -> Any:
        """The coldstart option as its schema (schema.ColdStartNone when off)."""
        node = _node(self.composed, "coldstart")
        name = "none" if node is None or node._is_none() else str(node.get("name"))
        cls = schema.SCHEMAS["coldstart"].get(name)
        if cls is None:
            known = ", ".join(schema.SCHEMAS["coldstart"])
            raise ConfigError(f"coldstart={name} is unknown; use one of {known}")
        return self._typed("coldstart", cls)

    # --- derived ----------------------------------------------------------------------------------

    @cached_property
    @_one_line
    def _resolved(self) -> dict[str, Any]:
        return OmegaConf.to_container(self.composed, resolve=True)

    def resolved(self) -> dict[str, Any]:
        """The whole composed config as plain data, interpolations resolved (manifest.json's copy); computed
        once, so do not change it."""
        return self._resolved

    @property
    def use_vllm(self) -> bool:
        return self.generation.use_vllm

    @property
    def bench_name(self) -> str | None:
        """The bench=SET evaluated on, or None (bench=none)."""
        return None if self.bench is None else str(self.bench.name)

    def prompts_per_step(self) -> int | None:
        """Distinct prompts one generation batch draws (TRL's sampler yields no batch from fewer rows)."""
        from r1exp.distributed import job_layout

        t = self.trainer
        batch = t.generation_batch_size
        if batch is None:
            per_device = t.per_device_train_batch_size
            steps = t.steps_per_generation or t.gradient_accumulation_steps or 1
            if not (is_whole(per_device) and is_whole(steps)):
                return None
            batch = per_device * steps * job_layout(self).world_size
        if not is_whole(batch) or t.num_generations <= 0:
            return None
        return max(1, batch // t.num_generations)

    def step_draws(self, needed: int) -> str:
        return f"{needed} prompt(s) x trainer.num_generations={self.trainer.num_generations}"

    # --- checks -----------------------------------------------------------------------------------

    def read(self, *names: str) -> Sections:
        """Convert (and so check) the named sections now, in the order given."""
        for name in names:
            getattr(self, name)
        return self

    @_one_line
    def check(self, command: str) -> Sections:
        """Convert (and so check) every section `command` reads, in order; then the rules across them."""
        check_keys(self.composed, chosen_groups())
        # A training run's trainer first: other sections interpolate its keys (periodic_eval.max_new_tokens).
        first = ("trainer",) if command == "train" else ()
        self.read(*first, "seed", "resume", "contamination", "template", "reward", "model", "cmd")
        if command != "train":
            return self
        self.read("hardware", "data", "lora", "periodic_eval", "logger", "generation", "coldstart", "curriculum")
        # Anything left: a ??? nothing above reads, an interpolation that does not resolve (the whole
        # config resolved once, the copy manifest.json records).
        check_complete(self.composed, resolve=False)
        self.resolved()
        self.check_train_rules()
        return self

    def check_train_rules(self) -> None:
        """Rules across sections of a training run."""
        limit = self.trainer.save_total_limit
        require(
            limit is None or limit >= 2,
            f"trainer.save_total_limit={limit}: keep at least 2 checkpoints, so a kill during a save always "
            "leaves a complete one to resume from",
        )
        data = self.data
        if data.get("eval_only"):
            return
        train_size = data.get("train_size")
        if train_size == 0:
            raise ConfigError(
                f"data.train_size=0 leaves nothing to train on with data={data.get('name')}; give a positive "
                "number (or null for every row the test split leaves)"
            )
        needed = self.prompts_per_step()
        if train_size is not None and needed is not None and train_size < needed:
            raise ConfigError(
                f"data.train_size={train_size} is fewer rows than one step draws: {self.step_draws(needed)}; give "
                f"data.train_size >= {needed}"
            )
        every = self.periodic_eval.every
        if every > 0 and data.get("test_size") == 0 and self.bench_name is None:
            raise ConfigError(
                f"periodic_eval.every={every} evaluates on the data's test split, and data.test_size=0 "
                "leaves none; give data.test_size > 0, a bench=SET, or periodic_eval.every=0"
            )

    def check_rows(self, train_rows: int, eval_rows: int) -> None:
        """Once the data is built: enough training rows for one step, and held-out rows when periodic
        eval is on (a source's own default sizes, a short file)."""
        name = self.data.get("name")
        needed = self.prompts_per_step()
        if needed is not None and train_rows < needed:
            raise ConfigError(
                f"data={name} gives {train_rows} training row(s), fewer than one step draws "
                f"({self.step_draws(needed)}); give more rows (data.train_size, data.test_size, data.path)"
            )
        every = self.periodic_eval.every
        if every > 0 and eval_rows == 0:
            raise ConfigError(
                f"periodic_eval.every={every} has no held-out rows to evaluate on (data={name}); "
                "give data.test_size > 0, a bench=SET, or periodic_eval.every=0"
            )

    def validate(self) -> None:
        """What a training run needs of the machine, after every value check: a GPU, a wandb account."""
        self.logger.validate()
        self.hardware.validate()

    # --- conversion -------------------------------------------------------------------------------

    def _typed(self, key: str, cls: type, name: str | None = None) -> Any:
        """Section `key` as `cls` (checked); an absent or null section is the schema's defaults."""
        node = _node(self.composed, key)
        if node is None or node._is_none():
            section = cls(name=name) if name is not None else cls()
        else:
            check_complete(self.composed, [key])
            try:
                section = typed(node, cls)
            except OmegaConfBaseException as exc:
                # A section merged onto its schema here (a run's saved config) names its keys from the section.
                raise ConfigError(omegaconf_line(exc, key)) from None
        check = getattr(section, "check", None)
        if check is not None:
            check()
        return section


def sections(cfg: DictConfig, command: str | None = None) -> Sections:
    """The composed config's sections, checked for `command` (default: the config's cmd.name)."""
    return Sections(cfg).check(command or str(cfg.cmd.name))
