"""What a command prints: one progress bar with the key numbers, and a short summary at the end.

transformers prints every log dict (`ProgressCallback.on_log` / `PrinterCallback`), its model
loading and saving draw their own bars, TRL's GRPOTrainer prints a rich table of completions at every
logged step when completions are logged (with wandb), wandb prints its own run history at the end,
and datasets draws a bar per map of the cold start's SFT data; all of it buries what matters.
`ConsoleCallback` replaces transformers' progress/printer callback and owns the only bar of a phase
(GRPO: reward, accuracy, completion length and s/step as its postfix; cold start: SFT loss). Log
records written while it is open go through `tqdm.write` (their own line, never glued to the bar),
and `close()` ends the bar before any error is printed. Everything kept off the console stays in the
run dir: metrics.jsonl, samples.jsonl, coldstart/metrics.jsonl, TRL's completions parquet files and
wandb's own run files.
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
# The bar's label for `accuracy` by what it is: the mean of a judge term is a score, not a rate.
ACCURACY_LABELS = {"accuracy": "acc", "judge score": "judge"}


def bar_keys(accuracy_name: str = "accuracy") -> tuple[tuple[str, str], ...]:
    """BAR_KEYS with `accuracy` labelled by what it is (r1exp.analysis.runs.accuracy_name)."""
    label = ACCURACY_LABELS.get(accuracy_name, accuracy_name)
    return tuple((key, label if key == "accuracy" else name) for key, name in BAR_KEYS)


# The cold start's bar: TRL's SFT log names (coldstart/metrics.jsonl keeps them all).
SFT_BAR_KEYS = (("loss", "loss"), ("mean_token_accuracy", "tok_acc"))
# Libraries whose INFO lines are noise on the console (they stay in Hydra's log file).
QUIET_LOGGERS = ("ContinuousBatchingLogger", "matplotlib", "httpx")
# transformers' checkpoint rotation sorts by mtime and, when two checkpoints are under a second apart
# (a small model saving every few steps), warns that the filesystem's mtime "may not be reliable" and
# sorts by step number, which is the order r1exp's checkpoints have anyway: a false alarm on every fast run.
FALSE_ALARMS = (("transformers.trainer_utils", "mtime may not be reliable"),)


class _DropMessage(logging.Filter):
    """Drops the records of one logger whose message starts with `prefix`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def quiet_libraries(wandb: bool) -> None:
    """Silence import-time prints and loading bars before the training stack is imported."""
    from transformers.utils import logging as hf_logging

    if wandb:
        # wandb's banner and its end-of-run history table; the end summary says where the run is
        # (`wandb_summary`), and wandb's own logs stay in the run dir's wandb/ folder.
        os.environ.setdefault("WANDB_SILENT", "true")
    if "transformers.integrations.integration_utils" not in sys.modules:
        # transformers prints "[INFO] Running in WANDB offline mode" on import whenever WANDB_MODE is
        # offline (the only use of the variable at import; wandb reads it later, at init).
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
    for name, prefix in FALSE_ALARMS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.prefix == prefix for f in logger.filters):
            logger.addFilter(_DropMessage(prefix))


class ConsoleCallback(TrainerCallback):
    """The phase's only progress bar (main process); keeps the last logged numbers for the summary."""

    def __init__(self, desc: str = "train", keys: tuple[tuple[str, str], ...] = BAR_KEYS) -> None:
        self.desc = desc
        self.keys = keys
        self.bar = None
        self.last: dict[str, Any] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step", dynamic_ncols=True
            )

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        self.last = {key: logs[key] for key, _ in self.keys if key in logs}
        if self.bar is not None:
            self.bar.set_postfix_str(bar_postfix(self.last, self.keys), refresh=True)

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


def bar_postfix(values: dict[str, Any], keys: tuple[tuple[str, str], ...] = BAR_KEYS) -> str:
    """'reward=0.5 acc=0.25 ...': the bar's numbers (TRL logs some of them as strings; those are skipped)."""
    parts = []
    for key, label in keys:
        value = values.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{label}={value:.3g}")
    return " ".join(parts)


