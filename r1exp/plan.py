"""Peak GPU memory of a GRPO run, estimated from the composed config without loading a model.

The estimate follows what TRL 1.16 and transformers actually allocate, phase by phase:

- generate: the policy (and the reference copy) plus the KV cache of the whole generation batch
  (`per_device_train_batch_size * steps_per_generation` prompts, each grown to prompt + completion
  tokens), or the prefill's MLP activations if those are larger, plus the fp32 sampling logits of one
  decoding step. With vLLM the KV cache lives in vLLM's share of the card instead.
- judge (judge.backend=reference): the policy writes judgments; its KV cache for one judge batch.
- train: gradients, AdamW state, the micro-batch's activations (with or without activation
  checkpointing) and TRL's fused log-prob head, which never materialises the (tokens x vocab) logits:
  it projects tiles of 4096 tokens x 32768 vocabulary entries and accumulates gradients in fp32.

The peak is the largest phase plus the CUDA context (memory outside the PyTorch allocator). Optimizer
state is counted in every phase: it exists from the first optimizer step on. Model shapes come from
a table of the exact Qwen2.5 architectures, a local directory's config.json, or the tiny model's spec.

Two figures come from measurements rather than from the shapes (docs/benchmarks.md, issue 9's runs on
an H200 capped as a 3090): transformers' `generate` holds about 0.5 GiB of buffers the components do
not name, and its growing KV cache (every token re-allocates each layer's keys and values one token
longer) fragments the allocator's pool, which then holds more than is allocated. The verdict is judged
on that pool (what a card must hold), and `MEASURED_PEAKS` pins the plan at or above every peak
measured so far. Only the phases a run has are listed (a judge phase only with an in-process judge).

`step_time` estimates seconds per step and for the whole run from measured throughput (`THROUGHPUT`,
each figure with its source), labelled as estimates: generation at the full token budget (random or
untrained models rarely stop early) plus the rest of the step per trained token.

Every figure is read from the typed sections of `r1exp.sections.Sections` (their defaults are the
schemas'); a lever's what-if is a changed copy of the composed config, read through the same sections.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf, open_dict

from r1exp import schema
from r1exp.errors import ConfigError
from r1exp.sections import Sections

GIB = 2**30
# CUDA context, cuBLAS workspaces and other memory a process holds outside the PyTorch allocator
# (measured on an H200 with torch 2.11 + CUDA 13: about 0.5 GiB). hardware=rtx3090 caps the allocator
# at the card's 24 GiB minus this figure, and the plan judges a run against the whole card.
CUDA_CONTEXT_GIB = 0.5
# TRL 1.16's fused log-prob head: trl.kernels.chunked_logprob.TOKEN_CHUNK_SIZE and
# trl.trainer.utils._CHUNKED_LOGPROB_CHUNK_SIZE (a unit test checks they still match).
LOGPROB_TOKEN_CHUNK = 4096
LOGPROB_VOCAB_CHUNK = 32768
# Cards of presets that set no memory cap (GiB).
PRESET_CARDS_GIB = {"a100_80g": 80.0, "multi_gpu": 80.0}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
LORA_TARGETS_ALL = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Extra tokens of a judge prompt beyond the quoted question and completion (instructions, reference).
JUDGE_OVERHEAD_TOKENS = 512
# Buffers transformers' generate holds that no component names (per-step logits copies, masks, cuBLAS
# workspaces, ...): issue 9's step-1 generation readings were 0.4-0.45 GiB above the modelled total
# (1.5B LoRA r64: 5.7 measured vs 5.25; 0.5B full: 3.2 vs 2.81), so 0.5 GiB is counted.
GENERATE_UNMODELLED_GIB = 0.5
# The allocator's pool beyond what is allocated while a DynamicCache grows (generation=hf, periodic
# eval, the reference judge): each token allocates every layer's keys and values one token longer and
# frees the old ones, which are then too small for the next request, so old and new blocks sit side by
# side. Counted as this many times the cache at full length: the 7B math recipe (4.4 GiB of cache)
# held the pool at its 24 GiB cap with ~19 GiB allocated, the 1.5B run (2 GiB of cache) had 0.8 GiB
# reserved above allocated while still generating.
DYNAMIC_CACHE_POOL_FACTOR = 1.5


# GRPOConfig defaults the estimate assumes where a config leaves an option out. cmd=plan runs without
# torch, so it cannot read them from GRPOConfig; tests/unit/test_plan.py pins them to TRL's.
GRPO_DEFAULTS: dict[str, Any] = {"num_iterations": 1, "optim": "adamw_torch_fused", "vllm_gpu_memory_utilization": 0.3}


# transformers' ContinuousBatchingConfig defaults it reads (generation=paged), pinned the same way.
PAGED_DEFAULTS: dict[str, Any] = {"block_size": 256}


def _option(options: Mapping[str, Any], key: str) -> Any:
    """A GRPOConfig option as the trainer will see it: the config's value, else GRPOConfig's default."""
    value = options.get(key)
    return GRPO_DEFAULTS[key] if value is None else value


@dataclass(frozen=True)
class ModelShape:
    """The numbers of a Qwen2-architecture decoder that decide its memory."""

    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    tie_word_embeddings: bool
    dtype: str = "bfloat16"
    head_dim: int | None = None
    attention_bias: bool = True

    @property
    def head(self) -> int:
        return self.head_dim or self.hidden_size // self.num_attention_heads

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each linear layer of one decoder block."""
        h, i, q = self.hidden_size, self.intermediate_size, self.num_attention_heads * self.head
        return {
            "q_proj": (h, q),
            "k_proj": (h, self.kv_dim),
            "v_proj": (h, self.kv_dim),
            "o_proj": (q, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }

    def num_params(self) -> int:
        linears = sum(a * b for a, b in self.linear_shapes().values())
        bias = (self.num_attention_heads * self.head + 2 * self.kv_dim) if self.attention_bias else 0
        per_layer = linears + bias + 2 * self.hidden_size  # two RMSNorms
        embed = self.vocab_size * self.hidden_size
        head = 0 if self.tie_word_embeddings else embed
        return self.num_hidden_layers * per_layer + embed + head + self.hidden_size

    def lora_params(self, r: int, targets: list[str] | tuple[str, ...]) -> int:
        """Parameters of LoRA adapters of rank r on the named linear layers of every block."""
        shapes = self.linear_shapes()
        unknown = [t for t in targets if t not in shapes]
        if unknown:
            raise ConfigError(
                f"lora.target_modules: {', '.join(unknown)} is not a linear layer of this model; "
                f"use some of {', '.join(shapes)}"
            )
        return self.num_hidden_layers * sum(r * (shapes[t][0] + shapes[t][1]) for t in targets)

    def kv_bytes_per_token(self, elem_bytes: int) -> int:
        """Key and value cache of one token across all layers."""
        return 2 * self.num_hidden_layers * self.kv_dim * elem_bytes

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelShape:
        """From a transformers config.json dict."""
        try:
            return cls(
                hidden_size=int(config["hidden_size"]),
                intermediate_size=int(config["intermediate_size"]),
                num_hidden_layers=int(config["num_hidden_layers"]),
                num_attention_heads=int(config["num_attention_heads"]),
                num_key_value_heads=int(config.get("num_key_value_heads") or config["num_attention_heads"]),
                vocab_size=int(config["vocab_size"]),
                tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
                dtype=str(config.get("dtype") or config.get("torch_dtype") or "float32"),
                head_dim=config.get("head_dim"),
                attention_bias=bool(config.get("attention_bias", config.get("model_type") == "qwen2")),
            )
        except KeyError as exc:
            raise ConfigError(f"model config.json has no {exc.args[0]}; plan needs a decoder-only model") from exc


_QWEN25_05B = ModelShape(896, 4864, 24, 14, 2, 151936, True)
_QWEN25_15B = ModelShape(1536, 8960, 28, 12, 2, 151936, True)
_QWEN25_7B = ModelShape(3584, 18944, 28, 28, 4, 152064, False)
# The exact Qwen2.5 architectures (config.json of the hub repos), so the plan works offline.
QWEN25: dict[str, ModelShape] = {
    "Qwen/Qwen2.5-0.5B": _QWEN25_05B,
    "Qwen/Qwen2.5-0.5B-Instruct": _QWEN25_05B,
    "Qwen/Qwen2.5-1.5B": _QWEN25_15B,
    "Qwen/Qwen2.5-1.5B-Instruct": _QWEN25_15B,
    "Qwen/Qwen2.5-7B": _QWEN25_7B,
    "Qwen/Qwen2.5-7B-Instruct": _QWEN25_7B,
}


def model_shape(model: schema.Model) -> tuple[ModelShape, str]:
    """The model's shape and where it came from, without loading weights."""
    if model.builder == "tiny":
        # The spec r1exp.models builds the tiny model from (its defaults fill what model.tiny leaves out).
        from r1exp.models import tiny_spec

        spec = tiny_spec(model)
        shape = ModelShape(
            hidden_size=spec.hidden_size,
            intermediate_size=spec.intermediate_size,
            num_hidden_layers=spec.num_hidden_layers,
            num_attention_heads=spec.num_attention_heads,
            num_key_value_heads=spec.num_key_value_heads,
            # The trained vocabulary is at most this many tokens.
            vocab_size=spec.vocab_size,
            tie_word_embeddings=spec.tie_word_embeddings,
            dtype="float32",
        )
        return shape, "the tiny model's spec"
    path = str(model.path or "")
    config_json = Path(path).expanduser() / "config.json"
    if path and config_json.is_file():
        try:
            config = json.loads(config_json.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"model.path={path}: config.json is unreadable ({exc}); fix or replace it") from exc
        return ModelShape.from_config(config.get("text_config") or config), str(config_json)
    if path in QWEN25:
        return QWEN25[path], f"r1exp's table of {path}"
    raise ConfigError(
        f"model.path={path}: plan knows no shape for it; point model.path at a local directory with a "
        f"config.json, or use one of {', '.join(QWEN25)}"
    )


@dataclass(frozen=True)
class MeasuredPeak:
    """A peak measured on a GPU for one configuration (docs/benchmarks.md); the plan must not undercut it.

    The configuration is identified by what decides its memory: the model, LoRA rank, rollout backend,
    hardware preset, completion budget and generation batch. `kind`: allocated (the allocator's
    allocated peak), pool (its reserved pool) or process (whole-process memory, nvidia-smi).
    """

    label: str
    model: str
    lora_r: int
    backend: str
    hardware: str
    completion: int
    gen_batch: int
    kind: str
    gib: float
    source: str
    # cmd=plan overrides that compose this configuration, and the prompt length it ran with.
    overrides: tuple[str, ...] = ()
    prompt_tokens: int = 128
    # When it was read: every reading so far was taken while step 1 generated (no optimizer state yet).
    phase: str = "generate"
    step1: bool = True

    def describe(self) -> str:
        return f"{self.label}: {self.kind} {self.gib:.1f} GiB ({self.source})"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "gib": self.gib, "source": self.source}


