"""Curriculum schedules: staged (easy first, by step or by rolling accuracy) and adaptive (by pass rate).

Both learn only from the rewards the trainer already computes (no extra generation): each observed
completion reports its prompt's row id and its accuracy-term value. State is plain JSON, so it goes
into every checkpoint and survives a resume.

Their metrics describe the batch a step was scored on, not the latest one drawn: the data loader
reads a batch ahead (accelerate), so when step N's metrics are logged the batch of step N + 1 may
already be drawn, and a stage may have ended during step N. `curriculum/stage` is the stage the
scored batch was drawn in, `curriculum/difficulty` the mean difficulty of its rows.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from r1exp.errors import ConfigError


def _rng_state(rng: random.Random) -> list:
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _set_rng_state(rng: random.Random, state: list) -> None:
    rng.setstate((state[0], tuple(state[1]), state[2]))


def _mean_difficulty(rows: Sequence[Mapping[str, Any]], batch: Sequence[int]) -> float | None:
    """Mean `difficulty` of a batch's rows (rows without a numeric one are left out)."""
    diffs = [rows[i].get("difficulty") for i in batch]
    diffs = [d for d in diffs if isinstance(d, (int, float))]
    return sum(diffs) / len(diffs) if diffs else None


# Drawn batches remembered to tell which one a step scored (the loader reads at most a batch or two ahead).
_DRAWN_KEPT = 8


class _DrawLog:
    """The stage each recent batch was drawn in, and what the last scored batch was."""

    def __init__(self) -> None:
        self.drawn: deque[tuple[int, list[int]]] = deque(maxlen=_DRAWN_KEPT)
        self.scored: tuple[int, list[int]] | None = None

    def drew(self, stage: int, batch: list[int]) -> None:
        self.drawn.append((stage, batch))

    def score(self, row_ids: Sequence[int | None], current_stage: int) -> None:
        """Record that `row_ids` were scored: the oldest remembered batch holding them all is theirs."""
        ids = [int(i) for i in row_ids if i is not None]
        if not ids:
            return
        wanted = set(ids)
        for k, (stage, batch) in enumerate(self.drawn):
            if wanted <= set(batch):
                for _ in range(k):  # older batches were scored already
                    self.drawn.popleft()
                self.scored = (stage, ids)
                return
        # Not drawn by this process since it started (a resume): the batch is of the current stage.
        self.scored = (current_stage, ids)


def _matches(row: Mapping[str, Any], where: Mapping[str, Sequence[Any]]) -> bool:
    return all(row.get(col) in list(allowed) for col, allowed in where.items())


class StagedCurriculum:
    """Stages of row filters; a stage ends at `until_step` or when rolling accuracy reaches `until_accuracy`."""

    def __init__(self, rows: Sequence[Mapping[str, Any]], stages: Sequence[Mapping[str, Any]], window: int, seed: int):
        if not stages:
            raise ConfigError("curriculum.stages is empty: give at least one stage")
        self.stages = [dict(s) for s in stages]
        self.pools: list[list[int]] = []
        for i, stage in enumerate(self.stages):
            where = dict(stage.get("where") or {})
            pool = [j for j, row in enumerate(rows) if _matches(row, where)]
            if not pool:
                raise ConfigError(
                    f"curriculum.stages[{i}].where={where} matches no training row; check the data config "
                    "(e.g. data.min_numbers/max_numbers, data.ops_mix)"
                )
            self.pools.append(pool)
        self.rows = rows
        self.window = window
        self.rng = random.Random(seed)
        self.stage = 0
        self.accuracy: deque[float] = deque(maxlen=window)
        self._order: list[int] = []
        self._last_batch: list[int] = []
        self._log = _DrawLog()
        self.changes: list[dict[str, Any]] = []

    def next_batch(self, size: int) -> list[int]:
        pool = self.pools[self.stage]
        batch: list[int] = []
        while len(batch) < size:
            if not self._order:
                self._order = self.rng.sample(pool, len(pool))
            pick = self._order.pop()
            if pick not in batch or len(pool) < size:
                batch.append(pick)
        self._last_batch = batch
        self._log.drew(self.stage, batch)
        return batch

    def observe(self, row_ids: Sequence[int], values: Sequence[float | None], step: int) -> None:
        self._log.score(row_ids, self.stage)
        vals = [v for v in values if v is not None]
        if vals:
            self.accuracy.append(sum(vals) / len(vals))
        self._maybe_advance(step)

    def _maybe_advance(self, step: int) -> None:
        if self.stage >= len(self.stages) - 1:
            return
        stage = self.stages[self.stage]
        by_step = stage.get("until_step") is not None and step >= int(stage["until_step"])
        threshold = stage.get("until_accuracy")
        by_accuracy = (
            threshold is not None
            and len(self.accuracy) == self.window
            and sum(self.accuracy) / self.window >= float(threshold)
        )
        if by_step or by_accuracy:
            self.stage += 1
            self._order = []
            self.accuracy.clear()
            self.changes.append({"step": step, "stage": self.stage, "reason": "step" if by_step else "accuracy"})

    def metrics(self) -> dict[str, float]:
        """Stage and mean difficulty of the batch last scored (before any, of the batch last drawn)."""
        stage, rows = self._log.scored or (self.stage, self._last_batch)
        out = {"stage": float(stage)}
        difficulty = _mean_difficulty(self.rows, rows)
        if difficulty is not None:
            out["difficulty"] = difficulty
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "staged",
            "stage": self.stage,
            "accuracy": list(self.accuracy),
            "order": self._order,
            "rng": _rng_state(self.rng),
            "changes": self.changes,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.stage = int(state["stage"])
        self.accuracy = deque(state["accuracy"], maxlen=self.window)
        self._order = list(state["order"])
        _set_rng_state(self.rng, state["rng"])
        self.changes = list(state.get("changes", []))


