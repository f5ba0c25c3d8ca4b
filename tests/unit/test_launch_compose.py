"""launch.py composes a single run's config once, and it is the config Hydra's own two compositions give
(what the job runs with and saves in .hydra/); sweeps and broken configs take Hydra's own path."""

import runpy

import pytest
from hydra import version
from hydra._internal.hydra import Hydra
from hydra._internal.utils import create_automatic_config_search_path
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from tests.conftest import ROOT


def run_config(overrides: list[str], multirun: bool = False) -> tuple[dict, int, RunMode | None]:
    """What hydra._internal.utils._run_hydra composes for `python launch.py [-m] OVERRIDES`:
    (the job's config, unresolved, with its hydra node; compositions made; the mode get_mode read)."""
    GlobalHydra.instance().clear()
    version.setbase("1.3")  # as launch.py's @hydra.main(version_base="1.3") sets it
    search_path = create_automatic_config_search_path(None, None, str(ROOT / "conf"))
    hydra = Hydra.create_main_hydra2(task_name="launch", config_search_path=search_path)
    loader = hydra.config_loader
    made = []
    compose = loader.load_configuration

    def counted(*args, **kwargs):
        made.append(1)
        return compose(*args, **kwargs)

    loader.load_configuration = counted
    try:
        overrides = list(overrides)
        mode = hydra.get_mode(config_name="config", overrides=overrides)
        if mode is None:
            overrides.append(f"hydra.mode={'MULTIRUN' if multirun else 'RUN'}")
        run_mode = RunMode.MULTIRUN if multirun or mode == RunMode.MULTIRUN else RunMode.RUN
        cfg = hydra.compose_config(config_name="config", overrides=overrides, run_mode=run_mode)
        return OmegaConf.to_container(cfg, resolve=False), len(made), mode
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture
def composing_once(monkeypatch):
    """launch.py's compose_once applied (as `python launch.py` applies it), undone after the test."""
    monkeypatch.setattr(Hydra, "get_mode", Hydra.get_mode)
    runpy.run_path(str(ROOT / "launch.py"), run_name="launch")["compose_once"]()


CASES = [
    ["+experiment=smoke"],
    ["+experiment=smoke", "trainer.max_steps=3", "hydra.run.dir=somewhere", "hydra.job.chdir=false"],
    ["hydra.mode=RUN", "seed=3"],
]


@pytest.mark.parametrize("overrides", CASES)
def test_a_single_run_is_composed_once_into_hydras_own_config(overrides, request):
    hydras, made, mode = run_config(overrides)
    assert made == 2
    request.getfixturevalue("composing_once")
    ours, made_once, mode_once = run_config(overrides)
    assert made_once == 1
    assert (ours, mode_once) == (hydras, mode)
    assert ours["hydra"]["mode"] == RunMode.RUN and "hydra.mode=RUN" in ours["hydra"]["overrides"]["hydra"]


@pytest.mark.parametrize(
    "overrides, multirun", [(["seed=1,2"], True), (["+experiment=smoke"], True), (["hydra.mode=MULTIRUN"], False)]
)
def test_sweeps_get_hydras_own_multirun_config(overrides, multirun, request):
    hydras = run_config(overrides, multirun)
    request.getfixturevalue("composing_once")
    ours = run_config(overrides, multirun)
    assert (ours[0], ours[2]) == (hydras[0], hydras[2])


def test_a_config_that_does_not_compose_fails_as_it_does_in_hydra(composing_once):
    with pytest.raises(ConfigCompositionException, match="Could not override 'nope'"):
        run_config(["nope=1"])
