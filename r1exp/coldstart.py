"""Cold start: supervised fine-tuning on synthetic solver traces before GRPO (TRL's SFTTrainer).

The first note asked whether a 0.5B model needs a cold start to reason. The traces are short searches
in the style the note's model learned, ending in the solver's correct answer block, rendered in the
run's template. GRPO then starts from the SFT weights, which are also its reference model. The SFT
curve goes into the run dir: coldstart/metrics.jsonl (loss, learning rate, grad norm, token accuracy
per logged step) and coldstart/loss.png; the console shows one bar with the SFT loss.

A trace longer than `coldstart.max_length` tokens (prompt included) is cut by TRL, and one whose
prompt alone fills it is dropped. When no trace fits whole, SFT would never see an answer block (or
nothing at all), so the run is refused before the model loads, naming the shortest trace.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

from r1exp.common import jsonl
from r1exp.common.templates import render_reference
from r1exp.errors import ConfigError
from r1exp.tasks import task_of
from r1exp.tasks.base import Task
from r1exp.tracking.checkpoints import MARKER

log = logging.getLogger(__name__)


def trace_rows(rows: list[dict], template: Any, n: int, seed: int, max_wrong: int, task: Task) -> list[dict]:
    """prompt/completion pairs for SFT: the task's reference completion of each row that has one."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        parts = task.reference(row, rng, rng.randint(0, max_wrong))
        if parts is None:
            continue
        text = render_reference(template, *parts)
        completion: Any = [{"role": "assistant", "content": text}] if template.chat else text
        out.append({"prompt": row["prompt"], "completion": completion})
        if len(out) >= n:
            break
    if not out:
        raise ConfigError(
            f"coldstart=solver_traces: no training row has a reference completion of task {task.name} to build "
            "traces from"
        )
    return out


def trace_lengths(rows: list[dict], tokenizer: Any) -> list[int]:
    """Tokens of each trace as SFT sees it: prompt + completion, in the chat template when the rows are chats.

    TRL appends EOS to a plain-text completion; a chat template ends the assistant turn itself.
    """
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    texts, extra = [], []
    for row in rows:
        example = {"prompt": row["prompt"], "completion": row["completion"]}
        chat = is_conversational(example)
        rendered = maybe_apply_chat_template(example, tokenizer)
        texts.append(rendered["prompt"] + rendered["completion"])
        extra.append(0 if chat else 1)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(t) + e for t, e in zip(ids, extra, strict=True)]


def check_lengths(lengths: list[int], max_length: int) -> int:
    """Refuse a max_length no trace fits in; returns how many traces TRL will cut (logged by the caller)."""
    shortest = min(lengths)
    if shortest > max_length:
        raise ConfigError(
            f"coldstart.max_length={max_length} tokens is shorter than every solver trace (shortest: {shortest} "
            f"tokens with its prompt), so SFT would see no whole trace; set coldstart.max_length={shortest} or more "
            f"(longest trace: {max(lengths)})"
        )
    return sum(n > max_length for n in lengths)


# SFT log keys -> coldstart/metrics.jsonl names
SFT_METRICS = {
    "loss": "loss",
    "learning_rate": "lr",
    "grad_norm": "grad_norm",
    "mean_token_accuracy": "token_accuracy",
    "entropy": "entropy",
    "num_tokens": "num_tokens",
}


def sft_log_callback(path: Path):
    """A TrainerCallback that appends each logged SFT step to `path` (JSONL)."""
    from transformers import TrainerCallback

    class SFTLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and state.is_world_process_zero:
                row = {"step": state.global_step, **{new: logs[old] for old, new in SFT_METRICS.items() if old in logs}}
                jsonl.append(path, row)

    return SFTLog()


def plot_sft(metrics: Path, png: Path) -> Path | None:
    """The SFT loss (and token accuracy) against the step, as a PNG; None when nothing was logged."""
    rows = jsonl.read(metrics)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="SFT loss")
    ax.set_xlabel("SFT step")
    ax.set_ylabel("loss")
    ax.set_title("Cold start (SFT on solver traces)")
    ax.grid(alpha=0.3)
    if any(r.get("token_accuracy") is not None for r in rows):
        acc = ax.twinx()
        points = [(r["step"], r["token_accuracy"]) for r in rows if r.get("token_accuracy") is not None]
        acc.plot(*zip(*points, strict=True), color="tab:orange", label="token accuracy")
        acc.set_ylabel("token accuracy")
        acc.set_ylim(0, 1)
    fig.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def cold_start(s: Any, base_path: str, train_rows: list[dict], out_dir: Path) -> Path:
    """Run SFT once (reused on resume) and return the directory of the cold-started model."""
    final = Path(out_dir) / "coldstart" / "final"
    if (final / MARKER).exists():
        return final
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from r1exp.models import load_model, load_tokenizer
    from r1exp.tracking.console import SFT_BAR_KEYS, ConsoleCallback, no_dataset_bars, progress, quiet_trainer

    # `s`: the run's r1exp.sections.Sections; its coldstart section is a schema.SolverTraces.
    cs, hardware = s.coldstart, s.hardware
    rows = trace_rows(train_rows, s.template, cs.rows, s.seed, cs.max_wrong_attempts, task_of(s.data))
    args = SFTConfig(
        output_dir=str(final.parent),
        max_steps=cs.max_steps,
        learning_rate=float(cs.learning_rate),
        lr_scheduler_type="constant",
        per_device_train_batch_size=cs.per_device_train_batch_size,
        gradient_accumulation_steps=1,
        use_cpu=hardware.device == "cpu",
        bf16=hardware.bf16,
        gradient_checkpointing=hardware.gradient_checkpointing,
        # About 100 points on the curve.
        logging_steps=max(1, cs.max_steps // 100),
        save_strategy="no",
        report_to=[],
        seed=s.seed,
        completion_only_loss=True,
        max_length=cs.max_length,
    )
    tokenizer = load_tokenizer(base_path)
    # Before the model loads: a max_length no trace fits in is one line, not a failed SFT.
    cut = check_lengths(trace_lengths(rows, tokenizer), cs.max_length)
    if cut:
        log.warning(
            "coldstart: %d of %d solver traces are longer than coldstart.max_length=%d tokens and are cut (their "
            "answer block is lost)",
            cut,
            len(rows),
            cs.max_length,
        )
    model = load_model(base_path, s.model.dtype)
    with no_dataset_bars():
        trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    if len(trainer.train_dataset) == 0:
        # TRL dropped every example (a prompt alone fills max_length); check_lengths should have said so.
        raise ConfigError(f"coldstart.max_length={cs.max_length}: TRL kept no SFT example; raise it")
    console = ConsoleCallback(desc="cold start (SFT)", keys=SFT_BAR_KEYS)
    quiet_trainer(trainer, console)
    # SFT restarts from the base when it did not finish: its curve starts over too.
    metrics = final.parent / "metrics.jsonl"
    main = trainer.is_world_process_zero()
    if main:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.unlink(missing_ok=True)
    trainer.add_callback(sft_log_callback(metrics))
    with progress(console):
        trainer.train()
    if main:
        plot_sft(metrics, final.parent / "loss.png")
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    (final / MARKER).write_text("sft finished\n")
    return final