_ISSUE9 = "H200 as hardware=rtx3090 (24 GiB cap then), 64 x 1024 tokens, issue 9 / docs/benchmarks.md"
# Every GPU peak measured so far. Readings taken while step 1 still generated are lower bounds; the 7B
# run's "25.2 GB whole process" held the allocator's pool at its 24 GiB cap, so the pool wanted at least
# 24 GiB and the process at least 25.2e9 bytes (23.5 GiB).
MEASURED_PEAKS: tuple[MeasuredPeak, ...] = (
    MeasuredPeak("1.5B LoRA r64, Countdown", "Qwen/Qwen2.5-1.5B", 64, "hf", "rtx3090", 1024, 64, "allocated", 5.7,
                 _ISSUE9, ("+experiment=countdown_r1zero_1.5b", "hardware=rtx3090", "lora=r64")),
    MeasuredPeak("1.5B LoRA r64, Countdown", "Qwen/Qwen2.5-1.5B", 64, "hf", "rtx3090", 1024, 64, "pool", 6.5,
                 _ISSUE9, ("+experiment=countdown_r1zero_1.5b", "hardware=rtx3090", "lora=r64")),
    MeasuredPeak("0.5B full fine-tune", "Qwen/Qwen2.5-0.5B", 0, "hf", "rtx3090", 1024, 64, "allocated", 3.2,
                 _ISSUE9, ("model=qwen0.5b", "hardware=rtx3090", "lora=none")),
    MeasuredPeak("0.5B full fine-tune", "Qwen/Qwen2.5-0.5B", 0, "hf", "rtx3090", 1024, 64, "pool", 8.3,
                 _ISSUE9, ("model=qwen0.5b", "hardware=rtx3090", "lora=none")),
    MeasuredPeak("7B LoRA r16, math recipe", "Qwen/Qwen2.5-7B", 16, "hf", "rtx3090", 1024, 64, "pool", 24.0,
                 _ISSUE9 + "; the pool sat at its cap", ("+experiment=math_7b_base_lora_3090",)),
    MeasuredPeak("7B LoRA r16, math recipe", "Qwen/Qwen2.5-7B", 16, "hf", "rtx3090", 1024, 64, "process",
                 25.2e9 / GIB, _ISSUE9 + "; 25.2 GB", ("+experiment=math_7b_base_lora_3090",)),
)  # fmt: skip


