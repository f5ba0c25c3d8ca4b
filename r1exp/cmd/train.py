"""cmd=train: GRPO with TRL's GRPOTrainer from the composed config.

Order matters: every check that needs no model runs first (config, vLLM, hardware, GRPOConfig), so
a mistake costs seconds, not a model load. The reference model is always the run's base model (the
cold-started model when coldstart is on): with LoRA, TRL disables the adapters (the policy is built
from the base plus `peft_config`); with a full fine-tune, TRL loads a second copy from its path. Its
weight hash goes into manifest.json and is checked again when the run resumes. Resume goes through
`resume_from_checkpoint` with the base model (never by loading the checkpoint as a PeftModel, which
would make the trained adapter the reference), from the newest checkpoint r1exp marked complete.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from r1exp.common import jsonl
from r1exp.config import check_common, check_hardware
from r1exp.errors import ConfigError
from r1exp.grpo_args import build_grpo_config, require_vllm
from r1exp.models import ReferenceModel
from r1exp.rewards.counters import Counters
from r1exp.tasks import build_terms
from r1exp.tracking import manifest
from r1exp.tracking.checkpoints import checkpoint_step, last_checkpoint


def run_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def _cap_gpu_memory(max_gb: float | None) -> None:
    """Make a bigger GPU behave like the preset's card (e.g. 24 GiB for rtx3090)."""
    import torch

    if max_gb and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, max_gb * 2**30 / total), 0)


def _setup_wandb(cfg: DictConfig, out: Path) -> None:
    """Point wandb at the run dir and keep one run id per run dir, so a resume continues it."""
    if not cfg.logger.get("wandb"):
        return
    id_file = out / "wandb_id.txt"
    if not id_file.exists():
        id_file.write_text(uuid.uuid4().hex[:12])
    os.environ.setdefault("WANDB_PROJECT", str(cfg.logger.get("project") or "r1exp"))
    if cfg.logger.get("entity"):
        os.environ.setdefault("WANDB_ENTITY", str(cfg.logger.entity))
    os.environ["WANDB_DIR"] = str(out)
    os.environ["WANDB_RUN_ID"] = id_file.read_text().strip()
    os.environ["WANDB_RESUME"] = "allow"


