"""The one JSON-lines reader and writer.

Run logs are appended row by row and trimmed atomically when a run resumes (`append`, `read`,
`trim_after`: a torn last line, left by a kill mid-write, is dropped; a line that is not JSON in the
middle of the file is damage, so it is moved to `<file>.garbled` with its line number, never dropped
silently); input files are read with line numbers (`read_numbered`), either skipping bad
lines with a message each (cmd=score) or stopping at the first one (`read_records`, data sources).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any

from r1exp.errors import DataError


def _clean(value: Any) -> Any:
    # JSON has no NaN/inf; a missing value is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def append(path: Path, row: dict[str, Any]) -> None:
    """Append one row and flush it to disk."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({k: _clean(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
        fh.flush()


def read(path: Path) -> list[dict[str, Any]]:
    """All complete rows; a torn last line (a kill mid-write) is ignored."""
    if not Path(path).exists():
        return []
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def read_numbered(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """(line number, row) for each JSON-object line, and (line number, problem) for each bad line."""
    rows: list[tuple[int, dict[str, Any]]] = []
    problems: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((lineno, f"not valid JSON ({exc.msg}, column {exc.colno})"))
                continue
            if not isinstance(row, dict):
                problems.append((lineno, f"a row must be a JSON object, not {type(row).__name__}"))
                continue
            rows.append((lineno, row))
    return rows, problems


def read_records(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """(`file:line`, record) for each non-blank line; the first bad line fails with its number."""
    rows, problems = read_numbered(path)
    if problems:
        lineno, problem = problems[0]
        fix = "; fix or remove the line" if problem.startswith("not valid JSON") else ""
        raise DataError(f"{path}:{lineno}: {problem}{fix}")
    return [(f"{path}:{lineno}", row) for lineno, row in rows]


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so readers see the old or the new content, never a mix."""
    tmp = Path(str(path) + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        # A full disk fails mid-write: leave no half-written temporary behind.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def trim_after(path: Path, step: int) -> tuple[int, list[int]]:
    """Keep rows with `step` <= step (the checkpoint a resume starts from): (rows dropped, garbled lines).

    A line that does not parse and is not the last one is appended to `<path>.garbled` as
    `<line number>: <text>`; its line number is returned so the caller can say so. A torn last
    line (a kill mid-write) belongs to a step after the checkpoint and is dropped with it.
    """
    path = Path(path)
    if not path.exists():
        return 0, []
    lines = path.read_text(encoding="utf-8").splitlines()
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    kept: list[str] = []
    garbled: list[tuple[int, str]] = []
    dropped = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            keep = int(row.get("step", 0)) <= step
        except (ValueError, TypeError, AttributeError):
            if i != last:
                garbled.append((i + 1, line))
            continue
        if keep:
            kept.append(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            dropped += 1
    if garbled:
        with open(Path(str(path) + ".garbled"), "a", encoding="utf-8") as fh:
            fh.write("".join(f"{n}: {text}\n" for n, text in garbled))
    write_atomic(path, "".join(kept))
    return dropped, [n for n, _ in garbled]


def truncate_after(path: Path, step: int) -> int:
    """`trim_after`, returning only the number of rows dropped."""
    return trim_after(path, step)[0]