def measured_for(s: Sections, gen_batch: int) -> list[MeasuredPeak]:
    """The measured peaks of this configuration (same model, LoRA rank, backend, preset and lengths)."""
    mine = (
        s.model.path or "",
        s.lora.r or 0,
        s.generation.name,
        s.hardware.name,
        s.trainer.max_completion_length,
        gen_batch,
    )
    return [m for m in MEASURED_PEAKS if (m.model, m.lora_r, m.backend, m.hardware, m.completion, m.gen_batch) == mine]


@dataclass(frozen=True)
class Throughput:
    """A measured speed: seconds per decoding step and per 1000 trained tokens, with its source."""

    backend: str
    device: str
    # The model sizes it holds for: "tiny", or a parameter range in billions.
    model: str
    min_params: float
    max_params: float
    # Seconds per decoding step (one new token for every sequence of a batch of `decode_batch`).
    decode_s: float | None
    decode_batch: int
    # The rest of a step (reference/old log-probs, forward, backward, update) per 1000 tokens trained.
    train_s_per_ktoken: float | None
    source: str


# Measured figures only; where none exists for a backend the estimate says so. docs/benchmarks.md's GPU
# table (benchmarks/gpu_step.py) is where new ones come from.
THROUGHPUT: tuple[Throughput, ...] = (
    Throughput("hf", "cuda", "0.5B-7B", 0.4e9, 8e9, 0.10, 64, None,
               "about 100 ms per token at batch 64 for 0.5B, 1.5B and 7B alike (per-token overhead): " + _ISSUE9),
    Throughput("hf", "cuda", "7B", 6e9, 8e9, None, 64, 0.59,
               "7B LoRA r16 step 1 took 146 s: less 1024 x 0.1 s of generation, 44 s for ~74k tokens; " + _ISSUE9),
    Throughput("hf", "cpu", "tiny", 0, 0.05e9, 0.019, 32, 0.31,
               "tiny model, one thread: 1683 tokens/s for 32 sequences (docs/benchmarks.md generation_cpu); "
               "the smoke run's log-probs and training 0.32 s for ~1k tokens (issue 9)"),
    Throughput("paged", "cpu", "tiny", 0, 0.05e9, 0.044, 32, 0.31,
               "tiny model, one thread: 725 tokens/s for 32 sequences (docs/benchmarks.md generation_cpu); "
               "the smoke run's log-probs and training 0.32 s for ~1k tokens (issue 9)"),
)  # fmt: skip
# For sizes with no training figure of their own, the 7B one is scaled by parameter count.
_SCALE_FROM = THROUGHPUT[1]
_SCALE_PARAMS = 7.62e9


@dataclass
class StepTime:
    """Seconds per step and for the whole run, estimated from THROUGHPUT (None where no figure exists)."""

    generation_s: float | None
    rest_s: float | None
    steps: int
    eval_s: float | None
    lines_: list[str] = field(default_factory=list)

    @property
    def step_s(self) -> float | None:
        if self.generation_s is None or self.rest_s is None:
            return None
        return self.generation_s + self.rest_s

    @property
    def total_s(self) -> float | None:
        if self.step_s is None:
            return None
        return self.step_s * self.steps + (self.eval_s or 0.0)

    def lines(self) -> list[str]:
        return self.lines_

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": True,
            "generation_s_per_step": _round(self.generation_s),
            "rest_s_per_step": _round(self.rest_s),
            "s_per_step": _round(self.step_s),
            "steps": self.steps,
            "periodic_eval_s": _round(self.eval_s),
            "total_s": _round(self.total_s),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _figure(backend: str, device: str, params: int, tiny: bool, want: str) -> Throughput | None:
    for t in THROUGHPUT:
        value = t.decode_s if want == "decode" else t.train_s_per_ktoken
        if value is None or (t.backend, t.device) != (backend, device):
            continue
        if (t.model == "tiny") == tiny and t.min_params <= params <= t.max_params:
            return t
    return None


