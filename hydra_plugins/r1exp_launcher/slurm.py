"""Slurm launcher for sweeps: hydra-submitit-launcher's, with each job's own process layout, and
watching every job of the sweep at once.

- Layout: each Hydra job becomes one Slurm job with nodes x tasks_per_node tasks, taken from that
  job's own config (its hardware preset, so a sweep over presets works); jobs that need the same
  resources go out together as one job array. Every task runs the Hydra task function in the same
  job dir, after joining one torch.distributed group built from Slurm's environment
  (r1exp.distributed). `srun --kill-on-bad-exit` ends the other tasks when one dies, so a dead rank
  fails its job instead of leaving the others waiting in a collective.
- Submission: an sbatch refusal (no such partition, invalid GPU request) is one line, not a traceback,
  and so is a machine without Slurm's commands (checked before Hydra creates the sweep dir).
- Dry run: `hydra.launcher.dry_run=true` prints, for each Slurm job array the sweep would submit, its
  jobs, their per-job layout and the batch script submitit would hand to sbatch (its own writer), then
  exits 0 having submitted nothing and left no sweep dir behind. It needs no Slurm on the machine: the
  layout is computed per job at submission time, which `--cfg hydra` cannot show.
- Watching: the stock launcher waits for the jobs in order and raises on the first one that ended
  without a result (scancel, OOM kill, node failure): a dead job behind a long one goes unnoticed for
  hours, and the multirun then ends with a traceback and no comparison. This one polls Slurm for all
  jobs, logs a dead job as soon as it is seen (job number, overrides, Slurm id and state, the rank
  that died, log file), records it as failed in its job dir, and returns, so the comparison callback
  reports it with the other jobs' results and the sweep ends with status 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as StockSlurmLauncher
from omegaconf import DictConfig, OmegaConf, open_dict

if TYPE_CHECKING:
    from r1exp.distributed import Layout
    from r1exp.sections import Sections

log = logging.getLogger(__name__)

# Seconds between sacct calls (submitit's own interval grows to 10 minutes for long jobs).
POLL_S = 15
# Launcher keys that are the executor's or this launcher's, not a job's.
INIT_KEYS = {"max_num_timeout", "submitit_folder", "_target_", "dry_run"}
# Slurm commands a submission needs on this machine (submitit submits with sbatch, checks for srun
# and polls sacct).
SLURM_COMMANDS = ("sbatch", "srun", "sacct")

# srun's report of a task that ended badly, e.g. "srun: error: node1: task 1: Killed".
SRUN_TASK_ERROR = re.compile(r"srun: error: (\S+): tasks? ([0-9,\-]+): (.+)")


def job_resources(s: Sections) -> tuple[dict[str, Any], Layout]:
    """A job's launcher parameters (resolved in its own config, `s.composed`) and its process layout.

    nodes, tasks_per_node and gpus_per_node follow the job's hardware preset through the preset's
    interpolations; a job that serves vLLM keeps the server's GPUs out of the trainer tasks.
    """
    from r1exp.distributed import deepspeed_config, job_layout

    # A wrong value is one line now, not a failed job after the queue wait (the package is the nodes' business).
    deepspeed_config(s.hardware.deepspeed)
    params = OmegaConf.to_container(s.composed.hydra.launcher, resolve=True)
    params = {k: v for k, v in params.items() if k not in INIT_KEYS}
    layout = job_layout(
        s,
        nodes=int(params.get("nodes") or 1),
        tasks_per_node=int(params.get("tasks_per_node") or 1),
        gpus_per_node=int(params.get("gpus_per_node") or 0),
    )
    params["nodes"] = layout.nodes
    params["tasks_per_node"] = layout.tasks_per_node
    # 0 GPUs: request none at all (a CPU partition may refuse any GPU option); a site that asks for
    # GPUs through `gres` gets only that option.
    params["gpus_per_node"] = None if params.get("gres") else (layout.gpus_per_node or None)
    if layout.world_size > 1:
        # One task that ends badly ends the others, instead of leaving them in a collective.
        params["srun_args"] = [*(params.get("srun_args") or []), "--kill-on-bad-exit=1"]
    return params, layout


def submission_error(exc: BaseException) -> str:
    """One line from an sbatch failure: its error lines, without submitit's traceback."""
    text = str(getattr(exc, "stderr", None) or exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()] or lines[-1:] or [type(exc).__name__]
    return " | ".join(dict.fromkeys(errors))