def world() -> tuple[int, int]:
    """(rank, world size) of this process under torchrun / accelerate launch; (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def _check_processes(cfg: DictConfig) -> None:
    """Several processes must agree on one run dir, and on how many of them there are."""
    _, size = world()
    expected = cfg.hardware.get("num_processes")
    if expected is not None and int(expected) != size:
        raise ConfigError(
            f"hardware.num_processes={expected} but {size} process(es) were launched; start with "
            f"accelerate launch --num_processes {expected} (or torchrun --nproc_per_node {expected})"
        )
    if size > 1 and not any(o.startswith("hydra.run.dir=") for o in HydraConfig.get().overrides.hydra):
        raise ConfigError(
            f"{size} processes need one shared run dir: pass hydra.run.dir=DIR (each process would "
            "otherwise name its own from the clock)"
        )


def _check_run_options(cfg: DictConfig) -> None:
    limit = cfg.trainer.get("save_total_limit")
    if limit is not None and int(limit) < 2:
        raise ConfigError(
            f"trainer.save_total_limit={limit}: keep at least 2 checkpoints, so a kill during a save always "
            "leaves a complete one to resume from"
        )
    if cfg.trainer.get("guide_with_reference") and cfg.generation.get("use_vllm"):
        raise ConfigError("trainer.guide_with_reference=true needs generation=hf (vLLM sampling log-probs)")


def run(cfg: DictConfig) -> dict[str, Any]:
    # --- checks that need no model ---
    check_common(cfg)
    _check_processes(cfg)
    _check_run_options(cfg)
    out = run_dir()
    is_main = world()[0] == 0
    counters = Counters()
    reference = ReferenceModel()
    # Context keys must not collide with data columns (rows carry a `reference` answer).
    context = {"counters": counters, "reference_model": reference, "judge": cfg.get("judge")}
    terms = build_terms(cfg.reward.terms, context)
    weights = [t.weight for t in terms]
    # The config itself first (types, unknown keys, batch divisibility), then what it needs from the
    # machine (the vllm package, a GPU), then the real GRPOConfig for this device.
    build_grpo_config(cfg, out / "checkpoints", weights, check_only=True)
    require_vllm(cfg.generation)
    check_hardware(cfg)
    args = build_grpo_config(cfg, out / "checkpoints", weights)
    ckpt = last_checkpoint(out / "checkpoints")
    previous = manifest.read(out)
    if ckpt is not None and cfg.resume == "never":
        raise ConfigError(f"run dir {out} already holds {ckpt.name}; pass resume=auto or another hydra.run.dir")
    if ckpt is not None and previous is None:
        raise ConfigError(f"run dir {out} has checkpoints but no manifest.json; start a new hydra.run.dir")

    from datasets import Dataset
    from transformers import set_seed

    from r1exp.coldstart import cold_start
    from r1exp.curriculum import CurriculumCallback, build_curriculum
    from r1exp.curriculum.sampler import load_state
    from r1exp.models import load_model, load_tokenizer, lora_config, resolve_path, weights_hash
    from r1exp.tasks import build_splits
    from r1exp.tracking.callbacks import (
        CompletionMarker,
        MetricsCallback,
        PeriodicEvalCallback,
        RewardTap,
        SampleRecorder,
    )
    from r1exp.tracking.plots import plot_run
    from r1exp.trainer import R1GRPOTrainer

    set_seed(int(cfg.seed))
    train_rows, test_rows = build_splits(cfg.data, cfg.template)
    for i, row in enumerate(train_rows):
        # Lets curricula map a completion's reward back to its prompt.
        row["row_id"] = i
    curriculum = build_curriculum(cfg.get("curriculum"), train_rows, int(cfg.seed))
    if curriculum is not None:
        # The curriculum's own state is restored from the checkpoint; replaying batches would move it.
        args.ignore_data_skip = True

    # --- model: the run's base (cold-started when asked), which is also the reference ---
    base_path = resolve_path(cfg.model)
    revision = cfg.model.get("revision")
    coldstart_record = None
    if cfg.get("coldstart") and cfg.coldstart.get("name") not in (None, "none"):
        check_hardware(cfg)
        model_path = str(cold_start(cfg, base_path, train_rows, out))
        coldstart_record = {"kind": cfg.coldstart.name, "from": base_path, "path": model_path}
        revision = None
    else:
        model_path = base_path
    tokenizer = load_tokenizer(model_path, revision)
    _cap_gpu_memory(cfg.hardware.get("max_memory_gb"))
    model = load_model(model_path, str(cfg.model.get("dtype", "auto")), revision)
    reference_hash = weights_hash(model)
    if previous is not None and previous.get("reference_hash") not in (None, reference_hash):
        raise ConfigError(
            f"model.path={model_path} does not hold the weights this run started from (reference_hash in "
            f"{out / 'manifest.json'} differs); resume with the original model.path, or start a new hydra.run.dir"
        )

    _setup_wandb(cfg, out)
    tap = RewardTap(terms)
    recorder = SampleRecorder(
        out / "samples.jsonl",
        terms,
        int(cfg.logger.get("samples_every", 0)),
        int(cfg.logger.get("samples_per_step", 0)),
    )
    tap.listeners.append(recorder)
    accuracy_term = cfg.reward.get("accuracy_term")
    if curriculum is not None:
        if not accuracy_term:
            raise ConfigError(f"curriculum={cfg.curriculum.name} needs reward.accuracy_term (the pass signal)")

        def feed_curriculum(name, prompts, completions, values, columns):
            state = columns.get("trainer_state")
            if name == accuracy_term and columns.get("row_id") is not None:
                curriculum.observe(columns["row_id"], values, (state.global_step + 1) if state else 0)

        tap.listeners.append(feed_curriculum)
    guided = bool(cfg.trainer.get("guide_with_reference"))
    trainer = R1GRPOTrainer(
        model=model,
        reward_funcs=tap.wrap(),
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg.lora),
        curriculum=curriculum,
        guide_template=cfg.template if guided else None,
        guide_seed=int(cfg.seed),
    )
    sources: dict[str, Any] = {"reward_stats": counters}
    if guided:
        sources["guided"] = trainer
    curriculum_cb = CurriculumCallback(curriculum) if curriculum is not None else None
    if curriculum_cb is not None:
        sources["curriculum"] = curriculum_cb
    metrics = MetricsCallback(
        out / "metrics.jsonl",
        accuracy_term,
        cfg.reward.get("format_term"),
        float(cfg.trainer.beta),
        bool(cfg.logger.get("jsonl", True)),
        sources,
    )
    # Our metrics callback runs before wandb's, so wandb logs the same names metrics.jsonl holds.
    from transformers.integrations import WandbCallback

    wandb_cb = trainer.pop_callback(WandbCallback)
    every = int(cfg.periodic_eval.every)
    if every > 0:
        # Before the metrics callback, so its eval/* numbers land in the same row.
        trainer.add_callback(
            PeriodicEvalCallback(
                test_rows[: int(cfg.periodic_eval.prompts)],
                terms,
                accuracy_term,
                cfg.reward.get("format_term"),
                every,
                int(cfg.periodic_eval.max_new_tokens),
                int(cfg.periodic_eval.batch_size),
            )
        )
    trainer.add_callback(metrics)
    trainer.add_callback(recorder)
    if curriculum_cb is not None:
        trainer.add_callback(curriculum_cb)
    # Last on_save handler: marks a checkpoint complete once everything in it is written.
    trainer.add_callback(CompletionMarker())
    if wandb_cb is not None:
        trainer.add_callback(wandb_cb)
    if trainer.ref_model is not None and weights_hash(trainer.ref_model) != reference_hash:
        raise RuntimeError("TRL built a reference model that differs from the base model")
    if any("reference_model" in getattr(t.fn, "context_keys", ()) for t in terms):
        reference.bind(trainer)

    record = previous or {
        "model": {"name": cfg.model.name, "path": model_path, "revision": revision},
        "base_hash": reference_hash,
        "reference_hash": reference_hash,
        "reference": "policy with LoRA adapters disabled" if cfg.lora.get("r") else "copy loaded from model.path",
        "coldstart": coldstart_record,
        "seed": int(cfg.seed),
        "versions": manifest.versions(),
        "git": manifest.git_commit(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "resumes": [],
    }
    record["world_size"] = world()[1]
    if ckpt is not None:
        step = checkpoint_step(ckpt)
        # Steps after the checkpoint are trained again: drop their rows so no step appears twice.
        if is_main:
            jsonl.truncate_after(out / "metrics.jsonl", step)
            jsonl.truncate_after(out / "samples.jsonl", step)
        if curriculum is not None and load_state(curriculum, ckpt) is None:
            raise ConfigError(f"{ckpt} has no curriculum state; resume with the curriculum the run started with")
        record["resumes"].append({"from_checkpoint": ckpt.name, "step": step, "git": manifest.git_commit()})
    record["finished"] = False
    if is_main:
        manifest.write(out, record)

    trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
    trainer.save_model(str(out / "checkpoints" / "final"))

    record["finished"] = True
    record["final_step"] = trainer.state.global_step
    if curriculum is not None:
        record["curriculum"] = curriculum.state_dict().get("changes")
    plots = []
    if is_main:
        manifest.write(out, record)
        plots = plot_run(out)
    return {"run_dir": str(out), "steps": trainer.state.global_step, "plots": [str(p) for p in plots]}
