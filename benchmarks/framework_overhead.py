"""Framework overhead: the same tiny GRPO run through launch.py and through a plain TRL script.

    python benchmarks/framework_overhead.py [--rounds 2] [--steps 30] [--threads 1] [-- extra overrides]

Both sides train the `+experiment=smoke` recipe (tiny model, Countdown rows, correct + strict format
+ soft format rewards, beta 0.04, 30 steps, checkpoints every 10) in their own process:

- launch.py: `python launch.py +experiment=smoke hydra.run.dir=...`, everything r1exp adds
  included (config checks, run-dir lock, manifest, metrics/samples/console callbacks, step timer,
  reward terms and observers, plots at the end).
- plain TRL: `GRPOTrainer` + `GRPOConfig` written out below, the same model directory, the same
  rows (written by the driver from r1exp's data builder) and the same reward functions called
  directly. The driver refuses to run when these GRPOConfig values differ from the ones r1exp builds.

Both processes get the same clock: a callback appended to transformers' callback handler that
stamps every `on_step_begin` (a step's time runs to the next step's begin, so every callback, log
line and checkpoint save of the step is in it). Start-up is split with the same stamps: Python
start, the heavy imports (torch .. trl), and for launch.py its phases (Hydra and config checks, data,
model load, trainer construction); the end (final model, plots, manifest, the interpreter's exit) is
the time after training. The whole process (spawn to exit) is compared in wall seconds and in the
process's CPU seconds (all threads, from the kernel when it ends).
In each round both sides run at the same time, one process each, so whatever else loads the
machine loads both alike; per-step figures are medians over all rounds. CPU seconds per step (whole
process and main thread) measure the work itself and do not depend on the load.
"""

from __future__ import annotations

import importlib.abc
import itertools
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The plain script's GRPOConfig, written out. The driver checks it against r1exp's for the recipe.
PLAIN_GRPO: dict[str, Any] = {
    "max_steps": 30,
    "learning_rate": 0.01,
    "lr_scheduler_type": "constant_with_warmup",
    "warmup_steps": 0,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "beta": 0.04,
    "loss_type": "grpo",
    "scale_rewards": "group",
    "epsilon": 0.2,
    "num_iterations": 1,
    "num_generations": 4,
    "max_completion_length": 32,
    "temperature": 1.0,
    "top_p": 1.0,
    "mask_truncated_completions": False,
    "disable_dropout": True,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "bf16": False,
    "gradient_checkpointing": False,
    "logging_steps": 1,
    "save_steps": 10,
    "save_total_limit": 2,
    "seed": 42,
    "use_vllm": False,
    "use_cpu": True,
    "reward_weights": [1.0, 0.1, 0.5],
    "report_to": [],
    "log_completions": False,
    "num_completions_to_print": 0,
    "save_strategy": "steps",
    "remove_unused_columns": False,
}
# Set per run (paths), not settings.
PER_RUN = ("output_dir", "run_name")


