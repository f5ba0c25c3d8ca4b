"""The Slurm launcher's config node: hydra-submitit-launcher's options plus `dry_run`.

Hydra imports every module of `hydra_plugins` when it starts (before it composes a config), so the
node is in the ConfigStore when conf/launcher/slurm.yaml selects it. No `from __future__ import
annotations` here: Hydra's plugin scan runs this file outside `sys.modules`, where a dataclass with
string annotations cannot be built.
"""

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf


@dataclass
class R1SlurmQueueConf(SlurmQueueConf):
    """hydra-submitit-launcher's Slurm options, r1exp's launcher, and its dry run."""

    _target_: str = "hydra_plugins.r1exp_launcher.slurm.SlurmLauncher"
    # Print each job array's layout and sbatch script, submit nothing, exit 0 (no Slurm needed).
    dry_run: bool = False


# conf/launcher/slurm.yaml selects it (`override /hydra/launcher: r1exp_slurm`).
ConfigStore.instance().store(group="hydra/launcher", name="r1exp_slurm", node=R1SlurmQueueConf, provider="r1exp")