def missing_slurm_commands() -> list[str]:
    """Slurm's commands that are not on PATH here (empty on a login node)."""
    return [name for name in SLURM_COMMANDS if shutil.which(name) is None]


def sbatch_script(resources: dict[str, Any], folder: str, jobs: int) -> str:
    """The batch script submitit writes for `jobs` jobs (an array when more than one) with these resources.

    Built by submitit's own Slurm executor, as `_submit` configures it, on any machine: submitit's
    check that srun exists is for submitting, not for writing the script.
    """
    from submitit.slurm.slurm import SlurmExecutor

    class PreviewExecutor(SlurmExecutor):
        @classmethod
        def affinity(cls) -> int:
            return 2

    executor = PreviewExecutor(folder)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    # As submitit's AutoExecutor does: None is unset; generic names become Slurm's, the rest pass as they are.
    given = {k: v for k, v in resources.items() if v is not None}
    params = executor._convert_parameters({k: v for k, v in given.items() if k in base})
    params.update({k: v for k, v in given.items() if k not in base})
    executor.update_parameters(**params)
    if jobs > 1:
        executor.parameters["map_count"] = jobs
    return executor._make_submission_file_text(executor._submitit_command_str, "dry-run")


def layout_line(resources: dict[str, Any], layout: Any) -> str:
    """'1 node(s) x 4 task(s), 4 GPU(s) per node, ...': a job's layout as sbatch receives it."""
    gpus = resources.get("gres") or f"{resources.get('gpus_per_node') or 0} GPU(s) per node"
    server = f" ({layout.server_gpus} of them for trl vllm-serve)" if getattr(layout, "server_gpus", 0) else ""
    cpus = resources.get("cpus_per_task")
    mem = resources.get("mem_gb")
    return (
        f"{resources.get('nodes')} node(s) x {resources.get('tasks_per_node')} task(s), {gpus}{server}, "
        f"{cpus if cpus is not None else 'default'} CPU(s) per task, "
        f"{f'{mem} GB' if mem is not None else 'default memory'} per node, {resources.get('timeout_min')} min, "
        f"partition {resources.get('partition') or '(cluster default)'}"
    )


def dead_ranks(log_text: str) -> list[str]:
    """'rank N on HOST: REASON' for each task srun reported as ended badly."""
    found = []
    for host, tasks, reason in SRUN_TASK_ERROR.findall(log_text):
        found.append(f"rank {tasks} on {host}: {reason.strip()}")
    return list(dict.fromkeys(found))


