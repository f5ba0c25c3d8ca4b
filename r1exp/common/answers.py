"""Turning untrusted model output into the text the rewards read: tags, answer blocks, boxed answers.

Never evaluates anything.
"""

from __future__ import annotations

from typing import Any

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
MAX_ANSWER_CHARS = 1000
BOX_COMMANDS = ("\\boxed", "\\fbox")


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


def scan_braces(text: str) -> tuple[tuple[int, int] | None, bool]:
    """The span of the box that closes last, and whether the unescaped braces balance. Linear time."""
    spans, balanced, _ = box_spans(text)
    # The box that closes last is the last outermost one (an inner box closes before its outer box).
    return ((spans[-1][1], spans[-1][2]) if spans else None), balanced


def last_boxed(text: str) -> str | None:
    """Content of the `\\boxed{…}`/`\\fbox{…}` that closes last (balanced braces), or None."""
    span, _ = scan_braces(text)
    return None if span is None else text[span[0] : span[1]]


def box_spans(text: str) -> tuple[list[tuple[int, int, int]], bool, bool]:
    """Every outermost box as (command start, content start, content end), whether the unescaped
    braces balance, and whether a box sits inside another. Linear time."""
    spans: list[tuple[int, int, int]] = []
    stack: list[int] = []  # per open brace: the start of its box command, or -1 for a plain brace
    open_boxes = 0
    nested = False
    balanced = True
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            command = next((c for c in BOX_COMMANDS if text.startswith(c, i)), None)
            if command is None:
                i += 2
                continue
            j = i + len(command)
            while j < n and text[j] in " \t\n":
                j += 1
            if j < n and text[j] == "{":
                nested = nested or open_boxes > 0
                open_boxes += 1
                stack.append(i)
                i = j + 1
            else:
                i = j
            continue
        if ch == "{":
            stack.append(-1)
        elif ch == "}":
            if not stack:
                balanced = False
            else:
                start = stack.pop()
                if start >= 0:
                    open_boxes -= 1
                    if open_boxes == 0:
                        inner = text.index("{", start) + 1
                        spans.append((start, inner, i))
        i += 1
    return spans, balanced and not stack, nested
