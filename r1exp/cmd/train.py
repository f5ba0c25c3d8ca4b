"""cmd=train: GRPO with TRL's GRPOTrainer from the composed config.

Order matters: every check that needs no model runs first (config, vLLM, hardware, GRPOConfig), so
a mistake costs seconds, not a model load. The reference model is always the run's base model (the
cold-started model when coldstart is on): with LoRA, TRL disables the adapters (the policy is built
from the base plus `peft_config`); with a full fine-tune, TRL loads a second copy from its path. Its
weight hash goes into manifest.json and is checked again when the run resumes. Resume goes through
`resume_from_checkpoint` with the base model (never by loading the checkpoint as a PeftModel, which
would make the trained adapter the reference), from the newest checkpoint r1exp marked complete and
whose files are whole (r1exp/tracking/checkpoints.py).

A relaunch into a run dir changes nothing of the run until every refusal has had its chance (the
lock, the run's own configuration, the values, the checkpoint, the model's weights); see `run`. With
no usable checkpoint the run starts over at step 1 with its earlier logs kept aside, so every step
appears once in every log. Ctrl-C and SIGTERM (outside Slurm) end with one line naming the step and
the last checkpoint (`Interrupted`, recorded by the task wrapper); NaN or infinite numbers right
after a resume are one line naming the checkpoint they came from.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from r1exp.common import jsonl
from r1exp.config import check_hardware, check_reward_data, check_rows, check_train
from r1exp.distributed import job_layout, on_rank0, world
from r1exp.errors import ConfigError, Interrupted, one_line
from r1exp.evaluation import bench_name, bench_rows, check_bench_reward, check_trainable, contamination_record
from r1exp.grpo_args import build_grpo_config, require_vllm
from r1exp.models import ReferenceModel
from r1exp.rewards.base import RewardTerm, preflight
from r1exp.rewards.counters import Counters
from r1exp.tasks import build_terms, data_columns
from r1exp.tracking import manifest, rundir
from r1exp.tracking.checkpoints import NonFiniteAfterResume, checkpoint_step, non_finite_line


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
    if not cfg.logger.get("wandb") or world()[0] != 0:
        # Rank 0 alone logs to wandb (transformers' WandbCallback) and writes the id file.
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


def _check_processes(cfg: DictConfig) -> None:
    """Several processes must agree on one run dir, and on how many of them there are."""
    from hydra.types import RunMode

    _, size = world()
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
        # launcher=slurm started the job's tasks from this very layout, in the job's one dir.
        return
    layout = job_layout(cfg)
    if layout.world_size != size:
        expected = layout.world_size
        raise ConfigError(
            f"hardware={cfg.hardware.name} runs hardware.nodes={layout.nodes} x hardware.processes_per_node="
            f"{layout.tasks_per_node} = {expected} process(es) but {size} were launched; start with accelerate "
            f"launch --num_processes {expected} (or torchrun --nproc_per_node {expected}), set "
            "hardware.processes_per_node, or use launcher=slurm"
        )
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    if size > 1 and not multirun and not any(o.startswith("hydra.run.dir=") for o in HydraConfig.get().overrides.hydra):
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


@dataclass
class Checked:
    """What the checks built on the way (no model yet): the run dir, the rewards and GRPOConfig."""

    out: Path
    terms: list[RewardTerm]
    counters: Counters
    reference: ReferenceModel
    args: Any


@dataclass
class Data:
    train_rows: list[dict]
    test_rows: list[dict]
    # What the run is judged on: the bench when one is set, else the data's held-out split.
    eval_rows: list[dict]
    bench: str | None
    contamination: Any
    curriculum: Any


@dataclass
class Model:
    path: str
    revision: str | None
    coldstart_record: dict[str, Any] | None
    tokenizer: Any
    model: Any
    reference_hash: str


def check(cfg: DictConfig) -> Checked:
    """Everything that needs no model, config values before the machine (vllm package, a GPU)."""
    check_train(cfg)
    _check_run_options(cfg)
    # No evaluation set is trained on, and a bench is scored by its task's reward.
    check_trainable(cfg.data)
    check_bench_reward(cfg)
    counters, reference = Counters(), ReferenceModel()
    terms = build_rewards(cfg, counters, reference)
    out = run_dir()
    weights = [t.weight for t in terms]
    # The config itself first (types, unknown keys, batch divisibility), then what it needs from the
    # machine (processes, the vllm package, a GPU), then the real GRPOConfig for this device.
    build_grpo_config(cfg, out / "checkpoints", weights, check_only=True)
    _check_processes(cfg)
    require_vllm(cfg.generation)
    check_hardware(cfg)
    # Last before any model loads: a judge endpoint that cannot be reached or read is one line now,
    # not after the model loaded and the first generation ran.
    preflight(terms)
    args = build_grpo_config(cfg, out / "checkpoints", weights)
    return Checked(out, terms, counters, reference, args)


def build_rewards(cfg: DictConfig, counters: Counters, reference: ReferenceModel) -> list[RewardTerm]:
    """The run's reward terms (kwargs checked), refused when they read columns the data lacks."""
    # Context keys must not collide with data columns (rows carry a `reference` answer).
    context = {"counters": counters, "reference_model": reference, "judge": cfg.get("judge")}
    terms = build_terms(cfg.reward.terms, context)
    check_reward_data(cfg, terms, data_columns(cfg.data))
    return terms


