"""Rewards are objects with declared capabilities; a run's terms are built once and called like functions."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.errors import ConfigError
from r1exp.rewards import Reward, reward
from r1exp.rewards.base import as_reward, takes_reward_call
from r1exp.rewards.counters import Counters
from r1exp.tasks import REWARDS, build_terms
from r1exp.tasks.zh_general import judge
from tests.conftest import compose
from tests.unit.test_judge import PROMPT, FakeReference


def test_built_in_rewards_declare_the_columns_they_read():
    assert REWARDS["countdown_correct"].columns == ("nums", "target")
    assert REWARDS["math_correct"].columns == ("answer",)
    assert REWARDS["judge_answer"].columns == ("reference",)
    assert REWARDS["strict_format"].columns == () and REWARDS["length"].needs_token_ids
    for name in REWARDS:
        assert isinstance(REWARDS[name], Reward)
        low, high = REWARDS[name].value_range
        assert low <= high


def test_a_term_is_called_like_a_function_under_its_own_name_and_shows_every_call():
    (term,) = build_terms({"fmt": {"fn": "soft_format", "weight": 0.5}})
    seen = []
    term.observers.append(lambda name, prompts, completions, values, columns: seen.append((name, values, columns)))
    values = term(prompts=["p"], completions=["<think>a</think><answer>1</answer>"], trainer_state=None)
    assert term.__name__ == "fmt" and values == [1.0] and term.weight == 0.5
    assert seen == [("fmt", [1.0], {"trainer_state": None})]


def test_declared_capabilities_reach_the_term():
    @reward(columns=("x",), context_keys=("counters",))
    def probe(prompts, completions, x=None, counters=None, **_):
        counters.add("calls", len(completions))
        return [float(v) for v in x]

    REWARDS.add("test_probe", probe)
    try:
        counters = Counters()
        (term,) = build_terms({"p": {"fn": "test_probe"}}, {"counters": counters, "judge": None})
        assert term.columns == ("x",) and term(["a"], ["b"], x=[3]) == [3.0]
        assert counters.drain() == {"calls": 1}
    finally:
        REWARDS.pop("test_probe")


def test_a_plain_function_by_import_path_is_a_reward():
    (term,) = build_terms({"d": {"fn": "r1exp.rewards.sanity:digit_density"}})
    assert term(["p"], ["a1"]) == [0.5] and term.columns == ()


def test_the_judge_backend_is_built_once_per_run(monkeypatch):
    built = []
    real = judge.make_backend

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(judge, "make_backend", counting)
    fake = FakeReference()
    context = {"counters": Counters(), "judge": compose(["judge.backend=reference"]).judge, "reference_model": fake}
    (term,) = build_terms({"r": {"fn": "judge_reasoning"}}, context)
    for _ in range(3):  # three reward batches
        assert term([PROMPT], ["step one</think><answer>2</answer>"]) == [0.5]
    assert built == [1] and len(fake.calls) == 3


@pytest.mark.parametrize("ref", ["judge_answer", "judge_reasoning"])
def test_a_judge_term_without_a_run_context_still_builds(ref):
    (term,) = build_terms({"j": {"fn": ref}})
    assert "backend" not in term.kwargs


# --- what is a reward, and what its kwargs may be ----------------------------------------------------


def _trl_style(prompts, completions, **kwargs):
    return [0.0] * len(completions)


def _keyword_only(prompts, completions, *, scale=1.0, **kwargs):
    return [scale] * len(completions)


class _CallableReward:
    def __call__(self, prompts, completions, **kwargs):
        return [1.0] * len(completions)


def _completions_first(completions, **kwargs):  # TRL's docs' shape; r1exp passes prompts first
    return [0.0] * len(completions)


def _no_kwargs(prompts, completions):
    return [0.0] * len(completions)


@pytest.mark.parametrize("func", [_trl_style, _keyword_only, _CallableReward(), lambda prompts, completions, **kw: []])
def test_a_callable_with_trls_reward_call_is_a_reward(func):
    assert takes_reward_call(func)
    assert as_reward(func, "reward.terms.x.fn")(["p"], ["c"], trainer_state=None, nums=[1]) is not None


def test_a_reward_that_names_its_declared_column_as_a_parameter_is_a_reward():
    """docs/extending.md's shape: `@reward(columns=("numbers",))` over
    `sorted_correct(prompts, completions, numbers, **_)` (TRL passes the column by name)."""
    from r1exp.rewards import reward

    @reward(columns=("numbers",))
    def sorted_correct(prompts, completions, numbers, **_):
        return [1.0] * len(completions)

    assert as_reward(sorted_correct, "reward.terms.correct.fn")(["p"], ["c"], numbers=[[1, 2]]) == [1.0]
    assert not takes_reward_call(sorted_correct.func)


@pytest.mark.parametrize(
    "path",
    ["os:system", "json:dumps", "builtins:print", "collections:OrderedDict", "math:sqrt", "builtins:dict"],
)
def test_an_importable_callable_that_is_no_reward_is_refused_at_start_up(path):
    with pytest.raises(ConfigError) as err:
        build_terms({"x": {"fn": path, "weight": 1}})
    message = str(err.value)
    assert message.startswith(f"reward.terms.x.fn={path} is not a reward") and "\n" not in message
    assert "fn(prompts, completions, **kwargs)" in message


@pytest.mark.parametrize("func", [_completions_first, _no_kwargs, _CallableReward, len])
def test_a_callable_that_cannot_take_trls_call_is_refused(func):
    assert not takes_reward_call(func)
    with pytest.raises(ConfigError, match=r"^reward\.terms\.x\.fn is not a reward"):
        as_reward(func, "reward.terms.x.fn")


def test_a_constant_is_refused_as_not_callable():
    with pytest.raises(ConfigError, match=r"^reward\.terms\.x\.fn=os:sep is '/', not callable"):
        build_terms({"x": {"fn": "os:sep"}})


def test_a_declared_function_reward_is_checked_too():
    wrapped = reward()(_completions_first)
    with pytest.raises(ConfigError, match="is not a reward"):
        as_reward(wrapped, "reward.terms.x.fn")


def test_settings_are_the_keyword_parameters_a_reward_names():
    assert REWARDS["length"].settings() == {"max_length", "shape", "params"}
    assert REWARDS["math_correct"].settings() == {"workers", "timeout"}
    assert REWARDS["strict_format"].settings() == {"think"}
    # TRL's arguments, declared columns and context keys are not settings.
    assert not REWARDS["soft_format"].settings() and not REWARDS["judge_answer"].settings()
    assert "nums" not in REWARDS["countdown_correct"].settings()
    assert as_reward(_keyword_only, "x").settings() == {"scale"}


SETTING_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@settings(derandomize=True, deadline=None, max_examples=60)
@given(name=SETTING_NAMES.filter(lambda n: n not in {"max_length", "shape", "params"}))
def test_any_kwarg_the_reward_does_not_take_is_refused_naming_it(name):
    with pytest.raises(ConfigError) as err:
        build_terms({"len": {"fn": "length", "kwargs": {"max_length": 32, name: 1}}})
    message = str(err.value)
    assert message.startswith(f"reward.terms.len.kwargs.{name} is not a setting of reward length")
    assert "max_length, params, shape" in message


@settings(derandomize=True, deadline=None, max_examples=40)
@given(data=st.data())
def test_a_one_letter_typo_of_a_setting_names_the_setting(data):
    setting = data.draw(st.sampled_from(["max_length", "shape", "params"]))
    i = data.draw(st.integers(0, len(setting) - 1))
    typo = setting[:i] + setting[i + 1 :]  # one letter dropped
    if typo in {"max_length", "shape", "params"} or not typo:
        return
    with pytest.raises(
        ConfigError, match=rf"kwargs\.{typo} is not a setting of reward length; did you mean {setting}\?"
    ):
        build_terms({"len": {"fn": "length", "kwargs": {typo: 1}}})


@pytest.mark.parametrize(
    "term, typo, meant",
    [
        ({"fn": "length", "kwargs": {"max_lenght": 512}}, "max_lenght", "max_length"),
        ({"fn": "math_correct", "kwargs": {"timout": 0.001}}, "timout", "timeout"),
        ({"fn": "strict_format", "kwargs": {"thnk": False}}, "thnk", "think"),
    ],
)
def test_the_issues_typos_are_refused_with_the_closest_name(term, typo, meant):
    with pytest.raises(
        ConfigError, match=rf"kwargs\.{typo} is not a setting of reward {term['fn']}; did you mean {meant}\?"
    ):
        build_terms({"t": term})


def test_a_reward_without_settings_refuses_any_kwarg():
    with pytest.raises(ConfigError, match=r"^reward\.terms\.s\.kwargs\.think: reward soft_format takes no kwargs"):
        build_terms({"s": {"fn": "soft_format", "kwargs": {"think": True}}})


def test_valid_settings_still_build():
    (term,) = build_terms({"len": {"fn": "length", "kwargs": {"max_length": 32, "shape": "cosine", "params": {}}}})
    assert term.kwargs["shape"] == "cosine"


@settings(derandomize=True, deadline=None, max_examples=60)
@given(weights=st.lists(st.sampled_from([0, 0.0, -0.0]), min_size=1, max_size=4))
def test_every_weight_zero_is_refused(weights):
    terms = {f"t{i}": {"fn": ref, "weight": w} for i, (w, ref) in enumerate(zip(weights, REFS, strict=False))}
    with pytest.raises(ConfigError, match=r"^reward\.terms: every weight is 0 .*non-zero weight"):
        build_terms(terms)


@settings(derandomize=True, deadline=None, max_examples=60)
@given(weights=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=4).filter(lambda ws: any(ws)))
def test_one_non_zero_weight_is_enough(weights):
    terms = {f"t{i}": {"fn": ref, "weight": w} for i, (w, ref) in enumerate(zip(weights, REFS, strict=False))}
    assert [t.weight for t in build_terms(terms)] == [float(w) for w in weights]


REFS = ["soft_format", "strict_format", "digit_density", "countdown_correct"]
