"""What a training run prints: one progress bar with the key numbers, and a short summary at the end.

transformers prints every log dict (`ProgressCallback.on_log` / `PrinterCallback`), and its model
loading and saving draw their own bars; all of it buries what matters. `ConsoleCallback` replaces
transformers' progress/printer callback and owns the only bar: reward, accuracy, completion length
and s/step as its postfix. Log records written while it is open go through `tqdm.write` (their own
line, never glued to the bar), and `close()` ends the bar before any error is printed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

# (metrics name, label on the bar); names are MetricsCallback's, already in the log dict.
BAR_KEYS = (
    ("reward", "reward"),
    ("accuracy", "acc"),
    ("completion_length/mean", "len"),
    ("time/step", "s/step"),
)
FINAL_KEYS = ("reward", "accuracy", "completion_length/mean")
# Libraries whose INFO lines are noise on the console (they stay in Hydra's log file).
QUIET_LOGGERS = ("ContinuousBatchingLogger", "matplotlib", "httpx")


def quiet_libraries(wandb: bool) -> None:
    """Silence import-time prints and loading bars before the training stack is imported."""
    from transformers.utils import logging as hf_logging

    if not wandb and "transformers.integrations.integration_utils" not in sys.modules:
        # transformers prints "[INFO] Running in WANDB offline mode" on import whenever WANDB_MODE is
        # offline, even when wandb is not used (logger=jsonl).
        mode = os.environ.pop("WANDB_MODE", None)
        try:
            import transformers.integrations.integration_utils  # noqa: F401
        finally:
            if mode is not None:
                os.environ["WANDB_MODE"] = mode
    # Weight loading/saving bars ("Loading weights", "Writing model shards"); the hub's download bars
    # (which transformers' switch also turns off) stay: a first download of a model takes minutes.
    hf_logging.disable_progress_bar()
    from huggingface_hub.utils import enable_progress_bars

    enable_progress_bars()
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


class ConsoleCallback(TrainerCallback):
    """The run's only progress bar (main process); keeps the last logged numbers for the summary."""

    def __init__(self) -> None:
        self.bar = None
        self.last: dict[str, Any] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc="train", unit="step", dynamic_ncols=True
            )

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        self.last = {key: logs[key] for key, _ in BAR_KEYS if key in logs}
        if self.bar is not None:
            self.bar.set_postfix_str(bar_postfix(self.last), refresh=True)

    def on_train_end(self, args, state, control, **kwargs):
        self.close()

    def final(self) -> dict[str, Any]:
        """Reward, accuracy and mean completion length of the last logged step."""
        return {key: self.last[key] for key in FINAL_KEYS if key in self.last}

    def close(self) -> None:
        """End the bar's line (also after an error, so the error starts a line of its own)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def bar_postfix(values: dict[str, Any]) -> str:
    parts = []
    for key, label in BAR_KEYS:
        value = values.get(key)
        if isinstance(value, (int, float)):
            parts.append(f"{label}={value:.3g}")
    return " ".join(parts)


@contextmanager
def progress(callback: ConsoleCallback) -> Iterator[None]:
    """Training under the bar: log lines go above it, and the bar is closed however training ends."""
    from tqdm.contrib.logging import logging_redirect_tqdm

    loggers = [logging.getLogger()] + [logging.getLogger(n) for n in ("r1exp", "transformers", "trl")]
    try:
        with logging_redirect_tqdm(loggers):
            yield
    finally:
        callback.close()


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The end-of-run summary as a few lines (also stored as `summary` in status.json)."""
    from r1exp.tracking.timing import format_split

    final = summary.get("final") or {}
    labels = dict(BAR_KEYS)
    numbers = "  ".join(f"{labels.get(k, k)} {v:.4g}" for k, v in final.items() if isinstance(v, (int, float)))
    wall = summary.get("wall_time_s") or 0.0
    lines = [
        f"r1exp: trained {summary.get('steps')} steps in {wall:.1f} s: {summary.get('run_dir')}",
        f"  last step: {numbers or 'no metrics'}",
        f"  time: {format_split(summary.get('timing') or {})}",
    ]
    plots = summary.get("plots") or []
    if plots:
        folder = Path(plots[0]).parent
        lines.append(f"  plots: {folder} ({', '.join(Path(p).name for p in plots)})")
    return lines
