"""Prompt templates: wrap a task's question into the text (or chat messages) the model sees, and a
worked solution into the completion a model following the template would write."""

from __future__ import annotations

from typing import Any

from r1exp.errors import ConfigError


def render(template: Any, question: str, answer_example: str = "") -> str | list[dict[str, str]]:
    """The prompt for one row: plain text, or system/user messages for chat templates."""
    text = template.text.replace("{question}", question).replace("{answer_example}", answer_example)
    if not template.chat:
        return text
    messages = []
    if template.system:
        messages.append({"role": "system", "content": template.system})
    messages.append({"role": "user", "content": text})
    return messages


def render_reference(template: Any, think: str, answer: str) -> str:
    """The completion text a model following `template` would produce for this solution.

    The r1zero_base prompt already opened <think>, so its completion starts inside the block.
    """
    if template.guide is None:
        raise ConfigError(
            f"template={template.name} has no guide: cold start and reference-guided groups write completions in "
            "it; give template.guide (e.g. '<think>{think}</think>\\n<answer>{answer}</answer>')"
        )
    return template.guide.replace("{think}", think).replace("{answer}", answer)
