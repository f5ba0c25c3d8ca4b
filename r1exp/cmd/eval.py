"""cmd=eval: sample k completions per test prompt from a checkpoint and write eval.jsonl + summary.json.

The token budget (`cmd.max_new_tokens`) is independent of training, which answers the first note's
question: how accurate is a model trained at 1024 tokens when it may think for longer. eval.jsonl
holds every completion with its data columns and per-term rewards, so `cmd=score` can re-score it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from r1exp.common.jsonl import write_atomic
from r1exp.config import check_common
from r1exp.errors import ConfigError
from r1exp.grpo_args import require_vllm
from r1exp.rewards.counters import Counters
from r1exp.tasks import build_terms
from r1exp.tracking import manifest


def resolve_checkpoint(checkpoint: str | None) -> Path | None:
    """A checkpoint dir; a run dir stands for its checkpoints/final."""
    if checkpoint in (None, ""):
        return None
    path = Path(to_absolute_path(str(checkpoint)))
    if (path / "manifest.json").exists():
        path = path / "checkpoints" / "final"
    if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        raise ConfigError(
            f"cmd.checkpoint={checkpoint}: no model or LoRA adapter there (config.json/adapter_config.json)"
        )
    return path


def load_for_eval(cfg: DictConfig, checkpoint: Path | None):
    """(model, tokenizer, path) for a full checkpoint, a LoRA adapter merged into its base, or model=."""
    from r1exp.models import load_model, load_tokenizer, resolve_path

    dtype = str(cfg.model.get("dtype", "auto"))
    if checkpoint is None:
        path = resolve_path(cfg.model)
        return load_model(path, dtype, cfg.model.get("revision")), load_tokenizer(path, cfg.model.get("revision")), path
    if (checkpoint / "adapter_config.json").exists():
        from peft import PeftConfig, PeftModel

        base = PeftConfig.from_pretrained(str(checkpoint)).base_model_name_or_path
        model = PeftModel.from_pretrained(load_model(base, dtype), str(checkpoint)).merge_and_unload()
        return model, load_tokenizer(base), base
    return load_model(str(checkpoint), dtype), load_tokenizer(str(checkpoint)), str(checkpoint)


def run(cfg: DictConfig) -> dict[str, Any]:
    check_common(cfg)
    ecfg = cfg.cmd
    if ecfg.split not in ("test", "train"):
        raise ConfigError(f"cmd.split={ecfg.split!r}: use test or train")
    if int(ecfg.k) < 1:
        raise ConfigError(f"cmd.k={ecfg.k} must be at least 1")
    if float(ecfg.temperature) == 0 and int(ecfg.k) > 1:
        raise ConfigError(f"cmd.k={ecfg.k} with cmd.temperature=0: greedy decoding gives one sample; set cmd.k=1")
    counters = Counters()
    terms = build_terms(cfg.reward.terms, {"counters": counters, "judge": cfg.get("judge")})
    require_vllm(cfg.generation)
    checkpoint = resolve_checkpoint(ecfg.checkpoint)
    out = Path(HydraConfig.get().runtime.output_dir)

    from r1exp.evaluation import score_samples, summarize
    from r1exp.generation import generate_hf, generate_vllm
    from r1exp.tasks import build_splits

    train_rows, test_rows = build_splits(cfg.data, cfg.template)
    rows = test_rows if ecfg.split == "test" else train_rows
    if ecfg.limit is not None:
        rows = rows[: int(ecfg.limit)]
    if not rows:
        raise ConfigError(f"cmd.split={ecfg.split} has no rows; check data.test_size / data.train_size")
    model, tokenizer, path = load_for_eval(cfg, checkpoint)
    gen = dict(k=int(ecfg.k), max_new_tokens=int(ecfg.max_new_tokens), temperature=float(ecfg.temperature))
    prompts = [r["prompt"] for r in rows]
    if cfg.generation.get("use_vllm"):
        samples = generate_vllm(path, tokenizer, prompts, top_p=float(ecfg.top_p), **gen)
    else:
        import torch

        if cfg.hardware.device == "cuda" and torch.cuda.is_available():
            model.to("cuda")
        samples = generate_hf(
            model, tokenizer, prompts, top_p=float(ecfg.top_p), batch_size=int(ecfg.batch_size), **gen
        )
    scored = score_samples(rows, samples, terms)
    summary = summarize(
        scored, cfg.reward.get("accuracy_term"), cfg.reward.get("format_term"), float(ecfg.correct_threshold)
    )
    summary.update(
        checkpoint=str(checkpoint) if checkpoint else None,
        model_path=path,
        split=ecfg.split,
        reward_stats=counters.drain(),
        **gen,
    )
    write_atomic(out / "eval.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    manifest.write(out, {"command": "eval", "versions": manifest.versions(), "git": manifest.git_commit(), **summary})
    print(json.dumps({k: v for k, v in summary.items() if k != "by_difficulty"}))
    return summary
