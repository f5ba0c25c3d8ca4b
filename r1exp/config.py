"""Checks on the composed config that run before any model loads, each failing with one line.

Types and unknown keys are refused at compose time by the group schemas (`r1exp.schema`); what types
cannot say (ranges, rules across fields and groups) is checked here, one function per group. Every
check on config values runs before any check on the machine (`check_hardware`: a visible GPU), so a
wrong value is reported as itself and not as a missing GPU.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

from omegaconf import DictConfig

from r1exp.errors import ConfigError

RESUME_MODES = ("auto", "never")


def check_hardware(cfg: DictConfig) -> None:
    """A CUDA preset needs a visible GPU."""
    if cfg.hardware.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"hardware={cfg.hardware.name} needs a CUDA GPU and none is visible; use hardware=cpu on this machine"
            )
    elif cfg.hardware.device != "cpu":
        raise ConfigError(f"hardware.device={cfg.hardware.device!r} is unknown; use cpu or cuda")


def check_template(cfg: DictConfig) -> None:
    text = cfg.template.get("text")
    if not isinstance(text, str) or "{question}" not in text:
        raise ConfigError(f"template.text of template={cfg.template.name} must contain {{question}}")


def check_duplicate_terms(cfg: DictConfig) -> None:
    """Two reward terms with the same function and settings count one thing twice (e.g. +experiment=smoke's
    soft_format term on top of reward=zh_general's own soft format term)."""
    from omegaconf import OmegaConf

    seen: dict[str, str] = {}
    for name, term in (cfg.reward.get("terms") or {}).items():
        if term is None:
            continue
        kwargs = term.get("kwargs")
        kwargs = OmegaConf.to_container(kwargs, resolve=True) if kwargs is not None else {}
        key = f"{term.get('fn')}|{sorted((kwargs or {}).items())}"
        if key in seen:
            raise ConfigError(
                f"reward.terms.{seen[key]} and reward.terms.{name} are the same reward ({term.get('fn')}): it "
                f"would count twice; drop one with reward.terms.{name}=null"
            )
        seen[key] = str(name)


def check_common(cfg: DictConfig) -> None:
    """Checks every command shares."""
    if cfg.get("resume", "auto") not in RESUME_MODES:
        raise ConfigError(f"resume={cfg.resume!r} is unknown; use one of {', '.join(RESUME_MODES)}")
    check_template(cfg)
    check_reward_terms(cfg)
    check_duplicate_terms(cfg)
    check_model(cfg)


def check_reward_terms(cfg: DictConfig) -> None:
    """Each `reward.terms.NAME` is {fn, weight, kwargs} or null (the schema leaves terms untyped)."""
    from omegaconf import OmegaConf

    from r1exp.rewards.base import term_spec

    terms = cfg.reward.get("terms")
    if terms is None:
        return
    for name, spec in OmegaConf.to_container(terms, resolve=True).items():
        if spec is not None:
            term_spec(str(name), spec)


# --- value checks, one function per group ---------------------------------------------------------

DTYPES = ("auto", "float32", "bfloat16", "float16")
# WANDB_MODE values under which wandb needs no account.
WANDB_LOCAL_MODES = ("offline", "disabled", "dryrun")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _whole_at_least(node: Any, group: str, keys: Iterable[str], low: int, fix: str = "") -> None:
    """Each `group.key` present is a whole number >= low."""
    for key in keys:
        value = node.get(key)
        if value is None:
            continue
        _require(
            isinstance(value, int) and not isinstance(value, bool) and value >= low,
            f"{group}.{key}={value!r} must be a whole number >= {low}" + (f"; {fix}" if fix else ""),
        )


def check_trainer(cfg: DictConfig) -> None:
    """Ranges of the GRPOConfig options whose wrong values TRL accepts or fails on late."""
    t = cfg.trainer
    lr = t.get("learning_rate")
    _require(
        # 0 is allowed: a frozen-policy control run is a standard ablation (learning must come from the lr).
        _number(lr) and math.isfinite(lr) and lr >= 0,
        f"trainer.learning_rate={lr!r} must be a finite float >= 0 (e.g. 1e-6; 0 for a frozen-policy control)",
    )
    _whole_at_least(t, "trainer", ["max_completion_length"], 1, "the token budget of each completion")
    temperature = t.get("temperature")
    _require(
        _number(temperature) and math.isfinite(temperature) and temperature > 0,
        f"trainer.temperature={temperature!r} must be > 0: GRPO samples its groups (1.0 is usual)",
    )
    _whole_at_least(t, "trainer", ["num_generations"], 2, "GRPO compares the completions of a group (8 is usual)")
    beta = t.get("beta")
    _require(
        _number(beta) and math.isfinite(beta) and beta >= 0,
        f"trainer.beta={beta!r} must be >= 0 (the KL weight; 0 turns the reference model off)",
    )
    _whole_at_least(t, "trainer", ["max_steps"], 1, "the number of optimizer steps to train")
    _whole_at_least(t, "trainer", ["save_steps"], 1, "checkpoint every N steps")


def check_hardware_values(cfg: DictConfig) -> None:
    """The hardware preset's numbers (the machine itself is `check_hardware`'s)."""
    h = cfg.hardware
    _require(h.get("device") in ("cpu", "cuda"), f"hardware.device={h.get('device')!r} is unknown; use cpu or cuda")
    _whole_at_least(h, "hardware", ["per_device_train_batch_size", "gradient_accumulation_steps"], 1)
    _whole_at_least(h, "hardware", ["nodes", "processes_per_node"], 1)
    _whole_at_least(h, "hardware", ["gpus_per_node", "vllm_server_gpus"], 0)
    cap = h.get("max_memory_gb")
    _require(cap is None or (_number(cap) and cap > 0), f"hardware.max_memory_gb={cap!r} must be > 0 GiB or null")


def check_data(cfg: DictConfig, training: bool) -> None:
    """Sizes; training needs at least one training row."""
    d = cfg.data
    _whole_at_least(d, "data", ["train_size", "test_size"], 0)
    if training and d.get("train_size") == 0 and not d.get("eval_only"):
        raise ConfigError(
            f"data.train_size=0 leaves nothing to train on with data={d.get('name')}; give a positive "
            "number (or null for every row the test split leaves)"
        )


def check_model(cfg: DictConfig) -> None:
    """dtype, and no `model.path` beside a model that is built here (model=tiny)."""
    m = cfg.model
    dtype = m.get("dtype", "auto")
    _require(dtype in DTYPES, f"model.dtype={dtype!r} is unknown; use one of {', '.join(DTYPES)}")
    if m.get("builder") == "tiny" and m.get("path"):
        raise ConfigError(
            f"model.path={m.path} is ignored by model=tiny, which builds its own offline model; drop "
            "model.path, or choose a model preset (model=qwen0.5b ...) to load that path"
        )


def check_lora(cfg: DictConfig) -> None:
    lora = cfg.get("lora")
    if lora is None or lora.get("r") is None:
        return
    _whole_at_least(lora, "lora", ["r", "alpha"], 1)
    dropout = lora.get("dropout", 0.0)
    _require(_number(dropout) and 0 <= dropout < 1, f"lora.dropout={dropout!r} must be in [0, 1)")


def check_periodic_eval(cfg: DictConfig) -> None:
    pe = cfg.get("periodic_eval")
    if pe is None:
        return
    _whole_at_least(pe, "periodic_eval", ["every"], 0, "0 turns it off")
    _whole_at_least(pe, "periodic_eval", ["prompts", "max_new_tokens", "batch_size"], 1)


def check_logger(cfg: DictConfig) -> None:
    """logger=wandb online needs an account key; say so before training instead of at wandb's prompt."""
    if not cfg.logger.get("wandb"):
        return
    mode = os.environ.get("WANDB_MODE", "online").strip().lower()
    if mode in WANDB_LOCAL_MODES or os.environ.get("WANDB_API_KEY"):
        return
    if _wandb_netrc_key():
        return
    raise ConfigError(
        f"logger=wandb with WANDB_MODE={mode} needs a wandb API key and none is set: run `wandb login`, set "
        "WANDB_API_KEY, or run with WANDB_MODE=offline (sync later) or logger=jsonl"
    )


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


def check_reward_data(cfg: DictConfig, terms: Iterable[Any], columns: set[str] | None) -> None:
    """Each reward term reads only columns the data has (`columns`: None when the source does not say)."""
    if columns is None:
        return
    for term in terms:
        missing = [c for c in getattr(term, "columns", ()) if c not in columns]
        if missing:
            raise ConfigError(
                f"reward.terms.{term.name} ({term.reward.__name__}) reads column(s) {', '.join(missing)}, which "
                f"data={cfg.data.get('name')} does not have; choose a reward for this data (reward=...) or "
                "data that has them"
            )


def check_train(cfg: DictConfig) -> None:
    """Every value check of cmd=train (no machine check: that is `check_hardware`, after these)."""
    check_common(cfg)
    check_trainer(cfg)
    check_hardware_values(cfg)
    check_data(cfg, training=True)
    check_lora(cfg)
    check_periodic_eval(cfg)
    check_logger(cfg)