# ---------------------------------------------------------------- the clock, in both child processes
class Timeline:
    """Named stamps, written as JSON at exit: wall clock (time.time(), comparable across processes) and
    the process's CPU seconds (all its threads; a busy machine does not inflate them)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.marks: list[tuple[str, float, float]] = []
        self.steps: list[tuple[float, float]] = []

    def mark(self, label: str) -> None:
        self.marks.append((label, time.time(), time.process_time()))

    def step(self) -> None:
        # Also the main thread's CPU seconds: the work on the training path, whatever other threads do.
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # Context switches tell waiting apart: voluntary (blocked: I/O, locks) vs involuntary (preempted).
        self.steps.append((time.time(), time.process_time(), time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw))

    def write(self) -> None:
        self.mark("exit")
        Path(self.path).write_text(json.dumps({"marks": self.marks, "steps": self.steps}))


class _AfterImport(importlib.abc.MetaPathFinder):
    """Stamps the start and end of chosen imports, and runs a hook after a module's code has run.

    Stamped when the module's code runs, not when it is looked up: libraries look modules up to see
    whether they are installed (transformers asks for torch long before it imports it).
    """

    def __init__(self, timeline: Timeline, hooks: dict[str, Callable[[Any], None]], stamped: tuple[str, ...]):
        self.timeline = timeline
        self.hooks = dict(hooks)
        self.stamped = set(stamped)

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.stamped and fullname not in self.hooks:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is not self and hasattr(finder, "find_spec"):
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
        if spec is None or spec.loader is None:
            return None
        run_module = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            stamp = fullname in self.stamped
            self.stamped.discard(fullname)
            hook = self.hooks.pop(fullname, None)
            if stamp:
                self.timeline.mark(f"import {fullname}: start")
            run_module(module)
            if stamp:
                self.timeline.mark(f"import {fullname}: end")
            if hook is not None:
                hook(module)

        spec.loader.exec_module = exec_module
        return spec


def _install_clock(timeline: Timeline, phases: dict[str, tuple[str, ...]]) -> None:
    """The step clock in transformers' callback handler; phase stamps around the named functions."""

    def clock_in(module: Any) -> None:
        class StepClock(module.TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                timeline.mark("train begin")

            def on_step_begin(self, args, state, control, **kwargs):
                timeline.step()

            def on_train_end(self, args, state, control, **kwargs):
                timeline.mark("train end")

        clock = StepClock()
        original = module.CallbackHandler.__init__

        def init(handler, *args, **kwargs):
            original(handler, *args, **kwargs)
            if not any(isinstance(cb, StepClock) for cb in handler.callbacks):
                # Last in the list: its step stamp comes after every other on_step_begin.
                handler.callbacks.append(clock)

        module.CallbackHandler.__init__ = init

    def stamp_phases(names: tuple[str, ...]) -> Callable[[Any], None]:
        def wrap(module: Any) -> None:
            for name in names:
                fn = getattr(module, name, None)
                if fn is None:
                    continue

                def timed(*args, _fn=fn, _name=name, **kwargs):
                    timeline.mark(f"{_name}: start")
                    try:
                        return _fn(*args, **kwargs)
                    finally:
                        timeline.mark(f"{_name}: end")

                setattr(module, name, timed)

        return wrap

    hooks = {"transformers.trainer_callback": clock_in, **{mod: stamp_phases(n) for mod, n in phases.items()}}
    sys.meta_path.insert(0, _AfterImport(timeline, hooks, stamped=("torch", "trl")))


def child_launch(timeline_path: str, overrides: list[str]) -> None:
    """`python launch.py OVERRIDES`, as a user runs it, with the clock installed."""
    timeline = Timeline(timeline_path)
    timeline.mark("python started")
    phases = {"r1exp.training": ("check", "build_data", "build_model", "build_trainer", "wire_callbacks", "finish")}
    _install_clock(timeline, phases)
    sys.argv = ["launch.py", *overrides]
    try:
        runpy.run_path(str(ROOT / "launch.py"), run_name="__main__")
    finally:
        timeline.write()


def child_plain(timeline_path: str, rows_path: str, model_path: str, out_dir: str, max_steps: int) -> None:
    """The plain TRL script: GRPOTrainer + GRPOConfig, the same model, rows and reward functions."""
    timeline = Timeline(timeline_path)
    timeline.mark("python started")
    _install_clock(timeline, {})
    try:
        import torch
        from datasets import Dataset
        from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
        from trl import GRPOConfig, GRPOTrainer

        from r1exp.rewards.format import soft_format, strict_format
        from r1exp.tasks.countdown.reward import countdown_correct

        timeline.mark("imports done")

        def correct(prompts, completions, **columns):
            return countdown_correct(prompts, completions, **columns)

        def format(prompts, completions, **columns):  # TRL logs each reward under its function's name
            return strict_format(prompts, completions, think=True, **columns)

        def soft(prompts, completions, **columns):
            return soft_format(prompts, completions, **columns)

        set_seed(PLAIN_GRPO["seed"])
        rows = [json.loads(line) for line in Path(rows_path).read_text().splitlines()]
        dataset = Dataset.from_list(rows)
        timeline.mark("data done")
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        tokenizer.padding_side = "left"
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
        timeline.mark("model loaded")
        settings = {**PLAIN_GRPO, "max_steps": max_steps}
        args = GRPOConfig(output_dir=f"{out_dir}/checkpoints", run_name="plain", **settings)
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=[correct, format, soft],
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
        )
        timeline.mark("trainer built")
        trainer.train()
        trainer.save_model(f"{out_dir}/checkpoints/final")
        # For the driver's same-run check (r1exp writes metrics.jsonl as it goes).
        Path(out_dir, "log_history.json").write_text(json.dumps(trainer.state.log_history))
    finally:
        timeline.write()


