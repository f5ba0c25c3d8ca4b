"""`${r1exp.run_name:}`: a run dir's name after what ran, for `hydra.run.dir`.

`cmd=train` keeps `<model>_<data>`; the other commands start with their name and say what they
looked at: `eval_<run or checkpoint or model>[_<bench>]`, `score_<input file>`,
`plan_<model>_<data>`, `compare`. cmd=eval of a run dir takes the run's own data from its config
when it runs, so only a `bench=` it names is part of the name. Names keep letters, digits, `.`, `_`
and `-` (anything else becomes `_`).

Hydra imports every module of `hydra_plugins` when it starts, so the resolver is registered before
any config is composed or a run dir named.
"""

import re
from pathlib import PurePath
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

RESOLVER = "r1exp.run_name"
# Characters a name keeps; the rest become "_" (allow-list: no path separators, spaces or shell syntax).
UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_CHARS = 100


def _get(cfg: Any, key: str) -> Any:
    """A value of the composed config, or None when it is absent, missing (???) or does not resolve."""
    try:
        return OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    except OmegaConfBaseException:
        # An interpolation that cannot resolve here: the command reports it with its own error.
        return None


def _clean(part: Any) -> str:
    return UNSAFE.sub("_", str(part)).strip("._-")


def checkpoint_label(checkpoint: str) -> str:
    """`RUN` for a run dir, `RUN-checkpoint-N`/`RUN-final` for one of its checkpoints, else the folder's name."""
    path = PurePath(str(checkpoint).rstrip("/\\") or ".")
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}-{path.name}"
    return path.name


def run_name(cfg: Any) -> str:
    """The run dir's name (after the time) for the composed config `cfg`."""
    command = _get(cfg, "cmd.name") or "train"
    model, data = _get(cfg, "model.name"), _get(cfg, "data.name")
    bench = _get(cfg, "bench.name")
    bench = None if bench in (None, "none") else bench
    if command == "train":
        parts = [model, data]
    elif command == "eval":
        checkpoint = _get(cfg, "cmd.checkpoint")
        subject = checkpoint_label(checkpoint) if checkpoint not in (None, "") else model
        # Without a checkpoint the composed data is what is evaluated; with one, the run's own.
        evaluated = bench or (None if checkpoint not in (None, "") else data)
        parts = [command, subject, evaluated]
    elif command == "score":
        source = _get(cfg, "cmd.input")
        parts = [command, PurePath(str(source)).stem if source else None]
    elif command == "plan":
        parts = [command, model, data]
    else:
        parts = [command]
    name = "_".join(p for p in (_clean(x) for x in parts if x not in (None, "")) if p)
    return name[:MAX_CHARS] or _clean(command) or "run"


def _resolve(*, _root_: Any) -> str:
    return run_name(_root_)


OmegaConf.register_new_resolver(RESOLVER, _resolve, replace=True)