class SlurmLauncher(StockSlurmLauncher):
    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Refuse a machine without Slurm before Hydra creates the sweep dir; note what a dry run must undo."""
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        sweep_dir = Path(str(config.hydra.sweep.dir)).absolute()
        existing = sweep_dir
        while not existing.exists():
            existing = existing.parent
        # The first folder of the sweep dir that exists now: a dry run removes what Hydra adds below it.
        self._existing_parent = existing
        previous = sweep_dir / "multirun.yaml"
        self._previous_multirun = previous.read_bytes() if previous.is_file() else None
        missing = missing_slurm_commands()
        if missing and not self.params.get("dry_run"):
            from r1exp.errors import ConfigError

            raise ConfigError(
                f"launcher=slurm: Slurm's commands are not on PATH on this machine ({', '.join(missing)} not found); "
                "submit from the cluster's login node, or drop launcher=slurm to run here (launcher=local); "
                "hydra.launcher.dry_run=true shows what would be submitted"
            )

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        if self.params.get("dry_run"):
            self._dry_run(job_overrides, initial_job_idx)
        self._submitted_at = time.time()
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

    def _groups(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int, announce: bool = True
    ) -> dict[str, tuple[dict[str, Any], list[int], list[Any]]]:
        """Each job's resources from its own config, grouped: one job array per distinct set.

        Returns {key: (resources, positions in job_overrides, layouts)}.
        """
        from r1exp.sections import Sections

        assert self.config is not None and self.hydra_context is not None
        groups: dict[str, tuple[dict[str, Any], list[int], list[Any]]] = {}
        for pos, overrides in enumerate(job_overrides):
            idx = initial_job_idx + pos
            job_cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            resources, layout = job_resources(Sections(job_cfg))
            if announce:
                log.info(
                    f"\t#{idx} : {' '.join(filter_overrides(overrides))}"
                    + (f"  [{layout.nodes} node(s) x {layout.tasks_per_node} task(s)]" if layout.world_size > 1 else "")
                )
            key = json.dumps(resources, sort_keys=True, default=str)
            group = groups.setdefault(key, (resources, [], []))
            group[1].append(pos)
            group[2].append(layout)
        return groups

    def _dry_run(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> None:
        """Print what would be submitted, undo the sweep dir Hydra made for it, and exit 0."""
        assert self.config is not None
        groups = self._groups(job_overrides, initial_job_idx, announce=False)
        folder = str(self.params["submitit_folder"])
        lines = [
            f"r1exp: dry run, nothing submitted: {len(job_overrides)} job(s) in {len(groups)} Slurm submission(s) "
            f"(sweep dir {self.config.hydra.sweep.dir})"
        ]
        for n, (resources, positions, layouts) in enumerate(groups.values(), start=1):
            kind = "job array" if len(positions) > 1 else "job"
            lines.append(f"submission {n} ({kind} of {len(positions)}): {layout_line(resources, layouts[0])}")
            for pos in positions:
                overrides = " ".join(filter_overrides(job_overrides[pos])) or "(no overrides)"
                lines.append(f"  #{initial_job_idx + pos}: {overrides}")
            lines.append("  sbatch script:")
            script = sbatch_script(resources, folder, len(positions))
            lines += [f"    {line}" if line else "" for line in script.splitlines()]
        print("\n".join(lines), flush=True)
        self._undo_sweep_dir()
        sys.exit(0)

    def _undo_sweep_dir(self) -> None:
        """Leave the sweep dir as it was before this launch: Hydra's multirun.yaml and the folders it made."""
        assert self.config is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir)).absolute()
        config = sweep_dir / "multirun.yaml"
        if self._previous_multirun is not None:
            config.write_bytes(self._previous_multirun)
            return
        config.unlink(missing_ok=True)
        folder = sweep_dir
        while folder != self._existing_parent and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent

    def _submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[Any]:
        """The stock launcher's submission, one job array per distinct set of job resources."""
        import submitit
        from submitit.core.utils import FailedJobError

        from r1exp.errors import ConfigError

        assert self.config is not None and self.hydra_context is not None
        log.info(f"Submitit '{self._EXECUTOR}' sweep output dir : {self.config.hydra.sweep.dir}")
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            sweep_dir.chmod(int(str(self.config.hydra.sweep.mode), 8))
        # Keys every executor knows; the others get submitit's "slurm_" prefix.
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        groups = self._groups(job_overrides, initial_job_idx)
        params = []
        for pos, overrides in enumerate(job_overrides):
            idx = initial_job_idx + pos
            params.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        jobs: list[Any] = [None] * len(job_overrides)
        for resources, positions, _ in groups.values():
            executor = submitit.AutoExecutor(
                cluster=self._EXECUTOR,
                folder=self.params["submitit_folder"],
                **{f"{self._EXECUTOR}_max_num_timeout": self.params["max_num_timeout"]},
            )
            executor.update_parameters(
                **{(k if k in base else f"{self._EXECUTOR}_{k}"): v for k, v in resources.items()}
            )
            chosen = [params[p] for p in positions]
            # submitit prints sbatch's stderr before raising; the one-line error below says it all.
            with contextlib.redirect_stderr(io.StringIO()):
                try:
                    submitted = executor.map_array(self, *zip(*chosen, strict=True))
                except (FailedJobError, OSError) as exc:
                    # All or nothing: jobs of the sweep already submitted would run unwatched.
                    for job in jobs:
                        if job is not None:
                            job.cancel(check=False)
                    asked = (
                        f"{resources.get('nodes')} node(s) x {resources.get('tasks_per_node')} task(s), "
                        f"{resources.get('gpus_per_node') or 0} GPU(s) per node, partition {resources.get('partition')}"
                    )
                    raise ConfigError(
                        f"sbatch refused the job ({asked}): {submission_error(exc)}; fix hydra.launcher.* or the "
                        "hardware preset (docs/slurm.md)"
                    ) from None
            for pos, job in zip(positions, submitted, strict=True):
                jobs[pos] = job
        return jobs

    def __call__(
        self,
        sweep_overrides: list[str],
        job_dir_key: str,
        job_num: int,
        job_id: str,
        singleton_state: dict[type, Singleton],
    ) -> JobReturn:
        """One task of a Slurm job: join the job's process group, then run the Hydra job in the job's dir."""
        import submitit

        from r1exp import distributed
        from r1exp.sections import Sections

        assert self.hydra_context is not None and self.config is not None and self.task_function is not None
        Singleton.set_state(singleton_state)
        setup_globals()
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, sweep_overrides)
        with open_dict(sweep_config.hydra.job):
            # The same id and number in every task: the job dir (sweep dir / job number) is shared.
            sweep_config.hydra.job.id = submitit.JobEnvironment().job_id
            sweep_config.hydra.job.num = job_num
        # The job's config, typed once: its layout and its vLLM server read the typed sections.
        s = Sections(sweep_config)
        _, layout = job_resources(s)
        rank = 0
        if layout.world_size > 1:
            distributed.export_slurm_env(layout)
            rank = distributed.world()[0]
            if rank != 0:
                # Rank 0 alone writes the job dir's files, Hydra's .hydra/ copies included.
                with open_dict(sweep_config.hydra):
                    sweep_config.hydra.output_subdir = None
        with self._vllm_server(s, layout, rank):
            return run_job(
                hydra_context=self.hydra_context,
                task_function=self.task_function,
                config=sweep_config,
                job_dir_key=job_dir_key,
                job_subdir_key="hydra.sweep.subdir",
            )

    @contextlib.contextmanager
    def _vllm_server(self, s: Sections, layout: Layout, rank: int):
        """With generation=vllm_server: rank 0 starts `trl vllm-serve` on the kept GPUs, and stops it at the end."""
        if not layout.server_gpus or rank != 0:
            yield
            return
        from r1exp import distributed
        from r1exp.errors import UserError
        from r1exp.models import resolve_path

        hydra = s.composed.hydra
        out = Path(str(hydra.sweep.dir)) / str(hydra.sweep.subdir)
        try:
            cmd = distributed.vllm_serve_command(s, resolve_path(s.model), layout)
        except UserError as exc:
            # A wrong model or trainer value: no server, and the run's own checks refuse the same value in
            # one line that lands in the run's status.json (not only in this job's Slurm log).
            log.warning("r1exp: no vLLM server started: %s", exc)
            yield
            return
        with distributed.vllm_server(cmd, distributed.vllm_server_env(layout), out / "vllm_server.log"):
            yield

    def _outcome(self, job: Any, overrides: list[str], num: int) -> JobReturn:
        from submitit.core.utils import FailedJobError, UncompletedJobError

        try:
            return job.results()[0]
        except (UncompletedJobError, FailedJobError) as exc:
            ranks = dead_ranks(_read(job.paths.stderr))
            where = f" ({'; '.join(ranks)})" if ranks else ""
            if isinstance(exc, UncompletedJobError):
                error = f"Slurm job {job.job_id} ended {job.state} without a result{where}; log: {job.paths.stderr}"
            else:
                error = f"Slurm job {job.job_id} failed{where}; log: {job.paths.stderr}"
        log.error("r1exp: job %d (%s): %s", num, " ".join(filter_overrides(overrides)), error)
        self._record_failure(overrides, num, error)
        ret = JobReturn(overrides=overrides, status=JobStatus.COMPLETED)
        ret.return_value = None
        return ret

    def _record_failure(self, overrides: list[str], num: int, error: str) -> None:
        """Write what the comparison reads (.hydra/overrides.yaml, status.json) for a job that died.

        A failure a rank recorded itself during this launch (its error, the rank) is kept, with the
        Slurm outcome added.
        """
        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = num
        out = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        (out / ".hydra").mkdir(parents=True, exist_ok=True)
        if not (out / ".hydra" / "overrides.yaml").exists():
            OmegaConf.save(OmegaConf.create(overrides), out / ".hydra" / "overrides.yaml")
        record: dict[str, Any] = {"status": "failed", "error": error, "wall_time_s": None}
        status = out / "status.json"
        own = _own_failure(status, getattr(self, "_submitted_at", time.time()))
        if own is not None:
            record = {**own, "error": f"{own['error']} ({error})"}
        tmp = status.with_name(status.name + ".tmp")
        tmp.write_text(json.dumps(record) + "\n")
        tmp.replace(status)


def _own_failure(status: Path, since: float) -> dict[str, Any] | None:
    """The failed status a rank wrote after `since` (this launch), or None."""
    try:
        if status.stat().st_mtime < since:
            return None
        record = json.loads(status.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("status") == "failed" and record.get("error"):
        return record
    return None


def _read(path: Path) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""
