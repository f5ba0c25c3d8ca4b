"""Checks on the composed config that run before any model loads, each failing with one line.

Types are refused at compose time by the group schemas (`r1exp.schema`). Right after composition,
`check_keys` refuses a key nothing reads (Hydra's `+key=value` adds one even to a typed node),
naming the closest valid key; `CheckComposedConfig` runs it as a Hydra callback before the run dir
is written, and every command runs it again. What types cannot say (ranges, rules across fields and
groups) is checked here, one function per group, and a value OmegaConf cannot resolve (a `???` left
unset, an interpolation to a wrong type) is one line too. Every check on config values runs before
any check on the machine (`check_hardware`: a visible GPU), so a wrong value is reported as itself
and not as a missing GPU.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from r1exp.errors import ConfigError, exit_with, one_line

RESUME_MODES = ("auto", "never")
# numpy's and torch's seed range (numpy refuses anything else with a traceback).
SEED_MAX = 2**32 - 1
F = TypeVar("F", bound=Callable[..., Any])


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant (difflib's ratio >= 0.6), or None."""
    found = difflib.get_close_matches(str(name), sorted(set(map(str, choices))), n=1)
    return found[0] if found else None


def one_line_errors(check: F) -> F:
    """A value OmegaConf cannot resolve inside a check is one ConfigError line, never Hydra's report."""

    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return check(*args, **kwargs)
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_line(exc)) from None

    return wrapper  # type: ignore[return-value]


def omegaconf_line(exc: OmegaConfBaseException) -> str:
    """One line for an OmegaConf error met while reading the config, naming the key."""
    from omegaconf.errors import MissingMandatoryValue

    key = getattr(exc, "full_key", None) or ""
    if isinstance(exc, MissingMandatoryValue) and key:
        return missing_line(key)
    message = one_line(getattr(exc, "msg", None) or str(exc))
    return f"{key}: {message}; fix the value (or the one it refers to)" if key else message


def missing_line(key: str) -> str:
    return f"{key} has no value (??? in its config file): pass {key}=..."


# --- right after composition: nothing unknown -----------------------------------------------------


def chosen_groups(cfg: DictConfig | None = None) -> set[str]:
    """The config groups Hydra chose for this run (a group of the user's own included), when known."""
    choices: Any = None
    if cfg is not None and "hydra" in cfg:
        choices = OmegaConf.select(cfg, "hydra.runtime.choices")
    else:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            choices = HydraConfig.get().runtime.choices
    return {str(k) for k in (choices or {}) if not str(k).startswith("hydra/")}


def check_keys(cfg: DictConfig, groups: Iterable[str] = ()) -> None:
    """Every top-level key is one of `r1exp.schema.Root` or a chosen config group, and every key of a
    node typed by a schema is one of its fields: `+sede=3` or `+data.trian_size=5` is refused, not ignored."""
    from r1exp.schema import Root, root_keys

    known = set(root_keys()) | set(groups)
    for key in cfg:
        key = str(key)
        if key == "hydra" or key in known:
            continue
        guess = closest(key, known)
        if guess:
            raise ConfigError(f"{key} is not a config key or group of r1exp; did you mean {guess}?")
        run_keys = [f.name for f in dataclasses.fields(Root) if f.type not in ("Any", Any)]
        raise ConfigError(
            f"{key} is not a config key or group of r1exp (keys: {', '.join(run_keys)}; groups: "
            f"{', '.join(sorted(known - set(run_keys)))}); a config group of your own is found only when its "
            "folder is on hydra.searchpath=[file:///DIR] (docs/extending.md)"
        )
    for key in cfg:
        if str(key) != "hydra":
            _check_typed_keys(cfg._get_node(key), str(key), str(key))


def _check_typed_keys(node: Any, path: str, group: str) -> None:
    """Keys of a schema-typed node that its dataclass lacks (Hydra's `+` adds them past the schema)."""
    if not isinstance(node, DictConfig) or node._is_missing() or node._is_none() or node._is_interpolation():
        return
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        fields = [f.name for f in dataclasses.fields(schema)]
        for key in node:
            if key not in fields:
                guess = closest(str(key), fields)
                hint = f"did you mean {path}.{guess}?" if guess else f"its keys: {', '.join(fields)}"
                raise ConfigError(f"{path}.{key} is not a key of {_group_label(node, group)}; {hint}")
    for key in node:
        _check_typed_keys(node._get_node(key), f"{path}.{key}", group)


def _group_label(node: DictConfig, group: str) -> str:
    name = node._get_node("name") if group == node._key() else None
    if name is not None and not name._is_missing() and not name._is_interpolation() and name._value() is not None:
        return f"{group}={name._value()}"
    return group