def step_time(s: Sections, shape: ModelShape, prompt_tokens: int) -> StepTime:
    """Estimated seconds per optimizer step and for the run, from measured throughput (THROUGHPUT)."""
    hw, trainer = s.hardware, s.trainer
    backend = s.generation.name
    device = hw.device
    tiny = s.model.builder == "tiny"
    params = shape.num_params()
    b, accum = hw.per_device_train_batch_size, hw.gradient_accumulation_steps
    spg = int(trainer.steps_per_generation or accum)
    iterations = int(_option(trainer.options, "num_iterations"))
    gen_batch = generation_batch(s)
    c = trainer.max_completion_length
    steps = trainer.max_steps
    seq = prompt_tokens + c
    where = f"generation={backend} on {device} with {'the tiny model' if tiny else f'{params / 1e9:.2f}B params'}"
    lines = [f"time (ESTIMATES from measured throughput, not measurements; {where}):"]

    decode = _figure(backend, device, params, tiny, "decode")
    gen_s = eval_s = None
    eval_line = ""
    if decode is not None:
        per_token = decode.decode_s * max(1.0, gen_batch / decode.decode_batch)
        # One generation per steps_per_generation x num_iterations micro-steps; a step is `accum` of them.
        gens = accum / (spg * iterations)
        gen_s = gens * c * per_token
        lines.append(
            f"  generation  {gen_s:8.1f} s/step  {c} tokens x {per_token:.3f} s per decoding step "
            f"(batch {gen_batch}; the full budget: a model that stops earlier is faster) [{decode.source}]"
        )
        pe = s.periodic_eval
        every = pe.every
        if every > 0 and steps:
            eb, new = pe.batch_size, pe.max_new_tokens
            per_eval = math.ceil(pe.prompts / eb) * new * decode.decode_s * max(1.0, eb / decode.decode_batch)
            eval_s = (steps // every) * per_eval
            eval_line = f"  periodic eval  {per_eval:.0f} s each, {steps // every} times: {_duration(eval_s)} in all"
    else:
        lines.append(
            f"  generation  no measured figure for generation={backend} on {device} at this size: "
            "no estimate (benchmarks/gpu_step.py measures one; docs/benchmarks.md)"
        )
    train = _figure(backend, device, params, tiny, "train") or _figure("hf", device, params, tiny, "train")
    rest_s = None
    tokens = b * accum * seq
    if train is not None:
        rest_s = tokens / 1000 * train.train_s_per_ktoken
        lines.append(f"  rest of the step  {rest_s:5.1f} s/step  {tokens} tokens [{train.source}]")
    elif device == "cuda" and not tiny and _SCALE_FROM.train_s_per_ktoken is not None:
        rate = _SCALE_FROM.train_s_per_ktoken * params / _SCALE_PARAMS
        rest_s = tokens / 1000 * rate
        lines.append(
            f"  rest of the step  {rest_s:5.1f} s/step  {tokens} tokens [the 7B figure scaled by parameter count: "
            f"{_SCALE_FROM.source}]"
        )
    else:
        lines.append("  rest of the step  no measured figure for this device and size: no estimate")
    if eval_line:
        lines.append(eval_line)
    result = StepTime(gen_s, rest_s, steps, eval_s)
    if result.step_s is not None:
        total = f"; {steps} steps: {_duration(result.total_s)}" if steps else ""
        lines.append(f"  per step  ~{_duration(result.step_s)}{total} (estimate)")
    result.lines_ = lines
    return result


@dataclass(frozen=True)
class Component:
    """One row of the plan: bytes, the phases it is alive in, and a note.

    `pool_only`: memory the allocator's pool holds without it being allocated (fragmentation); it counts
    toward the pool and the whole process, not toward `torch.cuda.max_memory_allocated`.
    """

    name: str
    bytes: int
    phases: tuple[str, ...]
    note: str = ""
    pool_only: bool = False

    @property
    def gib(self) -> float:
        return self.bytes / GIB


@dataclass
class Plan:
    """The estimate: components, each phase's total, the peak and the verdict."""

    title: str
    setup: str
    components: list[Component]
    # phase -> allocated bytes; pool -> the allocator's pool (allocated + fragmentation)
    phases: dict[str, int]
    context_bytes: int
    card_gib: float | None
    card_source: str
    gen_batch: int = 0
    seq_tokens: int = 0
    notes: list[str] = field(default_factory=list)
    levers: list[tuple[str, float, bool]] = field(default_factory=list)
    pool: dict[str, int] = field(default_factory=dict)
    time: StepTime | None = None
    measured: list[MeasuredPeak] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pool = self.pool or dict(self.phases)

    @property
    def peak_phase(self) -> str:
        return max(self.pool, key=lambda p: self.pool[p])

    @property
    def allocator_peak_gib(self) -> float:
        """Peak of allocated memory (what torch.cuda.max_memory_allocated reports)."""
        return max(self.phases.values()) / GIB

    @property
    def pool_peak_gib(self) -> float:
        """Peak of the allocator's pool (torch.cuda.max_memory_reserved): allocated plus fragmentation."""
        return self.pool[self.peak_phase] / GIB

    @property
    def peak_gib(self) -> float:
        """Whole-process peak (what nvidia-smi shows): the pool's peak plus the CUDA context."""
        return (self.pool[self.peak_phase] + self.context_bytes) / GIB

    @property
    def allocated_process_gib(self) -> float:
        """Allocated peak plus the context: below the card, the run can finish even with a full pool."""
        return (max(self.phases.values()) + self.context_bytes) / GIB

    @property
    def first_generate_gib(self) -> float:
        """Allocator total while step 1 generates: no optimizer state exists yet."""
        optimizer = sum(c.bytes for c in self.components if c.name.startswith("optimizer"))
        return (self.phases["generate"] - optimizer) / GIB

    @property
    def fits(self) -> bool | None:
        return None if self.card_gib is None else self.peak_gib <= self.card_gib

    @property
    def verdict_kind(self) -> str:
        """fits, tight, at the cap (allocated fits, the pool does not), does not fit, or unknown (no card)."""
        if self.card_gib is None:
            return "unknown"
        if self.allocated_process_gib > self.card_gib:
            return "does not fit"
        if self.peak_gib > self.card_gib:
            return "at the cap"
        return "tight" if self.card_gib - self.peak_gib < 1.0 else "fits"

    def verdict(self) -> str:
        if self.card_gib is None:
            return f"verdict: no card to check against ({self.card_source}); pass cmd.card_gb=N to check one"
        headroom = self.card_gib - self.peak_gib
        where = f"{self.peak_gib:.1f} of {self.card_gib:.1f} GiB ({self.card_source})"
        kind = self.verdict_kind
        if kind == "does not fit":
            over = self.allocated_process_gib - self.card_gib
            return (
                f"verdict: does NOT fit: {self.allocated_process_gib:.1f} of {self.card_gib:.1f} GiB "
                f"({self.card_source}) allocated with the context, {over:.1f} GiB over"
            )
        if kind == "at the cap":
            return (
                f"verdict: at the cap, no headroom: the pool wants {where}; allocated memory "
                f"({self.allocated_process_gib:.1f} GiB with the context) fits, so PyTorch frees cached blocks "
                "and retries as it goes (slower steps, and an OOM if fragmentation wins)"
            )
        if kind == "tight":
            return f"verdict: fits, but tight: {where}, {headroom:.1f} GiB headroom (fragmentation may not fit)"
        return f"verdict: fits: {where}, {headroom:.1f} GiB headroom"

    def table(self) -> str:
        width = max(len(c.name) for c in self.components) + 2
        lines = [self.title, self.setup, "", f"{'component':<{width}}{'GiB':>8}  phases / note"]
        for c in self.components:
            note = f"  ({c.note})" if c.note else ""
            lines.append(f"{c.name:<{width}}{c.gib:>8.2f}  {','.join(c.phases)}{note}")
        lines.append("")
        for name, total in self.phases.items():
            extra = self.pool[name] - total
            pool = f"; pool {self.pool[name] / GIB:.2f} with fragmentation" if extra else ""
            lines.append(f"{'phase ' + name:<{width}}{total / GIB:>8.2f}  allocated{pool}")
        lines.append(
            f"{'peak (' + self.peak_phase + ' pool + context)':<{width}}{self.peak_gib:>8.2f}  whole process on the GPU"
        )
        for m in self.measured:
            lines.append(f"measured: {m.describe()}")
        lines.extend(f"note: {n}" for n in self.notes)
        lines.append(self.verdict())
        if self.levers:
            lines.append("biggest levers (each alone, saving at the peak):")
            for override, saved, fits in self.levers:
                lines.append(f"  {override}: saves {saved:.1f} GiB{' -> fits' if fits else ''}")
        if self.time is not None:
            lines.append("")
            lines.extend(self.time.lines())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "components": {c.name: round(c.gib, 3) for c in self.components},
            "phases_gib": {k: round(v / GIB, 3) for k, v in self.phases.items()},
            "pool_gib": {k: round(v / GIB, 3) for k, v in self.pool.items()},
            "peak_phase": self.peak_phase,
            "allocator_peak_gib": round(self.allocator_peak_gib, 3),
            "pool_peak_gib": round(self.pool_peak_gib, 3),
            "first_generate_gib": round(self.first_generate_gib, 3),
            "peak_gib": round(self.peak_gib, 3),
            "card_gib": self.card_gib,
            "fits": self.fits,
            "verdict": self.verdict_kind,
            "measured": [m.to_dict() for m in self.measured],
            "levers": [{"override": o, "saves_gib": round(s, 3), "fits": f} for o, s, f in self.levers],
            "time": self.time.to_dict() if self.time is not None else None,
        }


