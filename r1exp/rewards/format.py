"""Format rewards: the strict R1 format (1/0) and the soft per-tag credit (0.25 a tag)."""

from __future__ import annotations

from typing import Any

from r1exp.common.answers import TAGS, contains_tag, scored_text
from r1exp.rewards.base import reward


def is_strictly_formatted(text: str, think: bool = True) -> bool:
    """Exactly one think block then exactly one answer block (or one answer block), nothing else.

    With `think=False` (template answer_only) free text may come before the one answer block.
    Whitespace is allowed at the ends and between the blocks. Linear time: each tag must occur
    exactly once (so no block holds a tag) and the tags must sit where the layout puts them.
    """
    body = text.strip()
    if think:
        if any(body.count(tag) != 1 for tag in TAGS):
            return False
        if not (body.startswith("<think>") and body.endswith("</answer>")):
            return False
        between = body[body.index("</think>") + len("</think>") : body.index("<answer>")]
        return between.strip() == "" and body.index("</think>") < body.index("<answer>")
    # answer_only: free reasoning may precede the single answer block; nothing may follow it.
    if body.count("<answer>") != 1 or body.count("</answer>") != 1 or not body.endswith("</answer>"):
        return False
    content = body[body.index("<answer>") + len("<answer>") : -len("</answer>")]
    return not contains_tag(content)


def soft_format_score(text: str) -> float:
    """0.25 for each of the four tags that appears exactly once."""
    return 0.25 * sum(text.count(tag) == 1 for tag in TAGS)


@reward()
def strict_format(prompts: list, completions: list, think: bool = True, **_: Any) -> list[float | None]:
    """1.0 when the scored text is strictly formatted, else 0.0."""
    return [float(is_strictly_formatted(scored_text(p, c), think)) for p, c in zip(prompts, completions, strict=True)]


@reward()
def soft_format(prompts: list, completions: list, **_: Any) -> list[float | None]:
    """0.25 per tag present exactly once (the smooth format reward of the LoRA note)."""
    return [soft_format_score(scored_text(p, c)) for p, c in zip(prompts, completions, strict=True)]
