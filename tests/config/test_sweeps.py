"""Every sweep composes and every swept key exists: a typo fails here, not after a day in a queue."""

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from omegaconf import OmegaConf

from r1exp.grpo_args import build_grpo_config
from r1exp.sections import Sections
from r1exp.tasks import build_terms
from tests.conftest import CONF, ROOT, groups

SWEEPS = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
GROUPS = groups()


def _compose(overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=overrides, return_hydra_config=True)


def test_the_issue_sweeps_exist():
    expected = {
        "warmup",
        "beta",
        "context",
        "format",
        "length",
        "template",
        "lora",
        "model_size",
        "base_vs_instruct",
        "generations",
        "seeds",
        "eval_context",
    }
    assert expected <= set(SWEEPS)


@pytest.mark.parametrize("sweep", SWEEPS)
def test_every_swept_key_exists_and_every_value_composes(sweep, tmp_path):
    cfg = _compose([f"+sweep={sweep}"])
    assert cfg.hydra.mode.name == "MULTIRUN"
    params = dict(cfg.hydra.sweeper.params)
    assert params, sweep
    for key, values in params.items():
        options = [v.strip() for v in str(values).split(",")]
        assert len(options) >= 2, (key, values)
        if key in GROUPS:
            missing = set(options) - set(GROUPS[key])
            assert not missing, f"sweeps/{sweep}.yaml: {key} has no option(s) {missing}"
        else:
            assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", f"sweeps/{sweep}.yaml: no key {key}"
        for value in options:
            job = _compose([f"+sweep={sweep}", f"{key}={value}"])
            OmegaConf.to_container(job, resolve=False)
            terms = build_terms(job.reward.terms)
            if job.cmd.name == "train":
                build_grpo_config(Sections(job), tmp_path, [t.weight for t in terms], check_only=True)


def test_sweeps_combine_with_seeds():
    cfg = _compose(["+sweep=[beta,seeds]"])
    assert set(cfg.hydra.sweeper.params) == {"trainer.beta", "seed"}


def test_a_typo_in_a_swept_key_is_caught(tmp_path):
    """The check above really fails for a misspelt key (guards the guard)."""
    cfg = _compose(["+sweep=warmup"])
    assert OmegaConf.select(cfg, "trainer.warmup_stpes", default="<missing>") == "<missing>"