def missing_keys(node: Any, path: str = "") -> Iterator[str]:
    """Full keys of values left `???` under `node`."""
    if not isinstance(node, DictConfig) or node._is_none() or node._is_interpolation():
        return
    for key in node:
        full = f"{path}.{key}" if path else str(key)
        if OmegaConf.is_missing(node, key):
            yield full
        else:
            yield from missing_keys(node._get_node(key), full)


def check_complete(cfg: DictConfig, sections: Iterable[str] | None = None) -> None:
    """No `???` left in `sections` (all but hydra when None), and every interpolation resolves."""
    names = [str(k) for k in cfg if str(k) != "hydra"] if sections is None else list(sections)
    for section in names:
        if section not in cfg:
            continue
        if OmegaConf.is_missing(cfg, section):
            raise ConfigError(missing_line(section))
        for key in missing_keys(cfg._get_node(section), section):
            raise ConfigError(missing_line(key))
        node = cfg._get_node(section)
        try:
            if isinstance(node, (DictConfig, ListConfig)):
                OmegaConf.to_container(node, resolve=True)
            else:
                # Reading a scalar resolves its interpolation, if any.
                cfg[section]
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_line(exc)) from None


def check_searchpath(searchpath: Iterable[str] | None) -> None:
    """Every `hydra.searchpath` entry exists: a mistyped folder would leave a task's group unfound."""
    import importlib.util
    from pathlib import Path

    for entry in searchpath or ():
        scheme, _, where = str(entry).partition("://")
        if scheme == "file" and not Path(where).is_dir():
            raise ConfigError(
                f"hydra.searchpath entry {entry} is not a folder; give the folder that holds your config "
                "groups, hydra.searchpath=[file:///abs/path/to/conf] (docs/extending.md)"
            )
        if scheme == "pkg" and importlib.util.find_spec(where.replace("/", ".").split(".")[0]) is None:
            raise ConfigError(f"hydra.searchpath entry {entry}: no package {where} on the Python path")


class CheckComposedConfig(Callback):
    """Hydra callback: an API key pasted as `judge.openai.api_key_env`, a search path that does not
    exist or an unknown key stops the launch with one line before Hydra creates the run dir.

    `on_run_start`/`on_multirun_start` run before Hydra writes `multirun.yaml`, a launcher's job files
    or prints a sweep's jobs, so a key pasted into the config never reaches the disk or the console.
    Hydra turns a callback's exception into a warning, so the refusal exits here (status 2), as
    `r1exp.errors.guard` would.
    """

    def _check(self, config: DictConfig) -> None:
        from r1exp.tasks.zh_general.judge import refuse_key_in_config

        try:
            refuse_key_in_config(config)
            check_searchpath(OmegaConf.select(config, "hydra.searchpath"))
            check_keys(config, chosen_groups(config))
        except ConfigError as exc:
            exit_with(exc)
        except OmegaConfBaseException as exc:
            exit_with(ConfigError(omegaconf_line(exc)))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)


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


@one_line_errors
def check_common(cfg: DictConfig) -> None:
    """Checks every command shares: nothing unknown, the run-wide keys, template, reward terms, model,
    and the command's own required keys (cmd.input, ...)."""
    check_keys(cfg, chosen_groups())
    check_run_keys(cfg)
    check_template(cfg)
    check_reward_terms(cfg)
    check_duplicate_terms(cfg)
    check_model(cfg)
    check_complete(cfg, ["cmd"])


def check_run_keys(cfg: DictConfig) -> None:
    """`seed`, `resume` and `contamination`, the keys conf/config.yaml sets itself."""
    seed = cfg.get("seed")
    _require(
        _whole(seed) and 0 <= seed <= SEED_MAX,
        f"seed={seed!r} must be a whole number in [0, {SEED_MAX}] (it seeds numpy and torch too)",
    )
    if cfg.get("resume", "auto") not in RESUME_MODES:
        raise ConfigError(f"resume={cfg.resume!r} is unknown; use one of {', '.join(RESUME_MODES)}")
    guard = cfg.get("contamination")
    if guard is not None:
        check_ranges(guard, "contamination", CONTAMINATION_RANGES)


