"""TRL's GRPOTrainer with the smallest hooks r1exp needs, and nothing else changed.

- Curriculum: `_get_train_sampler` returns a CurriculumSampler (same repeat layout as TRL's own).
- Completion hooks (reference-guided groups, r1exp/features/guided.py): after each generation of a
  training batch, each hook sees the batch's rows and may replace completions before TRL scores them.
- Step timing: the methods TRL profiles (`_prepare_inputs`, generation, `_calculate_rewards`,
  `_get_per_token_logps_and_entropies` without gradients) run inside `StepTimer` sections, because
  TRL's profiling reports its durations only to wandb/mlflow/trackio (r1exp/tracking/timing.py).
- generation=paged (transformers continuous batching): the paged cache is sized to each step's
  requests, TRL's in-place bf16 cast of the model is undone after generating, and a generation that
  returns fewer completions than requests stops the run (r1exp/paged.py says why).
- Resume of several CPU processes: not a hook; importing this module registers with torch a storage
  location "cpu:N" (`register_cpu_rank_locations`): transformers loads the optimizer state with
  map_location=`args.device`, "cpu:N" for CPU ranks, which torch.load alone cannot restore to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from trl import GRPOTrainer

from r1exp.curriculum import CurriculumSampler
from r1exp.paged import cuda_cache_budget, keep_dtypes, sized_config
from r1exp.tracking.timing import StepTimer

_CPU_RANK_LOCATION = re.compile(r"cpu:\d+")
_cpu_rank_locations_registered = False


def _untagged(storage: Any) -> None:
    """Tags nothing: what torch.save writes stays torch's own tag ("cpu", "cuda:0", ...)."""
    return None


def _cpu_rank_deserialize(storage: Any, location: str) -> Any:
    """A storage restored to "cpu:N" stays where torch.load read it: on the CPU (one CPU, any index)."""
    if _CPU_RANK_LOCATION.fullmatch(location):
        return storage
    return None


def register_cpu_rank_locations() -> None:
    """Teach torch.load the location "cpu:N" (idempotent).

    With world_size > 1 transformers loads the optimizer state with map_location=args.device; accelerate
    gives CPU ranks the device "cpu:<local rank>", and torch's own CPU deserializer knows only "cpu"
    ("don't know how to restore data location of torch.storage.UntypedStorage (tagged with cpu:0)").
    """
    global _cpu_rank_locations_registered
    if _cpu_rank_locations_registered:
        return
    # Priority 11: right after torch's "cpu" (10), which declines "cpu:N", and before every accelerator.
    torch.serialization.register_package(11, _untagged, _cpu_rank_deserialize)
    _cpu_rank_locations_registered = True


# At import, as torch registers its own locations: only code that builds a trainer imports this module
# (r1exp/training.py, lazily), so the location is known before the trainer loads any checkpoint, and
# commands that never train leave torch's registry as it is.
register_cpu_rank_locations()


class R1GRPOTrainer(GRPOTrainer):
    def __init__(self, *args, curriculum=None, completion_hooks=(), timer: StepTimer | None = None, **kwargs):
        self.timer = timer if timer is not None else StepTimer()
        self.curriculum = curriculum
        # hook(trainer, rows, completion_ids, logprobs, num_generations) -> (completion_ids, logprobs)
        self.completion_hooks = list(completion_hooks)
        self._batch_inputs: list[dict[str, Any]] | None = None
        super().__init__(*args, **kwargs)

    def create_model_card(self, model_name=None, dataset_name=None, tags=None):
        # TRL's card links the base model on the hub and says "fine-tuned version of [None]" for a local
        # one (the tiny model, a cold start, model.path=DIR); r1exp's names the model either way.
        from trl.trainer.utils import get_config_model_id

        from r1exp.models import write_model_card

        if self.is_world_process_zero():
            write_model_card(self.args.output_dir, get_config_model_id(self.model.config))

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
        for hook in self.completion_hooks:
            hook.begin_batch()
        try:
            return super()._generate_and_score_completions(inputs)
        finally:
            self._batch_inputs = None

    def _prepare_inputs(self, generation_batch):
        with self.timer.section("prepare"):
            return super()._prepare_inputs(generation_batch)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        with self.timer.section("reward"):
            return super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)

    def _get_per_token_logps_and_entropies(self, *args, **kwargs):
        if torch.is_grad_enabled():
            # The loss's forward pass: part of the training time, not of the rollout's log-probs.
            return super()._get_per_token_logps_and_entropies(*args, **kwargs)
        with self.timer.section("logprobs"):
            return super()._get_per_token_logps_and_entropies(*args, **kwargs)

    @contextmanager
    def _paged_generation(self, prompt_ids: Sequence[Sequence[int]]) -> Iterator[None]:
        """Around one continuous-batching generation: a cache sized to the requests, dtypes kept."""
        if not self.use_transformers_continuous_batching:
            yield
            return
        configured = self.continuous_batching_config
        # The cache's dtype is the model's at generation time (TRL casts to bf16/fp16 when training in them).
        dtype_bytes = 2 if (self.args.bf16 or self.args.fp16) else self.model.dtype.itemsize
        share = configured.max_memory_percent if configured.max_memory_percent is not None else 0.5
        self.continuous_batching_config = sized_config(
            configured,
            prompt_ids,
            self.max_completion_length,
            self.model.config,
            dtype_bytes,
            cuda_cache_budget(share),
        )
        try:
            with keep_dtypes(self.model):
                yield
        finally:
            self.continuous_batching_config = configured

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs):
        # TRL's one generation call, wrapped: timed, the paged cache sized around it, its completions counted,
        # then the completion hooks (each step a method of its own below).
        with self.timer.section("generation"), self._paged_generation(prompt_ids):
            completion_ids, logprobs = super()._generate_single_turn(
                prompt_ids, images, multimodal_fields, num_generations, *args, **kwargs
            )
        self._check_completion_count(completion_ids, prompt_ids)
        self.timer.add_tokens(sum(len(ids) for ids in completion_ids))
        return self._run_completion_hooks(completion_ids, logprobs, num_generations)

    @staticmethod
    def _check_completion_count(completion_ids: Sequence[Any], prompt_ids: Sequence[Any]) -> None:
        """One completion per request, or the run stops: transformers' generate_batch logs a failed request
        and returns the others, and TRL would then pair completions with the wrong prompts."""
        if len(completion_ids) != len(prompt_ids):
            raise RuntimeError(
                f"generation returned {len(completion_ids)} completions for {len(prompt_ids)} prompts "
                "(see the generation error logged above)"
            )

    def _run_completion_hooks(self, completion_ids, logprobs, num_generations: int):
        """Training batches only: each hook sees the batch's rows and may replace completions before scoring."""
        if self._batch_inputs is not None and self.model.training:
            for hook in self.completion_hooks:
                completion_ids, logprobs = hook(self, self._batch_inputs, completion_ids, logprobs, num_generations)
        return completion_ids, logprobs