def build_data(cfg: DictConfig, args: Any) -> Data:
    """Train/test rows, the evaluation set and its contamination check, and the curriculum."""
    from r1exp.curriculum import build_curriculum
    from r1exp.tasks import build_splits

    train_rows, test_rows = build_splits(cfg.data, cfg.template)
    # The train split is checked against every evaluation set before anything trains (above the
    # threshold: refused).
    bench = bench_name(cfg)
    eval_rows = bench_rows(cfg) if bench else test_rows
    # Sizes known only now (a source's own defaults, a short file): enough rows for one step.
    check_rows(cfg, len(train_rows), len(eval_rows))
    contamination = contamination_record(
        cfg, train_rows, {f"{cfg.data.name} test split": test_rows, **({f"bench={bench}": eval_rows} if bench else {})}
    )
    for i, row in enumerate(train_rows):
        # Lets curricula map a completion's reward back to its prompt.
        row["row_id"] = i
    curriculum = build_curriculum(cfg.get("curriculum"), train_rows, int(cfg.seed))
    if curriculum is not None:
        if not cfg.reward.get("accuracy_term"):
            raise ConfigError(f"curriculum={cfg.curriculum.name} needs reward.accuracy_term (the pass signal)")
        # The curriculum's own state is restored from the checkpoint; replaying batches would move it.
        args.ignore_data_skip = True
    return Data(train_rows, test_rows, eval_rows, bench, contamination, curriculum)


def build_model(cfg: DictConfig, out: Path, train_rows: list[dict], previous: dict | None) -> Model:
    """The run's base model (cold-started when asked), which is also the reference, and its tokenizer."""
    from r1exp.coldstart import cold_start
    from r1exp.models import load_model, load_tokenizer, resolve_path, weights_hash

    base_path = resolve_path(cfg.model)
    revision = cfg.model.get("revision")
    coldstart_record = None
    if cfg.get("coldstart") and cfg.coldstart.get("name") not in (None, "none"):
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
    return Model(model_path, revision, coldstart_record, tokenizer, model, reference_hash)


def build_trainer(cfg: DictConfig, checked: Checked, data: Data, model: Model, timer: Any):
    """TRL's GRPOTrainer (r1exp's subclass) over the run's model, data and reward terms."""
    from datasets import Dataset

    from r1exp.models import lora_config, weights_hash
    from r1exp.trainer import R1GRPOTrainer

    guided = bool(cfg.trainer.get("guide_with_reference"))
    trainer = R1GRPOTrainer(
        model=model.model,
        reward_funcs=checked.terms,
        args=checked.args,
        train_dataset=Dataset.from_list(data.train_rows),
        processing_class=model.tokenizer,
        peft_config=lora_config(cfg.lora),
        curriculum=data.curriculum,
        guide_template=cfg.template if guided else None,
        guide_seed=int(cfg.seed),
        timer=timer,
    )
    if trainer.ref_model is not None and weights_hash(trainer.ref_model) != model.reference_hash:
        raise RuntimeError("TRL built a reference model that differs from the base model")
    if any("reference_model" in t.context_keys for t in checked.terms):
        checked.reference.bind(trainer)
    return trainer


