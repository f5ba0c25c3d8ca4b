"""Map the composed config onto `trl.GRPOConfig`, and validate it without loading a model."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import BooleanNode, FloatNode, IntegerNode, StringNode, ValueNode
from omegaconf.errors import OmegaConfBaseException

from r1exp.distributed import (
    ddp_backend,
    deepspeed_config,
    require_deepspeed,
    single_process_env,
    vllm_max_model_length,
    world,
)
from r1exp.errors import ConfigError, MissingDependencyError, one_line

if TYPE_CHECKING:
    from r1exp.sections import Generation, Sections

# Keys of the trainer group that are r1exp's own, not GRPOConfig options.
OWN_TRAINER_KEYS = {"name", "guide_with_reference"}
# prompt_budget: the longest prompt in tokens, which sizes vLLM's max model length.
GENERATION_KEYS_OWN = {"name", "prompt_budget"}


def _grpo_fields() -> dict[str, dataclasses.Field]:
    from trl import GRPOConfig

    return {f.name: f for f in dataclasses.fields(GRPOConfig)}


# What an option's type is called in a message.
KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
# The node OmegaConf makes for a structured config's field of each type it checks (Optional: null is what
# a config gives to turn an option off, `top_k: null`, and TRL and the group's ranges judge it).
_NODES = {bool: BooleanNode, int: IntegerNode, float: FloatNode, str: StringNode}


def checked_type(annotation: Any) -> type | None:
    """The type OmegaConf checks a GRPOConfig option's values against (bool, int, float or str), or None
    for an annotation it cannot type (`dict | str`, `int | str`, lists), whose values stay unchecked.

    `X | None` is X; an enum of strings or any string (`SchedulerType | str`, TRL's named choices) is str.
    """
    if annotation in KINDS:
        return annotation
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    members = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(members) == 1:
        return checked_type(members[0])
    if str in members and all(isinstance(m, type) and issubclass(m, str) for m in members):
        return str
    return None


@functools.cache
def checked_types() -> dict[str, type]:
    """GRPOConfig's options that OmegaConf can type, each with its type (from TRL's own annotations)."""
    from trl import GRPOConfig

    # Resolved, in case TRL writes its annotations as strings.
    hints = typing.get_type_hints(GRPOConfig)
    return {name: kind for name, annotation in hints.items() if (kind := checked_type(annotation)) is not None}


@functools.cache
def _node(kind: type) -> ValueNode:
    return _NODES[kind](is_optional=True)


def check_types(values: Mapping[str, Any], group: str = "trainer") -> None:
    """Refuse a value whose type is not its GRPOConfig option's: OmegaConf checks it against the node it
    makes for the option's annotation.

    A value OmegaConf accepts only by converting it (`"1"` for a number, `1` or `"yes"` for true/false, a
    number for a string) is refused too: GRPOConfig receives the value as given. A whole number is a number.
    """
    kinds = checked_types()
    for key, value in values.items():
        kind = kinds.get(key)
        if kind is None:
            continue
        try:
            stored = _node(kind).validate_and_convert(value)
        except (OmegaConfBaseException, OverflowError):
            # OverflowError: a whole number beyond a float's range (1.8e308) where a number is expected.
            ok = False
        else:
            ok = type(stored) is type(value) or (kind is float and type(value) is int)
        if not ok:
            raise ConfigError(f"{group}.{key}={value!r} must be {KINDS[kind]} (GRPOConfig.{key}); fix the override")


# A help text's list of allowed values: "Supported values are 'grpo', 'dapo', and 'bnpo'." or
# "Must be one of `'server'` or `'colocate'`." (TRL declares most of its choices only in words).
_CHOICES_SENTENCE = re.compile(r"(?:Supported values are|[Mm]ust be one of)\s*:?\s*(?P<items>[^.]*)\.")
_CHOICE = re.compile(r"`?'([\w-]+)'`?|`([\w-]+)`")


@functools.cache
def declared_choices(name: str) -> tuple[str, ...] | None:
    """The values GRPOConfig declares for option `name` (its `choices` metadata, or the list its help
    sentence spells out), or None when it declares none that can be read as a plain list."""
    field = _grpo_fields().get(name)
    if field is None:
        return None
    if field.metadata.get("choices"):
        return tuple(str(c) for c in field.metadata["choices"])
    found = _CHOICES_SENTENCE.search(str(field.metadata.get("help", "")))
    if found is None:
        return None
    items = found.group("items")
    names = tuple(a or b for a, b in _CHOICE.findall(items))
    rest = set(re.findall(r"[A-Za-z]+", _CHOICE.sub(" ", items)))
    # Only a bare list ("'a', 'b', and 'c'") counts: a sentence that describes the values in between
    # would mix other words in, and the option's own default must be one of them.
    if not names or not rest <= {"or", "and"} or (isinstance(field.default, str) and field.default not in names):
        return None
    return names


def check_choice(key: str, value: Any, group: str = "trainer") -> None:
    """A string option takes one of the values GRPOConfig declares for it (`trainer.loss_type=bogus`)."""
    choices = declared_choices(key) if isinstance(value, str) else None
    if choices and value not in choices:
        from r1exp.config import closest

        guess = closest(value, choices)
        hint = f"did you mean {guess}? " if guess else ""
        raise ConfigError(
            f"{group}.{key}={value!r} is not one of GRPOConfig.{key}'s values; {hint}TRL {_trl_version()} "
            f"takes {', '.join(choices)}"
        )


def _trl_version() -> str:
    import trl

    return trl.__version__


def _unknown_option(group: str, key: str, fields: dict[str, dataclasses.Field]) -> ConfigError:
    from r1exp.config import closest

    guess = closest(key, fields)
    hint = f"did you mean {group}.{guess}?" if guess else "check its spelling"
    return ConfigError(f"{group}.{key} is not a trl.GRPOConfig option (TRL {_trl_version()}); {hint}")


def require_vllm(generation: Generation) -> None:
    """generation=vllm_* needs the vllm package: fail with one line before any model loads."""
    if generation.use_vllm and importlib.util.find_spec("vllm") is None:
        raise MissingDependencyError(
            f"generation={generation.name} needs vLLM, which is not installed: on a GPU machine run "
            "pip install 'r1exp[vllm]', or use generation=hf"
        )


def _options(
    group: str, options: Mapping[str, Any], own: set[str], fields: dict[str, dataclasses.Field]
) -> dict[str, Any]:
    """The group's GRPOConfig options, each a known option of the right type and one of its declared values."""
    given = {key: value for key, value in options.items() if key not in own}
    for key in given:
        if key not in fields:
            raise _unknown_option(group, key, fields)
    check_types(given, group)
    for key, value in given.items():
        check_choice(key, value, group)
    return given


