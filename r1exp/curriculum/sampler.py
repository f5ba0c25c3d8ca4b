"""The sampler TRL's GRPOTrainer draws prompts from when a curriculum is on, and its callback.

It keeps TRL's RepeatSampler layout (each prompt `mini_repeat_count` times in a row, so a group
stays together; each generation batch repeated `repeat_count` times for reuse across iterations),
but asks the curriculum for every generation batch as training goes instead of fixing an epoch's
order up front. The callback saves the curriculum's state into every checkpoint and feeds the
curriculum's numbers into metrics.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch.utils.data import Sampler
from transformers import TrainerCallback

STATE_FILE = "curriculum_state.json"


class CurriculumSampler(Sampler[int]):
    def __init__(self, curriculum, num_rows: int, mini_repeat_count: int, batch_size: int, repeat_count: int):
        self.curriculum = curriculum
        self.num_rows = num_rows
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count

    def __iter__(self):
        for _ in range(self.num_rows // self.batch_size):
            chunk = self.curriculum.next_batch(self.batch_size)
            for _ in range(self.repeat_count):
                for index in chunk:
                    for _ in range(self.mini_repeat_count):
                        yield index

    def __len__(self) -> int:
        return (self.num_rows // self.batch_size) * self.batch_size * self.mini_repeat_count * self.repeat_count


class CurriculumCallback(TrainerCallback):
    """Checkpoint the curriculum state; expose stage and batch difficulty as metrics."""

    def __init__(self, curriculum):
        self.curriculum = curriculum

    def on_save(self, args, state, control, **kwargs):
        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if ckpt.is_dir() and state.is_world_process_zero:
            save_state(self.curriculum, ckpt)

    def drain(self) -> dict[str, float]:
        return self.curriculum.metrics()


def save_state(curriculum, checkpoint: Path) -> None:
    tmp = Path(checkpoint) / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(curriculum.state_dict()))
    tmp.replace(Path(checkpoint) / STATE_FILE)


def load_state(curriculum, checkpoint: Path) -> dict[str, Any] | None:
    """Restore the curriculum from a checkpoint; None when the checkpoint has no curriculum state."""
    file = Path(checkpoint) / STATE_FILE
    if not file.exists():
        return None
    state = json.loads(file.read_text())
    curriculum.load_state_dict(state)
    return state
