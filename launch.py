"""Entry point: `python launch.py [overrides]`. Hydra composes conf/; r1exp.cmd runs the command."""

import warnings
from typing import Any

import hydra
from omegaconf import DictConfig

from r1exp.common import startup_gc
from r1exp.errors import guard


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from r1exp.cmd import run

    try:
        return run(cfg)
    finally:
        startup_gc.end()  # a sweep's next jobs run with CPython's own collections


def compose_once() -> None:
    """Compose a single run's config once, not twice.

    Hydra composes the whole config to read `hydra.mode` (`Hydra.get_mode`, in multirun mode), then
    again to run the job (in run mode, with `hydra.mode=RUN` added when the config leaves it unset):
    0.15 s each. Here the first composition is the run's own: composed in run mode with the
    command-line overrides, `hydra.mode=RUN` applied as Hydra applies that override, and handed to the
    run's composition when its arguments are exactly those. Anything else (sweep overrides, --multirun,
    a config that does not compose) takes Hydra's own path, errors included.
    """
    try:
        from hydra._internal.hydra import Hydra
        from hydra.types import RunMode
        from omegaconf import OmegaConf
    except ImportError:  # another Hydra: its own path
        return
    hydra_get_mode = getattr(Hydra, "get_mode", None)
    if hydra_get_mode is None or getattr(hydra_get_mode, "composes_once", False):
        return

    def get_mode(self: Any, config_name: str | None, overrides: list[str]) -> Any:
        loader = self.config_loader
        try:
            cfg = loader.load_configuration(config_name=config_name, overrides=list(overrides), run_mode=RunMode.RUN)
        except Exception:
            return hydra_get_mode(self, config_name, overrides)
        mode = cfg.hydra.mode
        if mode is None:
            # hydra._internal.utils._run_app adds this override for a single run; _load_configuration_impl
            # applies it like any other (OmegaConf.update) and lists it last among the hydra overrides.
            OmegaConf.update(cfg, "hydra.mode", "RUN", merge=True)
            cfg.hydra.overrides.hydra.append("hydra.mode=RUN")
            expected = [*overrides, "hydra.mode=RUN"]
        elif mode == RunMode.RUN:
            expected = list(overrides)
        else:
            return mode
        compose, composed_name = loader.load_configuration, config_name

        def load_configuration(
            config_name: str | None,
            overrides: list[str],
            run_mode: Any,
            from_shell: bool = True,
            validate_sweep_overrides: bool = True,
        ) -> DictConfig:
            del loader.load_configuration  # only the next composition can be the run's
            asked = (config_name, list(overrides), run_mode, from_shell, validate_sweep_overrides)
            if asked == (composed_name, expected, RunMode.RUN, True, True):
                return cfg
            return compose(config_name, overrides, run_mode, from_shell, validate_sweep_overrides)

        loader.load_configuration = load_configuration
        return mode

    get_mode.composes_once = True
    Hydra.get_mode = get_mode


if __name__ == "__main__":
    from r1exp.tracking.launchlog import capture_console

    # Before Hydra sets up logging: everything printed goes to the run dir's launch.log too.
    capture_console()
    # r1exp refuses a hydra.searchpath entry that does not exist in one line (r1exp.config.check_searchpath);
    # Hydra's own two-line warning would stand above it.
    warnings.filterwarnings(
        "ignore", message=r"provider=hydra\.searchpath in .* is not available", category=UserWarning
    )
    compose_once()
    # The collector walks the libraries' objects once while they are imported, and not again at exit
    # (about 1 s each; r1exp/common/startup_gc.py).
    startup_gc.freeze_imports()
    startup_gc.skip_final_collection()
    guard(main)
