"""The types of GRPOConfig options: TRL's own annotations, checked by OmegaConf, one line per wrong value.

The rule it replaced (a value of the type of the option's default) is kept below as the oracle: where an
option's annotation and its default name the same type, both rules give the same verdict and the same
line; where they do not, the verdicts differ only as the annotation says (listed in
`test_the_options_whose_verdict_changed_are_the_ones_the_annotations_type_differently`).
"""

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.errors import ConfigError
from r1exp.grpo_args import KINDS, build_grpo_config, check_types, checked_types
from r1exp.sections import Sections
from tests.conftest import compose


def _fields() -> dict[str, dataclasses.Field]:
    from trl import GRPOConfig

    return {f.name: f for f in dataclasses.fields(GRPOConfig)}


def old_kind(key: str) -> type | None:
    """The type the old rule checked option `key` against: its default's (warmup_steps: any number)."""
    default = _fields()[key].default
    if key == "warmup_steps":
        return float
    for kind in (bool, int, float, str):  # bool first: True is an int too
        if isinstance(default, kind):
            return kind
    return None


def old_rule(key: str, value: Any, kind: type | None, group: str = "trainer") -> str | None:
    """The old checker's line for `value` (None: accepted), checking against `kind`."""
    if value is None or kind is None:
        return None
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    return None if ok else f"{group}.{key}={value!r} must be {KINDS[kind]} (GRPOConfig.{key}); fix the override"


def new_rule(key: str, value: Any, group: str = "trainer") -> str | None:
    try:
        check_types({key: value}, group)
    except ConfigError as exc:
        return str(exc)
    return None


# What a config can give: YAML's scalars (strings OmegaConf would read as numbers, booleans, interpolations
# or missing among them), lists and mappings. Whole numbers stay within a float's range (see
# test_a_whole_number_beyond_a_floats_range_is_refused).
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1", "0", "1.5", "-2", "true", "false", "yes", "off", "nan", "inf", "${x}", "???", ""]),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
SAME_KIND = sorted(k for k in _fields() if old_kind(k) is not None and old_kind(k) is checked_types().get(k))


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(SAME_KIND), value=VALUES, group=st.sampled_from(["trainer", "generation"]))
def test_where_annotation_and_default_agree_the_verdict_and_line_are_the_old_ones(key, value, group):
    assert new_rule(key, value, group) == old_rule(key, value, old_kind(key), group)


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(sorted(_fields())), value=VALUES)
def test_every_option_follows_the_old_rule_with_its_annotations_type(key, value):
    # Unchecked (None) where OmegaConf cannot type the annotation: `dict | str`, `int | str`, lists.
    assert new_rule(key, value) == old_rule(key, value, checked_types().get(key))


def test_the_options_whose_verdict_changed_are_the_ones_the_annotations_type_differently():
    changed = {k: (old_kind(k), checked_types().get(k)) for k in _fields() if old_kind(k) is not checked_types().get(k)}
    # 1. No default to read a type from (null, a factory), an annotation that has one: now checked.
    newly_checked = {k for k, (old, new) in changed.items() if old is None and new is not None}
    assert {"bf16", "save_total_limit", "vllm_server_base_url", "epsilon_high"} <= newly_checked
    # 2. A float annotation with a whole default: fractions too (TRL reads < 1 as a share of the steps).
    widened = {k for k, (old, new) in changed.items() if (old, new) == (int, float)}
    assert {"logging_steps", "save_steps", "eval_delay"} <= widened
    # 3. A union OmegaConf cannot type (`int | str`, `str | bool`, `str | list`): no longer held to the default's.
    unchecked = {k for k, (old, new) in changed.items() if old is not None and new is None}
    assert {"pad_to_multiple_of", "include_num_input_tokens_seen", "report_to"} <= unchecked
    assert set(changed) == newly_checked | widened | unchecked


@pytest.mark.parametrize(
    "key, value, verdict",
    [
        ("bf16", "yes", "trainer.bf16='yes' must be true or false (GRPOConfig.bf16); fix the override"),
        ("save_total_limit", 2.5, "trainer.save_total_limit=2.5 must be a whole number (GRPOConfig.save_total_limit)"),
        ("logging_steps", 0.5, None),
        ("pad_to_multiple_of", 64, None),
        ("include_num_input_tokens_seen", True, None),
    ],
)
def test_the_changed_verdicts(key, value, verdict):
    line = new_rule(key, value)
    if verdict is None:
        assert line is None
    else:
        assert line.startswith(verdict)


def test_a_whole_number_beyond_a_floats_range_is_refused():
    # The old rule took any whole number for a number; OmegaConf cannot make a float of this one.
    assert new_rule("learning_rate", 10**400) == (
        f"trainer.learning_rate={10**400!r} must be a number (GRPOConfig.learning_rate); fix the override"
    )
    assert new_rule("learning_rate", 10**300) is None


@pytest.mark.parametrize(
    "override, line",
    [
        # OmegaConf would convert these; GRPOConfig would get them unconverted.
        ("trainer.disable_dropout=1", "trainer.disable_dropout=1 must be true or false (GRPOConfig.disable_dropout)"),
        ("trainer.logging_steps=true", "trainer.logging_steps=True must be a number (GRPOConfig.logging_steps)"),
        ("trainer.logging_steps='2'", "trainer.logging_steps='2' must be a number (GRPOConfig.logging_steps)"),
        ("trainer.lr_scheduler_type=1", "trainer.lr_scheduler_type=1 must be a string (GRPOConfig.lr_scheduler_type)"),
        (
            "generation.vllm_server_base_url=8000",
            "generation.vllm_server_base_url=8000 must be a string (GRPOConfig.vllm_server_base_url)",
        ),
        ("+trainer.save_only_model=yes", "trainer.save_only_model='yes' must be true or false"),
    ],
)
def test_a_value_of_the_wrong_type_is_one_line_naming_the_option(override, line, tmp_path):
    overrides = ["hardware=cpu", override]
    if override.startswith("generation."):
        overrides.insert(0, "generation=vllm_server")
    with pytest.raises(ConfigError) as err:
        build_grpo_config(Sections(compose(overrides)), tmp_path, [1.0, 0.1], check_only=True)
    message = str(err.value)
    assert message.startswith(line) and message.endswith("; fix the override") and "\n" not in message


def test_warmup_steps_takes_a_fraction_or_a_count(tmp_path):
    for warmup in (0.1, 5):
        cfg = compose(["hardware=cpu", f"trainer.warmup_steps={warmup}"])
        args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)
        assert math.isclose(args.warmup_steps, warmup)


def test_the_values_reach_grpo_config_as_given(tmp_path):
    cfg = compose(["hardware=cpu", "trainer.logging_steps=0.5", "+trainer.pad_to_multiple_of=64"])
    args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)
    assert args.logging_steps == 0.5 and args.pad_to_multiple_of == 64
