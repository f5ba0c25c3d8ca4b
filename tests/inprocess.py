"""`python launch.py ARGS` run in the test process: the same entry point, argv, working dir and environment,
without the interpreter start-up and imports (torch, transformers, trl: seconds) a subprocess pays per launch.

`run_launch_here` returns a `subprocess.CompletedProcess` like `tests.conftest.run_launch`, so a test
changes only by the fixture it asks for (`launch_here` instead of `launch`). What the subprocess would
have is set up for the launch, and what a launch leaves behind in the process is put back afterwards, so
the launches of one pytest worker are as independent as separate processes:

- stdout and stderr are captured at the file descriptors (fd 1 and 2 point at files for the launch),
  so what libraries print through stream objects made before the launch, or through C code, is
  captured too, in the order written, as the subprocess's pipes would have it. launch.log's tee
  (r1exp.tracking.launchlog) wraps Python's stream objects, not descriptors; its buffer is emptied
  before and after each launch;
- `SystemExit` becomes the return code, an uncaught exception prints its traceback (status 1), as
  Python does when a process ends with one; `timeout` raises `subprocess.TimeoutExpired`;
- warnings are filtered and printed as a fresh interpreter does (pytest would otherwise record them);
  the filters libraries add when a launch first imports them are kept for later launches, which in a
  subprocess would import them again;
- put back afterwards: cwd, argv, sys.path (PYTHONPATH in `env` goes on it, and modules imported from
  there are forgotten), the environment, signal handlers, excepthooks, the root logger (Hydra
  configures it per launch) and the settings of loggers that existed before, Hydra's singletons
  (GlobalHydra, HydraConfig, JobRuntime), accelerate's shared state, wandb's session (its settings
  are read from the environment once per session), tqdm bars left open, transformers' progress-bar
  switch, torch's thread count, grad mode, deterministic mode and the random generators.

What cannot be made the same stays on the subprocess: signals sent to the launch, kills, os._exit,
several processes, and which modules a fresh interpreter has imported.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import random
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAUNCH = ROOT / "launch.py"

# Signals whose handlers a launch (or a library it imports) may install.
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM)


class _Timeout(BaseException):
    """Raised in the launch when its time is up (a BaseException: r1exp's `except Exception` lets it pass)."""


def run_launch_here(
    args: list[str], tiny_cache: Path, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run `python launch.py ARGS` in `cwd`, in this process; the CompletedProcess a subprocess would give."""
    from tests.conftest import launch_env, run_launch

    if threading.current_thread() is not threading.main_thread():
        # Signal handlers (a launch's own, the timeout's) can only be set in the main thread.
        return run_launch(args, tiny_cache, cwd, timeout, env)
    environ = launch_env(tiny_cache, env)
    extra_path = [p for p in (env or {}).get("PYTHONPATH", "").split(os.pathsep) if p]
    cmd = [sys.executable, str(LAUNCH), *args]
    with _fresh_process(environ, extra_path, Path(cwd)) as captured:
        sys.argv = [str(LAUNCH), *args]
        code = _run_main(timeout)
    if code is None:
        raise subprocess.TimeoutExpired(cmd, timeout, output=captured["stdout"], stderr=captured["stderr"])
    return subprocess.CompletedProcess(cmd, code, captured["stdout"], captured["stderr"])


def _run_main(timeout: float) -> int | None:
    """launch.py as `python launch.py` runs it; its exit status (None: timed out)."""

    def expire(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        # As a script: Hydra finds conf/ next to the __main__ file, and the job is named after it.
        runpy.run_path(str(LAUNCH), run_name="__main__")
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except _Timeout:
        return None
    except BaseException as exc:
        # What Python prints when an uncaught exception ends the process (launch.log keeps it too),
        # from launch.py's frame on.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != str(LAUNCH):
            tb = tb.tb_next
        sys.excepthook(type(exc), exc, tb or exc.__traceback__)
        return -signal.SIGINT if isinstance(exc, KeyboardInterrupt) else 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def _fresh_process(environ: dict[str, str], extra_path: list[str], cwd: Path) -> Iterator[dict[str, str]]:
    """The process state a fresh `python launch.py` would start from; everything put back on exit.

    Yields a dict that holds the launch's `stdout` and `stderr` once the block has ended.
    """
    # Outermost: the warning filters that first imports add (here or in the launch) go too.
    with warnings.catch_warnings():
        from r1exp.tracking import launchlog

        captured: dict[str, str] = {}
        saved_cwd = os.getcwd()
        saved_argv, saved_path = (sys.argv, sys.argv[:]), sys.path[:]
        saved_environ = dict(os.environ)
        saved_modules = set(sys.modules)
        saved_hooks = (sys.excepthook, threading.excepthook)
        saved_signals = {sig: signal.getsignal(sig) for sig in SIGNALS}
        saved_logging = _logging_state()
        saved_hydra = _hydra_state()
        saved_random = _random_state()
        saved_torch = _torch_modes()
        saved_bars = _hf_progress_bars()
        saved_tqdm = _tqdm_bars()
        try:
            os.chdir(cwd)
            _set_environ(environ)
            sys.path[:0] = extra_path
            # A fresh interpreter's handlers: Ctrl-C raises KeyboardInterrupt, SIGTERM ends the process.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            with _console(captured), warnings.catch_warnings():
                start_filters = _fresh_warnings()
                # launch.py tees the console into launch.log first thing; nothing of an earlier launch is kept.
                launchlog.detach()
                launchlog.capture_console()
                # A fresh process: the root logger has no handlers until Hydra configures it.
                root = logging.getLogger()
                root.handlers[:] = []
                root.filters[:] = []
                root.setLevel("WARNING")
                with _library_handlers_on(saved_logging, sys.stdout, sys.stderr):
                    try:
                        yield captured
                    finally:
                        _process_exit()
                        launchlog.detach()
                        _keep_imported_filters(start_filters)
        finally:
            os.chdir(saved_cwd)
            sys.argv = saved_argv[0]
            sys.argv[:] = saved_argv[1]
            sys.path[:] = saved_path
            _forget_modules(saved_modules, extra_path)
            for sig, handler in saved_signals.items():
                if handler is not None:
                    signal.signal(sig, handler)
            sys.excepthook, threading.excepthook = saved_hooks
            _restore_logging(saved_logging)
            _restore_hydra(saved_hydra)
            _reset_accelerate()
            _close_tqdm_bars(saved_tqdm)
            _restore_hf_progress_bars(saved_bars)
            _restore_torch_modes(saved_torch)
            _restore_random(saved_random)
            # Last: putting library state back may import modules that set variables (torch's inductor).
            _set_environ(saved_environ)


def _torch_modes() -> tuple[Any, ...]:
    import torch

    return (
        torch.get_num_threads(),
        torch.is_grad_enabled(),
        (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()),
        torch.get_default_dtype(),
    )


def _restore_torch_modes(saved: tuple[Any, ...]) -> None:
    """torch's thread count, grad mode, deterministic mode and default dtype, where a launch changed them."""
    import torch

    threads, grad, deterministic, dtype = saved
    now = _torch_modes()
    if now[0] != threads:
        torch.set_num_threads(threads)
    if now[1] != grad:
        torch.set_grad_enabled(grad)
    if now[2] != deterministic:
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    if now[3] != dtype:
        torch.set_default_dtype(dtype)


@contextlib.contextmanager
def _console(captured: dict[str, str]) -> Iterator[None]:
    """fd 1 and 2 (and sys.stdout/sys.stderr on them) into files for the block; their text into `captured`."""
    saved_streams = (sys.stdout, sys.stderr)
    for stream in saved_streams:
        with contextlib.suppress(Exception):
            stream.flush()
    files = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]  # noqa: SIM115 (closed below)
    saved_fds = [os.dup(1), os.dup(2)]
    try:
        os.dup2(files[0].fileno(), 1)
        os.dup2(files[1].fileno(), 2)
        # Unbuffered, as PYTHONUNBUFFERED=1 (launch_env) makes the subprocess's; never closing fd 1/2.
        # Streams made here and kept by a library (a log handler) write to whatever fd 1/2 is later.
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", write_through=True)
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False), encoding="utf-8", errors="backslashreplace", write_through=True
        )
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            # C stdio buffers, flushed at a real process's exit.
            with contextlib.suppress(Exception):
                ctypes.CDLL(None).fflush(None)
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.dup2(saved_fds[0], 1)
        os.dup2(saved_fds[1], 2)
        for fd in saved_fds:
            os.close(fd)
        for name, handle in zip(("stdout", "stderr"), files, strict=True):
            handle.seek(0)
            captured[name] = _as_text(handle.read())
            handle.close()


