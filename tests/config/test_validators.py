"""Bad config values: one line naming the field and the fix, found before any model loads.

Types and unknown keys fail at compose time (the group schemas); ranges and cross-field rules fail in
the checks cmd=train runs first (`Sections.check("train")`, then the reward terms against the data's columns).
"""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from r1exp.errors import ConfigError, hydra_error_line
from r1exp.models import ReferenceModel
from r1exp.rewards.counters import Counters
from r1exp.sections import Sections
from tests.conftest import compose

CPU = ["hardware=cpu", "model=tiny"]


def train_checks(overrides: list[str]) -> None:
    """What cmd=train checks before anything loads: the values, then the reward terms and columns."""
    from r1exp.training import build_rewards

    s = Sections(compose([*CPU, *overrides])).check("train")
    build_rewards(s, Counters(), ReferenceModel())
    # What the run needs of the machine and its accounts (a GPU, a wandb key), after every value.
    s.validate()


def test_the_smoke_recipe_passes_every_check():
    train_checks(["+experiment=smoke"])


def test_learning_rate_zero_is_a_valid_control_run():
    train_checks(["+experiment=smoke", "trainer.learning_rate=0"])


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["trainer.learning_rate=-1e-6"], "trainer.learning_rate=-1e-06"),
        (["trainer.learning_rate=nan"], "trainer.learning_rate=nan"),
        (["trainer.max_completion_length=0"], "trainer.max_completion_length=0"),
        (["trainer.temperature=0"], "trainer.temperature=0"),
        (["trainer.num_generations=0"], "trainer.num_generations=0"),
        (["trainer.num_generations=1"], "trainer.num_generations=1"),
        (["trainer.beta=-0.1"], "trainer.beta=-0.1"),
        (["trainer.max_steps=0"], "trainer.max_steps=0"),
        (["trainer.max_steps=-1"], "trainer.max_steps=-1"),
        (["trainer.save_steps=0"], "trainer.save_steps=0"),
        (["hardware.per_device_train_batch_size=0"], "hardware.per_device_train_batch_size=0"),
        (["data.train_size=0"], "data.train_size=0"),
        (["model.dtype=float17"], "model.dtype='float17'"),
        (["model.path=/models/qwen"], "model.path=/models/qwen is ignored by model=tiny"),
        (["lora=r8", "lora.dropout=1.5"], "lora.dropout=1.5"),
        (["periodic_eval.every=-1"], "periodic_eval.every=-1"),
        (["data=math", "reward=countdown"], "reward.terms.correct (countdown_correct) reads column(s) nums, target"),
        (["reward=zh_general", "data=math"], "reward.terms.answer (judge_answer) reads column(s) reference"),
        (["reward=countdown_length_linear", "reward.terms.length.kwargs.shape=quadratc"], "shape='quadratc'"),
        (["reward=countdown_length_linear", "reward.terms.length.kwargs.max_length=0"], "max_length=0"),
        (["data=math", "reward=math", "reward.terms.correct.kwargs.workers=0"], "workers"),
        (["+reward.terms.format.wieght=1"], "reward.terms.format.wieght is not a term key"),
        (["+reward.terms.len={fn:length,weight:heavy}"], "reward.terms.len.weight='heavy'"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_field(overrides, needle):
    with pytest.raises(ConfigError) as err:
        train_checks(overrides)
    message = str(err.value)
    assert needle in message and "\n" not in message, message


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["data.train_size=abc"], "data.train_size"),
        (["data=math", "data.extra_fields=3"], "data.extra_fields"),
        (["hardware.per_device_train_batch_size=1.5"], "hardware.per_device_train_batch_size"),
        (["lora=r8", "lora.r=big"], "lora.r"),
        (["logger.samples_every=often"], "logger.samples_every"),
        (["periodic_eval.every=x"], "periodic_eval.every"),
        (["curriculum=adaptive", "curriculum.explore=lots"], "curriculum.explore"),
        (["judge.max_chars=long"], "judge.max_chars"),
        (["cmd=eval", "cmd.k=four"], "cmd.k"),
        (["coldstart=solver_traces", "coldstart.rows=many"], "coldstart.rows"),
    ],
)
def test_a_wrong_type_fails_at_compose_time_naming_the_field(overrides, field):
    with pytest.raises(ConfigCompositionException) as err:
        compose(overrides)
    assert field in hydra_error_line(err.value)


def test_a_key_the_schema_lacks_fails_in_a_config_file(tmp_path):
    """A typo in a file merged onto a group (an experiment preset) is refused, not silently added."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from tests.conftest import CONF

    exp = tmp_path / "experiment"
    exp.mkdir()
    (exp / "typo.yaml").write_text("# @package _global_\ndata:\n  trian_size: 5\n")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"), pytest.raises(Exception) as err:
        hydra_compose("config", overrides=[f"hydra.searchpath=[file://{tmp_path}]", "+experiment=typo"])
    assert "trian_size" in hydra_error_line(err.value)


def test_logger_wandb_online_without_a_key_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc from `wandb login`
    monkeypatch.delenv("NETRC", raising=False)
    with pytest.raises(
        ConfigError, match=r"logger=wandb with WANDB_MODE=online needs a wandb API key.*WANDB_MODE=offline"
    ):
        train_checks(["logger=wandb"])
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    train_checks(["logger=wandb"])
    monkeypatch.delenv("WANDB_API_KEY")
    monkeypatch.setenv("WANDB_MODE", "offline")
    train_checks(["logger=wandb"])
