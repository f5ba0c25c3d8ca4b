"""The steps of cmd=train, in the order `r1exp.cmd.train.run` calls them: check, build (data, model,
trainer, callbacks), resume or start over, finish. Features (r1exp/features/) add to each step
through their hooks; nothing here names one.

Checks: every check that needs no model runs first, config values before the machine (vLLM, hardware,
GRPOConfig for this device), so a mistake costs seconds, not a model load. The reference model is
always the run's base model (the cold-started model when cold start is on): with LoRA, TRL disables
the adapters (the policy is built from the base plus `peft_config`); with a full fine-tune, TRL loads
a second copy from its path. Its weight hash goes into manifest.json and is checked again when the
run resumes. Resume goes through `resume_from_checkpoint` with the base model (never by loading the
checkpoint as a PeftModel, which would make the trained adapter the reference).
"""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1exp.common import jsonl
from r1exp.distributed import job_layout, world
from r1exp.errors import ConfigError
from r1exp.eval_sets import bench_rows, check_bench_reward, check_trainable, contamination_record
from r1exp.features import Feature, Run, build_features, ordered_callbacks
from r1exp.grpo_args import build_grpo_config, require_vllm
from r1exp.models import ReferenceModel
from r1exp.rewards.base import RewardTerm, preflight
from r1exp.rewards.counters import Counters
from r1exp.sections import Sections
from r1exp.tasks import build_terms, data_columns
from r1exp.tracking import manifest, rundir
from r1exp.tracking.checkpoints import checkpoint_step

# Steps after a resume in which non-finite numbers are blamed on the checkpoint (the first update
# from a damaged optimizer state shows in the next step's sampling).
AFTER_RESUME_STEPS = 2


@dataclass
class Data:
    train_rows: list[dict]
    test_rows: list[dict]
    # What the run is judged on: the bench when one is set, else the data's held-out split.
    eval_rows: list[dict]
    bench: str | None
    contamination: Any


@dataclass
class Model:
    path: str
    revision: str | None
    coldstart_record: dict[str, Any] | None
    tokenizer: Any
    model: Any
    reference_hash: str


def check_processes(s: Sections, overrides: list[str], multirun: bool) -> None:
    """Several processes must agree on one run dir, and on how many of them there are."""
    import os

    _, size = world()
    if os.environ.get("SUBMITIT_EXECUTOR") == "slurm":
        # launcher=slurm started the job's tasks from this very layout, in the job's one dir.
        return
    layout = job_layout(s)
    if layout.world_size != size:
        expected = layout.world_size
        raise ConfigError(
            f"hardware={s.hardware.name} runs hardware.nodes={layout.nodes} x hardware.processes_per_node="
            f"{layout.tasks_per_node} = {expected} process(es) but {size} were launched; start with accelerate "
            f"launch --num_processes {expected} (or torchrun --nproc_per_node {expected}), set "
            "hardware.processes_per_node, or use launcher=slurm"
        )
    if size > 1 and not multirun and not any(o.startswith("hydra.run.dir=") for o in overrides):
        raise ConfigError(
            f"{size} processes need one shared run dir: pass hydra.run.dir=DIR (each process would "
            "otherwise name its own from the clock)"
        )