def _as_text(data: bytes) -> str:
    """Bytes as `subprocess.run(text=True)` returns them (universal newlines: a bar's \\r becomes \\n)."""
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def _process_exit() -> None:
    """What the end of a launch process does that matters to the next launch here."""
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        with contextlib.suppress(Exception):
            if wandb.run is not None:
                wandb.finish()
        # wandb reads its settings from the environment once per session (wandb_setup): a new session
        # per launch, as a new process has.
        setup = sys.modules.get("wandb.sdk.wandb_setup")
        if setup is not None and getattr(setup, "_singleton", None) is not None:
            with contextlib.suppress(Exception):
                wandb.teardown()
    distributed = sys.modules.get("torch.distributed")
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()


# --- environment, modules, warnings ----------------------------------------------------------------


def _set_environ(values: dict[str, str]) -> None:
    for key in [k for k in os.environ if k not in values]:
        del os.environ[key]
    for key, value in values.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _forget_modules(before: set[str], extra_path: list[str]) -> None:
    """Modules imported from the launch's PYTHONPATH: another launch (another PYTHONPATH) imports afresh."""
    roots = [str(Path(p).resolve()) for p in extra_path]
    if not roots:
        return
    for name in [n for n in sys.modules if n not in before]:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if any(origin.startswith(root + os.sep) for root in roots):
            del sys.modules[name]