def check_reward_terms(cfg: DictConfig) -> None:
    """Each `reward.terms.NAME` is {fn, weight, kwargs} or null (the schema leaves terms untyped)."""
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


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclasses.dataclass(frozen=True)
class Range:
    """The values one numeric key accepts: a finite number (a whole one when `whole`) in an interval."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    whole: bool = False
    # null (or absent) is accepted: the option is off or takes its default.
    optional: bool = False
    # What the key means or how to fix it, shown after the rule.
    fix: str = ""

    def rule(self) -> str:
        kind = "a whole number" if self.whole else "a number"
        if self.low is None and self.high is None:
            return kind
        if self.high is None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return f"{kind} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if not (_whole(value) if self.whole else _number(value) and math.isfinite(value)):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def check(self, node: Any, where: str) -> None:
        """`where` is the key's full name (trainer.top_p); one line when its value is not accepted."""
        value = node.get(where.rpartition(".")[2])
        if not self.accepts(value):
            fix = f" ({self.fix})" if self.fix else ""
            raise ConfigError(f"{where}={value!r} must be {self.rule()}{fix}")


def check_ranges(node: Any, group: str, ranges: dict[str, Range]) -> None:
    """Every key of `ranges` present in `node` (a missing one counts as null) is in its range."""
    for key, allowed in ranges.items():
        allowed.check(node, f"{group}.{key}")


