"""Reading what runs left behind: overrides, composed config, status, metrics, eval summaries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from r1exp.common import jsonl
from r1exp.errors import ConfigError

STATUS_FILE = "status.json"


@dataclass
class Run:
    """One Hydra job directory."""

    path: Path
    overrides: dict[str, str]
    status: str
    error: str | None = None
    wall_time_s: float | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    # The composed config flattened to dotted keys, plus each config group's chosen option under
    # its group name (`reward`, `model`, ...): what a setting was even when nobody overrode it.
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name

    def setting(self, key: str) -> str:
        """The run's value of `key`: its override when given, else the composed value ("" if unknown)."""
        if key in self.overrides:
            return self.overrides[key]
        return self.settings.get(key, "")

    @property
    def accuracy_name(self) -> str:
        """What this run's `accuracy` metric really is (see accuracy_name)."""
        return accuracy_name(self.settings)

    @property
    def seed(self) -> str:
        """The run's seed as composed ("" when the run dir does not say)."""
        return self.setting("seed")


def accuracy_name(settings: dict[str, str]) -> str:
    """The honest name of the `accuracy` metric of a run with these settings (flattened config).

    `accuracy` is the mean of the term `reward.accuracy_term` names: a rate of correct answers for a
    0/1 verifier, the mean judge score for a judge (zh_general), as the built-in task that owns the
    reward declares (`Task.accuracy_names`). A reward no built-in task names is called after its term
    ("<term> score"). Runs without a recorded config keep "accuracy".
    """
    term = settings.get("reward.accuracy_term", "")
    if term in ("", "null"):
        return "accuracy"
    ref = settings.get(f"reward.terms.{term}.fn", "")
    if not ref:
        return "accuracy"
    from r1exp.tasks import TASKS

    # Cheap: reading the tasks imports their data sources, not the math verifier or the judge.
    for name in TASKS:
        if ref in TASKS[name].accuracy_names:
            return TASKS[name].accuracy_names[ref]
    return f"{term} score"


def _overrides(path: Path) -> dict[str, str]:
    file = path / ".hydra" / "overrides.yaml"
    if not file.exists():
        return {}
    out = {}
    for item in yaml.safe_load(file.read_text()) or []:
        key, _, value = str(item).partition("=")
        out[key.lstrip("+~")] = value
    return out


def _text(value: Any) -> str:
    # The way an override spells a value, so composed and overridden values compare equal.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _flatten(node: Any, prefix: str, out: dict[str, str]) -> None:
    from omegaconf import DictConfig, ListConfig, OmegaConf

    if isinstance(node, DictConfig):
        for key in node:
            dotted = f"{prefix}{key}"
            try:
                child = node[key]
            except Exception:  # an interpolation that needs Hydra's runtime (${hydra:...}): keep it raw
                out[dotted] = str(OmegaConf.to_container(node, resolve=False).get(key))
                continue
            _flatten(child, dotted + ".", out)
    elif isinstance(node, ListConfig):
        try:
            out[prefix[:-1]] = _text(OmegaConf.to_container(node, resolve=True))
        except Exception:
            out[prefix[:-1]] = str(OmegaConf.to_container(node, resolve=False))
    else:
        out[prefix[:-1]] = _text(node)


def read_settings(path: Path) -> dict[str, str]:
    """Composed values (.hydra/config.yaml) and group choices (.hydra/hydra.yaml) as override-style text."""
    from omegaconf import OmegaConf

    out: dict[str, str] = {}
    config = path / ".hydra" / "config.yaml"
    if config.exists():
        _flatten(OmegaConf.load(config), "", out)
    hydra_file = path / ".hydra" / "hydra.yaml"
    if hydra_file.exists():
        choices = (yaml.safe_load(hydra_file.read_text()) or {}).get("hydra", {}).get("runtime", {}).get("choices")
        for group, option in (choices or {}).items():
            if not str(group).startswith("hydra/"):
                out[str(group)] = _text(option)
    return out


def load_run(path: Path) -> Run:
    """A run's overrides, status (ok, failed, or incomplete when it never finished), metrics, summary."""
    path = Path(path)
    status_file = path / STATUS_FILE
    status = json.loads(status_file.read_text()) if status_file.exists() else {"status": "incomplete"}
    summary_file = path / "summary.json"
    return Run(
        path=path,
        overrides=_overrides(path),
        status=status.get("status", "incomplete"),
        error=status.get("error"),
        wall_time_s=status.get("wall_time_s"),
        metrics=jsonl.read(path / "metrics.jsonl"),
        summary=json.loads(summary_file.read_text()) if summary_file.exists() else None,
        settings=read_settings(path),
    )


def expand_run_dirs(paths: list[str | Path]) -> list[Path]:
    """Run dirs as given, with a sweep dir (it holds multirun.yaml) standing for its job dirs."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            raise ConfigError(f"cmd.runs: {p} is not a directory")
        if (p / "multirun.yaml").exists():
            jobs = sorted((d for d in p.iterdir() if (d / ".hydra").is_dir()), key=lambda d: _job_order(d.name))
            out.extend(jobs)
        elif (p / ".hydra").is_dir() or (p / STATUS_FILE).exists():
            out.append(p)
        else:
            raise ConfigError(f"cmd.runs: {p} is neither a run dir (.hydra/) nor a sweep dir (multirun.yaml)")
    return out


def _job_order(name: str) -> tuple[int, str]:
    return (int(name), name) if name.isdigit() else (10**9, name)


def load_runs(paths: list[str | Path]) -> list[Run]:
    """Every run under `paths` (see expand_run_dirs), in job order."""
    return [load_run(p) for p in expand_run_dirs(paths)]


SWEEP_DIR_ENV = "R1EXP_SWEEP_DIR"


def repo_root(start: Path | None = None) -> Path:
    """The checkout's root (the folder holding launch.py) at or above `start` (the working directory).

    A notebook runs in its own folder (notebooks/), while sweeps land in <root>/multirun: relative
    sweep paths are read from the root, as the commands that wrote them ran there.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "launch.py").is_file():
            return folder
    return here


def resolve_sweep_dir(value: str | None = None, start: Path | None = None) -> Path:
    """The sweep dir to analyse: `value` (R1EXP_SWEEP_DIR; relative to the checkout's root), else the
    newest sweep under <root>/multirun; one clear error when there is none."""
    root = repo_root(start)
    if value:
        path = Path(value).expanduser()
        path = path if path.is_absolute() else root / path
        if not path.is_dir():
            raise ConfigError(f"{SWEEP_DIR_ENV}={value}: {path} is not a directory; give a sweep dir (multirun.yaml)")
        return path
    sweeps = [p.parent for p in (root / "multirun").glob("**/multirun.yaml")]
    if not sweeps:
        raise ConfigError(
            f"{SWEEP_DIR_ENV} is not set and {root / 'multirun'} holds no sweep: run one "
            f"(python launch.py +sweep=warmup +experiment=smoke) or set {SWEEP_DIR_ENV}=DIR "
            "(a sweep dir, relative to the checkout's root or absolute)"
        )
    return max(sweeps, key=lambda p: ((p / "multirun.yaml").stat().st_mtime, str(p)))
