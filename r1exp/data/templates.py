"""Prompt templates: wrap a task's question into the text (or chat messages) the model sees."""

from __future__ import annotations

from typing import Any


def render(template: Any, question: str, answer_example: str = "") -> str | list[dict[str, str]]:
    """The prompt for one row: plain text, or system/user messages for chat templates."""
    text = template.text.replace("{question}", question).replace("{answer_example}", answer_example)
    if not template.get("chat"):
        return text
    messages = []
    if template.get("system"):
        messages.append({"role": "system", "content": template.system})
    messages.append({"role": "user", "content": text})
    return messages
