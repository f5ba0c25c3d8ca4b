"""Every numeric value a run reads is checked where its section declares it, over generated values.

A value outside its range (or of no numeric kind) is refused with one line that names the key; a value
inside is accepted. The config is composed once and changed in process, as a `key=value` override
would change it.
"""

from __future__ import annotations

import copy
import functools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from r1exp import schema
from r1exp.common.ranges import Range, check_ranges
from r1exp.errors import ConfigError
from r1exp.sections import SEED_MAX, Sections, Trainer
from tests.conftest import compose

SETTINGS = settings(derandomize=True, deadline=None, max_examples=40)


def check_data(cfg) -> None:
    """The data section's own values, then the training rules across sections (rows for one step)."""
    Sections(cfg).read("data").check_train_rules()


def reading(section: str):
    """Reading a section of the sections converts and checks it."""
    return lambda cfg: Sections(cfg).read(section)


# section -> (its ranges, the check cmd=train runs for it, overrides that switch the section on)
SECTIONS = {
    "trainer": (Trainer.RANGES, reading("trainer"), []),
    "hardware": (schema.Hardware.RANGES, reading("hardware"), []),
    "data": (schema.DataBase.RANGES, check_data, []),
    "lora": (schema.Lora.RANGES, reading("lora"), ["lora=r8"]),
    "periodic_eval": (schema.PeriodicEval.RANGES, reading("periodic_eval"), []),
    "logger": (schema.Logger.RANGES, reading("logger"), []),
    "contamination": (schema.Contamination.RANGES, reading("contamination"), []),
}
BASE = ["hardware=cpu", "model=tiny", "+experiment=smoke"]


@functools.cache
def composed(section: str):
    """The smoke recipe with `section` switched on, composed once (hypothesis must not print it)."""
    return compose([*BASE, *SECTIONS[section][2]])


def numbers_outside(allowed: Range) -> st.SearchStrategy:
    """Numbers the range refuses: below, above, not finite, not whole when it must be."""
    options = [st.sampled_from([math.nan, math.inf, -math.inf])]
    if allowed.low is not None:
        low = allowed.low
        options.append(
            st.floats(max_value=low, allow_nan=False, allow_infinity=False).filter(
                lambda v: v < low or (allowed.low_open and v == low)
            )
        )
        options.append(
            st.integers(max_value=math.ceil(low) - (0 if allowed.low_open else 1)).filter(
                lambda v: v < low or (allowed.low_open and v == low)
            )
        )
    if allowed.high is not None:
        high = allowed.high
        options.append(
            st.floats(min_value=high, allow_nan=False, allow_infinity=False).filter(
                lambda v: v > high or (allowed.high_open and v == high)
            )
        )
    if allowed.whole:
        options.append(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not float(v).is_integer()))
    return st.one_of(options)


def values_outside(allowed: Range) -> st.SearchStrategy:
    """Anything the range refuses, numbers or not (a string, a bool, null when it is required)."""
    others = [st.text(max_size=8), st.booleans()]
    if not allowed.optional:
        others.append(st.none())
    return st.one_of(numbers_outside(allowed), *others)


def values_inside(allowed: Range) -> st.SearchStrategy:
    low = allowed.low if allowed.low is not None else -1e9
    high = allowed.high if allowed.high is not None else 1e9
    if allowed.whole:
        first = math.floor(low) + 1 if allowed.low_open else math.ceil(low)
        last = math.ceil(high) - 1 if allowed.high_open else math.floor(high)
        return st.integers(min_value=first, max_value=last)
    return st.floats(min_value=low, max_value=high, exclude_min=allowed.low_open, exclude_max=allowed.high_open)


def with_value(cfg, key: str, value):
    """A copy of `cfg` with `key` set, as `key=value` (or `+key=value`) would set it."""
    changed = copy.deepcopy(cfg)
    OmegaConf.update(changed, key, value, force_add=True)
    return changed


