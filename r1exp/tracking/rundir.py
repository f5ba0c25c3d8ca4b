"""Who owns a run dir, who may write its records, and what a relaunch into it has left to do.

Ownership: one process (rank 0 of a data-parallel group) holds `<run dir>/.r1exp.lock`, a small
JSON file naming its pid, host, process start time and a random token. It is created atomically
(written to a private temporary file, then `os.link`ed into place, which fails when the lock exists
and is atomic on local and NFS filesystems), so a reader never sees half a lock. While the run lives,
a daemon thread touches the lock every `heartbeat_s` seconds. A second launch reads the owner and
stops with one line naming it, unless the owner is gone:
- same host: its pid no longer runs (or runs another program: the recorded start time differs);
- another host (a shared filesystem, e.g. after a Slurm node failure): the lock's mtime is older than
  `stale_after_s` seconds (hosts of one cluster keep their clocks in sync);
- the same Slurm job (a requeued job keeps its id and may restart on another node at once): Slurm
  ends a job's previous run before it requeues it.
The lock is released when the run ends, and at the latest when its process exits.
A stale lock is taken over in three steps that two racing launches cannot both pass: create the claim
file `.r1exp.lock.takeover-<stale token>` with O_EXCL (one winner per stale lock), check the lock
still holds that token, rename it aside, then link the new lock into place. A loser starts over and
finds the winner's live lock.

Records: a run dir's `.hydra/` (composed config, Hydra's config, overrides), `launch.log` and
`status.json` describe the run in it, so a launch writes them only once it owns the run
(`JobRecords.own`): at once when the dir holds no training run yet (a new dir, or one whose earlier
launches never trained a step); for a relaunch into a run, only after the lock is taken, the
composed config is the run's own (`r1exp.tracking.identity`) and every check has passed, right before
the launch changes anything of the run. A refused or failed relaunch (the dir is busy, another
configuration, a bad value, a model that is not the run's) prints its one line and leaves the dir as
it was. Hydra would write `.hydra/` before any r1exp code runs (`hydra.core.utils.run_job`, before
the `on_job_start` callbacks), so conf/config.yaml sets `hydra.output_subdir: null` and r1exp writes
the same three files itself (`write_hydra_dir`) when it owns the run; Hydra's job log file handler is
off as well, and `launch.log` is the console as the user saw it (`r1exp.tracking.launchlog`).

Relaunch: `plan_resume` reads the run dir once and says what is left: nothing (the manifest says the
run finished at or beyond this launch's `max_steps`), only the end (a checkpoint at `max_steps`
exists: copy its model into `final/`, plots, manifest; no training step is repeated), or training
from the newest loadable checkpoint (checkpoints that fail the load check are set aside, see
`r1exp.tracking.checkpoints`). With no usable checkpoint the run starts over at step 1 and its logs
start afresh: the earlier metrics.jsonl and samples.jsonl are moved into
`logs-before-restart-<time>/` (`restart_logs`), so every step appears once in every log.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1exp.common.jsonl import write_atomic
from r1exp.errors import STORAGE_ERRNOS, ConfigError, UserError, storage_cause, storage_line
from r1exp.tracking import checkpoints, identity, launchlog, manifest

LOCK_NAME = ".r1exp.lock"
# How often the owner touches its lock, and how old a lock from another host must be to count as
# abandoned. A Slurm node failure is noticed after `STALE_AFTER_S`; keep it well above the heartbeat.
HEARTBEAT_S = 10.0
STALE_AFTER_S = 120.0
log = logging.getLogger(__name__)


class RunDirBusy(UserError):
    """Another live process owns the run dir."""


def _proc_start(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    return stat[stat.rfind(")") + 2 :].split()[19]


def _slurm_job() -> str | None:
    job = os.environ.get("SLURM_ARRAY_JOB_ID") or os.environ.get("SLURM_JOB_ID")
    if job and os.environ.get("SLURM_ARRAY_TASK_ID"):
        job += "_" + os.environ["SLURM_ARRAY_TASK_ID"]
    return job


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@dataclass
class Owner:
    """What a lock file says about the process holding it."""

    pid: int
    host: str
    token: str
    started: float
    proc_start: str | None = None
    slurm_job: str | None = None

    @classmethod
    def me(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), secrets.token_hex(8), time.time(), _proc_start(pid), _slurm_job())

    def is_me(self) -> bool:
        """This very process (a second run in one process, e.g. sequential jobs of a local sweep)."""
        return self.host == socket.gethostname() and self.pid == os.getpid()

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on host {self.host} (since {since})"


def read_owner(lock: Path) -> tuple[Owner | None, float | None]:
    """(owner, lock mtime), or (None, None) when there is no lock; (None, mtime) for an unreadable one."""
    try:
        mtime = lock.stat().st_mtime
        data = json.loads(lock.read_text(encoding="utf-8"))
        return Owner(**data), mtime
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, TypeError):
        try:
            return None, lock.stat().st_mtime
        except OSError:
            return None, None


def is_stale(owner: Owner | None, mtime: float | None, stale_after_s: float) -> bool:
    """Whether a lock's owner is gone (see the module docstring)."""
    if mtime is None:
        return False
    if owner is not None and owner.slurm_job is not None and owner.slurm_job == _slurm_job() and not owner.is_me():
        return True  # an earlier run of this (requeued) Slurm job
    if owner is not None and owner.host == socket.gethostname():
        if not _pid_alive(owner.pid):
            return True
        current = _proc_start(owner.pid)
        return owner.proc_start is not None and current is not None and current != owner.proc_start
    # Another host, or a lock we cannot read: only the heartbeat tells.
    return time.time() - mtime > stale_after_s


