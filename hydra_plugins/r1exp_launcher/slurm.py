"""Slurm launcher for sweeps: hydra-submitit-launcher's, watching every job of the sweep at once.

The stock launcher waits for the jobs in order and raises on the first one that ended without a
result (scancel, OOM kill, node failure): a dead job behind a long one goes unnoticed for hours, and
the multirun then ends with a traceback and no comparison. This one polls Slurm for all jobs, logs
a dead job as soon as it is seen (job number, overrides, Slurm id and state, log file), records it
as failed in its job dir, and returns, so the comparison callback reports it with the other jobs'
results and the sweep ends with status 2.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as StockSlurmLauncher
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)

# Seconds between sacct calls (submitit's own interval grows to 10 minutes for long jobs).
POLL_S = 15


class SlurmLauncher(StockSlurmLauncher):
    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        jobs = self._submit(job_overrides, initial_job_idx)
        pending = dict(enumerate(jobs))
        results: list[Any] = [None] * len(jobs)
        next_poll = 0.0
        while pending:
            if time.monotonic() >= next_poll:
                jobs[0].watcher.update()
                next_poll = time.monotonic() + POLL_S
            for i, job in list(pending.items()):
                if job.done():
                    del pending[i]
                    results[i] = self._outcome(job, list(job_overrides[i]), initial_job_idx + i)
            time.sleep(1)
        return results

    def _submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
        """The stock launcher's submission (hydra-submitit-launcher 1.2.0), unchanged."""
        import submitit

        assert self.config is not None
        init_keys = {"max_num_timeout", "submitit_folder"}
        executor = submitit.AutoExecutor(
            cluster=self._EXECUTOR,
            folder=self.params["submitit_folder"],
            **{f"{self._EXECUTOR}_max_num_timeout": self.params["max_num_timeout"]},
        )
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(
            **{(k if k in base else f"{self._EXECUTOR}_{k}"): v for k, v in self.params.items() if k not in init_keys}
        )
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            sweep_dir.chmod(int(str(self.config.hydra.sweep.mode), 8))
        params = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        return executor.map_array(self, *zip(*params, strict=True))

    def _outcome(self, job: Any, overrides: list[str], num: int) -> JobReturn:
        from submitit.core.utils import FailedJobError, UncompletedJobError

        try:
            return job.results()[0]
        except (UncompletedJobError, FailedJobError) as exc:
            if isinstance(exc, UncompletedJobError):
                error = f"Slurm job {job.job_id} ended {job.state} without a result; log: {job.paths.stderr}"
            else:
                error = f"Slurm job {job.job_id} failed outside the task; log: {job.paths.stderr}"
        log.error("r1exp: job %d (%s): %s", num, " ".join(filter_overrides(overrides)), error)
        self._record_failure(overrides, num, error)
        ret = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        ret.return_value = None
        return ret

    def _record_failure(self, overrides: list[str], num: int, error: str) -> None:
        """Write what the comparison reads (.hydra/overrides.yaml, status.json) for a job that died."""
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = num
        out = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        (out / ".hydra").mkdir(parents=True, exist_ok=True)
        if not (out / ".hydra" / "overrides.yaml").exists():
            OmegaConf.save(OmegaConf.create(overrides), out / ".hydra" / "overrides.yaml")
        record = {"status": "failed", "error": error, "wall_time_s": None}
        (out / "status.json").write_text(json.dumps(record) + "\n")