# ---------------------------------------------------------------- the driver
def prepare(work: Path, extra: list[str], steps: int) -> tuple[list[str], Path, str]:
    """The recipe's overrides, its train rows on disk, and the model directory (built once, cached)."""
    from hydra import compose, initialize_config_dir

    from r1exp.grpo_args import grpo_kwargs
    from r1exp.models import resolve_path
    from r1exp.rewards.base import term_spec
    from r1exp.sections import Sections
    from r1exp.tasks import build_splits

    overrides = ["+experiment=smoke", *extra]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    s = Sections(cfg)
    weights = [term_spec(name, spec)[1] for name, spec in s.reward.active_terms().items()]
    ours = grpo_kwargs(s, work / "checkpoints", weights)
    ours = {k: v for k, v in ours.items() if k not in PER_RUN}
    plain = {**PLAIN_GRPO, "max_steps": steps}
    if ours != plain:
        diff = {k: (ours.get(k), plain.get(k)) for k in ours.keys() | plain.keys() if ours.get(k) != plain.get(k)}
        raise SystemExit(f"the plain script's GRPOConfig differs from r1exp's (r1exp, plain): {diff}")
    train, _ = build_splits(s.data, s.template)
    rows = work / "rows.jsonl"
    with rows.open("w") as f:
        for i, row in enumerate(train):
            f.write(json.dumps({**row, "row_id": i}) + "\n")
    return overrides, rows, resolve_path(s.model)


def run_side_by_side(children: dict[str, tuple[list[str], Path]], extra_env: dict[str, str], log_dir: Path):
    """Both sides' runs at once, each in its own process (so a busy machine loads both alike).

    Returns each side's stamps, with its spawn and end and the process's total CPU seconds.
    """
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1", **extra_env}
    started: dict[str, tuple[subprocess.Popen, float, Path]] = {}
    for side, (args, _) in children.items():
        log = log_dir / f"{args[0]}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT, env=env, stdout=fh, stderr=fh)
        started[side] = (proc, time.time(), log)
    results: dict[str, dict[str, Any]] = {}
    pending = {proc.pid: side for side, (proc, _, _) in started.items()}
    while pending:
        pid, status, usage = os.wait4(-1, 0)
        side = pending.pop(pid, None)
        if side is None:
            continue
        proc, spawned, log = started[side]
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{side} run failed:\n{log.read_text()[-3000:]}")
        data = json.loads(children[side][1].read_text())
        cpu = usage.ru_utime + usage.ru_stime
        data["marks"] = [("spawned", spawned, 0.0), *data["marks"], ("process ended", time.time(), cpu)]
        results[side] = data
    return results


def same_training(launch_dir: Path, plain_dir: Path) -> bool:
    """Both sides logged the same reward and completion length at every step (the same run)."""
    ours = [json.loads(line) for line in (launch_dir / "metrics.jsonl").read_text().splitlines()]
    theirs = [h for h in json.loads((plain_dir / "log_history.json").read_text()) if "reward" in h]
    pairs = [(o["reward"], o["completion_length/mean"]) for o in ours]
    return bool(pairs) and pairs == [(t["reward"], t["completions/mean_length"]) for t in theirs]