def wire_callbacks(cfg: DictConfig, checked: Checked, data: Data, trainer: Any, timer: Any) -> tuple[Any, Any]:
    """Observers of the reward terms and the trainer callbacks, in the one order they need.

    Returns (metrics callback, console callback). The order: the step timer first (a step's time ends
    before periodic evaluation runs); periodic evaluation before the metrics callback (its eval/*
    numbers land in the same row); the console after metrics (the bar shows the renamed numbers);
    the checkpoint marker last of r1exp's on_save handlers; wandb's callback after ours (it logs the
    names metrics.jsonl holds).
    """
    from transformers.integrations import WandbCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from r1exp.curriculum import CurriculumCallback
    from r1exp.tracking.callbacks import CompletionMarker, MetricsCallback, PeriodicEvalCallback, SampleRecorder
    from r1exp.tracking.console import ConsoleCallback, bar_keys

    out, terms = checked.out, checked.terms
    accuracy_term = cfg.reward.get("accuracy_term")
    format_term = cfg.reward.get("format_term")
    format_metric = str(cfg.reward.get("format_metric") or "format_rate")
    guided = bool(cfg.trainer.get("guide_with_reference"))

    # Who sees every reward call: the sample recorder, the curriculum, reference-guided groups.
    recorder = SampleRecorder(
        out / "samples.jsonl",
        terms,
        int(cfg.logger.get("samples_every", 0)),
        int(cfg.logger.get("samples_per_step", 0)),
    )
    observers: list[Any] = [recorder]
    curriculum = data.curriculum
    if curriculum is not None:

        def feed_curriculum(name, prompts, completions, values, columns):
            state = columns.get("trainer_state")
            if name == accuracy_term and columns.get("row_id") is not None:
                curriculum.observe(columns["row_id"], values, (state.global_step + 1) if state else 0)

        observers.append(feed_curriculum)
    if guided:
        # The trainer knows which completions it inserted; the terms show it every reward value.
        observers.append(trainer.observe_reward)
    for term in terms:
        term.observers.extend(observers)

    # time/* and perf/* in metrics: where each step's time went (r1exp/tracking/timing.py).
    sources: dict[str, Any] = {"reward_stats": checked.counters, "time": timer, "perf": timer.gauges}
    if guided:
        sources["guided"] = trainer
    curriculum_cb = CurriculumCallback(curriculum) if curriculum is not None else None
    if curriculum_cb is not None:
        sources["curriculum"] = curriculum_cb
    metrics = MetricsCallback(
        out / "metrics.jsonl",
        accuracy_term,
        format_term,
        float(cfg.trainer.beta),
        bool(cfg.logger.get("jsonl", True)),
        sources,
        format_metric=format_metric,
    )
    wandb_cb = trainer.pop_callback(WandbCallback)
    # One bar with the key numbers instead of transformers' printed log dicts.
    trainer.pop_callback(ProgressCallback)
    trainer.pop_callback(PrinterCallback)
    console = ConsoleCallback(keys=bar_keys(accuracy_name_of(cfg)))
    trainer.add_callback(timer)
    every = int(cfg.periodic_eval.every)
    if every > 0:
        trainer.add_callback(
            PeriodicEvalCallback(
                data.eval_rows[: int(cfg.periodic_eval.prompts)],
                terms,
                accuracy_term,
                format_term,
                every,
                int(cfg.periodic_eval.max_new_tokens),
                int(cfg.periodic_eval.batch_size),
                format_metric=format_metric,
            )
        )
    trainer.add_callback(metrics)
    trainer.add_callback(console)
    trainer.add_callback(recorder)
    if curriculum_cb is not None:
        trainer.add_callback(curriculum_cb)
    trainer.add_callback(CompletionMarker())
    if wandb_cb is not None:
        trainer.add_callback(wandb_cb)
    return metrics, console


def start_record(cfg: DictConfig, data: Data, model: Model, previous: dict | None) -> dict[str, Any]:
    """manifest.json of this run: the previous one when resuming, else a new one."""
    record = previous or {
        "model": {"name": cfg.model.name, "path": model.path, "revision": model.revision},
        "base_hash": model.reference_hash,
        "reference_hash": model.reference_hash,
        # TRL builds no reference model at beta = 0 (no KL term).
        "reference": "none (beta = 0)"
        if float(cfg.trainer.beta) == 0
        else "policy with LoRA adapters disabled"
        if cfg.lora.get("r")
        else "copy loaded from model.path",
        "evaluation": {
            "bench": data.bench,
            "periodic_eval_set": f"bench={data.bench}" if data.bench else f"{cfg.data.name} test split",
            "test_rows": len(data.test_rows),
        },
        "coldstart": model.coldstart_record,
        "seed": int(cfg.seed),
        "versions": manifest.versions(),
        "git": manifest.git_commit(),
        "config": OmegaConf.to_container(cfg, resolve=True),
        "resumes": [],
    }
    record["world_size"] = world()[1]
    record["contamination"] = data.contamination
    return record


