"""Sampling completions: k per prompt with transformers `generate`, or with vLLM when installed.

Shared by evaluation (`cmd=eval`, periodic evaluation during training) and the in-process reference
model (an LLM judge run on the reference weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class Sample:
    """One completion of one prompt, with the token facts generation knows."""

    prompt_index: int
    completion: str
    token_ids: list[int]
    truncated: bool

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


def _prompt_text(tokenizer, prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


def generate_hf(
    model,
    tokenizer,
    prompts: Sequence[Any],
    k: int,
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    batch_size: int = 16,
    progress: bool = True,
) -> list[Sample]:
    """k completions per prompt with transformers' generate (greedy when temperature is 0)."""
    import torch
    from tqdm.auto import tqdm

    eos_ids = set(_eos_ids(model, tokenizer))
    model.eval()
    samples: list[Sample] = []
    per_batch = max(1, batch_size // k)
    starts = range(0, len(prompts), per_batch)
    for start in tqdm(starts, desc="generating", disable=not progress, unit="batch"):
        chunk = [_prompt_text(tokenizer, p) for p in prompts[start : start + per_batch]]
        enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p} if temperature > 0 else {}
        with torch.no_grad():
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                num_return_sequences=k,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=sorted(eos_ids),
                **(sampling or {"do_sample": False}),
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        for row, ids in enumerate(new):
            ended = next((i for i, t in enumerate(ids) if t in eos_ids), None)
            kept = ids if ended is None else ids[: ended + 1]
            samples.append(
                Sample(
                    prompt_index=start + row // k,
                    completion=tokenizer.decode(kept, skip_special_tokens=True),
                    token_ids=kept,
                    truncated=ended is None,
                )
            )
    return samples


def generate_vllm(model_path: str, tokenizer, prompts, k, max_new_tokens, temperature, top_p=1.0) -> list[Sample]:
    """The same with vLLM (GPU machines with the `vllm` extra)."""
    from vllm import LLM, SamplingParams

    llm = LLM(model=model_path)
    params = SamplingParams(n=k, max_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    outputs = llm.generate([_prompt_text(tokenizer, p) for p in prompts], params)
    samples = []
    for i, out in enumerate(outputs):
        for c in out.outputs:
            samples.append(Sample(i, c.text, list(c.token_ids), c.finish_reason == "length"))
    return samples


def _eos_ids(model, tokenizer) -> list[int]:
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return ids