# A fresh interpreter's warning filters (CPython's defaults without -W or PYTHONWARNINGS), first first.
_DEFAULT_FILTERS = (
    ("default", DeprecationWarning, "__main__"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


# Filters libraries added when a launch first imported them (numpy, sympy, torch), newest first: a fresh
# process's launch imports them again, so later launches here start with them.
_IMPORTED_FILTERS: list[tuple[Any, ...]] = []


def _fresh_warnings() -> list[tuple[Any, ...]]:
    """Warnings filtered and printed to sys.stderr as in a fresh process (call inside catch_warnings).

    Returns the filters set up; what is added to them by the end of the launch is passed to
    `_keep_imported_filters`.
    """
    warnings.resetwarnings()
    for action, category, module in _DEFAULT_FILTERS:
        warnings.filterwarnings(action, category=category, module=module, append=True)
    warnings.filters[:0] = _IMPORTED_FILTERS
    warnings._filters_mutated()  # type: ignore[attr-defined]

    def show(msg: Any) -> None:
        # warnings._showwarnmsg_impl, which pytest's warning recorder replaces.
        stream = msg.file if msg.file is not None else sys.stderr
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.write(warnings._formatwarnmsg(msg))  # type: ignore[attr-defined]

    warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]
    warnings._showwarnmsg_impl = show  # type: ignore[attr-defined]
    return list(warnings.filters)


def _keep_imported_filters(start: list[tuple[Any, ...]]) -> None:
    """Filters added during a launch (r1exp adds none; launch.py's own is added again each launch)."""
    added = [f for f in warnings.filters if f not in start and f not in _IMPORTED_FILTERS]
    _IMPORTED_FILTERS[:0] = added


# --- logging -----------------------------------------------------------------------------------------


def _logging_state() -> dict[str, Any]:
    """The root logger and every existing logger: level, handlers, filters, propagate, disabled."""
    loggers = {
        name: logger for name, logger in logging.Logger.manager.loggerDict.items() if isinstance(logger, logging.Logger)
    }
    root = logging.getLogger()
    state = {
        name: (lg.level, lg.handlers[:], lg.filters[:], lg.propagate, lg.disabled)
        for name, lg in [("", root), *loggers.items()]
    }
    # Console handlers of libraries configured before the launch (transformers' own handler) hold the
    # streams of that time; in a fresh process they would write to the launch's console.
    streams = [
        h
        for name, (_, handlers, *_rest) in state.items()
        if name
        for h in handlers
        # (logging's last-resort handler looks sys.stderr up at each record: nothing to move.)
        if isinstance(h, logging.StreamHandler)
        and not isinstance(h, logging.FileHandler)
        and not isinstance(getattr(type(h), "stream", None), property)
    ]
    return {
        "loggers": state,
        "disable": logging.root.manager.disable,
        "streams": [(h, h.stream) for h in streams],
        "originals": (sys.stdout, sys.stderr),
    }


@contextlib.contextmanager
def _library_handlers_on(saved: dict[str, Any], stdout: Any, stderr: Any) -> Iterator[None]:
    """Library handlers that wrote to the console before the launch write to the launch's console.

    A handler made before the launch holds the stream of that time: pytest's capture, or the
    interpreter's own. (Streams of an earlier launch write to fd 1/2, which are this launch's files.)
    """
    out, err = saved["originals"]
    moved = []
    for handler, stream in saved["streams"]:
        if stream is None:
            continue
        if stream is out or stream is sys.__stdout__:
            target = stdout
        elif stream is err or stream is sys.__stderr__:
            target = stderr
        else:
            continue
        moved.append((handler, stream))
        handler.setStream(target)
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)