class AdaptiveCurriculum:
    """Sample prompts whose estimated pass rate sits in a band away from 0 and 1.

    A group whose completions all get the same reward has zero advantage and teaches nothing; a
    prompt's pass rate is estimated from the accuracy of its past completions (Beta(1, 1) prior).
    A share `explore` of each batch is drawn uniformly, preferring prompts never tried.
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        band: Sequence[float],
        explore: float,
        floor_weight: float,
        seed: int,
    ):
        low, high = float(band[0]), float(band[1])
        if not 0.0 <= low < high <= 1.0:
            raise ConfigError(f"curriculum.band={list(band)}: need 0 <= low < high <= 1")
        if not 0.0 <= explore <= 1.0:
            raise ConfigError(f"curriculum.explore={explore}: need a share between 0 and 1")
        self.rows = rows
        self.band = (low, high)
        self.explore = explore
        self.floor_weight = floor_weight
        self.rng = random.Random(seed)
        self.successes = [0.0] * len(rows)
        self.trials = [0] * len(rows)
        self._last_batch: list[int] = []
        self._log = _DrawLog()

    def pass_rate(self, i: int) -> float:
        return (self.successes[i] + 1.0) / (self.trials[i] + 2.0)

    def weight(self, i: int) -> float:
        p = self.pass_rate(i)
        return 1.0 if self.band[0] <= p <= self.band[1] else self.floor_weight

    def next_batch(self, size: int) -> list[int]:
        n = len(self.rows)
        size = min(size, n)
        n_explore = round(self.explore * size)
        unseen = [i for i in range(n) if self.trials[i] == 0]
        seen = [i for i in range(n) if self.trials[i] > 0]
        batch: list[int] = []
        pool = unseen if unseen else list(range(n))
        batch += self.rng.sample(pool, min(n_explore, len(pool)))
        chosen = set(batch)
        candidates = [i for i in seen if i not in chosen]
        while len(batch) < size and candidates:
            weights = [self.weight(i) for i in candidates]
            pick = self.rng.choices(candidates, weights=weights, k=1)[0]
            batch.append(pick)
            candidates.remove(pick)
        rest = [i for i in range(n) if i not in set(batch)]
        batch += self.rng.sample(rest, size - len(batch))
        self._last_batch = batch
        self._log.drew(0, batch)
        return batch

    def observe(self, row_ids: Sequence[int], values: Sequence[float | None], step: int) -> None:
        self._log.score(row_ids, 0)
        for i, v in zip(row_ids, values, strict=True):
            if v is None or i is None:
                continue
            self.trials[int(i)] += 1
            self.successes[int(i)] += float(v)

    def metrics(self) -> dict[str, float]:
        """Share of the last scored batch's prompts in the pass-rate band, and their mean difficulty."""
        out: dict[str, float] = {"stage": 0.0}
        batch = list(dict.fromkeys(self._log.scored[1])) if self._log.scored else self._last_batch
        if batch:
            in_band = [self.band[0] <= self.pass_rate(i) <= self.band[1] for i in batch if self.trials[i]]
            out["in_band"] = sum(in_band) / len(batch)
            difficulty = _mean_difficulty(self.rows, batch)
            if difficulty is not None:
                out["difficulty"] = difficulty
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": "adaptive",
            "successes": self.successes,
            "trials": self.trials,
            "rng": _rng_state(self.rng),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.successes = list(state["successes"])
        self.trials = list(state["trials"])
        _set_rng_state(self.rng, state["rng"])


def build_curriculum(section: Any, rows: Sequence[Mapping[str, Any]], seed: int):
    """The schedule for `curriculum=` (its typed section, or a node typed here), or None for uniform shuffling."""
    from r1exp import schema

    if not isinstance(section, (schema.CurriculumNone, schema.StagedCurriculum, schema.AdaptiveCurriculum)):
        section = schema.curriculum_section(section)
    if isinstance(section, schema.StagedCurriculum):
        return StagedCurriculum(rows, list(section.stages), section.window, seed)
    if isinstance(section, schema.AdaptiveCurriculum):
        return AdaptiveCurriculum(rows, list(section.band), section.explore, section.floor_weight, seed)
    return None
