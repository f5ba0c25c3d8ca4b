"""Finding the checkpoint a run resumes from."""

from __future__ import annotations

import re
from pathlib import Path

_CKPT = re.compile(r"^checkpoint-(\d+)$")
MARKER = "r1exp_complete"


def mark_complete(checkpoint: Path) -> None:
    """Written last into a checkpoint: its presence means every file of the checkpoint is there."""
    if checkpoint.is_dir():
        tmp = checkpoint / (MARKER + ".tmp")
        tmp.write_text("complete\n")
        tmp.replace(checkpoint / MARKER)


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The highest-step checkpoint marked complete, or None."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for child in checkpoint_dir.iterdir():
        match = _CKPT.match(child.name)
        if match and (child / MARKER).exists() and (child / "trainer_state.json").exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_step(path: Path) -> int:
    return int(_CKPT.match(path.name).group(1))
