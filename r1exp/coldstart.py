"""Cold start: supervised fine-tuning on synthetic solver traces before GRPO (TRL's SFTTrainer).

The first note asked whether a 0.5B model needs a cold start to reason. The traces are short searches
in the style the note's model learned, ending in the solver's correct answer block, rendered in the
run's template. GRPO then starts from the SFT weights, which are also its reference model.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

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
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        seed=int(cfg.seed),
        completion_only_loss=True,
        max_length=int(cs.max_length),
    )
    tokenizer = load_tokenizer(base_path)
    model = load_model(base_path, str(cfg.model.get("dtype", "auto")))
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train()
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    (final / MARKER).write_text("sft finished\n")
    return final
