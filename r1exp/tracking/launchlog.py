"""launch.log: everything a launch printed (console output, log records, the traceback of a crash).

`capture_console()` puts a tee in front of `sys.stdout` and `sys.stderr` as early as possible
(launch.py, before Hydra configures logging, so its console handler writes through the tee too). The
tee keeps what it sees in memory until the launch owns its run dir (`attach`): a launch refused
because another process owns the dir, or because the dir holds another experiment, writes nothing
there. Once attached, the buffer and every later write go to `<run dir>/launch.log` (appended, one
header line per launch). A progress bar's carriage-return redraws are collapsed to the line's last
state, so the file holds one line per bar, not thousands of redraws. Python prints an uncaught
exception before it runs exit handlers, so a crash's traceback lands in the file too.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

LOG_NAME = "launch.log"
# Kept in memory before the run dir is owned; older text is dropped beyond this (a start-up that
# prints more than this is unusual: Hydra and r1exp print a few lines before a run dir is owned).
BUFFER_CHARS = 1 << 20


class _Sink:
    """Collects complete lines; in memory until `attach`, then appended to the file."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._pending = ""
        self._buffer: list[str] = []
        self._buffered = 0
        self._file: TextIO | None = None
        self.path: Path | None = None

    def feed(self, text: str) -> None:
        with self._lock:
            self._pending += text
            if "\n" not in self._pending:
                # Bar redraws without a newline: only the last state can still show.
                self._pending = _trim(self._pending)
                return
            *lines, self._pending = self._pending.split("\n")
            self._emit("".join(_last_state(line) + "\n" for line in lines))

    def _emit(self, text: str) -> None:
        if not text:
            return
        if self._file is not None:
            with contextlib.suppress(OSError, ValueError):
                self._file.write(text)
                self._file.flush()
            return
        self._buffer.append(text)
        self._buffered += len(text)
        while self._buffered > BUFFER_CHARS and len(self._buffer) > 1:
            self._buffered -= len(self._buffer.pop(0))

    def attach(self, path: Path) -> None:
        with self._lock:
            self._close()
            handle = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115 (kept open)
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            argv = " ".join(shlex.quote(a) for a in sys.argv)
            handle.write(f"=== {stamp} {argv}\n")
            handle.write("".join(self._buffer))
            handle.flush()
            self._buffer, self._buffered = [], 0
            self._file, self.path = handle, Path(path)

    def detach(self) -> None:
        with self._lock:
            if self._pending.strip():
                self._emit(_last_state(self._pending) + "\n")
            self._pending = ""
            self._close()
            self._buffer, self._buffered = [], 0

    def _close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file, self.path = None, None


def _trim(pending: str) -> str:
    """An unfinished line cut to what `_last_state` can still return once more text arrives."""
    if "\r" not in pending:
        return pending
    parts = pending.split("\r")
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].strip():
            # Keep a carriage return in front: the line is still one that was redrawn.
            return ("\r" if i else "") + "\r".join(parts[i:])
    # Only blanks so far (a bar being cleared): the last part may still get text after its blanks.
    return "\r" + parts[-1]


def _last_state(line: str) -> str:
    """What a terminal shows of a line redrawn with carriage returns (tqdm): its last state."""
    if "\r" not in line:
        return line
    parts = [p for p in line.split("\r") if p.strip()]
    return parts[-1].rstrip() if parts else ""


class _Tee(io.TextIOBase):
    """A text stream that writes to the real stream and feeds the sink."""

    def __init__(self, stream: TextIO, sink: _Sink) -> None:
        self._stream = stream
        self._sink = sink

    def write(self, text: str) -> int:
        n = self._stream.write(text)
        with contextlib.suppress(Exception):
            self._sink.feed(text)
        return n

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._stream, "errors", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


_sink = _Sink()


def capture_console() -> None:
    """Tee sys.stdout and sys.stderr into the launch log (idempotent)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _Tee) and stream is not None:
            setattr(sys, name, _Tee(stream, _sink))


def capturing() -> bool:
    return isinstance(sys.stderr, _Tee)


def attach(run_dir: Path) -> Path:
    """From now on (and what was printed before) into `<run_dir>/launch.log`."""
    capture_console()
    path = Path(run_dir) / LOG_NAME
    _sink.attach(path)
    return path


def detach() -> None:
    """Close the file (the end of a job in a multirun); the next job's output is collected afresh."""
    _sink.detach()


def current() -> Path | None:
    """The launch.log being written, or None before a run dir is owned."""
    return _sink.path
