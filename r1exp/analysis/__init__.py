"""Load run and sweep directories, and turn them into comparison tables and plots.

Used by `cmd=compare`, by the Hydra callback that reports when a multirun ends, and by notebooks.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): every launch instantiates the multirun callback, which lives in this
# package, and pandas/matplotlib behind the report cost a second of start-up a single run never uses.
_EXPORTS = {
    "baseline_differences": "report",
    "comparison_figure": "report",
    "comparison_table": "report",
    "plot_comparison": "report",
    "write_report": "report",
    "Run": "runs",
    "expand_run_dirs": "runs",
    "load_run": "runs",
    "load_runs": "runs",
    "resolve_sweep_dir": "runs",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'r1exp.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"r1exp.analysis.{module}"), name)


__all__ = [
    "Run",
    "baseline_differences",
    "comparison_figure",
    "comparison_table",
    "expand_run_dirs",
    "load_run",
    "load_runs",
    "plot_comparison",
    "resolve_sweep_dir",
    "write_report",
]