def phases(data: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Wall and CPU seconds between consecutive stamps, named by the stamp that closes each span."""
    marks = list(data["marks"])
    if data["steps"]:
        marks.append(("first step begins", *data["steps"][0][:2]))
    marks.sort(key=lambda m: m[1])
    return [(label, wall - marks[i][1], cpu - marks[i][2]) for i, (label, wall, cpu) in enumerate(marks[1:])]


def span_of(data: dict[str, Any], first: str, last: str) -> float:
    """Wall seconds between two stamps (the first step's begin is the stamp `first step begins`)."""
    marks = {m[0]: m[1] for m in data["marks"]}
    if data["steps"]:
        marks["first step begins"] = data["steps"][0][0]
    return marks[last] - marks[first]


def step_times(data: dict[str, Any], clock: int) -> list[float]:
    """Each step's seconds (begin to next begin; the last to train end), the first (warm-up) left out.

    `clock` 0 is wall time, 1 the process's CPU time, 2 the main thread's CPU time (the last step then
    ends at the last step's begin: one step fewer).
    """
    stamps = [s[clock] for s in data["steps"]]
    if clock < 2:
        stamps.append(next(m for m in data["marks"] if m[0] == "train end")[1 + clock])
    return [b - a for a, b in itertools.pairwise(stamps)][1:]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each running both sides at once")
    parser.add_argument("--steps", type=int, default=30, help="GRPO steps per run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in both (OMP_NUM_THREADS)")
    parser.add_argument("extra", nargs="*", help="extra Hydra overrides for both sides (after --)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="r1exp-overhead-"))
    overrides, rows, model_path = prepare(work, [f"trainer.max_steps={args.steps}", *args.extra], args.steps)
    # One thread each: on a shared machine torch's thread pools otherwise spin against each other.
    env = {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}

    runs: dict[str, list[dict[str, Any]]] = {"launch.py": [], "plain TRL": []}
    for r in range(args.rounds):
        launch_timeline, plain_timeline = work / f"timeline-launch-{r}.json", work / f"timeline-plain-{r}.json"
        children = {
            "launch.py": (
                ["launch", str(launch_timeline), *overrides, f"hydra.run.dir={work / f'launch-{r}'}"],
                launch_timeline,
            ),
            "plain TRL": (
                ["plain", str(plain_timeline), str(rows), model_path, str(work / f"plain-{r}"), str(args.steps)],
                plain_timeline,
            ),
        }
        for side, data in run_side_by_side(children, env, work).items():
            runs[side].append(data)

    print(f"tiny GRPO run {overrides} through launch.py vs a plain TRL script")
    print(
        f"{args.rounds} rounds, both sides at once in each; {args.threads} torch thread(s) each; "
        f"machine: {os.cpu_count()} cores, "
    )
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'per step (steps 2..N)':<36}{'launch.py':>12}{'plain TRL':>12}{'ratio':>8}")
    ratios = {}
    for clock, clock_name in ((0, "wall"), (1, "cpu"), (2, "main-thread cpu")):
        steps = {side: [s for d in ds for s in step_times(d, clock)] for side, ds in runs.items()}
        for stat_name, stat in (("median", statistics.median), ("mean, saves included", statistics.mean)):
            ours, theirs = stat(steps["launch.py"]), stat(steps["plain TRL"])
            ratios[(clock_name, stat_name)] = ours / theirs
            label = f"{clock_name} s, {stat_name}"
            print(f"{label:<36}{ours:>12.4f}{theirs:>12.4f}{ours / theirs:>8.3f}")
    for index, kind in ((3, "voluntary"), (4, "involuntary")):
        per_step = {
            side: statistics.median(b[index] - a[index] for d in ds for a, b in itertools.pairwise(d["steps"][1:]))
            for side, ds in runs.items()
        }
        print(f"{kind + ' context switches / step':<36}{per_step['launch.py']:>12.0f}{per_step['plain TRL']:>12.0f}")
    print(f"{'whole run, wall s (median of runs)':<36}")
    for span, first, last in (
        ("start-up: spawn to step 1", "spawned", "first step begins"),
        ("training", "first step begins", "train end"),
        ("end: train end to exit", "train end", "process ended"),
        ("whole process: spawn to exit", "spawned", "process ended"),
    ):
        walls = {side: statistics.median(span_of(d, first, last) for d in ds) for side, ds in runs.items()}
        ratio = walls["launch.py"] / walls["plain TRL"]
        print(f"  {span:<34}{walls['launch.py']:>12.3f}{walls['plain TRL']:>12.3f}{ratio:>8.3f}")
    # The whole process's CPU seconds (all threads, from the kernel at exit): the work, whatever the load.
    cpus = {side: statistics.median(d["marks"][-1][2] for d in ds) for side, ds in runs.items()}
    whole_cpu = cpus["launch.py"] / cpus["plain TRL"]
    print(f"  {'whole process, cpu s':<34}{cpus['launch.py']:>12.3f}{cpus['plain TRL']:>12.3f}{whole_cpu:>8.3f}")
    whole = {side: statistics.median(span_of(d, "spawned", "process ended") for d in ds) for side, ds in runs.items()}
    whole_wall = whole["launch.py"] / whole["plain TRL"]
    same = all(same_training(work / f"launch-{r}", work / f"plain-{r}") for r in range(args.rounds))
    print(f"same training on both sides (reward and length at every step): {'yes' if same else 'NO'}")
    for side, ds in runs.items():
        print(f"\n{side}: where the time goes (first run; wall s, cpu s)")
        for label, wall, cpu in phases(ds[0]):
            print(f"  {label:<34}{wall:>8.3f}{cpu:>8.3f}")
    print(
        f"\nper-step ratio launch.py / plain TRL: {ratios[('wall', 'median')]:.3f} wall, "
        f"{ratios[('cpu', 'median')]:.3f} cpu, {ratios[('main-thread cpu', 'median')]:.3f} main-thread cpu "
        "(medians; goal <= 1.03)"
    )
    print(
        f"whole-process ratio launch.py / plain TRL: {whole_wall:.3f} wall, {whole_cpu:.3f} cpu (medians; goal <= 1.05)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "launch":
        child_launch(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 1 and sys.argv[1] == "plain":
        child_plain(*sys.argv[2:6], max_steps=int(sys.argv[6]))
    else:
        main()
