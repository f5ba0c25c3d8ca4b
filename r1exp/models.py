"""Tokenizer and model loading, the offline tiny model, LoRA config, and weight hashing.

Real models load with `from_pretrained` from a hub id or a local directory. With no hub and no
local copy the run stops with one line naming `model.path` and `model=tiny`. The tiny model is a
random-init Qwen2-architecture model with a BPE tokenizer trained here, built deterministically on
first use and cached under `model.cache_dir`. `write_model_card` writes the checkpoints folder's
README.md, naming the model the run started from (TRL's card says "fine-tuned version of [None]"
for any base that is a local directory: the tiny model, a cold start, `model.path=DIR`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from r1exp.common import hub, startup_gc
from r1exp.common.arith import question
from r1exp.errors import ConfigError, ModelLoadError

# Bump when the tiny builder changes, so cached builds are not reused.
TINY_BUILDER_VERSION = 1
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]
DEFAULT_CACHE = hub.DEFAULT_CACHE
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass(frozen=True)
class TinySpec:
    """Shape of the offline tiny model; defaults are ones measured to learn under GRPO on CPU."""

    vocab_size: int = 1024
    hidden_size: int = 64
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    # A 0.02 init with tied embeddings stays near-uniform and learns nothing in GRPO's few steps.
    initializer_range: float = 0.1
    tie_word_embeddings: bool = False
    seed: int = 0

    def key(self) -> str:
        blob = json.dumps({"v": TINY_BUILDER_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _tokenizer_corpus(seed: int) -> list[str]:
    """Deterministic text like what the tiny model will see: prompts, equations, tags, words."""
    rng = random.Random(seed)
    words = (
        "A conversation between User and Assistant . The user asks a question , and the Assistant "
        "solves it . The assistant first thinks about the reasoning process in the mind and then "
        "provides the user with the answer . Show your work in tags . Return the final answer in "
        "for example Let me solve this step by step is not so let's try a different approach equals "
        "create an equation that using numbers can only be used once basic arithmetic operations "
        "system user assistant You are a helpful"
    ).split()
    lines = []
    for _ in range(3000):
        nums = [rng.randint(1, 99) for _ in range(rng.randint(2, 6))]
        target = rng.randint(1, 200)
        ops = [rng.choice("+-*/") for _ in nums[1:]]
        expr = " ".join(f"{n} {o}" for n, o in zip(nums, ops, strict=False)) + f" {nums[-1]}"
        lines.append(question(nums, target))
        lines.append(f"<think>{expr} = {target}</think>\n<answer>({expr})</answer>")
        lines.append(" ".join(rng.choice(words) for _ in range(12)))
    return lines


def build_tiny(spec: TinySpec, cache_dir: str | os.PathLike) -> Path:
    """Build (once) and return the directory of the tiny model and tokenizer."""
    startup_gc.end()  # a model is built here (r1exp.common.startup_gc)
    target = Path(cache_dir).expanduser() / f"tiny-qwen2-{spec.key()}"
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Several processes (data-parallel ranks, parallel tests) may ask at once: one builds, the rest wait.
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ((target / "config.json").exists() and (target / "tokenizer.json").exists()):
            _build_tiny_into(spec, target)
    return target


def _build_tiny_into(spec: TinySpec, target: Path) -> None:
    import torch
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    # transformers swaps Qwen2's own normalizer and pre-tokenizer in on load; train with exactly
    # those, or token ids change after a save/load round trip.
    raw = Tokenizer(BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    raw.normalizer = normalizers.NFC()
    raw.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    raw.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=spec.vocab_size - len(SPECIAL_TOKENS) - len(TAG_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    raw.train_from_iterator(_tokenizer_corpus(spec.seed), trainer=trainer)
    model_json = json.loads(raw.to_str())["model"]
    tok = Qwen2Tokenizer(
        vocab=model_json["vocab"],
        merges=[tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model_json["merges"]],
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
    )
    tok.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    # The reasoning tags are ordinary (non-special) tokens so decoding keeps them.
    tok.add_tokens(TAG_TOKENS)
    tok.chat_template = CHATML_TEMPLATE

    torch.manual_seed(spec.seed)
    config = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=spec.tie_word_embeddings,
        bos_token_id=None,
        eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=tok.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tok.pad_token_id,
    )
    # Build into a temporary sibling, then rename: a crash never leaves a half-built cache entry.
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        tok.save_pretrained(tmp)
        model.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)  # an incomplete entry left by an older builder
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tiny_spec(model: Any) -> TinySpec:
    """The tiny model's spec from `model.tiny` (its defaults fill what it leaves out); an unknown key is one line."""
    given = dict(model.tiny or {})
    known = [f.name for f in fields(TinySpec)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"model.tiny.{unknown[0]} is not a setting of the tiny model; use some of {', '.join(known)}")
    return TinySpec(**given)


def resolve_path(model: Any) -> str:
    """The model's path or hub id (`model`: an r1exp.schema.Model); builds the tiny model when
    `model.builder` is `tiny`."""
    builder = model.builder
    if builder == "tiny":
        spec = tiny_spec(model)
        return str(build_tiny(spec, model.cache_dir or DEFAULT_CACHE))
    if builder not in (None, "", "none"):
        raise ConfigError(f"model.builder={builder!r} is unknown; use 'tiny' or null")
    path = model.path
    if not path:
        raise ConfigError("model.path is empty: give a hub id (Qwen/Qwen2.5-1.5B) or a local directory")
    return str(path)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def _offline_error(path: str, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"model.path={path}: cannot load it (not a loadable local model directory, not in the hub cache, and "
        "the model hub is unreachable): download it on a connected machine and pass model.path=/local/dir, "
        f"or use model=tiny for the offline tiny model [{type(exc).__name__}: {_first_line(exc)}]"
    )