def check(s: Sections, out: Path, hydra_overrides: list[str], multirun: bool) -> tuple[Run, list[Feature]]:
    """Everything that needs no model, config values before the machine (vllm package, a GPU).

    Returns the run as the features see it (typed sections, rewards, GRPOConfig) and the features on.
    """
    from r1exp.tracking.console import quiet_libraries

    s.check("train")
    # Right after the values are checked (which imports no part of it) and before transformers' Trainer
    # stack loads (GRPOConfig, a reward's tokenizer): its import-time prints and loading bars stay off the console.
    quiet_libraries(wandb=s.logger.wandb)
    features = build_features(list(s.features), s)
    # No evaluation set is trained on, and a bench is scored by its task's reward.
    check_trainable(s.data)
    check_bench_reward(s)
    counters, reference = Counters(), ReferenceModel()
    run = Run(s, out, build_rewards(s, counters, reference), counters, reference)
    for feature in features:
        feature.check(run)
    weights = [t.weight for t in run.terms]
    # The config itself first (types, unknown keys, batch divisibility), then what it needs from the
    # machine (processes, the vllm package, a GPU, a wandb account), then the real GRPOConfig for this device.
    build_grpo_config(s, out / "checkpoints", weights, check_only=True)
    check_processes(s, hydra_overrides, multirun)
    require_vllm(s.generation)
    s.validate()
    # Last before any model loads: a judge endpoint that cannot be reached or read is one line now,
    # not after the model loaded and the first generation ran.
    preflight(run.terms)
    run.args = build_grpo_config(s, out / "checkpoints", weights)
    for feature in features:
        for key, value in feature.grpo_args(run).items():
            setattr(run.args, key, value)
    return run, features


def build_rewards(s: Sections, counters: Counters, reference: ReferenceModel) -> list[RewardTerm]:
    """The run's reward terms (kwargs checked), refused when they read columns the data lacks."""
    # Context keys must not collide with data columns (rows carry a `reference` answer).
    context = {"counters": counters, "reference_model": reference, "judge": s.judge}
    terms = build_terms(s.reward.active_terms(), context)
    check_reward_data(s, terms, data_columns(s.data))
    return terms


def check_reward_data(s: Sections, terms: list[RewardTerm], columns: set[str] | None) -> None:
    """Each reward term reads only columns the data has (`columns`: None when the source does not say), and
    reference-guided groups need a task whose reference the rows can render."""
    name = s.data.get("name")
    if s.trainer.guide_with_reference:
        from r1exp.tasks import task_of

        task = task_of(s.data)
        need = task.reference_columns
        lacking = sorted(need - columns) if need and columns is not None else []
        if not need or lacking:
            why = (
                f"task {task.name} renders it from column(s) {', '.join(lacking)}, which they lack"
                if need
                else f"task {task.name} declares no reference completion"
            )
            raise ConfigError(
                f"trainer.guide_with_reference=true: data={name} rows carry no reference to insert "
                f"({why}); set trainer.guide_with_reference=false or use data that has one"
            )
    if columns is None:
        return
    for term in terms:
        missing = [c for c in getattr(term, "columns", ()) if c not in columns]
        if missing:
            raise ConfigError(
                f"reward.terms.{term.name} ({term.reward.__name__}) reads column(s) {', '.join(missing)}, which "
                f"data={name} does not have; choose a reward for this data (reward=...) or data that has them"
            )


def build_data(run: Run, features: list[Feature]) -> Data:
    """Train/test rows, the evaluation set and its contamination check; then the features' turn."""
    from r1exp.tasks import build_splits

    s = run.cfg
    train_rows, test_rows = build_splits(s.data, s.template)
    # The train split is checked against every evaluation set before anything trains (above the
    # threshold: refused).
    bench = s.bench_name
    eval_rows = bench_rows(s) if bench else test_rows
    # Sizes known only now (a source's own defaults, a short file): enough rows for one step.
    s.check_rows(len(train_rows), len(eval_rows))
    contamination = contamination_record(
        s, train_rows, {f"{s.data.name} test split": test_rows, **({f"bench={bench}": eval_rows} if bench else {})}
    )
    for i, row in enumerate(train_rows):
        # Lets curricula map a completion's reward back to its prompt.
        row["row_id"] = i
    run.data = Data(train_rows, test_rows, eval_rows, bench, contamination)
    for feature in features:
        feature.on_data(run)
    return run.data


