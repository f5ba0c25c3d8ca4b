"""cmd=compare: the side-by-side report (comparison.md/.csv/.png) for any run or sweep dirs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path

from r1exp.analysis import load_runs, write_report
from r1exp.errors import ConfigError
from r1exp.sections import Sections


def run(s: Sections) -> dict[str, Any]:
    cmd = s.cmd
    runs_arg = cmd.runs
    if isinstance(runs_arg, str):
        runs_arg = [runs_arg]
    if not runs_arg:
        raise ConfigError("cmd.runs is empty: pass cmd.runs=[DIR,...] (run dirs or a sweep dir)")
    runs = load_runs([to_absolute_path(str(p)) for p in runs_arg])
    if not runs:
        raise ConfigError("cmd.runs: no run dirs found there")
    out = Path(to_absolute_path(str(cmd.output))) if cmd.output else Path(HydraConfig.get().runtime.output_dir)
    files = write_report(runs, out, baseline=cmd.baseline)
    print(f"r1exp: comparison of {len(runs)} runs: {files['md']}")
    return {k: str(v) for k, v in files.items()}
