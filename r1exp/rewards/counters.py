"""Counters that reward functions bump (judge calls, cache hits, unparsable golds, ...).

A `Counters` object is handed to the rewards that want one through the run context; the metrics
callback drains it once per logged step into metrics.jsonl as `reward_stats/<name>`. Totals are
summed; `observe` keeps a mean (for latencies).
"""

from __future__ import annotations

import threading
from collections import defaultdict


class Counters:
    """Thread-safe named counters and running means, drained once per logged step."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[str, float] = defaultdict(float)
        self._obs: dict[str, list[float]] = defaultdict(list)

    def add(self, name: str, n: float = 1) -> None:
        with self._lock:
            self._sums[name] += n

    def observe(self, name: str, value: float) -> None:
        with self._lock:
            self._obs[name].append(value)

    def drain(self) -> dict[str, float]:
        """Everything since the last drain: sums as they are, observations as `<name>_mean`."""
        with self._lock:
            out = dict(self._sums)
            out.update({f"{k}_mean": sum(v) / len(v) for k, v in self._obs.items() if v})
            self._sums.clear()
            self._obs.clear()
        return out