def build_model(run: Run, features: list[Feature], previous: dict | None) -> Model:
    """The run's base model (a feature may replace it, e.g. cold start), which is also the reference."""
    from r1exp.models import load_model, load_tokenizer, resolve_path, weights_hash

    s = run.cfg
    model_path = resolve_path(s.model)
    revision = s.model.revision
    record = None
    for feature in features:
        replaced = feature.base_model(run, model_path)
        if replaced is not None:
            (model_path, record), revision = replaced, None
    tokenizer = load_tokenizer(model_path, revision)
    _cap_gpu_memory(s.hardware.max_memory_gb)
    model = load_model(model_path, s.model.dtype, revision)
    reference_hash = weights_hash(model)
    if previous is not None and previous.get("reference_hash") not in (None, reference_hash):
        raise ConfigError(
            f"model.path={model_path} does not hold the weights this run started from (reference_hash in "
            f"{run.out / 'manifest.json'} differs); resume with the original model.path, or start a new hydra.run.dir"
        )
    return Model(model_path, revision, record, tokenizer, model, reference_hash)


def _cap_gpu_memory(max_gb: float | None) -> None:
    """Make a bigger GPU behave like the preset's card (e.g. 24 GiB for rtx3090)."""
    import torch

    if max_gb and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, max_gb * 2**30 / total), 0)


def build_trainer(run: Run, features: list[Feature], model: Model) -> Any:
    """TRL's GRPOTrainer (r1exp's subclass) over the run's model, data and reward terms."""
    from datasets import Dataset

    from r1exp.models import lora_config, weights_hash
    from r1exp.trainer import R1GRPOTrainer

    kwargs: dict[str, Any] = {}
    for feature in features:
        kwargs.update(feature.trainer_kwargs(run))
    trainer = R1GRPOTrainer(
        model=model.model,
        reward_funcs=run.terms,
        args=run.args,
        train_dataset=Dataset.from_list(run.data.train_rows),
        processing_class=model.tokenizer,
        peft_config=lora_config(run.cfg.lora),
        timer=run.timer,
        **kwargs,
    )
    if trainer.ref_model is not None and weights_hash(trainer.ref_model) != model.reference_hash:
        raise RuntimeError("TRL built a reference model that differs from the base model")
    if any("reference_model" in t.context_keys for t in run.terms):
        run.reference.bind(trainer)
    run.trainer = trainer
    return trainer


