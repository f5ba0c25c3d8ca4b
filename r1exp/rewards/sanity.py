"""Dense diagnostic rewards that a random-init tiny model can learn in a few dozen steps.

They prove the training loop learns at all (reward rises with a real learning rate, stays flat with
lr = 0); they are not task rewards.
"""

from __future__ import annotations

from typing import Any

from r1exp.common.answers import as_text
from r1exp.rewards.base import reward


@reward()
def digit_density(prompts: list, completions: list, **_: Any) -> list[float | None]:
    """Share of ASCII digit characters in the completion."""
    out: list[float | None] = []
    for c in completions:
        text = as_text(c)
        out.append(sum("0" <= ch <= "9" for ch in text) / len(text) if text else 0.0)
    return out
