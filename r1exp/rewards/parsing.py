"""Turning untrusted model output into the text the rewards read. Never evaluates anything."""

from __future__ import annotations

from typing import Any

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
MAX_ANSWER_CHARS = 1000


def as_text(item: Any) -> str:
    """A prompt or completion as plain text: strings as is, chat messages joined by content."""
    if item is None:
        return ""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("content", ""))
    if isinstance(item, (list, tuple)):
        return "".join(as_text(m) for m in item)
    return str(item)


def scored_text(prompt: Any, completion: Any) -> str:
    """The text format and answer rewards read.

    When the prompt (right-stripped) ends with an opening `<think>`, the model's completion starts
    inside the think block, so the tag is put back in front of it.
    """
    text = as_text(completion)
    if isinstance(prompt, str) and prompt.rstrip().endswith("<think>"):
        return "<think>" + text
    return text


def last_answer(text: str) -> str | None:
    """Content of the last `<answer>…</answer>` block, or None when there is none."""
    end = text.rfind("</answer>")
    if end < 0:
        return None
    start = text.rfind("<answer>", 0, end)
    if start < 0:
        return None
    return text[start + len("<answer>") : end]


def contains_tag(text: str) -> bool:
    return any(tag in text for tag in TAGS)
