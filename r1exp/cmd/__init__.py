"""Commands: `cmd=NAME` runs `r1exp.cmd.NAME.run(cfg)`, imported only when chosen.

`run` is the task wrapper every job goes through: it records the job's outcome in status.json
(ok or failed with its one-line error, and wall time) and always closes wandb. A user error in a
single run is reported as one line (exit status 2). In a multirun no job raises out of the task:
the failure is recorded (and the traceback logged for bugs), so the sweep finishes and the
comparison callback can report every job, failed ones included.

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

from omegaconf import DictConfig

from r1exp.errors import ConfigError, UserError, exit_with, one_line

COMMANDS = {
    "train": "r1exp.cmd.train",
    "score": "r1exp.cmd.score",
    "eval": "r1exp.cmd.eval",
    "compare": "r1exp.cmd.compare",
}
log = logging.getLogger(__name__)


def _write_status(status: str, started: float, error: str | None = None) -> None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    out = Path(HydraConfig.get().runtime.output_dir)
    # One writer per run dir: rank 0 of a multi-process run.
    if out.is_dir() and int(os.environ.get("RANK", 0)) == 0:
        record = {"status": status, "error": error, "wall_time_s": round(time.monotonic() - started, 3)}
        (out / "status.json").write_text(json.dumps(record) + "\n")


def _close_wandb(failed: bool) -> None:
    wandb = sys.modules.get("wandb")
    if wandb is not None and getattr(wandb, "run", None) is not None:
        try:
            wandb.finish(exit_code=1 if failed else 0)
        except Exception:
            # A dead wandb service must not turn the job's outcome into an exception.
            log.warning("wandb.finish failed", exc_info=True)


def _watch_sigterm() -> threading.Event:
    """Note a SIGTERM in a submitit Slurm job, keeping submitit's own handler (it ignores it)."""
    received = threading.Event()
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm" or threading.current_thread() is not threading.main_thread():
        return received
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        received.set()
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    return received


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

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    started = time.monotonic()
    terminating = _watch_sigterm()
    failed = True
    try:
        name = cfg.cmd.name
        if name not in COMMANDS:
            raise ConfigError(f"cmd={name} is unknown; choose one of {', '.join(COMMANDS)}")
        result = importlib.import_module(COMMANDS[name]).run(cfg)
        failed = False
        _write_status("ok", started)
        return result
    except UserError as exc:
        _unless_terminating(terminating)
        _write_status("failed", started, one_line(str(exc)))
        if multirun:
            log.error("r1exp: error: %s", one_line(str(exc)))
            return None
        exit_with(exc)
    except Exception as exc:
        _unless_terminating(terminating)
        _write_status("failed", started, f"{type(exc).__name__}: {one_line(str(exc))}"[:500])
        if multirun:
            log.exception("job failed")
            return None
        raise
    finally:
        _close_wandb(failed)