def _restore_logging(saved: dict[str, Any]) -> None:
    """The root logger as before; loggers that existed before as before (ones a launch created stay)."""
    manager = logging.Logger.manager
    for name, (level, handlers, filters, propagate, disabled) in saved["loggers"].items():
        logger = logging.getLogger() if name == "" else manager.loggerDict.get(name)
        if not isinstance(logger, logging.Logger) and name != "":
            continue
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.filters[:] = filters
        logger.propagate = propagate
        logger.disabled = disabled
    logging.disable(saved["disable"])


# --- library state -----------------------------------------------------------------------------------


def _hydra_state() -> dict[str, Any]:
    import copy

    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobRuntime

    # A launch initialises GlobalHydra itself (and refuses to if a test left it initialised).
    GlobalHydra.instance().clear()
    return {
        "hydra_config": HydraConfig.instance().cfg,
        "job_runtime": copy.deepcopy(JobRuntime.instance().conf),
    }


def _restore_hydra(saved: dict[str, Any]) -> None:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobRuntime

    # (The other singletons, ConfigStore, SourcesRegistry and Plugins, are filled once, at import.)
    GlobalHydra.instance().clear()
    HydraConfig.instance().cfg = saved["hydra_config"]
    JobRuntime.instance().conf = saved["job_runtime"]


def _reset_accelerate() -> None:
    """accelerate's process-wide state (TrainingArguments creates it): each launch makes its own."""
    state = sys.modules.get("accelerate.state")
    if state is not None:
        state.AcceleratorState._reset_state(reset_partial_state=True)
        state.GradientState._reset_state()


def _tqdm_bars() -> set[int]:
    from tqdm.std import tqdm

    return {id(bar) for bar in list(tqdm._instances)}


def _close_tqdm_bars(before: set[int]) -> None:
    """Bars a launch left open (a crash): forgotten, so the next bar takes the first line, as in a new process."""
    from tqdm.std import tqdm

    with tqdm.get_lock():
        for bar in [b for b in list(tqdm._instances) if id(b) not in before]:
            bar.disable = True  # closing it would print it again
            tqdm._instances.discard(bar)


def _hf_progress_bars() -> bool | None:
    module = sys.modules.get("transformers.utils.logging")
    return None if module is None else module.is_progress_bar_enabled()


def _restore_hf_progress_bars(before: bool | None) -> None:
    """transformers' bar switch (quiet_libraries turns it off) as before, or on, its default at import."""
    module = sys.modules.get("transformers.utils.logging")
    if module is None:
        return
    if before is False:
        module.disable_progress_bar()
    else:
        module.enable_progress_bar()


def _random_state() -> tuple[Any, Any, Any]:
    import torch

    numpy = sys.modules.get("numpy")
    return random.getstate(), numpy.random.get_state() if numpy is not None else None, torch.get_rng_state()


def _restore_random(saved: tuple[Any, Any, Any]) -> None:
    import torch

    random.setstate(saved[0])
    numpy = sys.modules.get("numpy")
    if numpy is not None and saved[1] is not None:
        numpy.random.set_state(saved[1])
    torch.set_rng_state(saved[2])