def grpo_kwargs(s: Sections, output_dir: str | Path, reward_weights: list[float]) -> dict[str, Any]:
    """GRPOConfig keyword arguments from trainer, generation, hardware and logger."""
    fields = _grpo_fields()
    kwargs: dict[str, Any] = _options("trainer", s.trainer.options, OWN_TRAINER_KEYS, fields)
    generation = s.generation.options
    kwargs.update(_options("generation", generation, GENERATION_KEYS_OWN, fields))
    if s.generation.paged:
        from r1exp.paged import check_options

        check_options(generation.get("transformers_continuous_batching_config"))
    if generation.get("use_vllm"):
        kwargs["vllm_max_model_length"] = vllm_max_model_length(s.generation, s.trainer.max_completion_length)
    wandb = s.logger.wandb
    kwargs.update(
        output_dir=str(output_dir),
        use_cpu=s.hardware.device == "cpu",
        reward_weights=list(reward_weights),
        report_to=["wandb"] if wandb else [],
        # Metrics and samples are written by r1exp's own callbacks; TRL's console tables stay off,
        # and its wandb completions table is on when wandb is.
        log_completions=wandb,
        # 0: TRL prints no rich table of completions at each logged step (it still logs them to wandb and
        # to checkpoints/completions/*.parquet).
        num_completions_to_print=0,
        save_strategy="steps",
        run_name=Path(output_dir).parent.name,
        # Rows keep every column so rewards receive nums, target, ...
        remove_unused_columns=False,
    )
    # Several processes (torchrun, accelerate launch, a multi-task Slurm job): gloo between CPU
    # processes, nccl between GPUs; DeepSpeed ZeRO when the hardware preset asks for it.
    if world()[1] > 1:
        kwargs["ddp_backend"] = ddp_backend(s.hardware.device)
    deepspeed = deepspeed_config(s.hardware.deepspeed)
    if deepspeed is not None:
        kwargs["deepspeed"] = deepspeed
    return kwargs


def build_grpo_config(s: Sections, output_dir: str | Path, reward_weights: list[float], check_only: bool = False):
    """A validated `trl.GRPOConfig`; `check_only` validates a GPU preset on a machine without one."""
    from trl import GRPOConfig

    kwargs = grpo_kwargs(s, output_dir, reward_weights)
    if check_only and s.hardware.device != "cpu":
        # Everything but the device: TrainingArguments refuses bf16 where no GPU is visible.
        kwargs.update(use_cpu=True, bf16=False, fp16=False)
    if check_only:
        # DeepSpeed is the machine's business (its package, its GPUs): checked when the run starts.
        # A backend would make TrainingArguments join the process group (see below).
        kwargs.pop("deepspeed", None)
        kwargs.pop("ddp_backend", None)
    else:
        require_deepspeed(s.hardware.deepspeed)
    generation_batch = kwargs.get("per_device_train_batch_size", 8) * kwargs.get("gradient_accumulation_steps", 1)
    num_generations = kwargs.get("num_generations", 8)
    if isinstance(num_generations, int) and num_generations > 0 and generation_batch % num_generations:
        raise ConfigError(
            f"the generation batch (per_device_train_batch_size * gradient_accumulation_steps = {generation_batch}) "
            f"must be a multiple of trainer.num_generations={num_generations}; change one of them"
        )
    if kwargs.get("lr_scheduler_type") == "constant" and (kwargs.get("warmup_steps") or 0) > 0:
        raise ConfigError(
            f"trainer.warmup_steps={kwargs['warmup_steps']} has no effect with trainer.lr_scheduler_type=constant; "
            "use constant_with_warmup (or set warmup_steps=0)"
        )
    try:
        if check_only:
            # Building TrainingArguments starts the process group of a multi-process run; a check
            # must not (a CPU check would make GPU ranks talk over gloo, and it needs every rank).
            with single_process_env():
                return GRPOConfig(**kwargs)
        return GRPOConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trainer: {one_line(str(exc))}") from exc
