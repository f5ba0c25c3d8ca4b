"""Finding the checkpoint a run resumes from, and setting aside the ones that cannot be loaded.

A checkpoint counts once r1exp's completion marker is in it (written after everything else). A kill
or a full disk can still leave a damaged file behind an earlier save, and resuming from it fails deep
inside transformers. So before a resume every file of the newest checkpoint is checked the cheap way
its format allows (JSON parses, a safetensors header matches the file's length, a torch zip archive
has its central directory and, below 256 MiB, correct CRCs); a checkpoint that fails is renamed
`corrupt-checkpoint-N-<time>` (never deleted; a name transformers' rotation ignores) and the previous
one is tried.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path

from r1exp.errors import one_line

_CKPT = re.compile(r"^checkpoint-(\d+)$")
MARKER = "r1exp_complete"


def mark_complete(checkpoint: Path) -> None:
    """Written last into a checkpoint: its presence means every file of the checkpoint is there."""
    if checkpoint.is_dir():
        tmp = checkpoint / (MARKER + ".tmp")
        tmp.write_text("complete\n")
        tmp.replace(checkpoint / MARKER)


def last_checkpoint(checkpoint_dir: Path, exclude: set[Path] | frozenset[Path] = frozenset()) -> Path | None:
    """The highest-step checkpoint marked complete (other than those in `exclude`), or None."""
    if not checkpoint_dir.is_dir():
        return None
    found = []
    for child in checkpoint_dir.iterdir():
        match = _CKPT.match(child.name)
        if child in exclude:
            continue
        if match and (child / MARKER).exists() and (child / "trainer_state.json").exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_step(path: Path) -> int:
    return int(_CKPT.match(path.name).group(1))


# Files whose loss makes a checkpoint unusable (besides the model weights, checked below).
REQUIRED = ("trainer_state.json",)


def _check_safetensors(path: Path) -> None:
    # The header lists every tensor's byte range; safetensors refuses a file whose data is shorter.
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        fh.keys()


def _check_torch_zip(path: Path) -> None:
    # torch.save writes a zip archive whose directory sits at the end: a truncated file has none,
    # and a corrupted member fails its CRC. Cheap even for a multi-GB optimizer state.
    with zipfile.ZipFile(path) as zf:
        bad = zf.testzip() if path.stat().st_size < 256 * 2**20 else None
        if bad is not None:
            raise ValueError(f"member {bad} fails its checksum")


def unloadable(checkpoint: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (a missing or damaged file), or None when it can."""
    for name in REQUIRED:
        if not (checkpoint / name).is_file():
            return f"{name} is missing"
    weights = [p for p in checkpoint.iterdir() if p.suffix == ".safetensors" or p.name.endswith(".bin")]
    if not any(p.suffix == ".safetensors" or p.name == "pytorch_model.bin" for p in weights):
        return "it holds no model weights"
    for path in sorted(checkpoint.iterdir()):
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json":
                json.loads(path.read_text(encoding="utf-8"))
            elif path.suffix == ".safetensors":
                _check_safetensors(path)
            elif path.suffix in (".pt", ".pth", ".bin"):
                _check_torch_zip(path)
        except Exception as exc:  # any parse failure means the file is damaged
            return f"{path.name} is damaged ({type(exc).__name__}: {one_line(str(exc))[:120]})"
    return None


def set_aside(checkpoint: Path) -> Path:
    """Rename a damaged checkpoint so no resume or rotation picks it up; it is never deleted.

    The new name does not start with `checkpoint-`, which transformers' rotation would count.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = checkpoint.with_name(f"corrupt-{checkpoint.name}-{stamp}")
    n = 1
    while target.exists():
        target = checkpoint.with_name(f"corrupt-{checkpoint.name}-{stamp}-{n}")
        n += 1
    os.rename(checkpoint, target)
    return target


def resume_point(checkpoint_dir: Path, set_aside_broken: bool = True) -> Path | None:
    """The newest complete checkpoint that passes `unloadable`, setting aside the newer broken ones.

    With `set_aside_broken=False` (a non-main rank) broken ones are only skipped.
    """
    skipped: set[Path] = set()
    while True:
        ckpt = last_checkpoint(checkpoint_dir, exclude=skipped)
        if ckpt is None:
            return None
        reason = unloadable(ckpt)
        if reason is None:
            return ckpt
        if set_aside_broken:
            moved = set_aside(ckpt)
            print(
                f"r1exp: warning: checkpoint {ckpt} cannot be loaded: {reason}; set aside as {moved.name}, "
                "resuming from the previous complete checkpoint",
                file=sys.stderr,
            )
        skipped.add(ckpt)