def _from_pretrained(loader: Any, path: str, **kwargs: Any):
    """Local directory or hub cache first; the hub only when it is reachable."""
    # Weights and tokenizers are the run's, not the libraries': the start-up's freezing ends here.
    startup_gc.end()
    try:
        return loader.from_pretrained(path, local_files_only=True, **kwargs)
    except (OSError, ValueError) as exc:
        if Path(path).exists() or not hub.hub_reachable():
            raise _offline_error(path, exc) from exc
    try:
        return loader.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise _offline_error(path, exc) from exc


def load_tokenizer(path: str, revision: str | None = None):
    """`AutoTokenizer.from_pretrained`, with left padding for generation and a pad token."""
    from transformers import AutoTokenizer

    tok = _from_pretrained(AutoTokenizer, path, revision=revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(path: str, dtype: str = "auto", revision: str | None = None, attn_implementation: str | None = None):
    """`AutoModelForCausalLM.from_pretrained` of a hub id or local directory."""
    import torch
    from transformers import AutoModelForCausalLM

    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype, "revision": revision}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    return _from_pretrained(AutoModelForCausalLM, path, **kwargs)


def lora_config(lora: Any):
    """A peft `LoraConfig` from `lora=` (an r1exp.schema.Lora); None for a full fine-tune."""
    if lora is None or not lora.r:
        return None
    from peft import LoraConfig

    targets = lora.target_modules
    return LoraConfig(
        r=int(lora.r),
        lora_alpha=int(lora.alpha),
        lora_dropout=float(lora.dropout),
        target_modules=list(targets) if not isinstance(targets, str) else targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def _base_name(name: str) -> str:
    """A parameter's name in the plain model, whether or not PEFT wraps it."""
    name = name.removeprefix("base_model.model.")
    return name.replace(".base_layer.", ".")


def weights_hash(model) -> str:
    """sha256 over the base weights (names and bytes, in name order); LoRA adapter weights excluded."""
    import torch

    digest = hashlib.sha256()
    state = {_base_name(k): v for k, v in model.state_dict().items() if "lora_" not in k and "modules_to_save" not in k}
    for name in sorted(state):
        tensor = state[name].detach()
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class ReferenceModel:
    """The run's reference model for in-process use (an LLM judge run on it, as in the LoRA note).

    Bound to the trainer after it is built. With LoRA it is the policy with adapters disabled (no
    second copy of the weights); with a full fine-tune it is the trainer's separate reference copy,
    which exists only when beta > 0.
    """

    def __init__(self) -> None:
        self._trainer = None

    def bind(self, trainer) -> None:
        self._trainer = trainer

    @property
    def bound(self) -> bool:
        return self._trainer is not None

    def generate(self, prompts: list[str], max_new_tokens: int, batch_size: int = 8) -> list[str]:
        """Greedy completions of plain-text prompts by the reference weights."""
        import contextlib

        from peft import PeftModel

        if self._trainer is None:
            raise RuntimeError("ReferenceModel.generate called before bind(trainer)")
        trainer = self._trainer
        if not isinstance(trainer.model, PeftModel) and trainer.ref_model is None:
            raise ConfigError(
                "the reference model is not in memory (full fine-tune with trainer.beta=0): "
                "use lora=r8/r16/r64 or trainer.beta>0 for an in-process reference judge"
            )
        tokenizer = trainer.processing_class
        policy = trainer.accelerator.unwrap_model(trainer.model)
        if trainer.ref_model is not None:
            model, ctx = trainer.accelerator.unwrap_model(trainer.ref_model), contextlib.nullcontext()
        else:
            model, ctx = policy, policy.disable_adapter()
        from r1exp.sampling import generate_hf

        was_training = model.training
        try:
            with ctx:
                samples = generate_hf(
                    model, tokenizer, prompts, 1, max_new_tokens, 0.0, batch_size=batch_size, progress=False
                )
        finally:
            if was_training:
                model.train()
        return [s.completion for s in samples]


def write_model_card(folder: str | os.PathLike, base: str | None) -> Path:
    """README.md of a run's checkpoints folder: what the checkpoints are and the model they start from.

    A hub id gets the hub's `base_model` metadata and link; a local directory is named as such (its
    weights' sha256 is `base_hash` in the run's manifest.json).
    """
    from huggingface_hub import ModelCard, ModelCardData

    base = str(base or "")
    hub_id = bool(base) and not Path(base).is_dir()
    data = ModelCardData(
        base_model=base if hub_id else None, library_name="transformers", tags=["r1exp", "grpo", "trl"]
    )
    if hub_id:
        origin = f"[{base}](https://huggingface.co/{base}) (hub id)"
    elif base:
        origin = f"`{base}` (a local directory; its weights' sha256 is `base_hash` in the run's manifest.json)"
    else:
        origin = "the run's `model.path` (see the run's manifest.json)"
    body = (
        "# GRPO checkpoints of an r1exp run\n\n"
        f"Trained with GRPO (TRL's GRPOTrainer) from {origin}.\n\n"
        "- `checkpoint-N/`: the training state at step N (weights or LoRA adapter, optimizer, scheduler, RNG); "
        "relaunching into the run dir resumes from the newest complete one.\n"
        "- `final/`: the trained model (with LoRA, the adapter over the model above).\n\n"
        "The run's config is `../.hydra/config.yaml`; versions, seed and the reference model's hash are in "
        "`../manifest.json`.\n"
    )
    path = Path(folder) / "README.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}").save(path)
    return path
