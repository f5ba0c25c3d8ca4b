"""Entry point: `python launch.py [overrides]`. Hydra composes conf/; r1exp.cmd runs the command."""

import warnings

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


if __name__ == "__main__":
    from r1exp.tracking.launchlog import capture_console

    # Before Hydra sets up logging: everything printed goes to the run dir's launch.log too.
    capture_console()
    # r1exp refuses a hydra.searchpath entry that does not exist in one line (r1exp.config.check_searchpath);
    # Hydra's own two-line warning would stand above it.
    warnings.filterwarnings(
        "ignore", message=r"provider=hydra\.searchpath in .* is not available", category=UserWarning
    )
    # The collector walks the libraries' objects once while they are imported, and not again at exit
    # (about 1 s each; r1exp/common/startup_gc.py).
    startup_gc.freeze_imports()
    startup_gc.skip_final_collection()
    guard(main)
