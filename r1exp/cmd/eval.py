"""cmd=eval: sample k completions per test prompt from a checkpoint and write eval.jsonl + summary.json.

A run dir as `cmd.checkpoint` is evaluated as it was trained: its own composed config
(RUN_DIR/.hydra/config.yaml) gives the data and its test split, the bench, template, reward and token
budget; this command's `cmd`, hardware, generation and logger settings are its own, and any other
override on the command line applies on top of the run's config. `bench=NAME` evaluates on a standard
set (math500, gsm8k, cmath, countdown, ...). summary.json records the protocol: what was evaluated,
how, and which overrides changed the run's config. The console shows the generation bar and, at the
end, a short table (overall and by difficulty); summary.json holds every number.

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
from omegaconf import DictConfig, OmegaConf

from r1exp.common.jsonl import write_atomic
from r1exp.errors import ConfigError
from r1exp.grpo_args import require_vllm
from r1exp.rewards.base import preflight
from r1exp.rewards.counters import Counters
from r1exp.sections import Sections
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


def load_for_eval(s: Sections, checkpoint: Path | None):
    """(model, tokenizer, path) for a full checkpoint, a LoRA adapter merged into its base, or model=."""
    from r1exp.models import load_model, load_tokenizer, resolve_path

    model_section = s.model
    dtype = model_section.dtype
    if checkpoint is None:
        path = resolve_path(model_section)
        revision = model_section.revision
        return load_model(path, dtype, revision), load_tokenizer(path, revision), path
    if (checkpoint / "adapter_config.json").exists():
        from peft import PeftConfig, PeftModel

        base = PeftConfig.from_pretrained(str(checkpoint)).base_model_name_or_path
        model = PeftModel.from_pretrained(load_model(base, dtype), str(checkpoint)).merge_and_unload()
        return model, load_tokenizer(base), base
    return load_model(str(checkpoint), dtype), load_tokenizer(str(checkpoint)), str(checkpoint)


# Settings of this command and this machine; everything else comes from the run being evaluated.
THIS_COMMAND = ("cmd", "hardware", "generation", "logger", "launcher")


def _run_config(checkpoint: str | None) -> Path | None:
    """The composed config of the run dir named by cmd.checkpoint, if it is one."""
    if checkpoint in (None, ""):
        return None
    path = Path(to_absolute_path(str(checkpoint)))
    config = path / ".hydra" / "config.yaml"
    return config if (path / "manifest.json").exists() and config.exists() else None


def _raw(container: Any, key: str) -> Any:
    for part in key.split("."):
        container = container[part]
    return container


def bind_to_run(cfg: DictConfig, run_config: Path, overrides: list[str]) -> tuple[DictConfig, list[str], list[str]]:
    """The run's composed config, this command's own settings, and the command-line overrides on top.

    Returns (config, overrides applied to the run's config, overrides that name nothing in it).
    """
    merged = OmegaConf.load(run_config)
    OmegaConf.set_struct(merged, False)
    raw = OmegaConf.to_container(cfg, resolve=False)
    for key in THIS_COMMAND:
        if key in cfg:
            merged[key] = raw[key]
    applied, ignored = [], []
    for item in overrides:
        key = item.partition("=")[0].lstrip("+")
        top = key.lstrip("~").split(".")[0].split("@")[0]
        if top in THIS_COMMAND:
            continue
        if key.startswith("~"):
            if OmegaConf.select(merged, key[1:]) is not None:
                OmegaConf.update(merged, key[1:], None, force_add=True)
                applied.append(item)
            continue
        try:
            value = _raw(raw, key)
        except (KeyError, TypeError):
            # e.g. +experiment=...: a recipe that sets many keys; the run's own values stand.
            ignored.append(item)
            continue
        OmegaConf.update(merged, key, value, merge=False, force_add=True)
        applied.append(item)
    return merged, applied, ignored


def _eval_rows(s: Sections) -> tuple[list[dict], str]:
    """The rows to evaluate and the set's name: the bench when one is set, else the data's split."""
    from r1exp.eval_sets import bench_rows, check_bench_reward
    from r1exp.tasks import build_splits

    cmd = s.cmd
    if s.bench_name:
        check_bench_reward(s)
        rows, name = bench_rows(s), f"bench={s.bench_name}"
    else:
        train_rows, test_rows = build_splits(s.data, s.template)
        rows = test_rows if cmd.split == "test" else train_rows
        name = f"{s.data.name} ({cmd.split} split)"
    if cmd.limit is not None:
        rows = rows[: cmd.limit]
    if not rows:
        raise ConfigError(f"{name} has no rows; check data.test_size / data.train_size")
    return rows, name


def run(s: Sections) -> dict[str, Any]:
    from r1exp.tracking.console import eval_lines, quiet_libraries

    # This command's own values first (s.cmd checks them), then the run's config they are bound to.
    command_line = list(HydraConfig.get().overrides.task)
    run_config = _run_config(s.cmd.checkpoint)
    applied: list[str] = []
    ignored: list[str] = []
    if run_config is not None:
        bound, applied, ignored = bind_to_run(s.composed, run_config, command_line)
        s = Sections(bound)
    s.check("eval")
    cmd = s.cmd
    counters = Counters()
    terms = build_terms(s.reward.active_terms(), {"counters": counters, "judge": s.judge})
    require_vllm(s.generation)
    checkpoint = resolve_checkpoint(cmd.checkpoint)
    out = Path(HydraConfig.get().runtime.output_dir)
    # After the checks, before any model loads: loading bars and import-time prints stay off the console.
    quiet_libraries(wandb=False)

    from r1exp.evaluation import score_samples, summarize
    from r1exp.sampling import generate_hf, generate_vllm

    rows, eval_set = _eval_rows(s)
    # A judge that cannot be reached or read is one line before the model loads.
    preflight(terms)
    model, tokenizer, path = load_for_eval(s, checkpoint)
    gen = dict(k=cmd.k, max_new_tokens=cmd.max_new_tokens, temperature=float(cmd.temperature))
    prompts = [r["prompt"] for r in rows]
    if s.generation.use_vllm:
        samples = generate_vllm(path, tokenizer, prompts, top_p=float(cmd.top_p), **gen)
    else:
        import torch

        if s.hardware.device == "cuda" and torch.cuda.is_available():
            model.to("cuda")
        samples = generate_hf(model, tokenizer, prompts, top_p=float(cmd.top_p), batch_size=cmd.batch_size, **gen)
    from r1exp.tasks import task_of

    # The task of the set evaluated answers the rows' `answer_text` (what maj@k votes on).
    reward = s.reward
    scored = score_samples(rows, samples, terms, task_of(s.bench if s.bench_name else s.data))
    summary = summarize(
        scored,
        reward.accuracy_term,
        reward.format_term,
        float(cmd.correct_threshold),
        format_metric=reward.format_metric,
    )
    protocol = {
        "run_dir": str(run_config.parent.parent) if run_config else None,
        "config": str(run_config) if run_config else "composed from the command line",
        "eval_set": eval_set,
        "data": s.data.get("name"),
        "template": s.template.name,
        "reward": reward.name,
        "reward_terms": {
            name: {"fn": term.get("fn"), "weight": term.get("weight")} for name, term in reward.active_terms().items()
        },
        "accuracy_term": reward.accuracy_term,
        "limit": cmd.limit,
        "top_p": float(cmd.top_p),
        **gen,
        # Overrides applied on top of the run's config, and the whole command line.
        "overrides": applied,
        "command_line": command_line,
    }
    if ignored:
        protocol["ignored_overrides"] = ignored
    summary.update(
        checkpoint=str(checkpoint) if checkpoint else None,
        model_path=path,
        split=cmd.split,
        reward_stats=counters.drain(),
        protocol=protocol,
        **gen,
    )
    write_atomic(out / "eval_config.yaml", OmegaConf.to_yaml(s.composed))
    write_atomic(out / "eval.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in scored))
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    manifest.write(out, {"command": "eval", "versions": manifest.versions(), "git": manifest.git_commit(), **summary})
    print("\n".join(eval_lines(summary, out)), flush=True)
    return summary
