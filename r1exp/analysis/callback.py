"""Hydra callback: when a multirun ends, write the comparison into the sweep dir.

Jobs never raise out of the task (the task wrapper records failures in each job's status.json), so
this always runs; afterwards a sweep with failed jobs ends with one error line and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from r1exp.errors import UserError, exit_with


class SweepFailed(UserError):
    """Some jobs of a multirun failed; the report was written anyway."""


class CompareOnMultirunEnd(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from r1exp.analysis import load_runs, write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        if not (sweep_dir / "multirun.yaml").exists():
            return
        runs = load_runs([sweep_dir])
        files = write_report(runs, sweep_dir)
        failed = [r for r in runs if r.status != "ok"]
        print(f"r1exp: comparison of {len(runs)} runs: {files['md']}")
        if failed:
            first = next((r for r in failed if r.error), failed[0])
            # Hydra turns exceptions raised in callbacks into warnings; the sweep must still end non-zero.
            exit_with(
                SweepFailed(
                    f"{len(failed)} of {len(runs)} jobs failed (first: job {first.name}: "
                    f"{first.error or first.status}); see {files['md']}"
                )
            )
