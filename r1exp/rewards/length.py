"""Length rewards: a family of shapes over x = completion tokens / max_completion_length.

Decoupled from correctness (the LoRA note: sum independent rewards rather than coupling length to
correct/incorrect). Each maps x in [0, 1] to [0, 1]; x is clamped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from r1exp.errors import ConfigError
from r1exp.rewards.base import reward


def _exponential(x: float, k: float = 3.0, **_: Any) -> float:
    return (math.exp(k * x) - 1.0) / (math.exp(k) - 1.0)


def _sliding_window(x: float, low: float = 0.25, high: float = 0.75, **_: Any) -> float:
    """1 inside [low, high]; ramps up from 0 below it and down to 0 at the context limit above it."""
    if x < low:
        return x / low if low > 0 else 1.0
    if x <= high:
        return 1.0
    return (1.0 - x) / (1.0 - high) if high < 1 else 1.0


SHAPES: dict[str, Callable[..., float]] = {
    "linear": lambda x, **_: x,
    "quadratic": lambda x, **_: x * x,
    "cubic": lambda x, **_: x**3,
    "cosine": lambda x, **_: 0.5 * (1.0 - math.cos(math.pi * x)),
    "exponential": _exponential,
    "sliding_window": _sliding_window,
}


def length_score(n_tokens: int, max_length: int, shape: str = "linear", **params: Any) -> float:
    """The shaped length reward of one completion."""
    if shape not in SHAPES:
        raise ConfigError(f"reward length shape={shape!r} is unknown; choose one of {', '.join(SHAPES)}")
    if max_length <= 0:
        raise ConfigError(f"reward length max_length={max_length} must be positive")
    x = min(max(n_tokens / max_length, 0.0), 1.0)
    return float(SHAPES[shape](x, **params))


def check_kwargs(kwargs: dict[str, Any]) -> None:
    """Refuse an unknown shape, a max_length that is not a positive whole number, or bad params."""
    shape = kwargs.get("shape", "linear")
    if shape not in SHAPES:
        raise ConfigError(f"reward length kwargs shape={shape!r} is unknown; choose one of {', '.join(SHAPES)}")
    max_length = kwargs.get("max_length", 1024)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0:
        raise ConfigError(
            f"reward length kwargs max_length={max_length!r} must be a whole number > 0 "
            "(usually ${trainer.max_completion_length})"
        )
    params = kwargs.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"reward length kwargs params={params!r} must be a mapping")
    try:
        length_score(0, max_length, shape, **params)
    except TypeError as exc:
        raise ConfigError(f"reward length kwargs params={params!r} do not fit shape={shape} ({exc})") from None


@reward(needs_token_ids=True, check=check_kwargs)
def length(
    prompts: list,
    completions: list,
    completion_ids: list | None = None,
    max_length: int = 1024,
    shape: str = "linear",
    params: dict | None = None,
    **_: Any,
) -> list[float | None]:
    """Shaped length reward from the completion token ids TRL passes."""
    if completion_ids is None:
        return [None] * len(completions)
    return [length_score(len(ids), int(max_length), shape, **(params or {})) for ids in completion_ids]
