"""cmd=train: GRPO with TRL's GRPOTrainer from the composed config: check, build, train, finish.

The steps are r1exp.training's; the features (curriculum, reference-guided groups, periodic eval,
samples, wandb, cold start) are plug-ins listed by `features:` (r1exp/features/), so this file names
none of them.

A relaunch into a run dir changes nothing of the run until every refusal has had its chance (the
lock, the run's own configuration, the values, the checkpoint, the model's weights); see `run`. With
no usable checkpoint the run starts over at step 1 with its earlier logs kept aside, so every step
appears once in every log. Resume is from the newest checkpoint r1exp marked complete and whose files
are whole (r1exp/tracking/checkpoints.py). Ctrl-C and SIGTERM (outside Slurm) end with one line naming
the step and the last checkpoint (`Interrupted`, recorded by the task wrapper); NaN or infinite
numbers right after a resume are one line naming the checkpoint they came from.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig

from r1exp import training
from r1exp.distributed import on_rank0, world
from r1exp.errors import Interrupted, one_line
from r1exp.sections import Sections
from r1exp.tracking import manifest, rundir
from r1exp.tracking.checkpoints import NonFiniteAfterResume, checkpoint_step, non_finite_line


def run_dir() -> Path:
    return Path(HydraConfig.get().runtime.output_dir)


def run(s: Sections) -> dict[str, Any]:
    """Own the run dir, check, build (data, model, rewards, trainer), wire callbacks, train, finish.

    Nothing of an existing run is changed before every refusal had its chance: the lock, the run's
    own configuration (`rundir.check_relaunch`), the config values and the machine, the checkpoint to
    resume from, the model (its weights must be the run's). Only then does this launch own the run's
    records (`rundir.own_records`: .hydra/, launch.log, status.json) and touch its logs.
    """
    from hydra.types import RunMode
    from transformers import set_seed

    from r1exp.tracking.console import progress
    from r1exp.tracking.timing import StepTimer

    out = run_dir()
    is_main = world()[0] == 0
    # One process group owns the run dir: a second launch into it gets one line naming the owner.
    lock = rundir.own_run_dir(out)
    trainer, ckpt = None, None
    try:
        # The run dir holds one experiment: a relaunch composes the run's own configuration.
        relaunch = on_rank0(lambda: rundir.check_relaunch(out, s.composed))
        previous = relaunch.previous
        if previous is None:
            rundir.own_records()  # a new run: its records are this launch's from the start
        if relaunch.finished:
            return rundir.skip(out, is_main)
        hydra = HydraConfig.get()
        run, features = training.check(s, out, list(hydra.overrides.hydra), hydra.mode == RunMode.MULTIRUN)
        # Checkpoints that cannot be loaded are set aside first; a run killed after its last checkpoint
        # trains no step. Rank 0 reads the run dir and decides; every rank gets its decision.
        plan = on_rank0(lambda: rundir.plan_resume(out, run.cfg.trainer.max_steps))
        ckpt = plan.checkpoint
        if plan.finish_only:
            rundir.own_records()
            return rundir.finish_from_checkpoint(out, ckpt, is_main)

        set_seed(run.cfg.seed)
        training.build_data(run, features)
        model = training.build_model(run, features, previous)
        run.timer = StepTimer()
        trainer = training.build_trainer(run, features, model)
        # Every refusal has had its chance: from here on the run is this launch's.
        rundir.own_records()
        console = training.wire_callbacks(run, features)
        record = training.start_record(run, model, previous)
        if ckpt is not None:
            training.prepare_resume(run, features, ckpt, record, is_main)
        elif previous is not None:
            training.start_over(out, record, is_main)
        # After start_over: a run that starts over is, for instance, a new wandb run.
        for feature in features:
            feature.before_train(run)
        record["finished"] = False
        if is_main:
            manifest.write(out, record)

        with progress(console):
            trainer.train(resume_from_checkpoint=str(ckpt) if ckpt is not None else None)
        return training.finish(run, features, record, console, is_main, ckpt)
    except KeyboardInterrupt as exc:
        # Ctrl-C, or SIGTERM outside Slurm (r1exp.cmd): the task wrapper prints this line and records it.
        step = trainer.state.global_step if trainer is not None else None
        signame = "SIGTERM" if isinstance(exc, Interrupted) and exc.signum == signal.SIGTERM else "Ctrl-C"
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        raise Interrupted(rundir.interrupted_line(out, step, signame), signum) from None
    except RuntimeError as exc:
        # e.g. torch.multinomial's "probability tensor contains either `inf`, `nan` or element < 0".
        right_after = ckpt is not None and trainer is not None
        limit = checkpoint_step(ckpt) + training.AFTER_RESUME_STEPS if right_after else -1
        if right_after and trainer.state.global_step <= limit and training.non_finite(exc):
            raise NonFiniteAfterResume(non_finite_line(ckpt, one_line(str(exc)))) from exc
        raise
    finally:
        # Also on failure: a sweep runs its next job in this process, and a relaunch must not wait.
        if lock is not None:
            lock.release()
