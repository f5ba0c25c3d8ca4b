"""Finding the checkpoint a run resumes from."""

from __future__ import annotations

import re
from pathlib import Path

_CKPT = re.compile(r"^checkpoint-(\d+)$")


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest-step complete checkpoint (its trainer_state.json is written last), or None."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for child in checkpoint_dir.iterdir():
        match = _CKPT.match(child.name)
        if match and (child / "trainer_state.json").exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_step(path: Path) -> int:
    return int(_CKPT.match(path.name).group(1))
