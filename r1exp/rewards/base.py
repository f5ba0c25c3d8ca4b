"""Reward objects with declared capabilities, and the weighted terms a run builds from them.

A reward is a callable in TRL's shape, `reward(prompts, completions, **columns) -> list[float | None]`
(None: not applicable to that row), that declares what it needs:

- `columns`: data columns it reads; a run whose data lacks one is refused at start-up;
- `context_keys`: run-context entries bound into its kwargs (`counters`, `judge`, `reference_model`);
- `needs_token_ids`: it reads `completion_ids` (TRL passes them; cmd=score tokenizes);
- `value_range`: the (low, high) every value it returns lies in;
- `check(kwargs)`: refuses bad kwargs with one line, before any model loads;
- `setup(kwargs)`: once per run, returns the kwargs every call gets (e.g. with a judge client).

Subclass `Reward`, or declare a plain function with `@reward(...)`. A plain callable without
declarations (a user's function given by import path) is taken as it is (no columns, no context)
when it can be called the way TRL calls a reward, `reward(prompts, completions, **kwargs)`: two
positional arguments and any keyword (TRL passes `completion_ids`, `trainer_state`, `log_extra`,
`log_metric` and every data column). Anything else (`os:system`, a class, a constant) is refused at
start-up.

A term's `kwargs` are the reward's settings: the keyword parameters its call names, less what TRL
passes, the columns it declares and its context keys (`Reward.settings`). Any other kwarg is refused
with the closest setting's name, so a typo (`max_lenght`) never falls back to a default unseen.

A reward config is `terms: {name: {fn, weight, kwargs}}`. `build_terms` turns each into a
`RewardTerm`: built once per run, called by TRL like a function and named after the term (TRL logs
`rewards/<name>/mean`); observers (the sample recorder, a curriculum) see every call.
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from r1exp.common.registry import Registry
from r1exp.errors import ConfigError

RewardFn = Callable[..., list[float | None]]
# Observer(term name, prompts, completions, values, columns): columns include TRL's `trainer_state`.
Observer = Callable[[str, list, list, list, dict], None]
TERM_KEYS = ("fn", "weight", "kwargs")
# What TRL passes every reward call besides the data columns (trl GRPOTrainer._calculate_rewards).
TRL_ARGUMENTS = ("prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments")
# The call a plain callable must accept to be a reward: TRL's, with one data column.
_PROBE_KWARGS = {name: None for name in TRL_ARGUMENTS[2:]} | {"any_data_column": None}


class Reward:
    """A reward with declared capabilities (see the module docstring); subclasses define `__call__`."""

    columns: tuple[str, ...] = ()
    context_keys: tuple[str, ...] = ()
    needs_token_ids: bool = False
    value_range: tuple[float, float] = (0.0, 1.0)

    def check(self, kwargs: dict[str, Any]) -> None:
        """Refuse bad kwargs with one ConfigError line (called at start-up, before any model loads)."""

    def setup(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The kwargs every call of this run gets; build per-run state (clients, pools) here."""
        return kwargs

    def preflight(self, kwargs: dict[str, Any]) -> None:
        """Reach what this reward needs outside the process (a judge server) with one request.

        Called with the kwargs `setup` returned, after every config check and before any model loads;
        one UserError line if it fails. Kept out of `check`: a probe there would hide a config error
        behind a network timeout.
        """

    def settings(self) -> frozenset[str]:
        """The names a term's `kwargs` may give: the keyword parameters `__call__` names."""
        return setting_names(self.__call__, self)

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float | None]:
        raise NotImplementedError


class FunctionReward(Reward):
    """A plain reward function with its capabilities declared beside it."""

    def __init__(
        self,
        func: RewardFn,
        columns: tuple[str, ...] = (),
        context_keys: tuple[str, ...] = (),
        needs_token_ids: bool = False,
        value_range: tuple[float, float] = (0.0, 1.0),
        check: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.func = func
        self.__name__ = getattr(func, "__name__", type(func).__name__)
        self.__doc__ = getattr(func, "__doc__", None)
        self.columns = tuple(columns)
        self.context_keys = tuple(context_keys)
        self.needs_token_ids = needs_token_ids
        self.value_range = value_range
        if check is not None:
            self.check = check  # type: ignore[method-assign]

    def settings(self) -> frozenset[str]:
        """The keyword parameters the wrapped function names (less TRL's arguments, columns, context)."""
        return setting_names(self.func, self)

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float | None]:
        return self.func(prompts, completions, **kwargs)

    def __repr__(self) -> str:
        return f"<reward {self.__name__}>"


