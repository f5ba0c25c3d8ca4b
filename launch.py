"""Entry point: `python launch.py [overrides]`. Hydra composes conf/; r1exp.cmd runs the command."""

import hydra
from omegaconf import DictConfig

from r1exp.errors import guard


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig):
    from r1exp.cmd import run

    return run(cfg)


if __name__ == "__main__":
    guard(main)
