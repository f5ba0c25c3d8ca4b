"""One run dir, one experiment: a relaunch must compose the configuration the run was trained with.

The run's own configuration is the resolved config in its manifest.json (written before its first
step). A relaunch resolves its composed config the same way and compares every key, except the keys
in `MAY_CHANGE_ON_RESUME` (the one place that lists them; a key or group added later is compared
until it is listed here). A difference is refused with one line naming each changed key and both
values; a changed group (its `name` differs, e.g. `lora=r8` onto a full fine-tune) is named once as
`group: old -> new` rather than key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from r1exp.errors import UserError

# Keys (a dotted key, or a group/prefix covering every key below it) that may differ between the
# launches of one run, because they do not change what is trained. Each needs its reason.
MAY_CHANGE_ON_RESUME: dict[str, str] = {
    # Where training stops: raise it to train further (a finished run then resumes), lower it to stop early.
    "trainer.max_steps": "where training stops, not how",
    # Checkpoint cadence and rotation: saving draws no random numbers and changes no update.
    "trainer.save_steps": "checkpoint cadence",
    "trainer.save_total_limit": "how many checkpoints are kept",
    # What a launch does and how it treats the run dir, not what the run is.
    "cmd": "the command of this launch",
    "resume": "how this launch treats existing checkpoints",
    # Logging only: what is written where (jsonl, wandb, samples); no number of the run changes.
    "logger": "what is logged and where",
    # Greedy evaluation on held-out prompts: measurement only, it draws no random numbers.
    "periodic_eval": "measurement only (greedy, no sampling)",
    # Where the run executes: Slurm or this process, and the memory cap of the card.
    "launcher": "where the job runs",
    "hardware.nodes": "process placement",
    "hardware.processes_per_node": "process placement",
    "hardware.gpus_per_node": "what Slurm is asked for",
    "hardware.vllm_server_gpus": "what Slurm is asked for",
    "hardware.max_memory_gb": "an allocator cap (memory, not numbers)",
    "hardware.name": "a preset's name; its values that matter are compared one by one",
    # Caches and weights that are checked by content: the reference hash in manifest.json must match.
    "model.path": "the weights are checked by content (manifest.json reference_hash)",
    "model.cache_dir": "where built tiny models are cached",
    "judge.openai.cache_dir": "where judge replies are cached",
    # The judge endpoint may move (a new server for the same judge model); the model name is compared.
    "judge.openai.base_url": "where the same judge model is served",
    "judge.openai.api_key_env": "which variable holds the key",
    "judge.openai.concurrency": "requests in flight",
    "judge.openai.timeout_s": "how long to wait for a reply",
    "judge.openai.retries": "how often to retry a failed request",
    "judge.openai.backoff_s": "the wait between retries",
    "judge.openai.max_backoff_s": "the wait between retries",
    # Where vLLM's server listens and how long to wait for it.
    "generation.vllm_server_base_url": "where the rollout server listens",
    "generation.vllm_server_timeout": "how long to wait for the rollout server",
}

# Longest value shown in the refusal line.
_SHOWN = 40


class ConfigChanged(UserError):
    """A relaunch composed another experiment than the one its run dir holds."""


def may_change(key: str) -> bool:
    """Whether `key` (dotted) is in MAY_CHANGE_ON_RESUME, itself or under a listed prefix."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in MAY_CHANGE_ON_RESUME for n in range(1, len(parts) + 1))


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf value (lists are leaves) of a plain nested dict."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


_ABSENT = object()


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(key, old value, new value) for every compared key that differs; a changed group counts once.

    A key present on one side only has the marker `_ABSENT` on the other.
    """
    flat_old, flat_new = flatten(old), flatten(new)
    changed = [
        (key, flat_old.get(key, _ABSENT), flat_new.get(key, _ABSENT))
        for key in sorted(set(flat_old) | set(flat_new))
        if not may_change(key) and _differ(flat_old.get(key, _ABSENT), flat_new.get(key, _ABSENT))
    ]
    # Groups whose option changed: `lora: none -> r8` stands for every key below `lora`.
    groups = {key[: -len(".name")] for key, _, _ in changed if key.endswith(".name")}
    out = []
    for key, a, b in changed:
        group = _group_of(key, groups)
        if group is None:
            out.append((key, a, b))
        elif key == f"{group}.name":
            out.append((group, a, b))
    return out


def _group_of(key: str, groups: set[str]) -> str | None:
    """The outermost changed group `key` lies in, or None."""
    for group in sorted(groups, key=len):
        if key.startswith(group + "."):
            return group
    return None


def _differ(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is not type(b) or a != b
    # 1 and 1.0 are one value (a YAML int against a float from the command line).
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) != float(b)
    return a != b


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value) if isinstance(value, str) and (not value or " " in value) else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def describe(changes: list[tuple[str, Any, Any]]) -> str:
    """`key: old -> new` for each change, joined on one line."""
    return "; ".join(f"{key}: {_show(a)} -> {_show(b)}" for key, a, b in changes)


def override_keys(overrides: Any) -> set[str]:
    """The dotted keys a list of Hydra overrides names (`+reward.terms.x={...}` -> `reward.terms.x`)."""
    keys = set()
    for item in overrides or ():
        key = str(item).split("=", 1)[0].lstrip("+~").strip()
        if key:
            keys.add(key.split("@", 1)[0])
    return keys


def _named_by(key: str, named: set[str]) -> bool:
    """Whether an override in `named` set `key` or a group/node above it."""
    parts = key.split(".")
    return any(".".join(parts[:n]) in named for n in range(1, len(parts) + 1))


def check_same_experiment(
    run_dir: Any, recorded: Mapping[str, Any], composed: Mapping[str, Any], named: set[str] | None = None
) -> None:
    """Refuse a relaunch whose composed config differs from the run's own (see the module docstring).

    A key on one side only that no override of either launch named (`named`: both launches' override
    keys) comes from the code, not the user: a newer r1exp added or dropped a setting with its default.
    That is one warning line, not a refusal, so a run started before an upgrade can still resume; a key
    an override added (`+reward.terms.len=...`) or removed is an experiment change and refused. With
    `named` None every difference is refused.
    """
    changes = differences(recorded, composed)
    if named is not None:
        drift = [c for c in changes if (c[1] is _ABSENT or c[2] is _ABSENT) and not _named_by(c[0], named)]
        if drift:
            import sys

            print(
                f"r1exp: warning: run dir {run_dir}: this version of r1exp adds or drops settings the run did not "
                f"record ({describe(drift)}); resuming with their defaults",
                file=sys.stderr,
            )
        changes = [c for c in changes if c not in drift]
    if changes:
        raise ConfigChanged(
            f"run dir {run_dir} was trained with another configuration: {describe(changes)}; relaunch with "
            "the run's values (its .hydra/overrides.yaml), or pass another hydra.run.dir for a new run "
            "(keys that may change on resume are listed in r1exp/tracking/identity.py)"
        )
