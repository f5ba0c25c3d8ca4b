"""manifest.json: what a run was made of (versions, commit, model, weight hashes, seed, config)."""

from __future__ import annotations

import importlib.metadata
import json
import platform
import subprocess
from pathlib import Path
from typing import Any

from r1exp.common.jsonl import write_atomic

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


def read(run_dir: Path) -> dict[str, Any] | None:
    p = path(run_dir)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def write(run_dir: Path, manifest: dict[str, Any]) -> None:
    write_atomic(path(run_dir), json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
