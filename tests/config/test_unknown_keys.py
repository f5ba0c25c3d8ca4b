"""Nothing unknown is accepted: a key or config group r1exp does not know is refused right after
composition, in one line naming it and the closest valid name, before anything is written.

Hydra's `+key=value` adds a key even where a schema types the node, so these run as a check on the
composed config (`r1exp.config.check_keys`): in every command, and as a Hydra callback before the
run dir exists.
"""

from __future__ import annotations

import copy
import functools
import string

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf, open_dict

from r1exp.config import CheckComposedConfig, check_keys, check_searchpath, closest
from r1exp.errors import ConfigError
from r1exp.schema import root_keys
from r1exp.sections import Sections
from tests.conftest import CONF, ROOT, compose

SETTINGS = settings(derandomize=True, deadline=None, max_examples=60)
TASK = ROOT / "tests" / "fixtures" / "sort_task"
NAMES = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)


@functools.cache
def smoke():
    return compose(["hardware=cpu", "model=tiny", "+experiment=smoke"])


def added(cfg, key: str, value=1):
    """`cfg` with `+key=value` applied the way Hydra applies it (force-added, past any schema)."""
    changed = copy.deepcopy(cfg)
    OmegaConf.update(changed, key, value, merge=True, force_add=True)
    return changed


def test_the_root_keys_are_the_groups_and_keys_of_conf_config_yaml():
    primary = OmegaConf.load(CONF / "config.yaml")
    groups = {next(iter(d)) for d in primary.defaults if isinstance(d, dict) or OmegaConf.is_dict(d)}
    # A schema placed at a key (`/schema/contamination/contamination@contamination`) sets that key.
    placed = {d.rpartition("@")[2] for d in primary.defaults if isinstance(d, str) and "@" in d}
    own = set(primary) - {"defaults", "hydra"}
    assert set(root_keys()) == groups | placed | own
    assert set(smoke()) <= set(root_keys())


@SETTINGS
@given(name=NAMES.filter(lambda n: n not in root_keys()))
def test_any_unknown_top_level_key_is_refused_naming_it(name):
    with pytest.raises(ConfigError) as err:
        check_keys(added(smoke(), name))
    message = str(err.value)
    assert message.startswith(f"{name} is not a config key or group of r1exp") and "\n" not in message


@SETTINGS
@given(data=st.data())
def test_a_typo_of_a_known_key_names_the_key_it_meant(data):
    key = data.draw(st.sampled_from([k for k in root_keys() if len(k) >= 4]))
    i = data.draw(st.integers(0, len(key) - 2))
    typo = key[:i] + key[i + 1] + key[i] + key[i + 2 :]  # two neighbours swapped
    if typo in root_keys() or closest(typo, root_keys()) != key:
        return  # the swap made another valid name, or one nearer to another key
    with pytest.raises(ConfigError, match=rf"^{typo} is not a config key or group of r1exp; did you mean {key}\?$"):
        check_keys(added(smoke(), typo))


def test_plus_sede_is_refused_at_compose_time_with_the_closest_name():
    cfg = compose(["+sede=3"])
    with pytest.raises(ConfigError, match=r"^sede is not a config key or group of r1exp; did you mean seed\?$"):
        Sections(cfg).check("score")


@SETTINGS
@given(name=NAMES)
def test_an_unknown_key_in_a_typed_group_is_refused(name):
    fields = set(OmegaConf.get_type(smoke().data).__dataclass_fields__)
    if name in fields:
        return
    with pytest.raises(ConfigError) as err:
        check_keys(added(smoke(), f"data.{name}"))
    assert str(err.value).startswith(f"data.{name} is not a key of data=countdown")


def test_a_typed_nested_node_refuses_a_typo_too():
    with pytest.raises(
        ConfigError, match=r"data\.trian_size is not a key of data=countdown; did you mean data\.train_size"
    ):
        check_keys(compose(["+data.trian_size=5"]))
    with pytest.raises(ConfigError, match=r"judge\.openai\.timeuot_s .*did you mean judge\.openai\.timeout_s"):
        check_keys(compose(["+judge.openai.timeuot_s=5"]))