def _dtype_bytes(name: str, where: str) -> int:
    name = str(name).replace("torch.", "")
    if name not in DTYPE_BYTES:
        raise ConfigError(f"{where}={name!r} is not a dtype plan knows; use one of {', '.join(DTYPE_BYTES)}")
    return DTYPE_BYTES[name]


def saved_bytes_per_token(shape: ModelShape, elem_bytes: int, lora_r: int = 0, lora_modules: int = 0) -> int:
    """Bytes autograd keeps for backward, per token and decoder layer, computing in `elem_bytes`."""
    h, i = shape.hidden_size, shape.intermediate_size
    # RMSNorm saves its fp32 input and the normalised output; attention saves q, k, v (before and
    # after RoPE) and the SDPA output; the MLP saves gate, up, SiLU(gate) and their product.
    saved = 8 * h + elem_bytes * (5 * h + 3 * shape.kv_dim + 4 * i)
    if lora_r:
        # lora_A's outputs and a little per module; dropout is off (TRL's disable_dropout). Measured
        # with saved-tensor hooks under bf16 autocast: about 3.5 bytes per rank and 45 per module.
        saved += (4 * lora_r + 40) * lora_modules
    return saved


def card_gib(hw: schema.Hardware, override: float | None = None) -> tuple[float | None, str]:
    """The card the run is judged against, and where that figure comes from."""
    if override:
        return float(override), "cmd.card_gb"
    if hw.device != "cuda":
        return None, f"hardware={hw.name} runs on CPU"
    if hw.max_memory_gb:
        cap = float(hw.max_memory_gb)
        return cap + CUDA_CONTEXT_GIB, f"{hw.name}: allocator cap {cap:g} + {CUDA_CONTEXT_GIB:g} context"
    if hw.name in PRESET_CARDS_GIB:
        return PRESET_CARDS_GIB[hw.name], f"{hw.name} card"
    return None, f"hardware={hw.name} names no card size"


def lora_targets(lora: schema.Lora) -> list[str]:
    """The linear layers LoRA adapts: the listed ones, or every one (unset, or a string such as "all-linear")."""
    targets = lora.target_modules
    return list(targets) if targets and not isinstance(targets, str) else list(LORA_TARGETS_ALL)


def generation_batch(s: Sections) -> int:
    """Completions generated at once: trainer.generation_batch_size, else micro-batch x steps_per_generation
    (TRL's default: gradient_accumulation_steps)."""
    hw, trainer = s.hardware, s.trainer
    steps = trainer.steps_per_generation or hw.gradient_accumulation_steps
    return int(trainer.generation_batch_size or hw.per_device_train_batch_size * int(steps))


