"""Trainer callbacks that write metrics.jsonl and samples.jsonl, and the reward-side sample recorder.

TRL logs `reward`, `rewards/<term>/mean`, `completions/*`, `kl`, ... once per step (logging_steps=1).
`MetricsCallback` turns them into one row per step under stable names (accuracy and format rate come
from the terms the reward config names) and puts the same names back into the log, so wandb mirrors
exactly what metrics.jsonl holds. Samples are captured where the rewards are computed: each reward
term shows its inputs and values to its observers, without reaching into TRL's private state.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from r1exp.common import jsonl
from r1exp.rewards.base import RewardTerm, total

RENAMES = {
    "reward": "reward",
    "reward_std": "reward_std",
    "completions/mean_length": "completion_length/mean",
    "completions/min_length": "completion_length/min",
    "completions/max_length": "completion_length/max",
    "completions/clipped_ratio": "truncation_rate",
    "kl": "kl",
    "loss": "loss",
    "grad_norm": "grad_norm",
    "learning_rate": "lr",
    "entropy": "entropy",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "num_tokens": "num_tokens",
    "epoch": "epoch",
}


def metrics_row(
    step: int,
    logs: dict[str, Any],
    accuracy_term: str | None,
    format_term: str | None,
    format_metric: str = "format_rate",
) -> dict[str, Any]:
    """One metrics.jsonl row from a TRL log dict (the format term's mean under `format_metric`)."""
    row: dict[str, Any] = {"step": step}
    for src, dst in RENAMES.items():
        if src in logs:
            row[dst] = logs[src]
    for key, value in logs.items():
        if key.startswith("rewards/") and key.endswith("/mean"):
            row[key[: -len("/mean")]] = value
    if accuracy_term and f"rewards/{accuracy_term}/mean" in logs:
        row["accuracy"] = logs[f"rewards/{accuracy_term}/mean"]
    if format_term and f"rewards/{format_term}/mean" in logs:
        row[format_metric] = logs[f"rewards/{format_term}/mean"]
    row.update({k: v for k, v in logs.items() if k.startswith("eval/")})
    return row


class MetricsCallback(TrainerCallback):
    """Writes one row per logged training step to metrics.jsonl (when `write`), with step time."""

    def __init__(
        self,
        path: Path,
        accuracy_term: str | None,
        format_term: str | None,
        beta: float,
        write: bool,
        sources: dict[str, Any] | None = None,
        format_metric: str = "format_rate",
    ):
        self.path = Path(path)
        # format_rate for a 0/1 format term; format_credit for a term that gives partial credit.
        self.format_metric = format_metric
        # prefix -> object with drain() -> {name: value}, read once per logged step (and, when it has
        # one, into_row(row, values) -> the values to log under the prefix)
        self.sources = sources or {}
        self.accuracy_term = accuracy_term
        self.format_term = format_term
        self.beta = beta
        self.write = write
        self._t0: float | None = None
        self._step_time: float | None = None

    def on_step_begin(self, args, state, control, **kwargs):
        self._t0 = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._t0 is not None:
            self._step_time = time.perf_counter() - self._t0

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return  # the end-of-training summary, or another process
        row = metrics_row(state.global_step, logs, self.accuracy_term, self.format_term, self.format_metric)
        if self.beta == 0:
            row.pop("kl", None)
        if self._step_time is not None:
            row["step_time"] = self._step_time
        for prefix, source in self.sources.items():
            values = source.drain()
            if hasattr(source, "into_row"):
                # A source that moves some of its numbers into the row itself (guided groups: the
                # policy's own accuracy under `accuracy`).
                values = source.into_row(row, values)
            row.update({f"{prefix}/{k}": v for k, v in values.items()})
        # Same names into the log dict, for loggers that run after this callback (wandb).
        logs.update({k: v for k, v in row.items() if k not in logs and k != "step"})
        if self.write:
            jsonl.append(self.path, row)


class SampleRecorder(TrainerCallback):
    """Observes the reward terms; writes prompt, completion and per-term rewards every N steps."""

    def __init__(self, path: Path, terms: list[RewardTerm], every: int, per_step: int):
        self.path = Path(path)
        self.terms = terms
        self.every = every
        self.per_step = per_step
        self._batches: dict[int, dict[str, Any]] = {}

    def __call__(self, name, prompts, completions, values, columns) -> None:
        state = columns.get("trainer_state")
        if self.every <= 0 or state is None:
            return
        # Rollouts for step k are generated when global_step is k - 1.
        step = state.global_step + 1
        if step % self.every == 0 or step == 1:
            batch = self._batches.setdefault(step, {"prompts": prompts, "completions": completions, "values": {}})
            batch["values"][name] = list(values)

    def on_step_end(self, args, state, control, **kwargs):
        batch = self._batches.pop(state.global_step, None)
        self._batches = {k: v for k, v in self._batches.items() if k > state.global_step}
        if batch is None or not state.is_world_process_zero:
            return
        for i in range(min(self.per_step, len(batch["completions"]))):
            values = {name: vals[i] for name, vals in batch["values"].items()}
            jsonl.append(
                self.path,
                {
                    "step": state.global_step,
                    "prompt": batch["prompts"][i],
                    "completion": batch["completions"][i],
                    "rewards": values,
                    "reward": total(values, self.terms),
                },
            )


class PeriodicEvalCallback(TrainerCallback):
    """Greedy evaluation on a fixed held-out set every N steps; results join that step's metrics row."""

    def __init__(
        self,
        rows: list[dict],
        terms: list[RewardTerm],
        accuracy_term,
        format_term,
        every,
        max_new_tokens,
        batch_size,
        format_metric: str = "format_rate",
        task: Any = None,
    ):
        # The task of the evaluated rows (r1exp.tasks.base.Task): reads each completion's answer.
        self.task = task
        self.rows = rows
        self.format_metric = format_metric
        self.terms = terms
        self.accuracy_term = accuracy_term
        self.format_term = format_term
        self.every = every
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self._pending: dict[str, Any] = {}

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.every <= 0 or state.global_step % self.every or model is None:
            return
        from r1exp.evaluation import score_samples, summarize
        from r1exp.sampling import generate_hf

        was_training = model.training
        samples = generate_hf(
            model,
            processing_class,
            [r["prompt"] for r in self.rows],
            1,
            self.max_new_tokens,
            0.0,
            batch_size=self.batch_size,
            progress=False,
        )
        if was_training:
            model.train()
        scored = score_samples(self.rows, samples, self.terms, self.task)
        summary = summarize(scored, self.accuracy_term, self.format_term, format_metric=self.format_metric)
        keys = ("accuracy", self.format_metric, "length_mean", "truncation_rate", "reward")
        self._pending = {f"eval/{k}": summary[k] for k in keys if summary.get(k) is not None}

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._pending and logs is not None and "loss" in logs:
            logs.update(self._pending)
            self._pending = {}


class CompletionMarker(TrainerCallback):
    """Marks a checkpoint complete after everything in it is written (registered as the last on_save).

    Transformers writes trainer_state.json, rotates old checkpoints, then calls on_save; a kill at any
    point before this marker leaves a checkpoint that resume will not pick. The marker lists every
    file with its size and sha256, so a file damaged later is found before a resume uses it
    (r1exp/tracking/checkpoints.py).
    """

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            from r1exp.tracking.checkpoints import mark_complete

            mark_complete(Path(args.output_dir) / f"checkpoint-{state.global_step}")


class ResumeRecorder(TrainerCallback):
    """Adds a resume to manifest.json once the trainer has loaded its checkpoint (on_train_begin).

    Transformers loads the weights, optimizer, scheduler and trainer state before on_train_begin, so
    a checkpoint that fails to load leaves no resume entry behind.
    """

    def __init__(self, run_dir: Path, record: dict[str, Any], entry: dict[str, Any], write: bool):
        self.run_dir = Path(run_dir)
        self.record = record
        self.entry = entry
        self.write = write

    def on_train_begin(self, args, state, control, **kwargs):
        self.record.setdefault("resumes", []).append(self.entry)
        if self.write:
            from r1exp.tracking import manifest

            manifest.write(self.run_dir, self.record)


class FiniteAfterResume(TrainerCallback):
    """The first `steps` logged steps after a resume: a non-finite loss stops the run naming the checkpoint.

    A checkpoint whose optimizer or weights went bad shows first as a NaN loss (or as sampling from
    a NaN distribution, which cmd=train turns into the same line).
    """

    def __init__(self, checkpoint: Path, steps: int):
        self.checkpoint = Path(checkpoint)
        self.steps = steps
        self._start: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self._start is None or not logs or "loss" not in logs or state.global_step > self._start + self.steps:
            return
        loss = logs["loss"]
        if isinstance(loss, (int, float)) and not math.isfinite(loss):
            from r1exp.tracking.checkpoints import NonFiniteAfterResume, non_finite_line

            raise NonFiniteAfterResume(non_finite_line(self.checkpoint, f"loss {loss} at step {state.global_step}"))