def setting_names(func: Callable[..., Any], declared: Reward) -> frozenset[str]:
    """Keyword parameters `func` names that are neither TRL's arguments nor `declared`'s columns or context keys."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return frozenset(named - {"self", *TRL_ARGUMENTS, *declared.columns, *declared.context_keys})


def takes_reward_call(func: Any, declared: tuple[str, ...] = ()) -> bool:
    """Whether `func` can be called as TRL and r1exp call a reward: `func(prompts, completions, **kwargs)`,
    the kwargs holding its `declared` columns and context keys (a reward may name those as parameters)."""
    try:
        inspect.signature(func).bind([], [], **_PROBE_KWARGS, **dict.fromkeys(declared))
    except (TypeError, ValueError):
        return False
    return True


def reward(
    columns: tuple[str, ...] = (),
    context_keys: tuple[str, ...] = (),
    needs_token_ids: bool = False,
    value_range: tuple[float, float] = (0.0, 1.0),
    check: Callable[[dict[str, Any]], None] | None = None,
) -> Callable[[RewardFn], FunctionReward]:
    """Declare a reward function's capabilities: `@reward(columns=("answer",))`."""

    def deco(func: RewardFn) -> FunctionReward:
        return FunctionReward(func, columns, context_keys, needs_token_ids, value_range, check)

    return deco


def as_reward(obj: Any, field: str) -> Reward:
    """`obj` as a Reward: itself, or a plain callable in TRL's reward shape with whatever it declares."""
    if isinstance(obj, FunctionReward) and not takes_reward_call(obj.func, (*obj.columns, *obj.context_keys)):
        raise ConfigError(_not_a_reward(field, obj.func))
    if isinstance(obj, Reward):
        return obj
    if not callable(obj):
        raise ConfigError(f"{field} is {obj!r}, not callable; give a reward function or a Reward object")
    if not takes_reward_call(obj, (*getattr(obj, "columns", ()), *getattr(obj, "context_keys", ()))):
        raise ConfigError(_not_a_reward(field, obj))
    wrapped = FunctionReward(
        obj,
        columns=tuple(getattr(obj, "columns", ())),
        context_keys=tuple(getattr(obj, "context_keys", ())),
        needs_token_ids=bool(getattr(obj, "needs_token_ids", False)),
        value_range=tuple(getattr(obj, "value_range", (0.0, 1.0))),
        check=getattr(obj, "check", None),
    )
    setup = getattr(obj, "setup", None)
    if callable(setup):
        wrapped.setup = setup  # type: ignore[method-assign]
    return wrapped


def _not_a_reward(field: str, obj: Any) -> str:
    try:
        shape = f"its signature is {getattr(obj, '__name__', type(obj).__name__)}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        shape = "its signature cannot be read"
    return (
        f"{field} is not a reward ({shape}); a reward is an r1exp.rewards.Reward or a function "
        "fn(prompts, completions, **kwargs) -> list[float | None] (TRL's reward call)"
    )


def check_settings(name: str, ref: str, rew: Reward, kwargs: Mapping[str, Any]) -> None:
    """Every kwarg of term `name` is a setting of `rew` (the reward `ref` names); a typo gets the closest name."""
    allowed = rew.settings()
    for key in sorted(set(map(str, kwargs)) - allowed):
        where = f"reward.terms.{name}.kwargs.{key}"
        if not allowed:
            raise ConfigError(f"{where}: reward {ref} takes no kwargs; drop it (reward.terms.{name}.kwargs={{}})")
        guess = difflib.get_close_matches(key, sorted(allowed), n=1)
        hint = f"did you mean {guess[0]}? " if guess else ""
        raise ConfigError(f"{where} is not a setting of reward {ref}; {hint}it takes {', '.join(sorted(allowed))}")


