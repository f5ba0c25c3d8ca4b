"""JSON-lines files written append-only, and trimmed atomically when a run resumes."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


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


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so readers see the old or the new content, never a mix."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def truncate_after(path: Path, step: int) -> int:
    """Keep rows with `step` <= step (the checkpoint a resume starts from); return rows dropped."""
    if not Path(path).exists():
        return 0
    rows = read(path)
    kept = [r for r in rows if int(r.get("step", 0)) <= step]
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept))
    return len(rows) - len(kept)
