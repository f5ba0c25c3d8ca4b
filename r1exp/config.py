"""The composed config as a whole, before it becomes typed sections: nothing unknown, nothing unset.

Types are refused at compose time by the group schemas (`r1exp.schema`). Right after composition,
`check_keys` refuses a key nothing reads (Hydra's `+key=value` adds one even to a typed node),
naming the closest valid key; `CheckComposedConfig` runs it as a Hydra callback before the run dir
is written, and `r1exp.sections` runs it again when a command converts the config. A value OmegaConf
cannot resolve (a `???` left unset, an interpolation to a wrong type) is one line (`check_complete`).
What types cannot say (ranges, rules across fields) each section checks itself (r1exp/schema.py,
r1exp/sections.py).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Iterator
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from r1exp.errors import ConfigError, exit_with, one_line


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The valid name a typo most likely meant (difflib's ratio >= 0.6), or None."""
    found = difflib.get_close_matches(str(name), sorted(set(map(str, choices))), n=1)
    return found[0] if found else None


def omegaconf_line(exc: OmegaConfBaseException, section: str = "") -> str:
    """One line for an OmegaConf error met while reading the config, naming the key (a key inside
    `section` when the error was met in that section alone)."""
    from omegaconf.errors import MissingMandatoryValue

    key = getattr(exc, "full_key", None) or ""
    if section and not key.startswith(f"{section}."):
        key = f"{section}.{key}" if key else section
    if isinstance(exc, MissingMandatoryValue) and key:
        return missing_line(key)
    message = one_line(getattr(exc, "msg", None) or str(exc))
    return f"{key}: {message}; fix the value (or the one it refers to)" if key else message


def missing_line(key: str) -> str:
    return f"{key} has no value (??? in its config file): pass {key}=..."


# --- right after composition: nothing unknown -----------------------------------------------------


def chosen_groups(cfg: DictConfig | None = None) -> set[str]:
    """The config groups Hydra chose for this run (a group of the user's own included), when known."""
    choices: Any = None
    if cfg is not None and "hydra" in cfg:
        choices = OmegaConf.select(cfg, "hydra.runtime.choices")
    else:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            choices = HydraConfig.get().runtime.choices
    return {str(k) for k in (choices or {}) if not str(k).startswith("hydra/")}


def check_keys(cfg: DictConfig, groups: Iterable[str] = ()) -> None:
    """Every top-level key is one of `r1exp.schema.Root` or a chosen config group, and every key of a
    node typed by a schema is one of its fields: `+sede=3` or `+data.trian_size=5` is refused, not ignored."""
    from r1exp.schema import Root, root_keys

    known = set(root_keys()) | set(groups)
    for key in cfg:
        key = str(key)
        if key == "hydra" or key in known:
            continue
        guess = closest(key, known)
        if guess:
            raise ConfigError(f"{key} is not a config key or group of r1exp; did you mean {guess}?")
        run_keys = [f.name for f in dataclasses.fields(Root) if f.type not in ("Any", Any)]
        raise ConfigError(
            f"{key} is not a config key or group of r1exp (keys: {', '.join(run_keys)}; groups: "
            f"{', '.join(sorted(known - set(run_keys)))}); a config group of your own is found only when its "
            "folder is on hydra.searchpath=[file:///DIR] (docs/extending.md)"
        )
    for key in cfg:
        if str(key) != "hydra":
            _check_typed_keys(cfg._get_node(key), str(key), str(key))


def _check_typed_keys(node: Any, path: str, group: str) -> None:
    """Keys of a schema-typed node that its dataclass lacks (Hydra's `+` adds them past the schema)."""
    if not isinstance(node, DictConfig) or node._is_missing() or node._is_none() or node._is_interpolation():
        return
    schema = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(schema):
        fields = [f.name for f in dataclasses.fields(schema)]
        for key in node:
            if key not in fields:
                guess = closest(str(key), fields)
                hint = f"did you mean {path}.{guess}?" if guess else f"its keys: {', '.join(fields)}"
                raise ConfigError(f"{path}.{key} is not a key of {_group_label(node, group)}; {hint}")
    for key in node:
        _check_typed_keys(node._get_node(key), f"{path}.{key}", group)


def _group_label(node: DictConfig, group: str) -> str:
    name = node._get_node("name") if group == node._key() else None
    if name is not None and not name._is_missing() and not name._is_interpolation() and name._value() is not None:
        return f"{group}={name._value()}"
    return group


def missing_keys(node: Any, path: str = "") -> Iterator[str]:
    """Full keys of values left `???` under `node`."""
    if not isinstance(node, DictConfig) or node._is_none() or node._is_interpolation():
        return
    for key in node:
        full = f"{path}.{key}" if path else str(key)
        if OmegaConf.is_missing(node, key):
            yield full
        else:
            yield from missing_keys(node._get_node(key), full)


def check_complete(cfg: DictConfig, sections: Iterable[str] | None = None, resolve: bool = True) -> None:
    """No `???` left in `sections` (all but hydra when None), and (`resolve`) every interpolation resolves."""
    names = [str(k) for k in cfg if str(k) != "hydra"] if sections is None else list(sections)
    for section in names:
        if section not in cfg:
            continue
        if OmegaConf.is_missing(cfg, section):
            raise ConfigError(missing_line(section))
        for key in missing_keys(cfg._get_node(section), section):
            raise ConfigError(missing_line(key))
        if not resolve:
            continue
        node = cfg._get_node(section)
        try:
            if isinstance(node, (DictConfig, ListConfig)):
                OmegaConf.to_container(node, resolve=True)
            else:
                # Reading a scalar resolves its interpolation, if any.
                cfg[section]
        except OmegaConfBaseException as exc:
            raise ConfigError(omegaconf_line(exc)) from None


def check_searchpath(searchpath: Iterable[str] | None) -> None:
    """Every `hydra.searchpath` entry exists: a mistyped folder would leave a task's group unfound."""
    import importlib.util
    from pathlib import Path

    for entry in searchpath or ():
        scheme, _, where = str(entry).partition("://")
        if scheme == "file" and not Path(where).is_dir():
            raise ConfigError(
                f"hydra.searchpath entry {entry} is not a folder; give the folder that holds your config "
                "groups, hydra.searchpath=[file:///abs/path/to/conf] (docs/extending.md)"
            )
        if scheme == "pkg" and importlib.util.find_spec(where.replace("/", ".").split(".")[0]) is None:
            raise ConfigError(f"hydra.searchpath entry {entry}: no package {where} on the Python path")


class CheckComposedConfig(Callback):
    """Hydra callback: an API key pasted as `judge.openai.api_key_env`, a search path that does not
    exist or an unknown key stops the launch with one line before Hydra creates the run dir.

    `on_run_start`/`on_multirun_start` run before Hydra writes `multirun.yaml`, a launcher's job files
    or prints a sweep's jobs, so a key pasted into the config never reaches the disk or the console.
    Hydra turns a callback's exception into a warning, so the refusal exits here (status 2), as
    `r1exp.errors.guard` would.
    """

    def _check(self, config: DictConfig) -> None:
        from r1exp.tasks.zh_general.judge import refuse_key_in_config

        try:
            refuse_key_in_config(config)
            check_searchpath(OmegaConf.select(config, "hydra.searchpath"))
            check_keys(config, chosen_groups(config))
        except ConfigError as exc:
            exit_with(exc)
        except OmegaConfBaseException as exc:
            exit_with(ConfigError(omegaconf_line(exc)))

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)
