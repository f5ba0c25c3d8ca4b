"""manifest.json: what a run was made of (versions, commit, model, weight hashes, seed, config)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from r1exp.common.jsonl import write_atomic
from r1exp.errors import UserError

PACKAGES = ("r1exp", "torch", "transformers", "trl", "peft", "accelerate", "datasets", "hydra-core", "omegaconf")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict[str, Any]:
    """Commit and dirty flag of the r1exp checkout, or nulls when it is not a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def path(run_dir: Path) -> Path:
    return Path(run_dir) / "manifest.json"


class ManifestDamaged(UserError):
    """manifest.json exists but cannot be read: the run it describes cannot be checked or resumed."""


def read(run_dir: Path) -> dict[str, Any] | None:
    """The run's manifest, None when there is none; a damaged one is one line (ManifestDamaged)."""
    p = path(run_dir)
    if not p.exists():
        return None
    try:
        record = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problem = f"not valid JSON (line {exc.lineno}: {exc.msg})"
    except UnicodeDecodeError:
        problem = "not UTF-8 text"
    else:
        if isinstance(record, dict):
            return record
        problem = f"a JSON {type(record).__name__}, not an object"
    raise ManifestDamaged(
        f"{p} is {problem}, so the run in {Path(run_dir)} cannot be checked or resumed; restore the file "
        "(it is written whole, so another program damaged it), or pass another hydra.run.dir"
    )


def write(run_dir: Path, manifest: dict[str, Any]) -> None:
    write_atomic(path(run_dir), json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
