"""generation=paged: what r1exp adds around transformers' continuous batching (TRL's
`use_transformers_continuous_batching`).

- Cache sized to the step: transformers sizes the paged KV cache from a share of the *physical* free
  memory (it ignores `torch.cuda.set_per_process_memory_fraction`, i.e. `hardware.max_memory_gb`) and
  keeps a static attention mask of batch tokens x cache slots for sdpa/eager attention. On CPU that
  auto-sizing made generation ~20x slower than `generate`; sized to the step's requests it is faster.
- Dtypes kept: with `bf16=True`, TRL casts the whole model to bf16 in place before generating
  (`unwrapped_model.to(torch.bfloat16)`), which turns fp32 LoRA adapters and the rotary `inv_freq`
  buffers into bf16 for the rest of training. `keep_dtypes` puts the original tensors back.
- Options checked early: `generation.transformers_continuous_batching_config` keys must be
  `ContinuousBatchingConfig` fields (TRL would fail only after the model loads).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from r1exp.errors import ConfigError

# Tokens per forward pass when r1exp sizes the cache: prefill is split into chunks of this many
# tokens; decode steps use one token per live request. Small enough that the sdpa mask (tokens x
# cache slots) stays cheap, large enough that a step's prompts prefill in a few passes.
MAX_BATCH_TOKENS_CAP = 512
MIN_MAX_BATCH_TOKENS = 64


def check_options(options: Mapping[str, Any] | None) -> None:
    """Refuse keys that `transformers.generation.ContinuousBatchingConfig` does not have."""
    if not options:
        return
    from transformers.generation import ContinuousBatchingConfig

    known = {f.name for f in dataclasses.fields(ContinuousBatchingConfig)}
    for key in options:
        if key not in known:
            raise ConfigError(
                f"generation.transformers_continuous_batching_config.{key} is not a "
                "transformers ContinuousBatchingConfig option; check its spelling"
            )
    block = options.get("block_size")
    if block is not None and (not isinstance(block, int) or block < 4):
        raise ConfigError(
            f"generation.transformers_continuous_batching_config.block_size={block!r} must be an integer >= 4"
        )


def workload_sizes(prompt_lengths: Sequence[int], max_new_tokens: int, block_size: int) -> tuple[int, int]:
    """(num_blocks, max_batch_tokens) that hold every request of one generation call at once."""
    # A request never needs more than ceil((prompt + budget) / block) blocks; one spare for the cache.
    num_blocks = sum(math.ceil((n + max_new_tokens) / block_size) for n in prompt_lengths) + 1
    batch_tokens = min(sum(prompt_lengths), MAX_BATCH_TOKENS_CAP)
    return num_blocks, max(batch_tokens, len(prompt_lengths), MIN_MAX_BATCH_TOKENS)


def bytes_per_block(model_config: Any, block_size: int, dtype_bytes: int) -> int:
    """KV-cache bytes of one block: keys and values of every layer."""
    text = model_config.get_text_config() if hasattr(model_config, "get_text_config") else model_config
    heads = int(text.num_attention_heads)
    head_dim = int(getattr(text, "head_dim", None) or text.hidden_size // heads)
    kv_heads = int(getattr(text, "num_key_value_heads", None) or heads)
    return 2 * int(text.num_hidden_layers) * kv_heads * head_dim * block_size * dtype_bytes


def cuda_cache_budget(share: float) -> int | None:
    """Bytes the cache may take on the current GPU, within `set_per_process_memory_fraction`'s cap
    (hardware.max_memory_gb), which transformers' own sizing does not see; None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    device = torch.cuda.current_device()
    free, total = torch.cuda.mem_get_info(device)
    reserved = torch.cuda.memory_reserved(device)
    cap = torch.cuda.get_per_process_memory_fraction(device) * total
    # The pool can still grow by what the cap and the card both allow; its cached free blocks count too.
    growable = min(free, max(0.0, cap - reserved))
    return int(share * (growable + reserved - torch.cuda.memory_allocated(device)))


def sized_config(
    config: Any,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: int,
    model_config: Any = None,
    dtype_bytes: int = 2,
    budget_bytes: int | None = None,
) -> Any:
    """A copy of a ContinuousBatchingConfig with the cache sized to these requests (unless the user set it).

    With a memory budget, the cache holds as many blocks as fit in it when the whole step does not:
    the engine then runs the requests in turns, as blocks free up.
    """
    if config is None or (config.num_blocks is not None and config.max_batch_tokens is not None):
        return config
    lengths = [len(p) for p in prompt_ids]
    num_blocks, batch_tokens = workload_sizes(lengths, max_new_tokens, config.block_size)
    if budget_bytes is not None and model_config is not None and lengths:
        fit = budget_bytes // bytes_per_block(model_config, config.block_size, dtype_bytes)
        # At least the longest request must fit; below that, transformers reports the shortage itself.
        if fit >= math.ceil((max(lengths) + max_new_tokens) / config.block_size):
            num_blocks = min(num_blocks, int(fit))
    return dataclasses.replace(
        config,
        num_blocks=config.num_blocks if config.num_blocks is not None else num_blocks,
        max_batch_tokens=config.max_batch_tokens if config.max_batch_tokens is not None else batch_tokens,
    )


@contextmanager
def keep_dtypes(model: Any) -> Iterator[None]:
    """Undo in-place dtype casts made inside the block: every parameter and buffer gets its tensor back."""
    params = [(p, p.data) for p in model.parameters()]
    buffers = [(module, name, buf) for module in model.modules() for name, buf in module._buffers.items()]
    try:
        yield
    finally:
        for param, data in params:
            if param.data.dtype != data.dtype:
                # The original tensor, not a cast back: no precision is lost.
                param.data = data
        for module, name, buf in buffers:
            current = module._buffers.get(name)
            if buf is not None and current is not None and current.dtype != buf.dtype:
                module._buffers[name] = buf
