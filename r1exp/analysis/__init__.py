"""Load run and sweep directories, and turn them into comparison tables and plots.

Used by `cmd=compare`, by the Hydra callback that reports when a multirun ends, and by notebooks.
"""

from r1exp.analysis.report import comparison_figure, comparison_table, plot_comparison, write_report
from r1exp.analysis.runs import Run, expand_run_dirs, load_run, load_runs

__all__ = [
    "Run",
    "comparison_figure",
    "comparison_table",
    "expand_run_dirs",
    "load_run",
    "load_runs",
    "plot_comparison",
    "write_report",
]