def wire_callbacks(run: Run, features: list[Feature]) -> Any:
    """The features' observers, callbacks and metrics sources, with r1exp's own; returns the console bar.

    The order is `r1exp.features.ordered_callbacks`'s: the step timer, features before metrics, the
    metrics callback, the console bar, features after metrics, the checkpoint marker, then the last.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from r1exp.tracking.callbacks import CompletionMarker, MetricsCallback
    from r1exp.tracking.console import ConsoleCallback, bar_keys

    for feature in features:
        feature.attach(run)
    for term in run.terms:
        term.observers.extend(run.observers)
    reward = run.cfg.reward
    # time/* and perf/* in metrics: where each step's time went (r1exp/tracking/timing.py).
    sources = {"reward_stats": run.counters, "time": run.timer, "perf": run.timer.gauges, **run.sources}
    metrics = MetricsCallback(
        run.out / "metrics.jsonl",
        reward.accuracy_term,
        reward.format_term,
        run.cfg.trainer.beta,
        run.cfg.logger.jsonl,
        sources,
        format_metric=reward.format_metric,
    )
    # One bar with the key numbers instead of transformers' printed log dicts.
    run.trainer.pop_callback(ProgressCallback)
    run.trainer.pop_callback(PrinterCallback)
    console = ConsoleCallback(keys=bar_keys(accuracy_name_of(run.cfg)))
    for callback in ordered_callbacks(run, run.timer, metrics, console, CompletionMarker()):
        run.trainer.add_callback(callback)
    return console


def start_record(run: Run, model: Model, previous: dict | None) -> dict[str, Any]:
    """manifest.json of this run: the previous one when resuming, else a new one."""
    s, data = run.cfg, run.data
    record = previous or {
        "model": {"name": s.model.name, "path": model.path, "revision": model.revision},
        "base_hash": model.reference_hash,
        "reference_hash": model.reference_hash,
        # TRL builds no reference model at beta = 0 (no KL term).
        "reference": "none (beta = 0)"
        if s.trainer.beta == 0
        else "policy with LoRA adapters disabled"
        if s.lora.r
        else "copy loaded from model.path",
        "evaluation": {
            "bench": data.bench,
            "periodic_eval_set": f"bench={data.bench}" if data.bench else f"{s.data.name} test split",
            "test_rows": len(data.test_rows),
        },
        "coldstart": model.coldstart_record,
        "seed": run.cfg.seed,
        "versions": manifest.versions(),
        "git": manifest.git_commit(),
        "config": s.resolved(),
        "resumes": [],
    }
    record["world_size"] = world()[1]
    record["contamination"] = data.contamination
    return record


def prepare_resume(run: Run, features: list[Feature], ckpt: Path, record: dict, is_main: bool) -> None:
    """Resuming from `ckpt`: drop log rows after it, the features' state, record the resume once it happened."""
    from r1exp.tracking.callbacks import FiniteAfterResume, ResumeRecorder

    out, step = run.out, checkpoint_step(ckpt)
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
    for feature in features:
        feature.on_resume(run, ckpt)
    # Recorded once the trainer has loaded the checkpoint, so the manifest lists only resumes that happened.
    entry = {"from_checkpoint": ckpt.name, "step": step, "git": manifest.git_commit()}
    changed = changed_on_resume(record, run.cfg.resolved())
    if changed:
        entry["changed"] = changed
    run.trainer.add_callback(ResumeRecorder(out, record, entry, is_main))
    run.trainer.add_callback(FiniteAfterResume(ckpt, AFTER_RESUME_STEPS))


def changed_on_resume(record: dict, composed: dict[str, Any]) -> dict[str, list[Any]]:
    """Keys that may change on resume (r1exp.tracking.identity) and did: key -> [first launch, this launch]."""
    from r1exp.tracking import identity

    before = identity.flatten(record.get("config") or {})
    now = identity.flatten(composed)
    return {k: [before.get(k), v] for k, v in now.items() if identity.may_change(k) and before.get(k) != v}


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


@functools.lru_cache(maxsize=4)
def accuracy_name_of(s: Sections) -> str:
    """What the run's `accuracy` is: a rate of correct answers, or a judge's mean score (zh)."""
    from r1exp.analysis.runs import accuracy_name

    term = s.reward.accuracy_term
    spec = s.reward.terms.get(term) if term else None
    ref = str(spec.get("fn")) if spec is not None else ""
    return accuracy_name({"reward.accuracy_term": str(term or ""), f"reward.terms.{term}.fn": ref})


def finish(run: Run, features: list[Feature], record: dict, console: Any, is_main: bool, resumed: Path | None) -> dict:
    """Final model, plots, and the finished manifest (written last); the run's summary."""
    from r1exp.tracking.console import wandb_summary
    from r1exp.tracking.plots import plot_run

    out, trainer = run.out, run.trainer
    trainer.save_model(str(out / "checkpoints" / "final"))
    record["finished"] = True
    record["final_step"] = trainer.state.global_step
    for feature in features:
        feature.on_finish(run, record)
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
        "timing": run.timer.summary(),
        # Where the wandb run is (its URL, or the offline folder to sync); None without wandb.
        "wandb": wandb_summary(),
        # What `accuracy` in `final` is (a judge's mean score on zh), for the printed lines.
        "accuracy_name": accuracy_name_of(run.cfg),
    }
    return {"run_dir": str(out), "steps": trainer.state.global_step, "plots": summary["plots"], "summary": summary}


def non_finite(exc: BaseException) -> bool:
    """Whether an error is about NaN or infinite numbers."""
    return re.search(r"\b(nan|inf)\b", str(exc).lower()) is not None