def test_every_table_names_keys_its_section_has():
    for section, (ranges, _, _) in SECTIONS.items():
        node = composed(section)[section]
        typed = OmegaConf.get_type(node)
        known = set(node) | (
            {f for f in typed.__dataclass_fields__} if hasattr(typed, "__dataclass_fields__") else set()
        )
        # The trainer's keys are GRPOConfig options; the others are the section's schema fields.
        if section == "trainer":
            from r1exp.grpo_args import _grpo_fields

            known |= set(_grpo_fields())
        assert set(ranges) <= known, (section, set(ranges) - known)


@pytest.mark.parametrize("section", list(SECTIONS))
@SETTINGS
@given(data=st.data())
def test_a_value_outside_its_range_is_one_line_naming_the_key(section, data):
    ranges, check, _ = SECTIONS[section]
    key = data.draw(st.sampled_from(sorted(ranges)))
    value = data.draw(values_outside(ranges[key]))
    try:
        cfg = with_value(composed(section), f"{section}.{key}", value)
    except ValidationError as exc:
        # A typed section refuses the wrong kind of value when it is composed, naming the key.
        assert f"{section}.{key}" in str(exc)
        return
    with pytest.raises(ConfigError) as err:
        check(cfg)
    message = str(err.value)
    assert message.startswith(f"{section}.{key}=") and "\n" not in message, message


@pytest.mark.parametrize("section", list(SECTIONS))
@SETTINGS
@given(data=st.data())
def test_a_value_inside_its_range_is_accepted(section, data):
    ranges, _, _ = SECTIONS[section]
    key = data.draw(st.sampled_from(sorted(ranges)))
    value = data.draw(values_inside(ranges[key]))
    node = composed(section)[section]
    try:
        cfg = with_value(composed(section), f"{section}.{key}", value)
    except ValidationError:
        # e.g. a float into an int-typed field: a compose-time refusal, not the range's business.
        assert OmegaConf.get_type(node) is not None
        return
    check_ranges(cfg[section], section, {key: ranges[key]})


@SETTINGS
@given(value=st.one_of(values_inside(Trainer.RANGES["top_p"]), values_inside(Trainer.RANGES["epsilon"])))
def test_valid_sampling_knobs_pass_the_whole_trainer_check(value):
    cfg = with_value(composed("trainer"), "trainer.top_p", value)
    cfg = with_value(cfg, "trainer.epsilon", min(value, 0.99))
    Sections(cfg).read("trainer")


@SETTINGS
@given(value=st.one_of(st.floats(allow_nan=False).filter(lambda v: not 0 < v <= 1), st.sampled_from([math.nan])))
def test_top_p_outside_0_1_is_refused_naming_it(value):
    with pytest.raises(ConfigError, match=r"^trainer\.top_p=.* must be a number in \(0, 1\]"):
        Sections(with_value(composed("trainer"), "trainer.top_p", value)).read("trainer")


@SETTINGS
@given(
    value=st.one_of(
        st.text(min_size=1, max_size=6).filter(lambda t: t.strip("0123456789.-+e") != ""),
        st.lists(st.integers(), max_size=2),
    )
)
def test_a_value_that_is_no_number_says_so_not_a_range(value):
    # trainer.beta=abc is "must be a number >= 0", never a bare ">= 0" that hides the kind.
    with pytest.raises(ConfigError, match=r"^trainer\.beta=.* must be a number >= 0"):
        Sections(with_value(composed("trainer"), "trainer.beta", value)).read("trainer")


@SETTINGS
@given(warmup=st.floats(min_value=1, max_value=1e6).filter(lambda v: not v.is_integer()))
def test_warmup_from_one_up_counts_whole_steps(warmup):
    with pytest.raises(ConfigError, match=r"trainer\.warmup_steps=.*whole number"):
        Sections(with_value(composed("trainer"), "trainer.warmup_steps", warmup)).read("trainer")


def test_a_negative_warmup_says_what_range_it_takes():
    with pytest.raises(ConfigError) as err:
        Sections(with_value(composed("trainer"), "trainer.warmup_steps", -1)).read("trainer")
    assert "trainer.warmup_steps=-1 must be a number >= 0" in str(err.value) and "fraction" in str(err.value)


# --- seed -------------------------------------------------------------------------------------------


