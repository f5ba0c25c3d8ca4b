"""Evaluation sets: which rows a run is judged on (`bench=` or the data's test split), and the guards
that keep them out of training (an evaluation set is never trained on; a bench is scored by its own
task's reward; the train split is checked for copies of every evaluation set of the run's task).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from r1exp.errors import ConfigError
from r1exp.tasks.base import Task, question_key

if TYPE_CHECKING:
    from r1exp.sections import Sections

DATA_DIR_ENV = "R1EXP_DATA_DIR"


def check_trainable(data: Any) -> None:
    """Refuse to train on an evaluation set: an `eval_only` option, or a file in $R1EXP_DATA_DIR."""
    import os
    from pathlib import Path

    name = data.get("name")
    fix = (
        "train on a training option (data=math, data=gsm8k_train, data=countdown, data=zh_general "
        f"data.path=FILE, ...) and evaluate on it with bench={name}"
    )
    if data.get("eval_only"):
        raise ConfigError(f"data={name} is an evaluation set (data.eval_only=true): training on it is refused; {fix}")
    path, folder = data.get("path"), os.environ.get(DATA_DIR_ENV)
    if path and folder and Path(folder).is_dir():
        from hydra.utils import to_absolute_path

        file = Path(to_absolute_path(str(Path(str(path)).expanduser()))).resolve()
        if file.is_relative_to(Path(folder).resolve()):
            raise ConfigError(
                f"data.path={path} is in {DATA_DIR_ENV}, the folder of evaluation data: training on it is refused; "
                "train on a training set (data=math, data=gsm8k_train, or your own file outside that folder)"
            )


def check_bench_reward(s: Sections) -> None:
    """A bench is scored by its task's correctness reward: the run's accuracy term must be it."""
    name = s.bench_name
    wanted = s.bench.get("scored_by") if name else None
    if not wanted:
        return
    reward = s.reward
    term = reward.terms.get(reward.accuracy_term) if reward.accuracy_term else None
    ref = term.get("fn") if term else None
    if ref != wanted:
        raise ConfigError(
            f"bench={name} is scored by {wanted}, but reward={reward.name} counts accuracy with "
            f"{ref or 'no term'}; pick the reward of that task (e.g. reward=math for math sets)"
        )


def bench_rows(s: Sections) -> list[dict]:
    """The rows of the run's `bench=` set (all of it), prompts rendered with the run's template."""
    from r1exp.tasks import build_splits

    return build_splits(s.bench, s.template)[1] if s.bench_name else []


def problem_text(row: dict, task: Task | None = None) -> str:
    """What the contamination guard compares for `row`: its task's problem key (without a task, the
    question text, the key of every task but Countdown)."""
    return (task.problem_key if task is not None else question_key)(row)


def bench_config(name: str, seed: int) -> Any:
    """The `bench=NAME` option's data section, as a run with `seed` composes it (inside a running Hydra app, or
    from the repo's conf/).

    The group alone is composed, not the whole config: the only key of the rest a bench option reads is
    `seed` (through its data option's `${seed}`), given here. A set's rows do not depend on it (a file is
    read whole; the generated Countdown set fixes its own seed), but the config equals the run's own.
    """
    from pathlib import Path

    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from r1exp.schema import data_section

    overrides = [f"+bench={name}", f"+seed={int(seed)}"]
    if GlobalHydra.instance().is_initialized():
        return data_section(compose(config_name=None, overrides=overrides).bench, "bench")
    conf = Path(__file__).resolve().parents[1] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return data_section(compose(config_name=None, overrides=overrides).bench, "bench")


def eval_set_rows(name: str, template: Any, seed: int = 0) -> tuple[list[dict] | None, str | None]:
    """(rows, None) of the evaluation set `name`, or (None, why) when it is not available here."""
    return _bench_set_rows(bench_config(name, seed), template)


def _bench_set_rows(bench: Any, template: Any) -> tuple[list[dict] | None, str | None]:
    """(rows, None) of a composed `bench=` config, or (None, why) when its data is not available here."""
    import os
    from pathlib import Path

    from hydra.utils import to_absolute_path

    from r1exp.tasks import build_splits

    path = bench.get("path")
    if path is not None:
        # Relative paths are relative to where the user launched (Hydra's own rule; cwd outside Hydra).
        file = Path(to_absolute_path(str(Path(str(path)).expanduser())))
        if not file.is_file():
            return None, f"no file {path} (set {DATA_DIR_ENV}; now {os.environ.get(DATA_DIR_ENV)!r})"
    elif bench.get("hub"):
        # The guard never downloads: a hub-only set is checked only when the run names it with bench=.
        return None, f"hub dataset {bench.hub}, not a local file"
    return build_splits(bench, template)[1], None


def contamination_record(s: Sections, train_rows: Sequence[dict], eval_sets: dict[str, Sequence[dict]]) -> dict:
    """Check the train split against the given sets and every available evaluation set of its task.

    The given sets are rows of the run's own task, except `bench=NAME` for the run's bench, whose rows
    are its data config's task; each evaluation set of the task (`Task.eval_sets`) is read through its
    bench config, whose `source` names its task. Every set's problems are keyed by its own task
    (`Task.problem_key`, compared whole where `Task.exact_match_only`).

    Refused above `contamination.max_fraction` of any set; the returned record (manifest.json) lists
    every set checked, with its counts, and the sets skipped, with the reason.
    """
    from r1exp.common.contamination import NGRAM, check
    from r1exp.tasks import task_of

    # Its values are checked by their schema (r1exp.schema.Contamination) when the sections are.
    min_overlap, max_fraction = s.contamination.min_overlap, s.contamination.max_fraction
    task = task_of(s.data)
    bench = s.bench_name
    sets: dict[str, tuple[Task, list[dict]]] = {
        name: (task_of(s.bench) if bench and name == f"bench={bench}" else task, list(rows))
        for name, rows in eval_sets.items()
        if rows
    }
    skipped: dict[str, str] = {}
    if train_rows:
        for name in task.eval_sets:
            if name in sets or f"bench={name}" in sets:
                continue
            config = bench_config(name, s.seed)
            rows, why = _bench_set_rows(config, s.template)
            if rows:
                sets[name] = (task_of(config), rows)
            else:
                skipped[name] = why or "empty"
    counts = check(
        [task.problem_key(r) for r in train_rows],
        {name: [owner.problem_key(r) for r in rows] for name, (owner, rows) in sets.items()},
        min_overlap=min_overlap,
        max_fraction=max_fraction,
        exact_only=[name for name, (owner, _) in sets.items() if owner.exact_match_only],
    )
    # The n-gram size is part of the measured method (docs/benchmarks.md), not a setting: recorded as used.
    record = {"ngram": NGRAM, "min_overlap": min_overlap, "max_fraction": max_fraction}
    return {**record, "sets": counts, "skipped": skipped}
