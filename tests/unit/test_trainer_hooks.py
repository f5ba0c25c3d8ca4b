"""r1exp/trainer.py's own pieces: the storage location "cpu:N" registered with torch, the completion count, the hooks.

With several CPU processes transformers loads a resumed run's optimizer state with
map_location=args.device, "cpu:<local rank>"; torch alone refuses that location. The multiprocess
resume (tests/integration/test_multiprocess.py) proves it end to end; these pin the load itself.
"""

from __future__ import annotations

import pytest
import torch

from r1exp import trainer


def _optimizer_state() -> dict:
    """An AdamW state dict after one step: tensors (exp_avg, exp_avg_sq, step) as a checkpoint holds them."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    return optimizer.state_dict()


@pytest.mark.parametrize("map_location", [torch.device("cpu", 1), torch.device("cpu", 0), "cpu:3"])
def test_optimizer_state_loads_onto_a_cpu_rank_device(tmp_path, map_location):
    saved = _optimizer_state()
    path = tmp_path / "optimizer.pt"
    torch.save(saved, path)

    # How transformers' Trainer loads it on a CPU rank of a multi-process run.
    loaded = torch.load(path, map_location=map_location, weights_only=True)

    assert loaded["param_groups"] == saved["param_groups"]
    assert loaded["state"].keys() == saved["state"].keys()
    for index, state in saved["state"].items():
        for name, value in state.items():
            assert loaded["state"][index][name].device == torch.device("cpu")
            assert torch.equal(loaded["state"][index][name], value), (index, name)
    # and the optimizer takes it back
    model = torch.nn.Linear(3, 2)
    torch.optim.AdamW(model.parameters(), lr=0.1).load_state_dict(loaded)


def test_a_plain_tensor_loads_onto_a_cpu_rank_device(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.arange(6.0), path)
    loaded = torch.load(path, map_location=torch.device("cpu", 1), weights_only=True)
    assert torch.equal(loaded, torch.arange(6.0)) and loaded.device == torch.device("cpu")


def test_only_cpu_with_an_index_is_taken(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.ones(2), path)
    with pytest.raises(RuntimeError, match=r"don't know how to restore data location .*tagged with cpu:one"):
        torch.load(path, map_location="cpu:one", weights_only=True)


def test_saving_still_tags_cpu():
    # The registered tagger tags nothing: checkpoints written by r1exp are the same as without it.
    assert torch.serialization.location_tag(torch.ones(1).untyped_storage()) == "cpu"


def test_registering_again_adds_nothing():
    # torch's registry of locations (private; read only to count the entries)
    before = list(torch.serialization._package_registry)
    trainer.register_cpu_rank_locations()
    trainer.register_cpu_rank_locations()
    assert torch.serialization._package_registry == before
    assert sum(fn is trainer._cpu_rank_deserialize for _, _, fn in before) == 1


def test_fewer_completions_than_requests_stop_the_run():
    """transformers' generate_batch drops a failed request: the completions would pair with the wrong prompts."""
    from r1exp.trainer import R1GRPOTrainer

    R1GRPOTrainer._check_completion_count([[1], [2]], [[7], [8]])
    with pytest.raises(RuntimeError, match=r"^generation returned 1 completions for 2 prompts"):
        R1GRPOTrainer._check_completion_count([[1]], [[7], [8]])


def test_completion_hooks_run_on_training_batches_only():
    from types import SimpleNamespace

    from r1exp.trainer import R1GRPOTrainer

    seen = []

    def hook(trainer, rows, completion_ids, logprobs, num_generations):
        seen.append((rows, num_generations))
        return [[*ids, 0] for ids in completion_ids], logprobs

    trainer = R1GRPOTrainer.__new__(R1GRPOTrainer)
    trainer.completion_hooks = [hook, hook]
    trainer._batch_inputs = [{"row": 1}]
    trainer.model = SimpleNamespace(training=True)
    assert trainer._run_completion_hooks([[5]], None, 2) == ([[5, 0, 0]], None)
    assert seen == [([{"row": 1}], 2)] * 2
    trainer.model.training = False  # evaluation's generation: completions untouched
    assert trainer._run_completion_hooks([[5]], None, 2) == ([[5]], None)
    trainer.model.training, trainer._batch_inputs = True, None  # outside a training batch
    assert trainer._run_completion_hooks([[5]], None, 2) == ([[5]], None)