@SETTINGS
@given(
    seed=st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=SEED_MAX + 1),
        st.floats(allow_nan=True),
        st.text(max_size=6),
        st.booleans(),
        st.none(),
    )
)
def test_a_bad_seed_is_refused_naming_seed_not_trainer_seed(seed):
    with pytest.raises(ConfigError) as err:
        Sections(with_value(composed("trainer"), "seed", seed)).read("seed")
    assert str(err.value).startswith("seed=") and f"[0, {SEED_MAX}]" in str(err.value)


@SETTINGS
@given(seed=st.integers(min_value=0, max_value=SEED_MAX))
def test_any_seed_numpy_takes_is_accepted(seed):
    Sections(with_value(composed("trainer"), "seed", seed)).read("seed")


def test_seed_is_checked_before_the_trainer_reads_it():
    with pytest.raises(ConfigError, match=r"^seed='abc' must be a whole number"):
        Sections(compose([*BASE, "seed=abc"])).check("train")


# --- data sizes -------------------------------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_a_train_split_smaller_than_one_step_is_refused(data):
    cfg = composed("data")
    needed = Sections(cfg).prompts_per_step()
    assert needed == cfg.trainer.per_device_train_batch_size * cfg.trainer.gradient_accumulation_steps // (
        cfg.trainer.num_generations
    )
    size = data.draw(st.integers(min_value=1, max_value=needed - 1)) if needed > 1 else None
    if size is not None:
        with pytest.raises(ConfigError, match=rf"^data\.train_size={size} is fewer rows than one step draws"):
            check_data(with_value(cfg, "data.train_size", size))
    check_data(with_value(cfg, "data.train_size", data.draw(st.integers(needed, 10**6))))


def test_data_train_size_one_is_refused_with_the_default_batch():
    with pytest.raises(ConfigError, match=r"data\.train_size=1 is fewer rows than one step draws: 8 prompt"):
        Sections(compose(["hardware=cpu", "model=tiny", "data.train_size=1"])).check("train")


def test_periodic_eval_needs_held_out_rows():
    cfg = compose([*BASE, "data.test_size=0", "periodic_eval.every=1"])
    with pytest.raises(ConfigError, match=r"^periodic_eval\.every=1 .*data\.test_size=0"):
        Sections(cfg).check("train")
    Sections(compose([*BASE, "data.test_size=0", "periodic_eval.every=1", "bench=countdown"])).check("train")
    Sections(compose([*BASE, "data.test_size=0"])).check("train")


def test_rows_are_checked_again_once_the_data_is_built():
    cfg = composed("data")
    needed = Sections(cfg).prompts_per_step()
    with pytest.raises(ConfigError, match=rf"gives {needed - 1} training row\(s\), fewer than one step draws"):
        Sections(cfg).check_rows(needed - 1, 10)
    Sections(cfg).check_rows(needed, 0)  # periodic eval is off in the smoke recipe
    with pytest.raises(ConfigError, match=r"periodic_eval\.every=2 has no held-out rows"):
        Sections(with_value(cfg, "periodic_eval.every", 2)).check_rows(needed, 0)


# --- logger -----------------------------------------------------------------------------------------


def test_samples_every_n_steps_needs_samples_to_record():
    cfg = with_value(composed("logger"), "logger.samples_per_step", 0)
    with pytest.raises(ConfigError, match=r"logger\.samples_every=\d+ records nothing"):
        Sections(with_value(cfg, "logger.samples_every", 3)).read("logger")
    Sections(with_value(cfg, "logger.samples_every", 0)).read("logger")


# --- string options take the values TRL declares -----------------------------------------------------


def test_loss_type_choices_are_read_from_trls_own_config():
    import dataclasses

    from trl import GRPOConfig

    from r1exp.grpo_args import declared_choices

    choices = declared_choices("loss_type")
    help_text = {f.name: f for f in dataclasses.fields(GRPOConfig)}["loss_type"].metadata["help"]
    assert {"grpo", "dapo", "dr_grpo", "bnpo"} <= set(choices)
    assert all(f"'{c}'" in help_text for c in choices)
    assert GRPOConfig.loss_type in choices  # TRL's own default is one of them
    # A help sentence that describes values instead of listing them gives no choices (never a wrong list).
    assert declared_choices("scale_rewards") is None and declared_choices("multi_objective_aggregation") is None


