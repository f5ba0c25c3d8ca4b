"""Commands: `cmd=NAME` runs `r1exp.cmd.NAME.run(sections)`, imported only when chosen.

The composed config becomes one `r1exp.sections.Sections` here, at the entry; the command checks the
sections it reads (`sections.check(NAME)`) where its refusals come in order (cmd=train: after the run
dir's lock and the run's own configuration).

`run` is the task wrapper every job goes through: it records the job's outcome in status.json
(ok, failed with its one-line error, or interrupted; and wall time) and always closes wandb. A
user error in a single run is reported as one line (exit status 2). In a multirun no job raises out
of the task: the failure is recorded (and the traceback logged for bugs), so the sweep finishes and
the comparison callback can report every job, failed ones included.

A job writes its run dir's records (status.json, .hydra/, launch.log) only once it owns the run in
it (`r1exp.tracking.rundir.JobRecords`): a launch refused because the dir is busy or holds another
experiment, or one that fails before it changed anything of an existing run, leaves the dir as it
was. Everything the launch printed, and the traceback of a crash, is kept in `launch.log`
(`r1exp.tracking.launchlog`).

Ctrl-C, and SIGTERM outside a Slurm job, end the job with one line (cmd=train: "interrupted at step
N; the last checkpoint is ...; run the same command to resume"), status.json `interrupted`, the
run-dir lock released; exit status 130 (SIGINT) or 143 (SIGTERM). In a multirun the sweep stops
there too.

In a Slurm job, SIGTERM means Slurm is about to kill the job (requeue, preemption, scancel, time
limit). It also reaches every child process, and wandb's service dies of it, so the run then fails
for a reason that is not its own. A failure after SIGTERM is therefore no outcome: nothing is
recorded and the task waits for the SIGKILL, so a requeued job is re-run and resumes, and a
cancelled one ends without a result (which the launcher reports).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from r1exp.distributed import peer_failed_since, world
from r1exp.errors import ConfigError, Interrupted, StorageError, UserError, exit_with, one_line

COMMANDS = {
    "train": "r1exp.cmd.train",
    "score": "r1exp.cmd.score",
    "eval": "r1exp.cmd.eval",
    "compare": "r1exp.cmd.compare",
    "plan": "r1exp.cmd.plan",
}
log = logging.getLogger(__name__)


def _write_status(status: str, started: float, error: str | None = None, summary: dict | None = None) -> None:
    from hydra.core.hydra_config import HydraConfig

    from r1exp.tracking.rundir import job_records

    records = job_records()
    if not HydraConfig.initialized() or records is None or not records.owned:
        return  # not this launch's run dir (yet): a refused or early-failed relaunch leaves it as it was
    out = Path(HydraConfig.get().runtime.output_dir)
    rank, size = world()
    record_rank = size > 1 and status == "failed"
    if record_rank and peer_failed_since(out / "status.json", time.time() - (time.monotonic() - started)):
        return  # another rank failed first: its error is the cause, ours follows from it
    # One writer per run dir: rank 0 of a multi-process run, and any rank that fails (with its rank).
    if out.is_dir() and (rank == 0 or record_rank):
        if record_rank:
            error = f"rank {rank}: {error}"
        record = {"status": status, "error": error, "wall_time_s": round(time.monotonic() - started, 3)}
        # Which command's outcome this is (a later cmd=train refuses a dir holding another command's results).
        command = OmegaConf.select(records.task_cfg, "cmd.name") if records.task_cfg is not None else None
        if command is not None:
            record["command"] = command
        if record_rank:
            record["rank"] = rank
        if summary is not None:
            # The command's end-of-run summary (cmd=train: steps, final numbers, mean s/step and its split).
            record["summary"] = summary
        from r1exp.common.jsonl import write_atomic

        try:
            # Whole or not at all: a full or read-only run dir must not leave an empty status.json.
            write_atomic(out / "status.json", json.dumps(record) + "\n")
        except OSError as exc:
            # The job's own error (printed once) already names the cause.
            log.debug("status.json not written: %s", exc)


def _end_failed_rank() -> None:
    """A failed rank of a multi-process job ends its process with status 1 (its outcome is recorded).

    Returning would let the job's other ranks wait in their next collective until the distributed
    timeout; a rank that exits ends them at once (srun --kill-on-bad-exit, torchrun's agent).
    """
    if world()[1] <= 1:
        return
    _close_wandb(True)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def _storage_problem(exc: BaseException) -> str | None:
    """One line when `exc` comes from a full or read-only run dir (see rundir.storage_problem)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    from r1exp.tracking.rundir import storage_problem

    return storage_problem(Path(HydraConfig.get().runtime.output_dir), exc)


def _close_wandb(failed: bool) -> None:
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        try:
            wandb.finish(exit_code=1 if failed else 0)
        except Exception:
            # A dead wandb service must not turn the job's outcome into an exception.
            log.warning("wandb.finish failed", exc_info=True)


def _watch_sigterm() -> tuple[threading.Event, Any]:
    """SIGTERM handling for this job; returns (Slurm's SIGTERM seen, a function that restores the old handler).

    In a submitit Slurm job: note the signal, keeping submitit's own handler (it ignores it; see the
    module docstring). Elsewhere SIGTERM stops the job like Ctrl-C (`Interrupted` is a
    KeyboardInterrupt), so it ends with status `interrupted` and its lock released.
    """
    received = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return received, lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":

        def handler(signum, frame):
            received.set()
            if callable(previous):
                previous(signum, frame)

    else:

        def handler(signum, frame):
            raise Interrupted("interrupted (SIGTERM)", signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    return received, restore


def _unless_terminating(received: threading.Event) -> None:
    """After Slurm's SIGTERM, record nothing and wait for its SIGKILL (see the module docstring)."""
    if not received.is_set():
        return
    log.warning("r1exp: SIGTERM from Slurm (requeue, preemption, cancel or time limit); waiting to be killed")
    while True:
        time.sleep(60)


def run(cfg: DictConfig) -> Any:
    """Dispatch to the chosen command's `run(cfg)` (see the module docstring for failures)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from r1exp.tracking import launchlog, rundir

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    started = time.monotonic()
    # Console output into launch.log once the run dir is this launch's (a Slurm job starts here).
    launchlog.capture_console()
    terminating, restore_sigterm = _watch_sigterm()
    failed = True
    bug = False
    try:
        name = cfg.cmd.name
        if name not in COMMANDS:
            raise ConfigError(f"cmd={name} is unknown; choose one of {', '.join(COMMANDS)}")
        rundir.begin_job(cfg)
        from r1exp.sections import Sections

        result = importlib.import_module(COMMANDS[name]).run(Sections(cfg))
        failed = False
        if isinstance(result, dict) and result.get("already_finished"):
            return result  # a finished run relaunched: its status.json stays as it was
        summary = result.get("summary") if isinstance(result, dict) else None
        if summary is not None:
            summary["wall_time_s"] = round(time.monotonic() - started, 3)
        _write_status("ok", started, summary=summary)
        if summary is not None and int(os.environ.get("RANK", 0)) == 0:
            from r1exp.tracking.console import summary_lines

            print("\n".join(summary_lines(summary)), flush=True)
        return result
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM outside Slurm: one line, status interrupted (the lock is released by now).
        _unless_terminating(terminating)
        line = str(exc) if isinstance(exc, Interrupted) and str(exc) else "interrupted (Ctrl-C)"
        _write_status("interrupted", started, line)
        print(f"r1exp: {line}", file=sys.stderr, flush=True)
        code = 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
        raise SystemExit(code) from None
    except UserError as exc:
        _unless_terminating(terminating)
        _write_status("failed", started, one_line(str(exc)))
        if multirun:
            log.error("r1exp: error: %s", one_line(str(exc)))
            _end_failed_rank()
            return None
        exit_with(exc)
    except Exception as exc:
        _unless_terminating(terminating)
        disk = _storage_problem(exc)
        if disk is not None:
            # A full or read-only run dir is the user's to fix: one line, like any user error.
            _write_status("failed", started, disk)
            if multirun:
                log.error("r1exp: error: %s", disk)
                _end_failed_rank()
                return None
            exit_with(StorageError(disk))
        _write_status("failed", started, f"{type(exc).__name__}: {one_line(str(exc))}"[:500])
        if multirun:
            log.exception("job failed")
            _end_failed_rank()
            return None
        # A bug: its traceback, printed when it leaves the process, still goes to launch.log.
        bug = True
        raise
    finally:
        _close_wandb(failed)
        restore_sigterm()
        rundir.end_job(keep_log=bug)