def quiet_trainer(trainer: Any, console: ConsoleCallback) -> None:
    """Swap transformers' printed log dicts and bar for `console` (a Trainer's callbacks)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.pop_callback(ProgressCallback)
    trainer.pop_callback(PrinterCallback)
    trainer.add_callback(console)


@contextmanager
def no_dataset_bars() -> Iterator[None]:
    """datasets' map/filter bars off (TRL's SFT data preparation draws five), restored afterwards."""
    import datasets

    was_on = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            datasets.enable_progress_bars()


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


def _steps(n: Any) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The end-of-run summary as a few lines (the dict itself is stored as `summary` in status.json).

    `steps_trained` (steps this launch trained) and `resumed_from` (the checkpoint it resumed from, or
    None) say what this launch did; a summary without them counts `steps`.
    """
    from r1exp.tracking.timing import format_split

    final = summary.get("final") or {}
    labels = dict(bar_keys(summary.get("accuracy_name") or "accuracy"))
    numbers = "  ".join(
        f"{labels.get(k, k)} {v:.4g}"
        for k, v in final.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    )
    wall = summary.get("wall_time_s") or 0.0
    trained = summary.get("steps_trained", summary.get("steps"))
    resumed = summary.get("resumed_from")
    where = f" (resumed from {resumed})" if resumed else ""
    lines = [
        f"r1exp: trained {_steps(trained)}{where} in {wall:.1f} s: {summary.get('run_dir')}",
        f"  last step: {numbers or 'no metrics'}",
        f"  time: {format_split(summary.get('timing') or {})}",
    ]
    plots = summary.get("plots") or []
    if plots:
        folder = Path(plots[0]).parent
        lines.append(f"  plots: {folder} ({', '.join(Path(p).name for p in plots)})")
    wandb = summary.get("wandb")
    if wandb:
        lines.append(f"  wandb: {wandb_line(wandb)}")
    return lines


def wandb_summary() -> dict[str, Any] | None:
    """Where the live wandb run is (its URL, or its offline folder to sync), or None without one."""
    wandb = sys.modules.get("wandb")
    run = getattr(wandb, "run", None) if wandb is not None else None
    if run is None:
        return None
    # The run's folder is the parent of its files dir (wandb/offline-run-DATE-ID or wandb/run-DATE-ID).
    folder = str(Path(run.dir).parent)
    if run.offline:
        return {"offline": True, "dir": folder}
    return {"offline": False, "dir": folder, "url": run.url}


def wandb_line(record: dict[str, Any]) -> str:
    """'offline run in DIR (upload: wandb sync DIR)' or the run's URL."""
    if record.get("offline"):
        return f"offline run in {record.get('dir')} (upload: wandb sync {record.get('dir')})"
    return str(record.get("url") or record.get("dir"))


def _cell(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _eval_rows(summary: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(key, label, digits) of the table's rows, in reading order, for the keys the summary has."""
    keys = [("accuracy", "accuracy", 3)]
    keys += sorted(
        ((k, k, 3) for k in summary if k.startswith("pass@") and k[5:].isdigit()), key=lambda r: int(r[0][5:])
    )
    keys += [(k, k, 3) for k in summary if k.startswith("maj@")]
    keys += [
        ("format_rate", "format_rate", 3),
        ("format_credit", "format_credit", 3),
        ("truncation_rate", "truncation_rate", 3),
        ("length_mean", "length mean", 1),
        ("length_p90", "length p90", 1),
        ("reward", "reward", 3),
    ]
    return [row for row in keys if row[0] in summary]


# Difficulty columns beyond this many are left to summary.json (the table stays readable).
MAX_DIFFICULTY_COLUMNS = 6


def eval_lines(summary: dict[str, Any], out: Path | str) -> list[str]:
    """cmd=eval's console output: what was evaluated, a short table (overall and by difficulty), the files."""
    protocol = summary.get("protocol") or {}
    subject = summary.get("checkpoint") or summary.get("model_path")
    what = protocol.get("eval_set") or summary.get("split")
    budget = summary.get("max_new_tokens")
    temperature = summary.get("temperature")
    head = (
        f"r1exp: evaluated {subject} on {what}: {summary.get('prompts')} prompts x {summary.get('k')} samples, "
        f"up to {budget} new tokens, temperature {temperature}"
    )
    by = summary.get("by_difficulty") or {}
    columns = [("all", summary)]
    if 1 < len(by) <= MAX_DIFFICULTY_COLUMNS:
        columns += [(f"difficulty {d}", by[d]) for d in by]
    rows = [("prompts", "prompts", 0), *_eval_rows(summary)]
    table = [["", *(name for name, _ in columns)]]
    table += [[label, *(_cell(col.get(key), digits) for _, col in columns)] for key, label, digits in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [head]
    for r in table:
        lines.append(
            "  "
            + "  ".join([r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]).rstrip()
        )
    stats = {k: v for k, v in (summary.get("reward_stats") or {}).items() if v}
    if stats:
        lines.append("  reward stats: " + ", ".join(f"{k} {_cell(v)}" for k, v in sorted(stats.items())))
    lines.append(f"  written: {Path(out) / 'summary.json'} (every completion: eval.jsonl)")
    return lines
