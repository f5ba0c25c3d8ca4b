"""Run dirs are named after what ran: `outputs/<date>/<time>_<name>`, where cmd=score, plan, eval and
compare no longer borrow the default model's name (`..._qwen1.5b_countdown`) for a model they never
used. The name comes from the `${r1exp.run_name:}` resolver (hydra_plugins/r1exp_launcher/run_name.py)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from hydra_plugins.r1exp_launcher.run_name import MAX_CHARS, checkpoint_label, run_name
from tests.conftest import CONF, compose


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ([], "qwen1.5b_countdown"),
        (["+experiment=smoke"], "tiny_countdown"),
        (["cmd=score", "cmd.input=data/completions.v2.jsonl", "cmd.output=o.jsonl"], "score_completions.v2"),
        (["cmd=score"], "score"),
        (["cmd=plan", "+experiment=math_7b_base_lora_3090"], "plan_qwen7b_math"),
        (["cmd=compare", "cmd.runs=[a,b]"], "compare"),
        (["cmd=eval", "cmd.checkpoint=outputs/2026-12-04/16-33-47_tiny_countdown"], "eval_16-33-47_tiny_countdown"),
        (
            ["cmd=eval", "cmd.checkpoint=runs/a/checkpoints/checkpoint-20", "bench=gsm8k", "reward=math"],
            "eval_a-checkpoint-20_gsm8k",
        ),
        (["cmd=eval", "model=qwen7b", "bench=math500", "reward=math"], "eval_qwen7b_math500"),
        (["cmd=eval", "+experiment=smoke"], "eval_tiny_countdown"),
    ],
)
def test_each_command_names_its_run_dir_after_what_it_ran(overrides, name):
    assert run_name(compose(overrides)) == name


def test_a_checkpoint_is_named_with_its_run():
    assert checkpoint_label("runs/a/checkpoints/final/") == "a-final"
    assert checkpoint_label("/models/Qwen2.5-1.5B") == "Qwen2.5-1.5B"
    assert checkpoint_label("multirun/2026-12-04/10-00-00/3") == "3"


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)


@settings(derandomize=True, deadline=None, max_examples=300)
@given(
    command=st.sampled_from(["train", "eval", "score", "plan", "compare", "anything else"]),
    model=TEXT,
    data=TEXT,
    checkpoint=st.one_of(st.none(), TEXT),
    source=st.one_of(st.none(), TEXT),
)
def test_any_config_gives_a_safe_folder_name(command, model, data, checkpoint, source):
    cfg = OmegaConf.create(
        {
            "cmd": {"name": command, "checkpoint": checkpoint, "input": source},
            "model": {"name": model},
            "data": {"name": data},
            "bench": {"name": "none"},
        }
    )
    name = run_name(cfg)
    assert re.fullmatch(rf"[A-Za-z0-9._-]{{1,{MAX_CHARS}}}", name), name
    assert name not in (".", "..")
    if command in ("eval", "score", "plan", "compare"):
        assert name.startswith(command)


@pytest.mark.parametrize(
    ("overrides", "suffix"),
    [
        ([], "_qwen1.5b_countdown"),
        (["cmd=score", "cmd.input=in.jsonl", "cmd.output=out.jsonl"], "_score_in"),
        (["cmd=plan", "model=qwen7b"], "_plan_qwen7b_countdown"),
    ],
)
def test_the_config_names_run_dirs_with_the_resolver(overrides, suffix):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    run_dir = str(cfg.hydra.run.dir)
    assert re.fullmatch(r"outputs/\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}" + re.escape(suffix), run_dir), run_dir
