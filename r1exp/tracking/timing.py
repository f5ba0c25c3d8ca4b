"""Where a GRPO step's time goes: generation, rewards, reference/old log-probs, and the training part.

TRL profiles the same boundaries (`profiling_context` / `profiling_decorator`: `_prepare_inputs`,
`transformers.generate`, `_calculate_rewards`, `_get_per_token_logps_and_entropies`), but reports
the durations only to wandb/mlflow/trackio, never into the trainer's log dict. `R1GRPOTrainer` wraps
those methods in `StepTimer.section`, so metrics.jsonl and wandb get one set of numbers per step:

- `time/step`: wall time of the optimizer step (`on_step_begin` to `on_step_end`);
- `time/generation`: rollouts (the generation backend, all micro-batches of the step);
- `time/reward`: reward functions (a judge included);
- `time/logprobs`: log-probs computed without gradients (reference model, old policy);
- `time/other`: the rest of TRL's input preparation (tokenizing, decoding, advantages);
- `time/train`: everything else in the step: forward, backward and the optimizer update;
- `perf/generated_tokens_per_s`: completion tokens generated per second of generation;
- `perf/peak_allocated_gib`, `perf/peak_reserved_gib`: the step's CUDA allocator peaks (GPU only).

The generation, reward, logprobs and other parts add up to TRL's input preparation, which with
`time/train` adds up to `time/step`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transformers import TrainerCallback

SPLIT = ("generation", "reward", "logprobs", "other", "train")


class StepTimer(TrainerCallback):
    """Accumulates named sections per optimizer step; a metrics source (`drain`) and a run summary."""

    def __init__(self) -> None:
        self._sections: dict[str, float] = {}
        self._tokens = 0
        self._start: float | None = None
        self._last: dict[str, float] | None = None
        self._totals: dict[str, float] = {}
        self.steps = 0
        self.gauges = _Gauges()

    @contextmanager
    def section(self, name: str) -> Iterator[None]:
        """Add the block's wall time to `name` for the current step."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sections[name] = self._sections.get(name, 0.0) + time.perf_counter() - start

    def add_tokens(self, count: int) -> None:
        self._tokens += count

    def on_step_begin(self, args, state, control, **kwargs):
        self._sections = {}
        self._tokens = 0
        _reset_cuda_peaks()
        self._start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._start is None:
            return
        step = time.perf_counter() - self._start
        self._start = None
        prepare = self._sections.get("prepare", 0.0)
        inner = {k: self._sections.get(k, 0.0) for k in ("generation", "reward", "logprobs")}
        split = {
            **inner,
            # Clamped: the parts are measured inside the preparation, so only rounding can make this < 0.
            "other": max(0.0, prepare - sum(inner.values())),
            "train": max(0.0, step - prepare),
        }
        self._last = {"step": step, **split}
        self.gauges.record(self._tokens, inner["generation"])
        self.steps += 1
        for key, value in self._last.items():
            self._totals[key] = self._totals.get(key, 0.0) + value

    def drain(self) -> dict[str, float]:
        """Seconds of the last finished step (`time/*` in metrics)."""
        last, self._last = self._last, None
        return {k: round(v, 6) for k, v in (last or {}).items()}

    def summary(self) -> dict[str, Any]:
        """Mean seconds per step and per part over the steps this process trained."""
        if not self.steps:
            return {"steps_timed": 0}
        mean = {k: round(v / self.steps, 4) for k, v in self._totals.items()}
        return {"steps_timed": self.steps, "mean_step_s": mean.pop("step"), "mean_split_s": mean}


class _Gauges:
    """Throughput and memory of the last step (`perf/*` in metrics)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def record(self, tokens: int, generation_s: float) -> None:
        last: dict[str, float] = {}
        if tokens and generation_s > 0:
            last["generated_tokens_per_s"] = round(tokens / generation_s, 2)
        last.update(_cuda_peaks())
        self._last = last

    def drain(self) -> dict[str, float]:
        last, self._last = self._last, {}
        return last


def _reset_cuda_peaks() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.reset_peak_memory_stats()


def _cuda_peaks() -> dict[str, float]:
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return {}
    return {
        "peak_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3),
    }


def format_split(summary: dict[str, Any]) -> str:
    """'1.23 s/step: generation 0.80, reward 0.05, ...' from `StepTimer.summary()`."""
    if not summary.get("steps_timed"):
        return "no steps timed"
    split = summary["mean_split_s"]
    parts = ", ".join(f"{k} {split[k]:.2f}" for k in SPLIT if k in split)
    return f"{summary['mean_step_s']:.2f} s/step ({parts})"
