"""Math correctness: the last answer block's (boxed) answer checked against the gold with math-verify.

Prediction: the content of the last `<answer>…</answer>` block; inside it the `\\boxed{…}` or
`\\fbox{…}` that closes last, else the whole content. Gold and prediction go through the same
math-verify parse (as `\\boxed{…}`, then `$…$`, then as plain text with LaTeX and expression
extraction; the first form that yields a math object wins), and `verify` decides. A gold that yields
no math object is unparsable: that row scores None and `math/gold_unparsable` is counted.

Why worker processes: math-verify bounds its own steps with `signal.alarm`, which only works in a
main thread and cannot interrupt one long C-level computation (a huge power or factorial). So every
verification runs in a small pool of worker processes (fresh interpreters, so a trainer's threads
and CUDA state are never forked), whichever thread the reward is called from. A worker that
overruns `timeout` seconds is killed and replaced, and its row scores 0.0 (`math/timeout`). Inside
a worker (its main thread) math-verify's own alarms, at half the bound, end most slow cases early
without a restart; those score 0.0 and count as timeouts too. Identical (gold, prediction) pairs,
common among the completions of one prompt, are verified once per call.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from r1exp.common.answers import MAX_ANSWER_CHARS, last_answer, scan_braces, scored_text
from r1exp.errors import ConfigError

# Seconds a fresh worker may take to import math-verify and warm up before the pool gives up.
STARTUP_SECONDS = 120.0
# Results a worker sends back besides a verdict (1.0 or 0.0).
READY = "ready"
GOLD_UNPARSABLE = "gold_unparsable"
TIMED_OUT = "timed_out"
# Pairs a fresh worker grades before it takes work: the first parse of each kind of answer (number,
# fraction, interval, set, tuple, expression) pays for lazy imports and parser set-up.
WARM_UP = (
    ("1", "1"),
    ("\\frac{1}{2}", "0.5"),
    ("(1,2]", "(1, 2]"),
    ("\\{1,2\\}", "\\{2,1\\}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
    ("x^2+2x+1", "(x+1)^2"),
    ("x = 5", "5"),
)
# Statuses of one verification, as the pool reports them.
OK, TIMEOUT, CRASH = "ok", "timeout", "crash"


def extract_prediction(text: str) -> str | None:
    """The answer to grade from a scored text, or None when there is nothing gradable.

    Nothing gradable: no answer block, an empty answer, an answer over MAX_ANSWER_CHARS, or (without
    a box) unbalanced braces, which could otherwise close the box the answer is parsed in.
    """
    content = last_answer(text)
    if content is None:
        return None
    span, balanced = scan_braces(content)
    if span is not None:
        pred = content[span[0] : span[1]]
    elif balanced:
        pred = content
    else:
        return None
    pred = pred.strip().rstrip(".").strip()  # a sentence's full stop is not part of the answer
    if not pred or len(pred) > MAX_ANSWER_CHARS:
        return None
    return pred


# --- inside a worker process -------------------------------------------------------------------


_PARSED: dict[tuple[str, int], tuple] = {}
_PARSED_MAX = 4096


def parse_math(text: str, seconds: int = 1) -> tuple:
    """math-verify's parse of an answer string, or () when no form yields a math object.

    Parses that succeed are cached (a gold recurs for every completion of its prompt); failures are
    not, so a parse cut short by the alarm on a busy machine is tried again next time.
    """
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    key = (text, seconds)
    if key in _PARSED:
        return _PARSED[key]
    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    for candidate in ("\\boxed{" + text + "}", "$" + text + "$", text):
        parsed = parse(candidate, extraction_config=configs, parsing_timeout=seconds)
        if any(not isinstance(x, str) for x in parsed):
            if len(_PARSED) >= _PARSED_MAX:
                _PARSED.clear()
            _PARSED[key] = tuple(parsed)
            return _PARSED[key]
    return ()


def grade(gold: str, pred: str | None, seconds: int = 1) -> float | str:
    """1.0 or 0.0 for a prediction against the gold, or GOLD_UNPARSABLE. Call in a main thread."""
    from math_verify import verify

    gold_parsed = parse_math(gold, seconds)
    if not gold_parsed:
        return GOLD_UNPARSABLE
    if pred is None:
        return 0.0
    pred_parsed = parse_math(pred, seconds)
    if not pred_parsed:
        return 0.0
    return float(verify(list(gold_parsed), list(pred_parsed), timeout_seconds=seconds))


def serve(fd: int, seconds: int) -> None:
    """Worker loop on a socket: grade (gold, prediction) pairs until it closes or None arrives."""
    import logging

    # Timeouts are counted by the pool; math-verify would log each one with the whole input.
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    conn = Connection(fd)
    for gold, pred in WARM_UP:
        grade(gold, pred, seconds)
    conn.send(READY)
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        start = time.monotonic()
        try:
            result = grade(item[0], item[1], seconds)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # math-verify's TimeoutException derives from BaseException
            result = 0.0
        # math-verify turns its own timeouts into "nothing parsed" or "not equal"; a miss that took a
        # whole alarm period is one of those, and counts as a timeout (a gold is not called unparsable).
        if result != 1.0 and time.monotonic() - start >= seconds:
            result = TIMED_OUT
        conn.send(result)


# --- the pool, in the calling process ----------------------------------------------------------

# A fresh interpreter, not a fork: the caller may be a trainer with threads and CUDA state, and the
# multiprocessing start methods that avoid fork would re-import the caller's main script.
_WORKER_CODE = "import sys; from r1exp.tasks.math.reward import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"


@dataclass
class _Worker:
    proc: subprocess.Popen
    conn: Connection
    started: float
    item: int | None = None
    since: float = 0.0
    ready: bool = False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.conn.close()


def _start_worker(seconds: int) -> _Worker:
    ours, theirs = socket.socketpair()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with theirs:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE, str(theirs.fileno()), str(seconds)],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # Ctrl-C stops the caller; workers exit when their socket closes
        )
    return _Worker(proc, Connection(ours.detach()), time.monotonic())


class VerifierPool:
    """Worker processes that grade (gold, prediction) pairs, each pair within `timeout` seconds."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.size = workers
        self.timeout = timeout
        # math-verify's own per-step alarms take whole seconds.
        self.seconds = max(1, int(timeout // 2))
        self.pid = os.getpid()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def _replace(self, w: _Worker) -> None:
        w.stop()
        self._workers[self._workers.index(w)] = _start_worker(self.seconds)

    def map(self, items: list[tuple[str, str | None]]) -> list[tuple[str, float | str]]:
        """(status, result) per item: (OK, 1.0 | 0.0 | GOLD_UNPARSABLE), or (TIMEOUT | CRASH, 0.0)."""
        with self._lock:
            while len(self._workers) < self.size:
                self._workers.append(_start_worker(self.seconds))
            results: list[tuple[str, float | str] | None] = [None] * len(items)
            pending = deque(range(len(items)))
            attempts = [0] * len(items)
            while pending or any(w.item is not None for w in self._workers):
                for w in self._workers:
                    if w.ready and w.item is None and pending:
                        k = pending.popleft()
                        attempts[k] += 1
                        w.item, w.since = k, time.monotonic()
                        # A worker that is gone fails its recv below, and the item is retried.
                        with contextlib.suppress(OSError):
                            w.conn.send(items[k])
                waiting = [w for w in self._workers if not w.ready or w.item is not None]
                deadlines = [w.since + self.timeout if w.ready else w.started + STARTUP_SECONDS for w in waiting]
                ready = wait([w.conn for w in waiting], timeout=max(0.0, min(deadlines) - time.monotonic()))
                now = time.monotonic()
                for w, deadline in zip(waiting, deadlines, strict=True):
                    if w.conn in ready:
                        try:
                            msg = w.conn.recv()
                        except (EOFError, OSError):
                            self._crashed(w, pending, attempts, results)
                            continue
                        if not w.ready:
                            w.ready = msg == READY
                        else:
                            results[w.item] = (TIMEOUT, 0.0) if msg == TIMED_OUT else (OK, msg)
                            w.item = None
                    elif now >= deadline:
                        if not w.ready:
                            self.close()
                            raise RuntimeError(
                                f"math_correct: a math-verify worker did not start within {STARTUP_SECONDS:.0f}s"
                            )
                        results[w.item] = (TIMEOUT, 0.0)
                        self._replace(w)
            return [r if r is not None else (CRASH, 0.0) for r in results]

    def _crashed(self, w: _Worker, pending: deque, attempts: list[int], results: list) -> None:
        """A worker died: retry its item once on a fresh worker; a worker that dies starting is fatal."""
        if not w.ready:
            code = w.proc.wait()
            self.close()
            raise RuntimeError(f"math_correct: a math-verify worker exited while starting (exit code {code})")
        k = w.item
        if attempts[k] < 2:
            pending.appendleft(k)
        else:
            results[k] = (CRASH, 0.0)
        self._replace(w)

    def close(self) -> None:
        """Stop every worker (they exit on None or when their socket closes)."""
        for w in self._workers:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        for w in self._workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.proc.wait(1)
            w.stop()
        self._workers = []


_POOLS: dict[tuple[int, float], VerifierPool] = {}
_POOLS_LOCK = threading.Lock()


def get_pool(workers: int, timeout: float) -> VerifierPool:
    """The process-wide pool for these settings, started on first use."""
    with _POOLS_LOCK:
        pool = _POOLS.get((workers, timeout))
        if pool is None or pool.pid != os.getpid():  # a forked child must not share its parent's workers
            pool = _POOLS[(workers, timeout)] = VerifierPool(workers, timeout)
        return pool


@atexit.register
def close_pools() -> None:
    """Stop every pool's workers (also run at interpreter exit)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            if pool.pid == os.getpid():
                pool.close()
        _POOLS.clear()


def _check_kwargs(workers: Any, timeout: Any) -> tuple[int, float]:
    """Validated kwargs; the worker count is capped at the CPU count (more would only queue)."""
    try:
        workers, timeout = int(workers), float(timeout)
    except (TypeError, ValueError):
        workers, timeout = 0, 0.0
    if workers < 1 or not timeout > 0:
        raise ConfigError(
            f"math_correct kwargs workers={workers!r}, timeout={timeout!r}: workers must be an integer >= 1 "
            "and timeout a number of seconds > 0 (set them in reward.terms.<term>.kwargs)"
        )
    return min(workers, os.cpu_count() or 1), timeout


def math_correct(
    prompts: list,
    completions: list,
    answer: list | None = None,
    counters: Any = None,
    workers: int = 4,
    timeout: float = 5.0,
    **_: Any,
) -> list[float | None]:
    """1.0 when the last answer block's answer equals the row's gold `answer` (math-verify), else 0.0.

    None for rows without a gold, and for rows whose gold math-verify cannot parse (counted as
    `math/gold_unparsable`). Each distinct (gold, prediction) pair is graded within `timeout` seconds
    in one of `workers` processes; an overrun is 0.0 (counted as `math/timeout`), and so is a pair
    whose worker died twice (`math/crash`).
    """
    workers, timeout = _check_kwargs(workers, timeout)
    golds = answer if answer is not None else [None] * len(completions)
    jobs: dict[tuple[str, str | None], list[int]] = {}
    for i, (p, c, g) in enumerate(zip(prompts, completions, golds, strict=True)):
        if g is not None:
            jobs.setdefault((str(g), extract_prediction(scored_text(p, c))), []).append(i)
    out: list[float | None] = [None] * len(completions)
    if not jobs:
        return out
    results = get_pool(workers, timeout).map(list(jobs))
    for rows, (status, result) in zip(jobs.values(), results, strict=True):
        if result == GOLD_UNPARSABLE:
            if counters is not None:
                counters.add("math/gold_unparsable", len(rows))
            continue
        if status in (TIMEOUT, CRASH) and counters is not None:
            counters.add(f"math/{status}", len(rows))
        for i in rows:
            out[i] = float(result)
    return out


math_correct.context_keys = ("counters",)
