"""Cold start: supervised fine-tuning on synthetic solver traces before GRPO (TRL's SFTTrainer).

The first note asked whether a 0.5B model needs a cold start to reason. The traces are short searches
in the style the note's model learned, ending in the solver's correct answer block, rendered in the
run's template. GRPO then starts from the SFT weights, which are also its reference model. The SFT
curve goes into the run dir: coldstart/metrics.jsonl (loss, learning rate, grad norm, token accuracy
per logged step) and coldstart/loss.png.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from r1exp.common import jsonl
from r1exp.common.templates import render_reference
from r1exp.errors import ConfigError
from r1exp.tasks import reference_parts
from r1exp.tracking.checkpoints import MARKER


def trace_rows(rows: list[dict], template: Any, n: int, seed: int, max_wrong: int) -> list[dict]:
    """prompt/completion pairs for SFT from rows that have a known solution."""
    rng = random.Random(seed)
    out = []
    for row in rows:
        parts = reference_parts(row, rng, wrong_attempts=rng.randint(0, max_wrong))
        if parts is None:
            continue
        text = render_reference(template, *parts)
        completion: Any = [{"role": "assistant", "content": text}] if template.get("chat") else text
        out.append({"prompt": row["prompt"], "completion": completion})
        if len(out) >= n:
            break
    if not out:
        raise ConfigError("coldstart=solver_traces: no training row has a known solution to build traces from")
    return out


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


def cold_start(cfg: Any, base_path: str, train_rows: list[dict], out_dir: Path) -> Path:
    """Run SFT once (reused on resume) and return the directory of the cold-started model."""
    final = Path(out_dir) / "coldstart" / "final"
    if (final / MARKER).exists():
        return final
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from r1exp.models import load_model, load_tokenizer

    cs = cfg.coldstart
    rows = trace_rows(train_rows, cfg.template, int(cs.rows), int(cfg.seed), int(cs.max_wrong_attempts))
    args = SFTConfig(
        output_dir=str(final.parent),
        max_steps=int(cs.max_steps),
        learning_rate=float(cs.learning_rate),
        lr_scheduler_type="constant",
        per_device_train_batch_size=int(cs.per_device_train_batch_size),
        gradient_accumulation_steps=1,
        use_cpu=cfg.hardware.device == "cpu",
        bf16=bool(cfg.hardware.bf16),
        gradient_checkpointing=bool(cfg.hardware.gradient_checkpointing),
        # About 100 points on the curve.
        logging_steps=max(1, int(cs.max_steps) // 100),
        save_strategy="no",
        report_to=[],
        seed=int(cfg.seed),
        completion_only_loss=True,
        max_length=int(cs.max_length),
    )
    tokenizer = load_tokenizer(base_path)
    model = load_model(base_path, str(cfg.model.get("dtype", "auto")))
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    # SFT restarts from the base when it did not finish: its curve starts over too.
    metrics = final.parent / "metrics.jsonl"
    main = trainer.is_world_process_zero()
    if main:
        metrics.parent.mkdir(parents=True, exist_ok=True)
        metrics.unlink(missing_ok=True)
    trainer.add_callback(sft_log_callback(metrics))
    trainer.train()
    if main:
        plot_sft(metrics, final.parent / "loss.png")
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    (final / MARKER).write_text("sft finished\n")
    return final