class RewardTerm:
    """One weighted term of a run: its reward, bound kwargs and weight; TRL calls it like a function."""

    def __init__(self, name: str, reward: Reward, weight: float, kwargs: dict[str, Any]) -> None:
        self.name = name
        self.__name__ = name  # TRL names the term's metrics after it
        self.reward = reward
        self.weight = weight
        self.kwargs = kwargs
        self.observers: list[Observer] = []

    @property
    def needs_token_ids(self) -> bool:
        return self.reward.needs_token_ids

    @property
    def columns(self) -> tuple[str, ...]:
        return self.reward.columns

    @property
    def context_keys(self) -> tuple[str, ...]:
        return self.reward.context_keys

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float | None]:
        values = self.reward(prompts, completions, **{**columns, **self.kwargs})
        for observe in self.observers:
            observe(self.name, prompts, completions, values, columns)
        return values

    def __repr__(self) -> str:
        return f"<term {self.name}: {self.weight} x {self.reward.__name__}>"


def term_spec(name: str, spec: Any) -> tuple[str, float, dict[str, Any]]:
    """(reward reference, weight, kwargs) of one `reward.terms.NAME` entry (keys fn, weight, kwargs);
    one line naming the key when malformed."""
    where = f"reward.terms.{name}"
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}={spec!r} must be {{fn, weight, kwargs}} (or null to switch it off)")
    unknown = sorted(set(map(str, spec)) - set(TERM_KEYS))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]} is not a term key; a term has {', '.join(TERM_KEYS)}")
    ref = spec.get("fn")
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{where}.fn must name a reward (a registered name or pkg.module:attr)")
    weight = spec.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
        raise ConfigError(f"{where}.weight={weight!r} is not a number; give a finite number")
    kwargs = spec.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"{where}.kwargs={kwargs!r} must be a mapping of keyword arguments")
    return ref, float(weight), dict(kwargs)


def build_terms(
    terms: Mapping[str, Mapping[str, Any] | None], context: Mapping[str, Any] | None, registry: Registry
) -> list[RewardTerm]:
    """The run's weighted terms: each reward looked up, its kwargs checked, its context bound, set up.

    `context` holds run-time objects (the run's `counters`, a `reference_model` handle, the `judge`
    settings); a reward gets the entries its `context_keys` name.
    """
    context = context or {}
    if not terms:
        raise ConfigError("reward.terms is empty: give at least one {fn, weight, kwargs} term")
    out = []
    for name, spec in terms.items():
        if spec is None:
            continue  # a term switched off with `reward.terms.NAME=null`
        ref, weight, kwargs = term_spec(name, spec)
        rew = as_reward(registry.get(ref, f"reward.terms.{name}.fn"), f"reward.terms.{name}.fn={ref}")
        check_settings(str(name), ref, rew, kwargs)
        for key in rew.context_keys:
            if key in context:
                kwargs[key] = context[key]
        # Bad settings (a length shape typo, a judge backend) fail here, before any model loads.
        rew.check(kwargs)
        out.append(RewardTerm(name, rew, weight, rew.setup(kwargs)))
    if not out:
        raise ConfigError("reward.terms: every term is null; keep at least one")
    if all(t.weight == 0 for t in out):
        raise ConfigError(
            f"reward.terms: every weight is 0 ({', '.join(t.name for t in out)}), so every completion scores the "
            f"same and nothing is learned; give one a non-zero weight (reward.terms.{out[0].name}.weight=1)"
        )
    return out


def total(values: Mapping[str, float | None], terms: list[RewardTerm]) -> float | None:
    """Weighted sum over the terms that apply (None = not applicable), as TRL sums them."""
    applicable = [(t.weight, values.get(t.name)) for t in terms]
    applicable = [(w, v) for w, v in applicable if v is not None and not math.isnan(v)]
    if not applicable:
        return None
    return float(sum(w * v for w, v in applicable))


def score_batch(
    prompts: list, completions: list, columns: Mapping[str, list], terms: list[RewardTerm]
) -> list[tuple[dict[str, float | None], float | None]]:
    """Every term over the whole batch at once (as the trainer calls them); per row (values, total)."""
    per_term = {t.name: t(prompts, completions, **columns) for t in terms}
    out = []
    for i in range(len(completions)):
        values = {name: vals[i] for name, vals in per_term.items()}
        out.append((values, total(values, terms)))
    return out


def preflight(terms: list[RewardTerm]) -> None:
    """Each term's outside dependencies reached once (`Reward.preflight`), before any model loads."""
    for term in terms:
        hook = getattr(term.reward, "preflight", None)
        if callable(hook):
            hook(term.kwargs)