def estimate(s: Sections, prompt_tokens: int = 256, card_override: float | None = None) -> Plan:
    """The plan of a composed config, read through its typed sections."""
    shape, shape_source = model_shape(s.model)
    hw, trainer, gen = s.hardware, s.trainer, s.generation
    options = gen.options
    on_gpu = hw.device == "cuda"

    wdtype = shape.dtype if s.model.dtype == "auto" else s.model.dtype
    wb = _dtype_bytes(wdtype, "model.dtype")
    # bf16 autocast computes the training activations in bf16 even over float32 weights.
    ab = 2 if hw.bf16 else wb
    params = shape.num_params()

    lora_r = s.lora.r or 0
    targets = lora_targets(s.lora)
    beta = trainer.beta
    paged = gen.paged
    use_vllm, vllm_mode = gen.use_vllm, gen.vllm_mode

    # The hardware preset's micro-batch and accumulation (trainer.* interpolate them).
    b = hw.per_device_train_batch_size
    gen_batch = generation_batch(s)
    c = trainer.max_completion_length
    p = int(prompt_tokens)
    seq = p + c
    tokens, completion_tokens = b * seq, b * c
    ckpt = hw.gradient_checkpointing
    h, i, layers, vocab = shape.hidden_size, shape.intermediate_size, shape.num_hidden_layers, shape.vocab_size

    comps: list[Component] = []
    # Only the phases this run has: a judge phase needs a reward term that calls the judge and the
    # in-process backend (an HTTP judge runs elsewhere); an eval phase needs periodic evaluation.
    uses_judge = judge_runs(s.reward)
    # A judge reward checks the judge's settings before it runs: the plan reads them checked too.
    judge = s.judge.check() if uses_judge and s.judge is not None else None
    in_process_judge = judge is not None and judge.backend == "reference"
    every = s.periodic_eval.every
    always = ("generate", *(("judge",) if in_process_judge else ()), "train", *(("eval",) if every > 0 else ()))

    def add(name: str, nbytes: float, phases: tuple[str, ...], note: str = "", pool_only: bool = False) -> Component:
        comp = Component(name, int(nbytes), phases, note, pool_only)
        comps.append(comp)
        return comp

    add(f"weights ({wdtype}, {params / 1e9:.2f}B params)", params * wb, always)
    if lora_r:
        lora_params = shape.lora_params(lora_r, targets)
        # PEFT upcasts adapters to fp32 (and generation=paged keeps them so: r1exp.paged.keep_dtypes).
        lb = 4
        trainable, grad_b, state_b = lora_params, lb, lb
        add(f"LoRA r{lora_r} adapters ({lora_params / 1e6:.1f}M params)", lora_params * lb, always, f"{lb} bytes each")
        add("reference model", 0, always, "LoRA: the policy with adapters disabled")
        lm_head_trainable = False
    else:
        trainable, grad_b, state_b = params, wb, wb
        ref = params * wb if beta != 0 else 0
        add("reference model", ref, always, "a second copy" if ref else "beta = 0: none")
        lm_head_trainable = True
    optim = str(_option(trainer.options, "optim"))
    # AdamW keeps two moments in the parameters' dtype; 8-bit optimizers one byte each.
    state_elem = 1 if "8bit" in optim else state_b
    add(f"optimizer state ({optim})", 2 * trainable * state_elem, always, "from the first optimizer step on")
    # Alive in every phase: weights, adapters, the reference copy, the optimizer state.
    base = sum(x.bytes for x in comps)
    add("gradients", trainable * grad_b, ("train",))

    # --- training micro-batch activations ---
    per_layer = saved_bytes_per_token(shape, ab, lora_r, len(targets) if lora_r else 0)
    backward_tmp = tokens * (3 * i * ab + 8 * h)
    final_norm = tokens * (4 * h + ab * h)
    act_full = tokens * per_layer * layers + backward_tmp + final_norm
    # Checkpointing keeps each block's input and recomputes one block at a time during backward.
    act_ckpt = tokens * ab * h * layers + tokens * per_layer + backward_tmp + final_norm
    in_use, other = (act_ckpt, act_full) if ckpt else (act_full, act_ckpt)
    add(
        f"activations ({b} x {seq} tokens, {'checkpointed' if ckpt else 'no checkpointing'})",
        in_use,
        ("train",),
        f"{'without' if ckpt else 'with'} checkpointing: {other / GIB:.2f} GiB",
    )
    n_tile = min(completion_tokens, LOGPROB_TOKEN_CHUNK)
    head = completion_tokens * (ab * h + 4 * h + ab * h + 32) + n_tile * LOGPROB_VOCAB_CHUNK * ab
    if lm_head_trainable:
        head += vocab * h * (4 + wb)  # fp32 weight-gradient accumulator and its cast
    full_logits = completion_tokens * vocab * 4
    add(
        "log-prob head (TRL fused, chunked)",
        head,
        ("train",),
        f"full fp32 logits would be {full_logits / GIB:.2f} GiB; TRL never materialises them",
    )

    # --- generation ---
    # generate() runs outside autocast, in the weights' dtype (generation=paged casts to bf16 first).
    gb = 2 if (paged and hw.bf16) else wb
    kv_tok = shape.kv_bytes_per_token(gb)
    kv_full = gen_batch * seq * kv_tok
    prefill = gen_batch * p * (3 * i * gb + 4 * h * gb) + gen_batch * p * kv_tok
    # lm_head output, its fp32 copy, the warped scores and the probabilities of one decoding step
    sampling = gen_batch * vocab * (gb + 12)
    notes: list[str] = []
    card, card_source = card_gib(hw, card_override)
    vllm_share = 0
    if use_vllm and vllm_mode == "colocate":
        util = float(_option(options, "vllm_gpu_memory_utilization"))
        # vLLM takes this share of the whole card, whatever the allocator cap says.
        share_card = card or 0.0
        vllm_share = int(util * share_card * GIB)
        sleep = bool(options.get("vllm_enable_sleep_mode"))
        # vLLM holds its own weights, at least one sequence's KV cache and ~1 GiB of activations and
        # CUDA graphs, or it refuses to start; the whole batch at once needs the batch's cache.
        vllm_min = params * wb + seq * shape.kv_bytes_per_token(2) + GIB
        vllm_batch = params * wb + kv_full + GIB
        note = "released while training (sleep mode)" if sleep else "held all run (sleep mode off)"
        if share_card and vllm_share < vllm_min:
            notes.append(
                f"vLLM cannot start in {vllm_share / GIB:.1f} GiB: it needs at least {vllm_min / GIB:.1f} "
                f"(its own weights + one sequence's cache), counted here; "
                f"generation.vllm_gpu_memory_utilization={math.ceil(vllm_min / (share_card * GIB) * 100) / 100:g} "
                "or more"
            )
            vllm_share = vllm_min
        elif share_card and vllm_share < vllm_batch:
            notes.append(
                f"vLLM's {vllm_share / GIB:.1f} GiB hold fewer than the batch's {gen_batch} sequences at once "
                f"({vllm_batch / GIB:.1f} GiB would): it generates in waves"
            )
        add(f"vLLM share ({util:g} x {share_card:g} GiB)", vllm_share, ("generate",) if sleep else always, note)
        gen_transient = 0
        add("KV cache (in vLLM's share)", 0, ("generate",))
    elif use_vllm:
        gen_transient = 0
        add("KV cache (vLLM server, another GPU)", 0, ("generate",))
    elif paged:
        from r1exp.paged import workload_sizes

        cb = options.get("transformers_continuous_batching_config") or {}
        block = int(cb.get("block_size") or PAGED_DEFAULTS["block_size"])
        # r1exp.paged sizes the cache and the tokens per pass to the step's requests unless set.
        sized_blocks, sized_tokens = workload_sizes([p] * gen_batch, c, block)
        if cb.get("num_blocks"):
            blocks = int(cb["num_blocks"])
            note = f"{blocks} blocks x {block} tokens, as set"
        else:
            blocks = sized_blocks
            note = f"sized to the step: {blocks} blocks x {block} tokens"
        kv_paged = blocks * block * kv_tok
        add("KV cache (paged)", kv_paged, ("generate",), note)
        # Tokens per forward pass: hidden states, fp32 logits and the MLP's intermediates.
        batch_tokens = int(cb.get("max_batch_tokens") or sized_tokens)
        paged_act = batch_tokens * (h * gb + vocab * 4) + batch_tokens * 3 * i * gb
        # With bf16, TRL casts the model to bf16 for generation; r1exp restores the fp32 tensors after,
        # so fp32 weights and adapters have a bf16 copy while generating.
        cast = 0
        if hw.bf16:
            cast = (params * 2 if wb == 4 else 0) + (trainable * 2 if lora_r else 0)
        add(f"paged forward pass ({batch_tokens} tokens)", paged_act + cast, ("generate",))
        gen_transient = kv_paged + paged_act + cast
    else:
        add(f"KV cache (hf, {gen_batch} x {seq} tokens)", kv_full, ("generate",), f"{kv_tok // 1024} KiB/token")
        add(
            f"prefill activations ({gen_batch} x {p} tokens)",
            prefill,
            ("generate",),
            "before the cache grows; the larger of the two counts",
        )
        add(f"sampling logits (fp32, {gen_batch} x {vocab})", sampling, ("generate",))
        gen_transient = max(prefill, kv_full + sampling)
        add(
            "pool fragmentation (hf's growing KV cache)",
            DYNAMIC_CACHE_POOL_FACTOR * kv_full,
            ("generate",),
            f"{DYNAMIC_CACHE_POOL_FACTOR:g} x the cache: reserved, not allocated (measured, see r1exp.plan)",
            pool_only=True,
        )
    unmodelled = int(GENERATE_UNMODELLED_GIB * GIB) if not use_vllm else 0
    if unmodelled:
        add(
            "generate: buffers not modelled",
            unmodelled,
            ("generate",),
            "issue 9: step-1 readings 0.4-0.45 GiB above the components",
        )
        gen_transient += unmodelled

    # --- in-process judge ---
    judge_bytes = judge_pool = 0
    if in_process_judge:
        jb = judge.reference.batch_size
        jt = p + c + JUDGE_OVERHEAD_TOKENS + judge.reference.max_new_tokens
        judge_bytes = jb * jt * kv_tok + jb * jt * 3 * i * gb + int(GENERATE_UNMODELLED_GIB * GIB)
        add(f"judge (reference model, {jb} x {jt} tokens)", judge_bytes, ("judge",), "the policy's weights, its cache")
        judge_pool = int(DYNAMIC_CACHE_POOL_FACTOR * jb * jt * kv_tok)
        add("pool fragmentation (judge's growing cache)", judge_pool, ("judge",), "reserved, not allocated", True)
    elif uses_judge:
        add("judge (HTTP endpoint)", 0, ("generate",), "runs elsewhere: no GPU memory here")

    # --- periodic greedy evaluation (transformers' generate, a growing cache) ---
    eval_bytes = eval_pool = 0
    if every > 0:
        eb = s.periodic_eval.batch_size
        et = p + s.periodic_eval.max_new_tokens
        eval_bytes = eb * et * kv_tok + eb * vocab * (gb + 8) + int(GENERATE_UNMODELLED_GIB * GIB)
        add(f"periodic eval ({eb} x {et} tokens)", eval_bytes, ("eval",), "with generate's unmodelled buffers")
        eval_pool = int(DYNAMIC_CACHE_POOL_FACTOR * eb * et * kv_tok)
        add("pool fragmentation (eval's growing cache)", eval_pool, ("eval",), "reserved, not allocated", True)

    context = int(CUDA_CONTEXT_GIB * GIB) if on_gpu else 0
    add("CUDA context, non-allocator", context, ("process",), "outside the allocator" if on_gpu else "CPU run")

    vllm_all = vllm_share if (vllm_share and not options.get("vllm_enable_sleep_mode")) else 0
    train_bytes = sum(x.bytes for x in comps if x.phases == ("train",))
    gen_pool = sum(x.bytes for x in comps if x.pool_only and x.phases == ("generate",))
    phases = {"generate": base + gen_transient + vllm_share, "train": base + train_bytes + vllm_all}
    pool = {"generate": phases["generate"] + gen_pool, "train": phases["train"]}
    if in_process_judge:
        phases["judge"] = base + judge_bytes + vllm_all
        pool["judge"] = phases["judge"] + judge_pool
    if every > 0:
        phases["eval"] = base + eval_bytes + vllm_all
        pool["eval"] = phases["eval"] + eval_pool

    title = (
        f"r1exp plan: model={s.model.name} ({shape_source}; {params / 1e9:.2f}B params, {wdtype}), "
        f"lora={s.lora.name}, hardware={hw.name}, generation={gen.name}"
    )
    setup = (
        f"generation batch {gen_batch} x ({p} prompt + {c} completion) tokens; micro-batch {b}; "
        f"gradient checkpointing {'on' if ckpt else 'off'}; beta {beta:g}"
    )
    if not on_gpu:
        notes.append("hardware=cpu: the figures are host memory")
    if hw.deepspeed:
        notes.append(f"hardware.deepspeed={hw.deepspeed}: ZeRO sharding is not modelled; figures are one full copy")
    plan = Plan(title, setup, comps, phases, context, card, card_source, gen_batch, seq, notes, pool=pool)
    plan.measured = measured_for(s, gen_batch)
    _not_below_measured(plan, p)
    plan.time = step_time(s, shape, p)
    return plan


