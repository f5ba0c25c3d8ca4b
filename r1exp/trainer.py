"""TRL's GRPOTrainer with the two smallest hooks r1exp needs, and nothing else changed.

- Curriculum: `_get_train_sampler` returns a CurriculumSampler (same repeat layout as TRL's own).
- Reference-guided groups: `_generate_single_turn` replaces, in each group, the first completion by
  the row's reference solution rendered in the template's format (tokenized, ending with EOS). TRL
  then scores it, computes its advantage and its log-probs with the policy like any completion.
"""

from __future__ import annotations

import random
from typing import Any

from trl import GRPOTrainer

from r1exp.common.templates import render_reference
from r1exp.curriculum import CurriculumSampler
from r1exp.tasks import reference_parts


class R1GRPOTrainer(GRPOTrainer):
    def __init__(self, *args, curriculum=None, guide_template=None, guide_seed: int = 0, **kwargs):
        self.curriculum = curriculum
        self.guide_template = guide_template
        self._guide_rng = random.Random(guide_seed)
        self._batch_inputs: list[dict[str, Any]] | None = None
        self.guided_counts = {"guided": 0, "samples": 0}
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, dataset=None):
        if self.curriculum is None:
            return super()._get_train_sampler(dataset)
        dataset = dataset if dataset is not None else self.train_dataset
        return CurriculumSampler(
            self.curriculum,
            num_rows=len(dataset),
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
        )

    def _generate_and_score_completions(self, inputs):
        # The rows of this generation batch, in the order their prompts reach generation.
        self._batch_inputs = inputs
        try:
            return super()._generate_and_score_completions(inputs)
        finally:
            self._batch_inputs = None

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        completion_ids, logprobs = super()._generate_single_turn(
            prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs
        )
        if self.guide_template is None or self._batch_inputs is None or not self.model.training:
            return completion_ids, logprobs
        offset = self.accelerator.process_index * len(completion_ids)
        eos = self.eos_token_ids[0] if self.eos_token_ids else self.processing_class.eos_token_id
        for i, row in enumerate(self._batch_inputs):
            self.guided_counts["samples"] += 1
            if (offset + i) % num_generations != 0:
                continue
            ids = self._reference_ids(row)
            if ids is None:
                continue
            completion_ids[i] = [*ids[: self.max_completion_length - 1], eos]
            if logprobs is not None:
                # Sampling log-probs exist only for generated text; none for the inserted solution.
                logprobs[i] = None
            self.guided_counts["guided"] += 1
        return completion_ids, logprobs

    def _reference_ids(self, row: dict[str, Any]) -> list[int] | None:
        """Token ids of the row's reference completion: a clean trace, or just its final line if that fits."""
        parts = reference_parts(row, self._guide_rng, wrong_attempts=0)
        if parts is None:
            return None
        think, answer = parts
        for candidate in (think, think.splitlines()[-1]):
            text = render_reference(self.guide_template, candidate, answer)
            ids = self.processing_class(text, add_special_tokens=False)["input_ids"]
            if len(ids) < self.max_completion_length:
                break
        return ids

    def drain(self) -> dict[str, float]:
        """Share of guided samples since the last call (a metrics source)."""
        counts, self.guided_counts = self.guided_counts, {"guided": 0, "samples": 0}
        if not counts["samples"]:
            return {}
        return {"share": counts["guided"] / counts["samples"]}