# The numeric trainer options whose wrong values TRL accepts or fails on late, each with its range.
TRAINER_RANGES: dict[str, Range] = {
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
HARDWARE_RANGES: dict[str, Range] = {
    "per_device_train_batch_size": Range(1, whole=True, optional=True),
    "gradient_accumulation_steps": Range(1, whole=True, optional=True),
    "nodes": Range(1, whole=True, optional=True),
    "processes_per_node": Range(1, whole=True, optional=True),
    "gpus_per_node": Range(0, whole=True, optional=True),
    "vllm_server_gpus": Range(0, whole=True, optional=True),
    "max_memory_gb": Range(0, low_open=True, optional=True, fix="GiB; null: no cap"),
}
DATA_RANGES: dict[str, Range] = {
    "train_size": Range(0, whole=True, optional=True, fix="null: every row the test split leaves"),
    "test_size": Range(0, whole=True, optional=True, fix="null: the source's own default"),
}
LORA_RANGES: dict[str, Range] = {
    "r": Range(1, whole=True, optional=True, fix="the adapters' rank; null: full fine-tune"),
    "alpha": Range(1, whole=True, optional=True),
    "dropout": Range(0, 1, high_open=True, optional=True),
}
PERIODIC_EVAL_RANGES: dict[str, Range] = {
    "every": Range(0, whole=True, optional=True, fix="evaluate every N steps; 0 turns it off"),
    "prompts": Range(1, whole=True, optional=True),
    "max_new_tokens": Range(1, whole=True, optional=True),
    "batch_size": Range(1, whole=True, optional=True),
}
LOGGER_RANGES: dict[str, Range] = {
    "samples_every": Range(0, whole=True, optional=True, fix="record samples every N steps; 0 never"),
    "samples_per_step": Range(0, whole=True, optional=True, fix="completions recorded each time"),
}
CONTAMINATION_RANGES: dict[str, Range] = {
    "min_overlap": Range(
        0, 1, fix="share of a problem's n-grams a training text must hold to count as a copy; 0.65 measured"
    ),
    "max_fraction": Range(0, 1, fix="the share of an evaluation set found in training that refuses a run"),
}


def check_trainer(cfg: DictConfig) -> None:
    """Ranges of the GRPOConfig options whose wrong values TRL accepts or fails on late."""
    t = cfg.trainer
    check_ranges(t, "trainer", TRAINER_RANGES)
    warmup = t.get("warmup_steps")
    _require(
        warmup is None or warmup < 1 or float(warmup).is_integer(),
        f"trainer.warmup_steps={warmup!r}: from 1 up it counts steps, so give a whole number (or a fraction below 1)",
    )


def check_hardware_values(cfg: DictConfig) -> None:
    """The hardware preset's numbers (the machine itself is `check_hardware`'s)."""
    h = cfg.hardware
    _require(h.get("device") in ("cpu", "cuda"), f"hardware.device={h.get('device')!r} is unknown; use cpu or cuda")
    check_ranges(h, "hardware", HARDWARE_RANGES)


def prompts_per_step(cfg: DictConfig) -> int | None:
    """Distinct prompts one generation batch draws (TRL's sampler yields no batch from fewer rows)."""
    from r1exp.distributed import job_layout

    t = cfg.trainer
    generations = t.get("num_generations")
    batch = t.get("generation_batch_size")
    if batch is None:
        per_device = t.get("per_device_train_batch_size")
        steps = t.get("steps_per_generation") or t.get("gradient_accumulation_steps") or 1
        if not (_whole(per_device) and _whole(steps)):
            return None
        batch = per_device * steps * job_layout(cfg).world_size
    if not (_whole(batch) and _whole(generations) and generations > 0):
        return None
    return max(1, batch // generations)


def check_data(cfg: DictConfig, training: bool) -> None:
    """Sizes: training needs at least the rows one step draws; periodic eval needs held-out rows."""
    d = cfg.data
    check_ranges(d, "data", DATA_RANGES)
    if not training or d.get("eval_only"):
        return
    train_size = d.get("train_size")
    if train_size == 0:
        raise ConfigError(
            f"data.train_size=0 leaves nothing to train on with data={d.get('name')}; give a positive "
            "number (or null for every row the test split leaves)"
        )
    needed = prompts_per_step(cfg)
    if train_size is not None and needed is not None and train_size < needed:
        raise ConfigError(
            f"data.train_size={train_size} is fewer rows than one step draws: {_step_draws(cfg, needed)}; give "
            f"data.train_size >= {needed}"
        )
    pe = cfg.get("periodic_eval")
    if pe is not None and (pe.get("every") or 0) > 0 and d.get("test_size") == 0 and not _has_bench(cfg):
        raise ConfigError(
            f"periodic_eval.every={pe.get('every')} evaluates on the data's test split, and data.test_size=0 "
            "leaves none; give data.test_size > 0, a bench=SET, or periodic_eval.every=0"
        )


def _step_draws(cfg: DictConfig, needed: int) -> str:
    return f"{needed} prompt(s) x trainer.num_generations={cfg.trainer.get('num_generations')}"


def _has_bench(cfg: DictConfig) -> bool:
    bench = cfg.get("bench")
    return bench is not None and bench.get("name") not in (None, "none")


def check_rows(cfg: DictConfig, train_rows: int, eval_rows: int) -> None:
    """Once the data is built: enough training rows for one step, and held-out rows when periodic eval
    is on (a source's own default sizes, a short file)."""
    needed = prompts_per_step(cfg)
    if needed is not None and train_rows < needed:
        raise ConfigError(
            f"data={cfg.data.get('name')} gives {train_rows} training row(s), fewer than one step draws "
            f"({_step_draws(cfg, needed)}); give more rows (data.train_size, data.test_size, data.path)"
        )
    pe = cfg.get("periodic_eval")
    if pe is not None and (pe.get("every") or 0) > 0 and eval_rows == 0:
        raise ConfigError(
            f"periodic_eval.every={pe.get('every')} has no held-out rows to evaluate on (data={cfg.data.get('name')}); "
            "give data.test_size > 0, a bench=SET, or periodic_eval.every=0"
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
    check_ranges(lora, "lora", LORA_RANGES)


def check_periodic_eval(cfg: DictConfig) -> None:
    pe = cfg.get("periodic_eval")
    if pe is None:
        return
    check_ranges(pe, "periodic_eval", PERIODIC_EVAL_RANGES)


def check_logger(cfg: DictConfig) -> None:
    """Sample recording numbers; logger=wandb online needs an account key (said before training, not at
    wandb's prompt)."""
    log = cfg.logger
    check_ranges(log, "logger", LOGGER_RANGES)
    every, per_step = log.get("samples_every") or 0, log.get("samples_per_step")
    _require(
        every == 0 or (per_step or 0) >= 1,
        f"logger.samples_every={every} records nothing with logger.samples_per_step={per_step!r}; set "
        "samples_per_step >= 1, or samples_every=0",
    )
    if not log.get("wandb"):
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
    """Each reward term reads only columns the data has (`columns`: None when the source does not say), and
    reference-guided groups need a task whose reference the rows can render."""
    if cfg.trainer.get("guide_with_reference"):
        from r1exp.tasks import task_of

        task = task_of(cfg.data)
        need = task.reference_columns
        lacking = sorted(need - columns) if need and columns is not None else []
        if not need or lacking:
            why = (
                f"task {task.name} renders it from column(s) {', '.join(lacking)}, which they lack"
                if need
                else f"task {task.name} declares no reference completion"
            )
            raise ConfigError(
                f"trainer.guide_with_reference=true: data={cfg.data.get('name')} rows carry no reference to insert "
                f"({why}); set trainer.guide_with_reference=false or use data that has one"
            )
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


@one_line_errors
def check_train(cfg: DictConfig) -> None:
    """Every value check of cmd=train (no machine check: that is `check_hardware`, after these).

    The trainer's own values come first: a key other groups interpolate (periodic_eval.max_new_tokens
    is ${trainer.max_completion_length}) is then reported as itself.
    """
    check_keys(cfg, chosen_groups())
    check_trainer(cfg)
    check_common(cfg)
    check_hardware_values(cfg)
    check_data(cfg, training=True)
    check_lora(cfg)
    check_periodic_eval(cfg)
    check_logger(cfg)
    # Anything left: a ??? nothing above reads, an interpolation that does not resolve.
    check_complete(cfg)