def _not_below_measured(plan: Plan, prompt_tokens: int) -> None:
    """Raise the plan to any peak measured for this very configuration, as a named component.

    What the components miss there is counted and said, never hidden: a plan under a measured peak
    would tell a user that a run fits which was seen not to.
    """
    for m in plan.measured:
        mine = measured_figure(plan, m)
        gap = int((m.gib - mine) * GIB)
        if gap <= 0:
            continue
        phase = m.phase
        plan.components.append(
            Component(
                f"measured, not modelled ({m.kind})",
                gap,
                (phase,),
                f"{m.label} measured {m.gib:.1f} GiB {m.kind}, the model {mine:.1f}",
                pool_only=m.kind != "allocated",
            )
        )
        plan.pool[phase] += gap
        if m.kind == "allocated":
            plan.phases[phase] += gap
        plan.notes.append(
            f"this configuration was measured at {m.gib:.1f} GiB {m.kind} ({m.source}); the components "
            f"account for {mine:.1f}: the difference is counted"
        )


def measured_figure(plan: Plan, m: MeasuredPeak) -> float:
    """The plan's figure comparable with measurement `m`: same kind, phase and step (GiB)."""
    optimizer = sum(c.bytes for c in plan.components if c.name.startswith("optimizer")) if m.step1 else 0
    allocated = plan.phases[m.phase] - optimizer
    pool = plan.pool[m.phase] - optimizer
    return {"allocated": allocated, "pool": pool, "process": pool + plan.context_bytes}[m.kind] / GIB