@SETTINGS
@given(value=st.text(min_size=1, max_size=10))
def test_a_loss_type_trl_does_not_declare_is_refused_naming_it(value):
    from r1exp.grpo_args import declared_choices, grpo_kwargs

    cfg = with_value(composed("trainer"), "trainer.loss_type", value)
    if value in declared_choices("loss_type"):
        assert grpo_kwargs(Sections(cfg), "out", [1.0])["loss_type"] == value
        return
    with pytest.raises(ConfigError) as err:
        grpo_kwargs(Sections(cfg), "out", [1.0])
    message = str(err.value)
    assert message.startswith(f"trainer.loss_type={value!r} is not one of GRPOConfig.loss_type's values")
    assert "grpo, dr_grpo, dapo" in message and "\n" not in message


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo"])
def test_each_declared_loss_type_builds_a_grpo_config(loss_type, tmp_path):
    from r1exp.grpo_args import build_grpo_config

    cfg = with_value(composed("trainer"), "trainer.loss_type", loss_type)
    assert build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1, 0.5], check_only=True).loss_type == loss_type


def test_a_misspelled_trainer_option_names_the_closest_option():
    from r1exp.grpo_args import grpo_kwargs

    with pytest.raises(
        ConfigError, match=r"^trainer\.lose_type is not a trl\.GRPOConfig option .*did you mean trainer\.loss_type\?"
    ):
        grpo_kwargs(Sections(with_value(composed("trainer"), "trainer.lose_type", "grpo")), "out", [1.0])


COUNTDOWN_KEYS = ("min_numbers", "max_numbers", "min_value", "max_value", "min_target", "max_target")


@SETTINGS
@given(
    bounds=st.tuples(*[st.integers(-3, 120) for _ in COUNTDOWN_KEYS]),
    ops=st.text(alphabet="+-*/^x", max_size=5),
)
def test_countdown_data_is_checked_where_the_section_is_read(bounds, ops):
    """Any Countdown setting is refused in one `data.` line when the data section is read (before a model
    loads), or draws rows (or says in one line why it cannot): never a traceback from the generator."""
    from r1exp.tasks.countdown.data import generate

    cfg = copy.deepcopy(composed("data"))
    for key, value in zip(COUNTDOWN_KEYS, bounds, strict=True):
        cfg.data[key] = value
    cfg.data.ops = ops
    try:
        data = Sections(cfg).data
    except ConfigError as exc:
        line = str(exc)
        assert line.startswith("data.") and "\n" not in line
        return
    assert isinstance(data, schema.CountdownData)
    assert 2 <= data.min_numbers <= data.max_numbers <= 6 and 0 <= data.min_value <= data.max_value
    try:
        rows = generate(data, 3, seed=0)
    except ConfigError as exc:
        assert str(exc).startswith("data: could only draw")
        return
    assert len(rows) == 3 and all(data.min_target <= r["target"] <= data.max_target for r in rows)
    assert all(set(r["allowed_ops"]) <= set(ops) for r in rows)


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 3), max_size=3),
)


@SETTINGS
@given(
    schema_name=st.sampled_from(["countdown", "math", "zh_general"]),
    key_index=st.integers(0, 30),
    value=ANY_VALUE,
)
def test_a_built_in_source_types_its_data_or_refuses_it_in_one_line(schema_name, key_index, value):
    """Whatever one key of a data section holds, a built-in source's typed read of it (`schema.as_data`)
    gives the schema object or one `data.` line: never an OmegaConf traceback."""
    cls = schema.SCHEMAS["data"][schema_name]
    node = OmegaConf.to_container(OmegaConf.structured(cls))
    node["name"] = "mine"
    keys = sorted(node)
    key = keys[key_index % len(keys)]
    node[key] = value
    try:
        section = schema.as_data(OmegaConf.create(node), cls)
    except ConfigError as exc:
        assert str(exc).startswith("data") and "\n" not in str(exc), str(exc)
        return
    assert isinstance(section, cls)
