"""User-facing errors: one line that names the field and the fix, never a traceback.

Anything a user can get wrong (an override, a data file, a model path, a missing optional package)
raises a subclass of `UserError`; `guard` turns it, and Hydra's own composition errors, into a single
line on stderr and exit status 2. Real bugs keep their traceback.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix; its message is the whole story on one line."""


class ConfigError(UserError):
    """The composed configuration is inconsistent or has a wrong value."""


class DataError(UserError):
    """A data file or row is malformed."""


class ModelLoadError(UserError):
    """A model or tokenizer cannot be loaded."""


class MissingDependencyError(UserError):
    """An optional package needed by the chosen configuration is not installed."""


class StorageError(UserError):
    """The run dir (or another output path) cannot be written: full, read-only or not ours."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the job; the message is the one line to print, `signum` the signal.

    A KeyboardInterrupt, so code that cleans up after Ctrl-C (transformers, tqdm) does the same here.
    """

    def __init__(self, message: str = "", signum: int = 2):
        super().__init__(message)
        self.signum = signum


# Causes of a failed write that the user fixes (free space, a writable path), not bugs.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT)


def storage_cause(exc: BaseException | None) -> OSError | None:
    """The OSError with a storage errno in `exc` or its causes, or None."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def storage_line(err: OSError, path: Any = None) -> str:
    """One line naming the path that cannot be written and why."""
    where = err.filename or path or "an output path"
    return f"cannot write {where}: {os.strerror(err.errno)}; free space or choose a writable hydra.run.dir"


def one_line(text: str) -> str:
    """Collapse a message onto one line (Hydra and OmegaConf messages span several)."""
    parts = [p.strip() for p in str(text).splitlines() if p.strip()]
    return " | ".join(parts)


def hydra_error_line(exc: BaseException) -> str | None:
    """One line for Hydra/OmegaConf composition errors, or None if `exc` is not one."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if not isinstance(exc, (HydraException, OmegaConfBaseException)):
        return None
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # Drop Hydra's search-path dump; keep the message and the list of available options.
    kept: list[str] = []
    options: list[str] = []
    in_options = False
    for ln in lines:
        if ln.startswith("Config search path") or ln.startswith("provider="):
            in_options = False
            continue
        if ln.startswith("Available options"):
            in_options = True
            kept.append(ln.rstrip(":"))
            continue
        if in_options:
            options.append(ln)
            continue
        kept.append(ln)
    msg = " | ".join(kept)
    if options:
        msg += ": " + ", ".join(options)
    cause = exc.__cause__
    if cause is not None and isinstance(cause, OmegaConfBaseException):
        msg = " | ".join(p for p in (msg, one_line(str(cause))) if p)
    return msg


def exit_with(exc: UserError) -> None:
    """Print a user error as one line and exit with status 2."""
    print(f"r1exp: error: {one_line(str(exc))}", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def guard(main: Callable[[], Any]) -> Any:
    """Run a Hydra entry point; user errors become one line on stderr and exit status 2."""
    # Let Hydra raise instead of printing its own multi-line report, so errors reach us.
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        return main()
    except UserError as exc:
        exit_with(exc)
    except Exception as exc:
        cause = storage_cause(exc)
        if cause is not None:
            # e.g. Hydra saving .hydra/ into a read-only or full run dir, before any r1exp code runs
            exit_with(StorageError(storage_line(cause)))
        line = hydra_error_line(exc)
        if line is None:
            raise
        print(f"r1exp: config error: {line}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
