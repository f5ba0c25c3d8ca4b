"""The weighted composition of reward terms, whatever task they come from.

A reward config is `terms: {name: {fn, weight, kwargs}}`. Each term's `fn` is looked up in a
registry (the built-in table in `r1exp.tasks`, or a user's import path) and becomes a function in
TRL's shape, named after the term (TRL logs it as `rewards/<name>/mean`), with its kwargs bound.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from r1exp.common.registry import Registry
from r1exp.errors import ConfigError

RewardFn = Callable[..., list[float | None]]


@dataclass
class RewardTerm:
    """One weighted term: the bound function (named after the term) and its weight."""

    name: str
    fn: RewardFn
    weight: float
    kwargs: dict[str, Any] = field(default_factory=dict)
    needs_token_ids: bool = False


def _bind(name: str, fn: RewardFn, kwargs: dict[str, Any]) -> RewardFn:
    @functools.wraps(fn)
    def term(prompts, completions, **columns):
        return fn(prompts, completions, **{**columns, **kwargs})

    term.__name__ = name
    term.__qualname__ = name
    return term


def build_terms(
    terms: Mapping[str, Mapping[str, Any]], context: Mapping[str, Any] | None, registry: Registry
) -> list[RewardTerm]:
    """Build the weighted terms of a reward config; unknown functions fail with the known ones.

    `context` holds run-time objects (the run's `counters`, a `reference` model handle, ...); a
    reward that declares `context_keys = (...)` gets those entries bound as keyword arguments.
    """
    context = context or {}
    if not terms:
        raise ConfigError("reward.terms is empty: give at least one {fn, weight, kwargs} term")
    out = []
    for name, spec in terms.items():
        if spec is None:
            continue  # a term switched off with `reward.terms.NAME=null`
        fn = registry.get(spec.get("fn"), f"reward.terms.{name}.fn")
        try:
            weight = float(spec.get("weight", 1.0))
        except (TypeError, ValueError):
            raise ConfigError(f"reward.terms.{name}.weight={spec.get('weight')!r} is not a number") from None
        kwargs = dict(spec.get("kwargs") or {})
        for key in getattr(fn, "context_keys", ()):
            if key in context:
                kwargs[key] = context[key]
        check = getattr(fn, "check", None)
        if check is not None:
            # Lets a reward refuse bad settings (e.g. a judge backend) before any model loads.
            check(kwargs)
        out.append(
            RewardTerm(
                name=name,
                fn=_bind(name, fn, kwargs),
                weight=weight,
                kwargs=kwargs,
                needs_token_ids=getattr(fn, "needs_token_ids", False),
            )
        )
    if not out:
        raise ConfigError("reward.terms: every term is null; keep at least one")
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
    per_term = {t.name: t.fn(prompts, completions, **columns) for t in terms}
    out = []
    for i in range(len(completions)):
        values = {name: vals[i] for name, vals in per_term.items()}
        out.append((values, total(values, terms)))
    return out