def prepare_resume(
    out: Path, ckpt: Path, data: Data, trainer: Any, record: dict, is_main: bool, composed: dict[str, Any]
) -> None:
    """Resuming from `ckpt`: drop log rows after it, restore the curriculum, record the resume once it happened.

    `composed` is this launch's resolved config: keys that may change on resume and did are recorded.
    """
    from r1exp.curriculum.sampler import load_state
    from r1exp.tracking.callbacks import FiniteAfterResume, ResumeRecorder

    step = checkpoint_step(ckpt)
    if is_main:
        print(f"r1exp: resuming from {ckpt.name} (step {step})", file=sys.stderr, flush=True)
        # Steps after the checkpoint are trained again: drop their rows so no step appears twice.
        for name in ("metrics.jsonl", "samples.jsonl"):
            _, garbled = jsonl.trim_after(out / name, step)
            if garbled:
                lines = ", ".join(map(str, garbled[:5])) + (" ..." if len(garbled) > 5 else "")
                print(
                    f"r1exp: warning: {out / name}: line(s) {lines} are not valid JSON; moved to "
                    f"{name}.garbled (the rest is kept)",
                    file=sys.stderr,
                    flush=True,
                )
    if data.curriculum is not None and load_state(data.curriculum, ckpt) is None:
        raise ConfigError(f"{ckpt} has no curriculum state; resume with the curriculum the run started with")
    # Recorded once the trainer has loaded the checkpoint, so the manifest lists only resumes that happened.
    entry = {"from_checkpoint": ckpt.name, "step": step, "git": manifest.git_commit()}
    changed = _changed_on_resume(record, composed)
    if changed:
        entry["changed"] = changed
    trainer.add_callback(ResumeRecorder(out, record, entry, is_main))
    trainer.add_callback(FiniteAfterResume(ckpt, AFTER_RESUME_STEPS))


def _changed_on_resume(record: dict, composed: dict[str, Any]) -> dict[str, list[Any]]:
    """Keys that may change on resume (r1exp.tracking.identity) and did: key -> [first launch, this launch]."""
    from r1exp.tracking import identity

    before = identity.flatten(record.get("config") or {})
    now = identity.flatten(composed)
    return {k: [before.get(k), v] for k, v in now.items() if identity.may_change(k) and before.get(k) != v}


def accuracy_name_of(cfg: DictConfig) -> str:
    """What the run's `accuracy` is: a rate of correct answers, or a judge's mean score (zh)."""
    from r1exp.analysis.runs import accuracy_name

    term = cfg.reward.get("accuracy_term")
    spec = cfg.reward.terms.get(term) if term else None
    fn = str(spec.get("fn")) if spec is not None else ""
    return accuracy_name({"reward.accuracy_term": str(term or ""), f"reward.terms.{term}.fn": fn})


def finish(
    out: Path, trainer: Any, data: Data, record: dict, console: Any, timer: Any, is_main: bool, resumed: Path | None
) -> dict:
    """Final model, plots, and the finished manifest (written last); the run's summary."""
    from r1exp.tracking.console import wandb_summary
    from r1exp.tracking.plots import plot_run

    trainer.save_model(str(out / "checkpoints" / "final"))
    record["finished"] = True
    record["final_step"] = trainer.state.global_step
    if data.curriculum is not None:
        record["curriculum"] = data.curriculum.state_dict().get("changes")
    plots = []
    if is_main:
        plots = plot_run(out)
        # Last: a kill before it leaves a run that the next launch finishes (rundir.plan_resume).
        manifest.write(out, record)
    # Printed and stored in status.json by the task wrapper (r1exp/cmd/__init__.py), with the wall time.
    start = checkpoint_step(resumed) if resumed is not None else 0
    summary = {
        "run_dir": str(out),
        "steps": trainer.state.global_step,
        # What this launch did: steps it trained, and the checkpoint it started from (None: step 0).
        "steps_trained": trainer.state.global_step - start,
        "resumed_from": resumed.name if resumed is not None else None,
        "final": console.final(),
        "plots": [str(p) for p in plots],
        # Mean s/step and its split over the steps this process trained.
        "timing": timer.summary(),
        # Where the wandb run is (its URL, or the offline folder to sync); None without wandb.
        "wandb": wandb_summary(),
    }
    return {"run_dir": str(out), "steps": trainer.state.global_step, "plots": summary["plots"], "summary": summary}


# Steps after a resume in which non-finite numbers are blamed on the checkpoint (the first update
# from a damaged optimizer state shows in the next step's sampling).
AFTER_RESUME_STEPS = 2


def _non_finite(exc: BaseException) -> bool:
    """Whether an error is about NaN or infinite numbers."""
    return re.search(r"\b(nan|inf)\b", str(exc).lower()) is not None


