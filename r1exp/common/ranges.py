"""The values one numeric config key accepts, as data a section declares next to its fields."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from r1exp.errors import ConfigError


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def require(ok: bool, message: str) -> None:
    """One ConfigError line unless `ok`."""
    if not ok:
        raise ConfigError(message)


@dataclass(frozen=True)
class Range:
    """A finite number (a whole one when `whole`) in an interval."""

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
        if not (is_whole(value) if self.whole else is_number(value) and math.isfinite(value)):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def check_value(self, value: Any, where: str) -> None:
        """`where` is the key's full name (trainer.top_p); one line when `value` is not accepted."""
        if not self.accepts(value):
            fix = f" ({self.fix})" if self.fix else ""
            raise ConfigError(f"{where}={value!r} must be {self.rule()}{fix}")


def read(section: Any, key: str) -> Any:
    """A key's value from a typed section or a config node (None when absent)."""
    if hasattr(section, "get") and not hasattr(section, "__dataclass_fields__"):
        return section.get(key)
    return getattr(section, key, None)


def check_ranges(section: Any, group: str, ranges: dict[str, Range]) -> None:
    """Every key of `ranges` (a missing one counts as null) is in its range."""
    for key, allowed in ranges.items():
        allowed.check_value(read(section, key), f"{group}.{key}")