def test_untyped_places_still_take_new_keys():
    # A reward term added from the command line, and a data file of the user's own (no schema).
    cfg = compose(["+reward.terms.len={fn:length,weight:0.1,kwargs:{max_length:32}}"])
    check_keys(cfg)
    Sections(cfg).check("score")


def test_a_task_without_its_search_path_is_refused_not_trained_as_countdown():
    cfg = compose(["hardware=cpu", "model=tiny", "+task=sort_numbers", "+experiment=smoke"])
    with pytest.raises(ConfigError) as err:
        Sections(cfg).check("train")
    message = str(err.value)
    assert message.startswith("task is not a config key or group of r1exp") and "hydra.searchpath" in message
    with pytest.raises(ConfigError, match=r"^task is not"):
        Sections(compose(["hydra.searchpath=[file:///no/such/dir]", "+task=sort_numbers"])).check("train")


def test_a_task_on_its_search_path_passes_and_replaces_the_data(monkeypatch):
    monkeypatch.syspath_prepend(str(TASK))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(
            "config",
            overrides=[f"hydra.searchpath=[file://{TASK / 'conf'}]", "+task=sort_numbers", "+experiment=smoke"],
            return_hydra_config=True,
        )
    check_keys(cfg, ["task"])
    task_cfg = copy.deepcopy(cfg)
    with open_dict(task_cfg):
        del task_cfg["hydra"]
    Sections(task_cfg).check("train")
    assert task_cfg.data.name == "sort_numbers"


def test_a_group_of_the_users_own_with_its_own_package_is_a_known_key():
    cfg = added(smoke(), "task", {"name": "x"})
    with pytest.raises(ConfigError):
        check_keys(cfg)
    check_keys(cfg, ["task"])  # Hydra chose a `task` group: its key is expected


def test_the_callback_refuses_before_the_run_dir_exists(tmp_path, capsys):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(
            "config", overrides=["+sede=3", f"hydra.run.dir={tmp_path / 'run'}"], return_hydra_config=True
        )
    with pytest.raises(SystemExit) as done:
        CheckComposedConfig().on_run_start(config=cfg)
    assert done.value.code == 2 and not (tmp_path / "run").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["r1exp: error: sede is not a config key or group of r1exp; did you mean seed?"]
    CheckComposedConfig().on_run_start(config=hydra_compose_ok(tmp_path))


def hydra_compose_ok(tmp_path):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=[f"hydra.run.dir={tmp_path / 'run'}"], return_hydra_config=True)


def test_launch_runs_the_check_before_hydra_writes_the_run_dir():
    callbacks = OmegaConf.load(CONF / "config.yaml").hydra.callbacks
    targets = [c._target_ for c in callbacks.values()]
    assert "r1exp.config.CheckComposedConfig" in targets
    # First: a bad key is refused before r1exp looks at the run dir.
    assert targets[0] == "r1exp.config.CheckComposedConfig"


def test_a_search_path_that_does_not_exist_is_refused(tmp_path):
    check_searchpath([f"file://{TASK / 'conf'}", "pkg://r1exp"])
    for entry in (f"file://{tmp_path / 'no_such_conf'}", "pkg://no_such_package_r1exp/conf"):
        with pytest.raises(ConfigError, match=rf"^hydra\.searchpath entry {entry}"):
            check_searchpath([entry])


def test_the_callback_refuses_a_mistyped_search_path_in_one_line(tmp_path, capsys):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose(
            "config",
            overrides=[f"hydra.searchpath=[file://{tmp_path / 'cnof'}]", "+task=sort_numbers"],
            return_hydra_config=True,
        )
    with pytest.raises(SystemExit) as done:
        CheckComposedConfig().on_run_start(config=cfg)
    assert done.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"r1exp: error: hydra.searchpath entry file://{tmp_path / 'cnof'} is not a folder")
