"""The TRL internals r1exp's trainer relies on, pinned: a TRL upgrade that changes one fails here, by name.

`R1GRPOTrainer` (r1exp/trainer.py) overrides a few private methods of TRL's GRPOTrainer and reads a
few attributes TRL sets. Each is listed with the parameters r1exp passes through or reads; a renamed
method, a changed parameter list or a missing attribute is one failing test naming it, not a silent
change of behaviour deep in a training run.
"""

from __future__ import annotations

import inspect

import pytest
from trl import GRPOConfig, GRPOTrainer

from r1exp.trainer import R1GRPOTrainer

# Method -> TRL's parameters (the override's job in r1exp/trainer.py).
PINNED = {
    # curricula: the sampler replaces TRL's RepeatSampler
    "_get_train_sampler": ["self", "dataset"],
    # reference-guided groups: the batch's rows, in the order they reach generation
    "_generate_and_score_completions": ["self", "inputs"],
    # step timing only
    "_prepare_inputs": ["self", "generation_batch"],
    "_calculate_rewards": ["self", "inputs", "prompts", "completions", "completion_ids_list"],
    # step timing (no-grad calls only); r1exp passes *args/**kwargs through, so only the head is pinned
    "_get_per_token_logps_and_entropies": ["self", "model", "input_ids", "attention_mask", "logits_to_keep"],
    # generation timing, paged cache sizing, completion count check, guided insertion
    "_generate_single_turn": ["self", "prompt_ids", "images", "multimodal_fields", "num_generations"],
    # the checkpoints' README names the base model
    "create_model_card": ["self", "model_name", "dataset_name", "tags"],
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_each_overridden_trl_method_keeps_its_parameters(name):
    assert hasattr(GRPOTrainer, name), f"TRL's GRPOTrainer has no {name} any more: r1exp/trainer.py overrides it"
    params = list(inspect.signature(getattr(GRPOTrainer, name)).parameters)
    expected = PINNED[name]
    assert params[: len(expected)] == expected, f"{name}{tuple(params)}: r1exp/trainer.py expects {expected}"


def test_every_override_of_a_trl_method_is_pinned():
    """A new override of TRL's internals is added to PINNED (and so to this contract) in the same change."""
    overridden = {
        name
        for name, value in vars(R1GRPOTrainer).items()
        if callable(value) and not name.startswith("__") and hasattr(GRPOTrainer, name)
    }
    assert overridden == set(PINNED)


def test_the_attributes_the_trainer_reads_exist_in_trl():
    source = inspect.getsource(GRPOTrainer.__init__)
    for attribute in (
        "use_transformers_continuous_batching",
        "eos_token_ids",
        "num_generations",
        "max_completion_length",
    ):
        assert f"self.{attribute}" in source, f"GRPOTrainer.__init__ no longer sets self.{attribute}"
    # generation=paged: the config TRL builds and r1exp swaps for a sized copy around each generation
    assert "continuous_batching_config" in inspect.getsource(GRPOTrainer)
    # the GRPOConfig options r1exp sets that are not TRL's defaults' names of old
    fields = GRPOConfig.__dataclass_fields__
    for option in ("use_transformers_continuous_batching", "num_completions_to_print", "log_completions"):
        assert option in fields, f"GRPOConfig has no {option}"
