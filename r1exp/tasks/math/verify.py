"""math-verify in worker processes, each (gold, prediction) pair within a hard time bound.

Why processes: math-verify bounds its own steps with `signal.alarm`, which only works in a main
thread and cannot interrupt one long C-level computation (a huge power or factorial). So every
verification runs in a pebble `ProcessPool`: workers are fresh interpreters (the `spawn` start
method, so a trainer's threads and CUDA state are never forked), and a pair that overruns `timeout`
seconds has its worker killed and replaced by pebble; the pair scores 0.0 (`TIMEOUT`). Inside a
worker (its main thread) math-verify's own alarms, at half the bound, end most slow cases early
without a restart; those count as timeouts too. A worker that dies (a crash) has its pair retried
once, then it scores 0.0 (`CRASH`).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from r1exp.errors import ConfigError

GOLD_UNPARSABLE = "gold_unparsable"
TIMED_OUT = "timed_out"
# Statuses of one verification.
OK, TIMEOUT, CRASH = "ok", "timeout", "crash"
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
# Seconds a fresh worker may take to import math-verify and warm up (a first task waits for it).
STARTUP_SECONDS = 120.0


# --- inside a worker process -------------------------------------------------------------------

_PARSED: dict[tuple[str, int], tuple] = {}
_PARSED_MAX = 4096


def parse_math(text: str, seconds: int = 1) -> tuple:
    """math-verify's parse of an answer string, or () when no form yields a math object.

    Tried as `\\boxed{…}`, then `$…$`, then plain text (LaTeX and expression extraction); the first
    form that yields a math object wins. Successes are cached (a gold recurs for every completion of
    its prompt); failures are not, so a parse cut short by the alarm is tried again next time.
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


def grade(gold: str, pred: str | tuple[str, ...] | None, seconds: int = 1) -> float | str:
    """1.0 when the prediction (one answer, or claims that must each be right) equals the gold, else 0.0;
    GOLD_UNPARSABLE when math-verify reads no math in the gold. Call in a main thread."""
    from math_verify import verify

    gold_parsed = parse_math(gold, seconds)
    if not gold_parsed:
        return GOLD_UNPARSABLE
    claims = (pred,) if isinstance(pred, str) else tuple(pred or ())
    if not claims:
        return 0.0
    for claim in claims:
        if "".join(claim.split()) == "".join(gold.split()):
            continue  # the gold's own text: equal, with no parse or comparison to pay for
        pred_parsed = parse_math(claim, seconds)
        if not pred_parsed or not verify(list(gold_parsed), list(pred_parsed), timeout_seconds=seconds):
            return 0.0
    return 1.0


def _init_worker(seconds: int) -> None:
    import logging

    # Timeouts are counted by the caller; math-verify would log each one with the whole input.
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    for gold, pred in WARM_UP:
        grade(gold, pred, seconds)


def grade_in_worker(gold: str, pred: str | tuple[str, ...] | None, seconds: int) -> float | str:
    """`grade`, with math-verify's own timeouts reported as TIMED_OUT."""
    start = time.monotonic()
    try:
        result = grade(gold, pred, seconds)
    except BaseException:  # math-verify's TimeoutException derives from BaseException
        result = 0.0
    # math-verify turns its own timeouts into "nothing parsed" or "not equal"; a miss that took a
    # whole alarm period is one of those, and counts as a timeout (a gold is not called unparsable).
    if result != 1.0 and time.monotonic() - start >= seconds:
        return TIMED_OUT
    return result


# --- in the calling process --------------------------------------------------------------------


class Verifier:
    """A pool of `workers` processes grading (gold, prediction) pairs, each within `timeout` seconds.

    A prediction is one answer string, a tuple of claims that must each equal the gold, or None.

    Started on first use; `close` stops it (its workers are daemon processes, so they also end
    with the interpreter).
    """

    def __init__(self, workers: int, timeout: float) -> None:
        try:
            workers, timeout = int(workers), float(timeout)
        except (TypeError, ValueError):
            workers, timeout = 0, 0.0
        if workers < 1 or not timeout > 0:
            raise ConfigError(
                f"math_correct kwargs workers={workers!r}, timeout={timeout!r}: workers must be an integer >= 1 "
                "and timeout a number of seconds > 0 (set them in reward.terms.<term>.kwargs)"
            )
        # More workers than CPUs would only queue.
        self.workers = min(workers, os.cpu_count() or 1)
        self.timeout = timeout
        # math-verify's own per-step alarms take whole seconds.
        self.seconds = max(1, int(timeout // 2))
        self._pool: Any = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def _get_pool(self) -> Any:
        from pebble import ProcessPool

        if self._pool is None or self._pid != os.getpid() or not self._pool.active:
            self._pid = os.getpid()
            self._pool = ProcessPool(
                max_workers=self.workers,
                initializer=_init_worker,
                initargs=(self.seconds,),
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    def _submit(self, item: tuple[str, Any]) -> Any:
        return self._get_pool().schedule(grade_in_worker, args=(item[0], item[1], self.seconds), timeout=self.timeout)

    def map(self, items: list[tuple[str, Any]]) -> list[tuple[str, float | str]]:
        """(status, result) per item: (OK, 1.0 | 0.0 | GOLD_UNPARSABLE), or (TIMEOUT | CRASH, 0.0)."""
        from concurrent.futures.process import BrokenProcessPool

        from pebble import ProcessExpired

        with self._lock:
            futures = [self._submit(item) for item in items]
            out: list[tuple[str, float | str]] = []
            broken = False
            for item, future in zip(items, futures, strict=True):
                for attempt in range(2):
                    try:
                        # The bound runs from when a worker starts the pair; this wait also covers
                        # the queue and a fresh worker's start-up.
                        result = future.result(timeout=STARTUP_SECONDS + self.timeout * len(items))
                    except FutureTimeout:
                        out.append((TIMEOUT, 0.0))
                    except BrokenProcessPool as exc:
                        # pebble gives up a pool when a worker dies while no task runs (the OOM
                        # killer between two calls) or a fresh worker cannot start: start a new one.
                        if broken and attempt == 1:
                            raise RuntimeError(
                                "math_correct: math-verify worker processes keep dying or cannot start"
                            ) from exc
                        broken = True
                        self._restart()
                        future = self._submit(item)
                        continue
                    except ProcessExpired:
                        if attempt == 0:
                            future = self._submit(item)
                            continue
                        out.append((CRASH, 0.0))
                    else:
                        out.append((TIMEOUT, 0.0) if result == TIMED_OUT else (OK, result))
                    break
            return out

    def _restart(self) -> None:
        if self._pool is not None and self._pool.active:
            return  # already replaced for an earlier item of this call
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
        self._pool = None

    def close(self) -> None:
        """Stop the workers now."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                self._pool.stop()
                self._pool.join(timeout=10)
            self._pool = None