def start_over(out: Path, record: dict, is_main: bool) -> None:
    """A run with no usable checkpoint trains from step 1: its earlier logs are kept aside, not appended to."""
    if not is_main:
        return
    folder = rundir.restart_logs(out)
    entry: dict[str, Any] = {"reason": "no usable checkpoint", "git": manifest.git_commit()}
    if folder is not None:
        entry["earlier_logs"] = folder.name
        print(
            f"r1exp: no usable checkpoint in {out / 'checkpoints'}; training starts over at step 1 "
            f"(the earlier logs are kept in {folder})",
            file=sys.stderr,
            flush=True,
        )
    record.pop("final_step", None)
    record.setdefault("restarts", []).append(entry)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Own the run dir, check, build (data, model, rewards, trainer), wire callbacks, train, finish.

    Nothing of an existing run is changed before every refusal had its chance: the lock, the run's
    own configuration (`rundir.check_relaunch`), the config values and the machine, the checkpoint to
    resume from, the model (its weights must be the run's). Only then does this launch own the run's
    records (`rundir.own_records`: .hydra/, launch.log, status.json) and touch its logs.
    """
    from transformers import set_seed

    from r1exp.tracking.console import progress, quiet_libraries
    from r1exp.tracking.timing import StepTimer

    out = run_dir()
    is_main = world()[0] == 0
    # One process group owns the run dir: a second launch into it gets one line naming the owner.
    lock = rundir.own_run_dir(out)
    trainer, ckpt = None, None
    try:
        # The run dir holds one experiment: a relaunch composes the run's own configuration.
        relaunch = on_rank0(lambda: rundir.check_relaunch(out, cfg))
        previous = relaunch.previous
        if previous is None:
            rundir.own_records()  # a new run: its records are this launch's from the start
        if relaunch.finished:
            return rundir.skip(out, is_main)
        # Before transformers' Trainer stack loads (GRPOConfig does): its import-time prints and loading
        # bars stay off the console.
        quiet_libraries(wandb=bool(cfg.logger.get("wandb")))
        checked = check(cfg)
        # Checkpoints that cannot be loaded are set aside first; a run killed after its last checkpoint
        # trains no step. Rank 0 reads the run dir and decides; every rank gets its decision.
        plan = on_rank0(lambda: rundir.plan_resume(out, int(cfg.trainer.max_steps)))
        ckpt = plan.checkpoint
        if plan.finish_only:
            rundir.own_records()
            return rundir.finish_from_checkpoint(out, ckpt, is_main)

        set_seed(int(cfg.seed))
        data = build_data(cfg, checked.args)
        model = build_model(cfg, out, data.train_rows, previous)
        timer = StepTimer()
        trainer = build_trainer(cfg, checked, data, model, timer)
        # Every refusal has had its chance: from here on the run is this launch's.
        rundir.own_records()
        _, console = wire_callbacks(cfg, checked, data, trainer, timer)
        record = start_record(cfg, data, model, previous)
        if ckpt is not None:
            prepare_resume(out, ckpt, data, trainer, record, is_main, OmegaConf.to_container(cfg, resolve=True))
        elif previous is not None:
            start_over(out, record, is_main)
        # After start_over: a run that starts over is a new wandb run.
        _setup_wandb(cfg, out)
        record["finished"] = False
        if is_main:
            manifest.write(out, record)

        with progress(console):
            trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
        result = finish(out, trainer, data, record, console, timer, is_main, ckpt)
        # What `accuracy` in the summary's `final` is (a judge's mean score on zh), for the printed lines.
        result["summary"]["accuracy_name"] = accuracy_name_of(cfg)
        return result
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM outside Slurm (r1exp.cmd): the task wrapper prints this line and records it.
        step = trainer.state.global_step if trainer is not None else None
        signame = "SIGTERM" if isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM else "Ctrl-C"
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise Interrupted(rundir.interrupted_line(out, step, signame), signum) from None
    except RuntimeError as exc:
        # e.g. torch.multinomial's "probability tensor contains either `inf`, `nan` or element < 0".
        right_after = ckpt is not None and trainer is not None
        if right_after and trainer.state.global_step <= checkpoint_step(ckpt) + AFTER_RESUME_STEPS and _non_finite(exc):
            raise NonFiniteAfterResume(non_finite_line(ckpt, one_line(str(exc)))) from exc
        raise
    finally:
        # Also on failure: a sweep runs its next job in this process, and a relaunch must not wait.
        if lock is not None:
            lock.release()