def judge_runs(reward: schema.Reward) -> bool:
    """Whether a reward term of the run calls the LLM judge: its reward function (r1exp.tasks.REWARDS)
    declares the `judge` context, whatever the term is called."""
    from r1exp.tasks import REWARDS

    for name, term in reward.active_terms().items():
        if not term.get("fn"):
            continue
        rew = REWARDS.get(str(term["fn"]), f"reward.terms.{name}.fn")
        if "judge" in tuple(getattr(rew, "context_keys", ())):
            return True
    return False


LEVER_ONLY_ABOVE_GIB = 0.05


def with_overrides(s: Sections, overrides: Mapping[str, Any]) -> Sections:
    """The sections of a copy of the composed config with dotted keys replaced (a whole group given as a
    dict replaces the group, as choosing another option would): a what-if read the same typed way."""
    cfg = copy.deepcopy(s.composed)
    with open_dict(cfg):
        for dotted, value in overrides.items():
            OmegaConf.update(cfg, dotted, value, merge=False, force_add=True)
    return Sections(cfg)


def levers(s: Sections, plan: Plan, prompt_tokens: int = 256) -> list[tuple[str, float, bool]]:
    """The overrides that lower the peak most, each applied alone: (override, GiB saved, fits then)."""
    hw, trainer, gen = s.hardware, s.trainer, s.generation
    candidates: dict[str, dict[str, Any]] = {}
    r = s.lora.r or 0
    lora16 = {"lora": {"name": "r16", "r": 16, "alpha": 32, "target_modules": list(LORA_TARGETS_ALL)}}
    if not r or r > 16:
        candidates["lora=r16"] = lora16
    if not r and trainer.beta != 0:
        candidates["trainer.beta=0 (no reference copy)"] = {"trainer.beta": 0.0}
    b, accum = hw.per_device_train_batch_size, hw.gradient_accumulation_steps
    if b > 1:
        half = b // 2
        label = f"hardware.per_device_train_batch_size={half} hardware.gradient_accumulation_steps={accum * b // half}"
        overrides = {
            "hardware.per_device_train_batch_size": half,
            "hardware.gradient_accumulation_steps": accum * b // half,
        }
        if trainer.steps_per_generation:
            # keep the same generation batch: only the training micro-batch shrinks
            overrides["trainer.steps_per_generation"] = int(trainer.steps_per_generation) * 2
            label += f" trainer.steps_per_generation={overrides['trainer.steps_per_generation']}"
        candidates[label] = overrides
    if not hw.gradient_checkpointing:
        candidates["hardware.gradient_checkpointing=true"] = {"hardware.gradient_checkpointing": True}
    spg = int(trainer.steps_per_generation or accum)
    ngen = trainer.num_generations
    if spg > 1 and not gen.use_vllm and (b * spg // 2) % ngen == 0:
        candidates[f"trainer.steps_per_generation={spg // 2} (generate in two rounds)"] = {
            "trainer.steps_per_generation": spg // 2
        }
    c = trainer.max_completion_length
    if c >= 512:
        candidates[f"trainer.max_completion_length={c // 2}"] = {"trainer.max_completion_length": c // 2}
    if s.model.dtype == "float32" and hw.device == "cuda":
        candidates["model.dtype=bfloat16"] = {"model.dtype": "bfloat16"}
    paged_now = gen.paged
    if (gen.use_vllm and gen.vllm_mode == "colocate") or not (gen.use_vllm or paged_now):
        # A colocated vLLM keeps a second copy of the weights, hf's cache regrows every token (a
        # fragmented pool): the paged cache is allocated once, in the trainer.
        candidates["generation=paged"] = {
            "generation": {
                "name": "paged",
                "use_vllm": False,
                "use_transformers_continuous_batching": True,
                "transformers_continuous_batching_config": {"block_size": 256},
            }
        }
    if not gen.use_vllm and plan.card_gib:
        shape, _ = model_shape(s.model)
        wb = _dtype_bytes(shape.dtype, "model.dtype")
        need = shape.num_params() * wb + plan.gen_batch * plan.seq_tokens * shape.kv_bytes_per_token(2)
        share = min(0.9, math.ceil((need + GIB) / (plan.card_gib * GIB) * 20) / 20)
        candidates[
            f"generation=vllm_colocate generation.vllm_gpu_memory_utilization={share:g} "
            "generation.vllm_enable_sleep_mode=true"
        ] = {
            "generation": {
                "name": "vllm_colocate",
                "use_vllm": True,
                "vllm_mode": "colocate",
                "vllm_gpu_memory_utilization": share,
                "vllm_enable_sleep_mode": True,
            }
        }
    found = []
    for label, overrides in candidates.items():
        other = estimate(with_overrides(s, overrides), prompt_tokens, plan.card_gib)
        saved = plan.peak_gib - other.peak_gib
        if saved > LEVER_ONLY_ABOVE_GIB:
            found.append((label, saved, bool(plan.card_gib and other.peak_gib <= plan.card_gib)))
    return sorted(found, key=lambda x: -x[1])


def plan_for(s: Sections, prompt_tokens: int = 256, card_override: float | None = None) -> Plan:
    """The estimate with levers attached when the run does not fit or has under 1 GiB headroom."""
    plan = estimate(s, prompt_tokens, card_override)
    if plan.card_gib is not None and plan.card_gib - plan.peak_gib < 1.0:
        plan.levers = levers(s, plan, prompt_tokens)
    return plan
