"""Map the composed config onto `trl.GRPOConfig`, and validate it without loading a model."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def _check_type(key: str, value: Any, field: dataclasses.Field, group: str = "trainer") -> None:
    """Refuse a value whose type cannot be what the option's default is (bool, int, float, str)."""
    default = field.default
    if value is None or default is dataclasses.MISSING or default is None:
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            key == "warmup_steps" and isinstance(value, float)
        )
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        return
    if not ok:
        kind = "a number" if key == "warmup_steps" else KINDS[type(default)]
        raise ConfigError(f"{group}.{key}={value!r} must be {kind} (GRPOConfig.{key}); fix the override")


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


def grpo_kwargs(s: Sections, output_dir: str | Path, reward_weights: list[float]) -> dict[str, Any]:
    """GRPOConfig keyword arguments from trainer, generation, hardware and logger."""
    fields = _grpo_fields()
    trainer = s.trainer.options
    kwargs: dict[str, Any] = {}
    for key, value in trainer.items():
        if key in OWN_TRAINER_KEYS:
            continue
        if key not in fields:
            raise _unknown_option("trainer", key, fields)
        _check_type(key, value, fields[key])
        check_choice(key, value)
        kwargs[key] = value
    generation = s.generation.options
    for key, value in generation.items():
        if key in GENERATION_KEYS_OWN:
            continue
        if key not in fields:
            raise _unknown_option("generation", key, fields)
        _check_type(key, value, fields[key], "generation")
        check_choice(key, value, "generation")
        kwargs[key] = value
    if generation.get("use_transformers_continuous_batching"):
        from r1exp.paged import check_options

        check_options(generation.get("transformers_continuous_batching_config"))
    if generation.get("use_vllm"):
        kwargs["vllm_max_model_length"] = vllm_max_model_length(s.composed)
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
