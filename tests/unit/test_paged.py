"""generation=paged helpers: cache sizing, option checks, and undoing TRL's in-place dtype cast."""

from types import SimpleNamespace

import pytest
import torch
from transformers.generation import ContinuousBatchingConfig

from r1exp.errors import ConfigError
from r1exp.paged import (
    MAX_BATCH_TOKENS_CAP,
    bytes_per_block,
    check_options,
    keep_dtypes,
    sized_config,
    workload_sizes,
)


def test_workload_sizes_hold_every_request_at_once():
    # 3 requests of 100 + 200 new tokens = 300 tokens -> 2 blocks of 256 each, and one spare.
    assert workload_sizes([100, 100, 100], 200, 256) == (7, 300)
    # Prefill chunks are capped; decode needs at least one token per request.
    assert workload_sizes([4000] * 2, 10, 256)[1] == MAX_BATCH_TOKENS_CAP
    assert workload_sizes([1] * 100, 10, 256)[1] == 100


def test_sized_config_keeps_what_the_user_set():
    sized = sized_config(ContinuousBatchingConfig(block_size=32), [[1] * 40, [1] * 20], 24)
    # ceil(64 / 32) + ceil(44 / 32) blocks and a spare; prefill of 60 tokens, at least 64.
    assert (sized.num_blocks, sized.max_batch_tokens) == (2 + 2 + 1, 64)
    user = ContinuousBatchingConfig(block_size=32, num_blocks=7)
    assert sized_config(user, [[1] * 40], 24).num_blocks == 7
    assert user.max_batch_tokens is None  # a copy is sized, never the trainer's own config


# Qwen2.5-7B's attention: 28 layers, 4 KV heads of 128 -> 56 KiB of bf16 keys and values per token.
QWEN7B = SimpleNamespace(num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4, hidden_size=3584)
TINY = SimpleNamespace(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=64)


def test_a_memory_budget_caps_the_cache_at_what_fits():
    assert bytes_per_block(QWEN7B, 1, 2) == 57344
    per_block = bytes_per_block(TINY, 32, 2)
    assert per_block == 2 * 2 * 2 * 16 * 32 * 2
    prompts = [[1] * 40, [1] * 20]
    # The whole step needs 5 blocks; 3 fit, which still holds the longest request (2 blocks).
    assert sized_config(ContinuousBatchingConfig(block_size=32), prompts, 24, TINY, 2, 3 * per_block).num_blocks == 3
    # Not even one request fits: left to transformers, which names the shortage.
    assert sized_config(ContinuousBatchingConfig(block_size=32), prompts, 24, TINY, 2, per_block).num_blocks == 5
    # Room for everything: the step's own size.
    assert sized_config(ContinuousBatchingConfig(block_size=32), prompts, 24, TINY, 2, 10**9).num_blocks == 5


def test_options_are_checked_before_the_model_loads():
    check_options({"block_size": 64, "num_blocks": None, "use_cuda_graph": None})
    with pytest.raises(ConfigError, match=r"transformers_continuous_batching_config\.blok_size"):
        check_options({"blok_size": 64})
    with pytest.raises(ConfigError, match="block_size=2"):
        check_options({"block_size": 2})


def test_keep_dtypes_undoes_an_in_place_cast_exactly():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)
            self.register_buffer("inv_freq", torch.tensor([1.0 + 2**-12, 0.5]), persistent=False)

    net = Net()
    weight = net.lin.weight.detach().clone()
    with keep_dtypes(net):
        net.to(torch.bfloat16)  # what TRL does before generate_batch when bf16=True
        assert net.lin.weight.dtype == torch.bfloat16
    assert net.lin.weight.dtype == torch.float32 and torch.equal(net.lin.weight, weight)
    # 1 + 2**-12 is not representable in bf16: the original tensor is back, not a cast of the copy.
    assert net.inv_freq.dtype == torch.float32 and net.inv_freq[0].item() == 1.0 + 2**-12
