"""Finding the checkpoint a run resumes from, and setting aside the ones that cannot be loaded.

A checkpoint is whole or it is not used. It counts once r1exp's completion marker is in it, written
after everything else (`mark_complete`): a JSON file listing every file of the checkpoint with its
size and sha256, taken right after the save. Before a resume the newest checkpoint is checked:
- every file a resume needs is there: the weights, `trainer_state.json`, the optimizer and scheduler
  state (transformers silently starts a fresh AdamW and schedule when either is missing), the RNG
  state, and every file the marker lists (r1exp's own state, e.g. the curriculum's);
- every listed file still has its size and checksum (a same-length corruption inside the weights
  passes any format check; it does not pass this one);
- the weights are finite (a checkpoint saved after a divergence would fail on the first sampled
  token, every relaunch the same way).
A checkpoint written by an older r1exp (a marker without checksums) gets the format checks instead:
JSON parses, a safetensors header matches the file's length, a torch zip archive has its central
directory and, below 256 MiB, correct CRCs. A checkpoint that fails is renamed
`corrupt-checkpoint-N-<time>` (never deleted; a name transformers' rotation ignores) with one line
saying why, and the previous one is tried.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from r1exp.errors import UserError, one_line


class NonFiniteAfterResume(UserError):
    """Training met NaN or infinite numbers right after resuming: the checkpoint is the suspect."""


def non_finite_line(checkpoint: Path, what: str) -> str:
    """The one line for non-finite numbers right after resuming from `checkpoint`."""
    return (
        f"non-finite numbers right after resuming from {checkpoint.name} ({what[:120]}); its state is the suspect: "
        f"rename {checkpoint} to corrupt-{checkpoint.name} to resume from the checkpoint before it, or pass "
        "another hydra.run.dir"
    )


_CKPT = re.compile(r"^checkpoint-(\d+)$")
MARKER = "r1exp_complete"


def file_digests(checkpoint: Path) -> dict[str, dict[str, Any]]:
    """Relative path -> {size, sha256} of every file in a checkpoint (the marker excluded)."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in checkpoint.rglob("*") if p.is_file()):
        name = path.relative_to(checkpoint).as_posix()
        if name in (MARKER, MARKER + ".tmp"):
            continue
        out[name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    return out


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def mark_complete(checkpoint: Path) -> None:
    """Written last into a checkpoint: every file in it, with its size and sha256 (see the module docstring)."""
    if checkpoint.is_dir():
        tmp = checkpoint / (MARKER + ".tmp")
        record = {"complete": True, "files": file_digests(checkpoint)}
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(checkpoint / MARKER)


def read_marker(checkpoint: Path) -> dict[str, Any] | None:
    """The marker's record; None for a marker without checksums (an older r1exp) or an unreadable one."""
    try:
        record = json.loads((checkpoint / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("files"), dict) else None


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


# Files whose loss makes a checkpoint unusable (besides the model weights and the optimizer,
# scheduler and RNG state, checked in `missing_state`).
REQUIRED = ("trainer_state.json",)


def missing_state(checkpoint: Path) -> str | None:
    """The first file a resume needs that is not there, or None."""
    for name in REQUIRED:
        if not (checkpoint / name).is_file():
            return f"{name} is missing"
    names = {p.name for p in checkpoint.iterdir()}
    weights = [n for n in names if n.endswith(".safetensors") or n == "pytorch_model.bin"]
    if not weights:
        return "it holds no model weights"
    # DeepSpeed keeps optimizer and scheduler in its own global_step* folder.
    deepspeed = any(n.startswith("global_step") and (checkpoint / n).is_dir() for n in names)
    if not deepspeed:
        for name in ("optimizer.pt", "scheduler.pt"):
            if name not in names:
                return f"{name} is missing (a resume would restart the {name[:-3]} from scratch)"
    if not any(n == "rng_state.pth" or (n.startswith("rng_state_") and n.endswith(".pth")) for n in names):
        return "rng_state.pth is missing (a resume would not continue the random streams)"
    return None


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


def _check_formats(checkpoint: Path) -> str | None:
    """Format checks for a checkpoint without checksums (written by an older r1exp)."""
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


def _check_digests(checkpoint: Path, files: dict[str, Any]) -> str | None:
    for name, expected in sorted(files.items()):
        path = checkpoint / name
        if not path.is_file():
            return f"{name} is missing"
        if not isinstance(expected, dict):
            return f"the completion marker is damaged (entry for {name})"
        if path.stat().st_size != expected.get("size"):
            return f"{name} has {path.stat().st_size} bytes, {expected.get('size')} when it was saved"
        if _sha256(path) != expected.get("sha256"):
            return f"{name} does not match the checksum written when it was saved"
    return None


def non_finite_weights(checkpoint: Path) -> str | None:
    """The first weight tensor with a NaN or infinite value, as `file: tensor`, or None."""
    import torch
    from safetensors import safe_open

    for path in sorted(checkpoint.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as fh:
            for key in fh.keys():  # noqa: SIM118 (safe_open is not a mapping)
                tensor = fh.get_tensor(key)
                if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                    return f"{path.name}: {key}"
    return None


def unloadable(checkpoint: Path) -> str | None:
    """Why a checkpoint cannot be resumed from (a missing, damaged or non-finite file), or None when it can."""
    marker = read_marker(checkpoint)
    reason = _check_digests(checkpoint, marker["files"]) if marker is not None else None
    reason = reason or missing_state(checkpoint)
    if reason is None and marker is None:
        reason = _check_formats(checkpoint)
    if reason is None:
        try:
            bad = non_finite_weights(checkpoint)
        except Exception as exc:  # a weights file safetensors cannot read is damaged
            return f"the weights cannot be read ({type(exc).__name__}: {one_line(str(exc))[:120]})"
        if bad is not None:
            return f"its weights are not finite ({bad}): the run had diverged when it was saved"
    return reason


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