@dataclass
class RunLock:
    """The lock on one run dir; `acquire` or use as a context manager."""

    run_dir: Path
    heartbeat_s: float = HEARTBEAT_S
    stale_after_s: float = STALE_AFTER_S
    owner: Owner = field(default_factory=Owner.me)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return Path(self.run_dir) / LOCK_NAME

    def _create(self) -> bool:
        """Put our lock in place atomically; False when a lock exists."""
        tmp = self.path.with_name(f"{LOCK_NAME}.{self.owner.token}.tmp")
        tmp.write_text(json.dumps(self.owner.__dict__) + "\n", encoding="utf-8")
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _take_over(self, stale: Owner | None) -> None:
        """Move a stale lock aside, if no other launch is doing the same (see the module docstring)."""
        token = stale.token if stale is not None else "unreadable"
        claim = self.path.with_name(f"{LOCK_NAME}.takeover-{token}")
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            # Another launch is taking this one over; a claim left by a launch that died midway
            # is itself abandoned after `stale_after_s`.
            try:
                if time.time() - claim.stat().st_mtime > self.stale_after_s:
                    claim.unlink(missing_ok=True)
            except OSError:
                pass
            return
        os.close(fd)
        try:
            current, _ = read_owner(self.path)
            if (current.token if current is not None else "unreadable") != token:
                return  # the lock changed since we judged it
            aside = self.path.with_name(f"{LOCK_NAME}.stale-{token}-{self.owner.token}")
            try:
                os.rename(self.path, aside)
            except FileNotFoundError:
                return
            moved, _ = read_owner(aside)
            if (moved.token if moved is not None else "unreadable") != token:
                # Lost a race with a fresh owner between the check and the rename: put it back.
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self.path)
                aside.unlink(missing_ok=True)
                return
            aside.unlink(missing_ok=True)
            what = stale.describe() if stale is not None else "an unreadable lock"
            print(f"r1exp: taking over run dir {self.run_dir} from {what}, which is gone", file=sys.stderr)
        finally:
            claim.unlink(missing_ok=True)

    def acquire(self) -> RunLock:
        """Own the run dir or raise RunDirBusy naming the owner."""
        Path(self.run_dir).mkdir(parents=True, exist_ok=True)
        # Another launch may be mid-takeover; give it time to finish before judging again.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._create():
                self._start_heartbeat()
                # Whatever ends the process (an error, Ctrl-C) ends its ownership too.
                atexit.register(self.release)
                return self
            owner, mtime = read_owner(self.path)
            if mtime is None:
                continue  # released meanwhile
            if owner is not None and owner.is_me():
                self.path.unlink(missing_ok=True)  # left by an earlier run in this process
                continue
            if not is_stale(owner, mtime, self.stale_after_s):
                who = owner.describe() if owner is not None else "another process"
                raise RunDirBusy(
                    f"run dir {self.run_dir} is in use by {who}; wait for it to end, or pass another "
                    f"hydra.run.dir (a lock left by a dead process on another host expires after "
                    f"{self.stale_after_s:.0f}s)"
                )
            self._take_over(owner)
            time.sleep(0.01)
        raise RunDirBusy(f"run dir {self.run_dir}: could not take its lock {self.path}; try again")

    def holds(self) -> bool:
        owner, _ = read_owner(self.path)
        return owner is not None and owner.token == self.owner.token

    def _start_heartbeat(self) -> None:
        def beat() -> None:
            while not self._stop.wait(self.heartbeat_s):
                if not self.holds():
                    log.warning("r1exp: lost the lock on %s to another process", self.run_dir)
                    return
                # A full or flaky filesystem: the next beat tries again.
                with contextlib.suppress(OSError):
                    os.utime(self.path)

        self._thread = threading.Thread(target=beat, name="r1exp-rundir-heartbeat", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and remove the lock, if it is still ours."""
        atexit.unregister(self.release)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.holds():
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def own_run_dir(run_dir: Path, **lock_kwargs: Any) -> RunLock | None:
    """Make this process group the run dir's owner: rank 0 takes the lock, the other ranks follow it.

    With an initialised torch.distributed group, rank 0's outcome reaches every rank
    (`r1exp.distributed.on_rank0`), so all go on or all raise the same one line. Without a group,
    only rank 0 (RANK unset or 0) takes the lock; call it after the group exists when ranks must
    agree. Returns the lock on rank 0, None elsewhere; `release()` it when the run ends (the process
    exit releases it too).
    """
    from r1exp.distributed import on_rank0, world

    held: list[RunLock] = []

    def take() -> None:
        if world()[0] == 0:
            held.append(RunLock(Path(run_dir), **lock_kwargs).acquire())

    on_rank0(take)
    return held[0] if held else None


# --- who may write the run dir's records ----------------------------------------------------

HYDRA_SUBDIR = ".hydra"
STATUS_NAME = "status.json"


def holds_training(run_dir: Path) -> bool:
    """Whether the dir holds (part of) a training run: a manifest, logged steps or checkpoints."""
    run_dir = Path(run_dir)
    if (run_dir / "manifest.json").exists():
        return True
    for name in ("metrics.jsonl", "samples.jsonl"):
        with contextlib.suppress(OSError):
            if (run_dir / name).stat().st_size > 0:
                return True
    ckpts = run_dir / "checkpoints"
    return ckpts.is_dir() and any(ckpts.iterdir())


def holds_result(run_dir: Path) -> bool:
    """Whether status.json records the outcome of another command than cmd=train that did not fail."""
    try:
        record = json.loads((Path(run_dir) / STATUS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("command") == "train":
        return False
    # Records without `command` (older r1exp): only a training run leaves a manifest; an ok without one is a result.
    return record.get("status") in (("ok", "interrupted") if "command" in record else ("ok",))


def write_hydra_dir(run_dir: Path, task_cfg: Any) -> None:
    """`.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml`, as Hydra's run_job writes them (each whole)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    folder = Path(run_dir) / HYDRA_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    hydra_cfg = HydraConfig.instance().cfg
    write_atomic(folder / "config.yaml", OmegaConf.to_yaml(task_cfg))
    write_atomic(folder / "hydra.yaml", OmegaConf.to_yaml(hydra_cfg))
    write_atomic(folder / "overrides.yaml", OmegaConf.to_yaml(hydra_cfg.hydra.overrides.task))


@dataclass
class JobRecords:
    """Whether this launch may write the run dir's records (.hydra/, launch.log, status.json)."""

    run_dir: Path
    task_cfg: Any
    owned: bool = False

    def own(self) -> None:
        """From now on the run dir's records are this launch's (rank 0 writes them)."""
        if self.owned:
            return
        self.owned = True
        from r1exp.distributed import world

        if world()[0] == 0:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            launchlog.attach(self.run_dir)
            write_hydra_dir(self.run_dir, self.task_cfg)


_records: JobRecords | None = None


def begin_job(task_cfg: Any) -> JobRecords | None:
    """The records of the job now starting (None outside a Hydra job).

    cmd=train decides itself when it owns its run dir (see the module docstring). Any other command
    writes its results into a dir of its own: it owns a dir that holds no training run at once, and
    refuses one that does.
    """
    global _records
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    _records = None
    if not HydraConfig.initialized():
        return None
    out = Path(HydraConfig.get().runtime.output_dir)
    _records = JobRecords(out, task_cfg)
    command = OmegaConf.select(task_cfg, "cmd.name")
    if command != "train":
        if holds_training(out) or (out / LOCK_NAME).exists():
            raise ConfigError(
                f"hydra.run.dir={out} holds a training run; cmd={command} writes its results into a dir of "
                "its own: pass another hydra.run.dir (or none)"
            )
        _records.own()
    return _records


def job_records() -> JobRecords | None:
    """The current job's records (begin_job), or None outside the task wrapper."""
    return _records


def own_records() -> None:
    """The current job owns its run dir's records from now on (no-op outside the task wrapper)."""
    if _records is not None:
        _records.own()


def end_job(keep_log: bool) -> None:
    """The job is over: stop writing its launch.log unless `keep_log` (a traceback is still to come)."""
    global _records
    _records = None
    if not keep_log:
        launchlog.detach()


@dataclass
class Relaunch:
    """What a training launch found in its run dir before it changes anything."""

    # The run's manifest.json, or None when the dir holds no training run yet.
    previous: dict[str, Any] | None
    # The run finished at or beyond this launch's max_steps: nothing to do.
    finished: bool


def check_relaunch(run_dir: Path, cfg: Any) -> Relaunch:
    """Read-only: a fresh dir, or a run whose configuration is this launch's (else one line).

    Raises ConfigChanged (another configuration), ManifestDamaged (manifest.json unreadable) or
    ConfigError (resume=never onto a checkpoint, another command's results, checkpoints without a
    manifest).
    """
    from omegaconf import OmegaConf

    run_dir = Path(run_dir)
    if not holds_training(run_dir):
        if holds_result(run_dir):
            raise ConfigError(
                f"hydra.run.dir={run_dir} holds the results of another command (status.json, no manifest.json); "
                "pass another hydra.run.dir"
            )
        return Relaunch(None, False)
    previous = manifest.read(run_dir)
    if previous is None:
        # Logged steps or checkpoints, but no record of what trained them.
        raise ConfigError(
            f"run dir {run_dir} holds checkpoints or logged steps but no manifest.json, so the configuration "
            "that trained them is unknown; pass another hydra.run.dir"
        )
    if cfg.get("resume") == "never" and (ckpt := checkpoints.last_checkpoint(run_dir / "checkpoints")) is not None:
        raise ConfigError(f"run dir {run_dir} already holds {ckpt.name}; pass resume=auto or another hydra.run.dir")
    recorded = previous.get("config")
    if isinstance(recorded, dict):
        identity.check_same_experiment(
            run_dir, recorded, OmegaConf.to_container(cfg, resolve=True), _override_keys_of_both(run_dir)
        )
    finished = is_finished(run_dir, int(cfg.trainer.max_steps))
    return Relaunch(previous, finished)


def _override_keys_of_both(run_dir: Path) -> set[str] | None:
    """The keys this launch's overrides and the run's recorded overrides name (None when unknown)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():
        return None
    keys = identity.override_keys(HydraConfig.get().overrides.task)
    recorded = Path(run_dir) / ".hydra" / "overrides.yaml"
    try:
        keys |= identity.override_keys(OmegaConf.load(recorded))
    except Exception:
        return None  # no record of what the run overrode: every difference counts
    return keys


def restart_logs(run_dir: Path) -> Path | None:
    """Move the logs of a run that starts over (no usable checkpoint) into `logs-before-restart-<time>/`.

    Returns the folder, or None when there was nothing to move. The wandb run id goes with them, so
    the restarted run is a new wandb run rather than steps 1.. written over the old ones.
    """
    run_dir = Path(run_dir)
    names = [
        n
        for n in ("metrics.jsonl", "samples.jsonl", "metrics.jsonl.garbled", "samples.jsonl.garbled", "wandb_id.txt")
        if (run_dir / n).exists()
    ]
    if not any(n.endswith(".jsonl") and (run_dir / n).stat().st_size > 0 for n in names):
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = run_dir / f"logs-before-restart-{stamp}"
    n = 1
    while folder.exists():
        folder = run_dir / f"logs-before-restart-{stamp}-{n}"
        n += 1
    folder.mkdir()
    for name in names:
        os.replace(run_dir / name, folder / name)
    return folder


def interrupted_line(run_dir: Path, step: int | None, signame: str = "Ctrl-C") -> str:
    """The one line an interrupted training run ends with."""
    ckpt = checkpoints.last_checkpoint(Path(run_dir) / "checkpoints")
    at = f"at step {step}" if step is not None else "before training started"
    if ckpt is None:
        return f"interrupted ({signame}) {at}; no checkpoint yet: the same command starts the run over at step 1"
    return f"interrupted ({signame}) {at}; the last checkpoint is {ckpt}; run the same command to resume"


# --- what a relaunch has left to do -----------------------------------------------------------


@dataclass
class ResumePlan:
    """What a launch into `run_dir` must do: `finished`, `finish_only`, or train (from `checkpoint`)."""

    finished: bool
    finish_only: bool
    checkpoint: Path | None
    previous: dict[str, Any] | None


def is_finished(run_dir: Path, max_steps: int) -> bool:
    """Whether the manifest says the run ended at or beyond `max_steps` (read-only, cheap)."""
    try:
        record = manifest.read(Path(run_dir))
    except (OSError, ValueError):
        return False
    if not record or not record.get("finished"):
        return False
    final = record.get("final_step")
    return isinstance(final, int) and final >= max_steps and (Path(run_dir) / "checkpoints" / "final").is_dir()


def plan_resume(run_dir: Path, max_steps: int, main_process: bool = True) -> ResumePlan:
    """Read the run dir once: finished, only the end missing, or the checkpoint to resume from.

    Only the main process sets broken checkpoints aside; the others only read.
    """
    run_dir = Path(run_dir)
    previous = manifest.read(run_dir)
    if is_finished(run_dir, max_steps):
        return ResumePlan(True, False, None, previous)
    ckpt = checkpoints.resume_point(run_dir / "checkpoints", set_aside_broken=main_process)
    finish_only = ckpt is not None and checkpoints.checkpoint_step(ckpt) >= max_steps
    return ResumePlan(False, finish_only, ckpt, previous)


# Files of a checkpoint that belong to the trainer, not to the saved model.
TRAINER_FILES = ("optimizer.pt", "scheduler.pt", "trainer_state.json", "scaler.pt", checkpoints.MARKER)


def final_from_checkpoint(ckpt: Path, final: Path) -> Path:
    """Write `final` as the model part of `ckpt` (what `save_model` writes after the same step)."""
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(
        ckpt, partial, ignore=lambda _d, names: [n for n in names if n in TRAINER_FILES or n.startswith("rng_state")]
    )
    if final.exists():
        # Not a checkpoint: a half-written copy from a kill during the last save; rebuilt from ckpt.
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


def finish_from_checkpoint(run_dir: Path, ckpt: Path, main_process: bool = True) -> dict[str, Any]:
    """The end of a run killed after its last checkpoint: final model, plots, manifest; no training step."""
    from r1exp.tracking.plots import plot_run

    run_dir = Path(run_dir)
    step = checkpoints.checkpoint_step(ckpt)
    plots: list[Path] = []
    if main_process:
        final_from_checkpoint(ckpt, run_dir / "checkpoints" / "final")
        plots = plot_run(run_dir)
        record = manifest.read(run_dir) or {}
        record["finished"] = True
        record["final_step"] = step
        # Last: a kill before this line leaves a run that the next launch finishes again.
        manifest.write(run_dir, record)
        print(
            f"r1exp: run dir {run_dir}: {ckpt.name} is the last step; wrote the final model, plots and manifest "
            "without training",
            file=sys.stderr,
        )
    return {"run_dir": str(run_dir), "steps": step, "plots": [str(p) for p in plots]}


def skip(run_dir: Path, main_process: bool = True) -> dict[str, Any]:
    """A finished run relaunched: say so and touch nothing; the task wrapper writes no status."""
    if main_process:
        print(finished_line(run_dir), file=sys.stderr)
    record = manifest.read(Path(run_dir)) or {}
    return {"run_dir": str(run_dir), "steps": record.get("final_step"), "plots": [], "already_finished": True}


def finished_line(run_dir: Path) -> str:
    record = manifest.read(Path(run_dir)) or {}
    return (
        f"r1exp: run dir {run_dir} holds a finished run (step {record.get('final_step')}); nothing to do "
        "(raise trainer.max_steps to train further, or pass another hydra.run.dir)"
    )


def storage_problem(run_dir: Path, exc: BaseException) -> str | None:
    """One line when a failure comes from the run dir's storage (full, read-only), else None.

    Libraries that write checkpoints (torch.save, safetensors) report a full disk with their own
    error types and no errno; a small probe write into the run dir then tells the cause.
    """
    cause = storage_cause(exc)
    if cause is not None:
        return storage_line(cause, run_dir)
    # safetensors (Rust) and others say it in words: "I/O error: No space left on device (os error 28)".
    seen: BaseException | None = exc
    for _ in range(20):
        if seen is None:
            break
        # Only causes that are about writing (a permission error in words may be a read's).
        for code in (errno.ENOSPC, errno.EROFS, errno.EDQUOT):
            if os.strerror(code) in str(seen):
                return storage_line(OSError(code, os.strerror(code), str(run_dir)))
        seen = seen.__cause__ or seen.__context__
    probe = Path(run_dir) / f".r1exp-write-probe-{os.getpid()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 65536)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        if err.errno in STORAGE_ERRNOS:
            err.filename = str(run_dir)
            return storage_line(err)
        return None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None
