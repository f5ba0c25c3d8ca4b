"""A judgment gives a score or fails, never silently: replies without a valid score line, scores outside
the declared scale and oversized replies are failures that count toward judge.max_failure_rate, on any
backend (here the reference backend, driven by a fake model)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.errors import ConfigError, UserError
from r1exp.rewards.counters import Counters
from r1exp.tasks.zh_general.judge import (
    PROBLEMS,
    JudgeUnavailable,
    ScoreReader,
    judge_answer,
    judge_reasoning,
    parse_score,
    preflight,
    reader,
)
from r1exp.tasks.zh_general.judge import settings as judge_settings
from tests.conftest import compose
from tests.unit.test_judge import PROMPT, FakeReference

HYPOTHESIS = settings(derandomize=True, deadline=None, max_examples=100)
ANSWERS = [f"想一想</think>\n<answer>答案{i}</answer>" for i in range(8)]


def reference_cfg(*overrides: str):
    return compose(["judge.backend=reference", *overrides]).judge


def judge8(reply, *overrides: str, counters: Counters | None = None):
    fake = FakeReference(reply)
    cfg = reference_cfg(*overrides)
    return judge_answer(
        [PROMPT] * 8, ANSWERS, reference=["答案"] * 8, counters=counters, judge=cfg, reference_model=fake
    )


# --- the score line ---


def number_text(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text and digits else text


@HYPOTHESIS
@given(
    scale=st.sampled_from([1, 5, 10, 100]),
    share=st.floats(0, 1),
    digits=st.integers(0, 4),
    prose=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
def test_a_score_in_range_is_divided_by_the_scale(scale, share, digits, prose):
    text = number_text(share * scale, digits)
    value = float(text)
    if value > scale:
        return  # rounding up past the top: covered by the out-of-range test
    reply = f"{prose}\nSCORE: {text}"
    assert parse_score(reply, scale=scale) == pytest.approx(value / scale)


@HYPOTHESIS
@given(scale=st.sampled_from([1, 5, 10, 100]), over=st.floats(0.001, 900), negative=st.floats(0.001, 900))
def test_a_score_outside_the_scale_is_a_failure_never_clamped(scale, over, negative):
    reader = ScoreReader(scale=scale)
    for value in (scale + over, -negative):
        text = f"{value:.3f}"
        if float(text) > scale or float(text) < 0:
            assert reader(f"SCORE: {text}") == (None, "out_of_range")


DECORATIONS = st.sampled_from(
    ["**{s}**", "{s}/10", "{s} (good)", "`{s}`", "> {s}", "{s}.", "The {s}", "{s}%", "- {s}", "{s} out of 1"]
)


@HYPOTHESIS
@given(value=st.floats(0, 1), decoration=DECORATIONS, before=st.text(max_size=30))
def test_a_decorated_score_line_is_no_score(value, decoration, before):
    line = decoration.format(s=f"SCORE: {value:.2f}")
    assert ScoreReader()(f"{before}\n{line}") == (None, "no_score")


@HYPOTHESIS
@given(text=st.text(max_size=200))
def test_prose_without_a_score_line_is_never_a_score(text):
    last = text.rstrip().rsplit("\n", 1)[-1].strip().upper()
    if last.startswith("SCORE"):
        return
    score, problem = ScoreReader()(text)
    assert score is None and problem in PROBLEMS


def test_the_size_limit_counts_bytes():
    reader = ScoreReader(max_bytes=100)
    assert reader("x" * 80 + "\nSCORE: 1")[0] == 1.0
    assert reader("答" * 31 + "\nSCORE: 1") == (None, "too_long")  # 40 characters, 102 bytes


# --- failures stop the batch ---


@pytest.mark.parametrize(
    "reply, problem",
    [
        ("SCORE: 8/10", "no_score"),
        ("**SCORE: 0.9**", "no_score"),
        ("The student's answer is correct.", "no_score"),
        ("SCORE: 7", "out_of_range"),
        ("", "empty"),
        ("x" * 70_000 + "\nSCORE: 1", "too_long"),
    ],
)
def test_a_batch_of_replies_without_a_score_stops_with_one_line(reply, problem):
    counters = Counters()
    with pytest.raises(JudgeUnavailable) as err:
        judge8(lambda p: reply, counters=counters)
    message = str(err.value)
    assert "\n" not in message and "8 of 8 judgments failed" in message, message
    assert f"8 {problem}" in message and "judge.max_failure_rate=0.2" in message
    fix = {"too_long": "judge.max_reply_bytes", "out_of_range": "judge.score_scale"}.get(
        problem, "judge.backend=openai"
    )
    assert fix in message  # what to do about it, for a reference judge
    stats = counters.drain()
    assert stats["judge/parse_failures"] == 8 and stats[f"judge/bad_reply/{problem}"] == 8


def test_a_0_to_10_judge_is_mapped_by_the_declared_scale():
    assert judge8(lambda p: "SCORE: 7", "++judge.score_scale=10") == [0.7] * 8
    with pytest.raises(JudgeUnavailable, match=r"judge\.score_scale"):
        judge8(lambda p: "SCORE: 7")


def test_failures_up_to_the_rate_give_none_and_one_warning(capfd):
    def reply(prompt: str) -> str:
        return "no idea" if "答案0" in prompt.split("<<<BEGIN ANSWER")[1] else "SCORE: 0.5"

    out = judge8(reply, "judge.max_failure_rate=0.125")  # 1 of 8 is the limit, not above it
    assert out == [None] + [0.5] * 7
    warnings = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("r1exp: warning: judge")]
    assert len(warnings) == 1 and "1 of 8 judgments failed" in warnings[0] and "'no idea'" in warnings[0]
    with pytest.raises(JudgeUnavailable):
        judge8(reply, "judge.max_failure_rate=0.1")


def test_repeated_prompts_count_once_toward_the_rate():
    # Eight copies of one completion are one judgment: one failure of one.
    fake = FakeReference(lambda p: "nope")
    cfg = reference_cfg("judge.max_failure_rate=0.9")
    with pytest.raises(JudgeUnavailable, match="1 of 1 judgments failed"):
        judge_reasoning([PROMPT] * 8, ["同样的推理</think>"] * 8, judge=cfg, reference_model=fake)


def test_the_stop_is_a_user_error_whatever_the_backend():
    assert issubclass(JudgeUnavailable, UserError)


# --- settings ---


@pytest.mark.parametrize("value", ["0", "-1", "5000"])
def test_a_bad_score_scale_is_one_line(value):
    with pytest.raises(ConfigError) as err:
        judge_settings(compose([f"judge.score_scale={value}"]).judge)
    assert "judge.score_scale=" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["0", "10"])
def test_a_bad_reply_limit_is_one_line(value):
    with pytest.raises(ConfigError, match=r"judge\.max_reply_bytes"):
        judge_settings(compose([f"judge.max_reply_bytes={value}"]).judge)


@pytest.mark.parametrize(
    ("key", "value"), [("score_scale", "ten"), ("score_scale", "true"), ("max_reply_bytes", "big")]
)
def test_a_setting_that_is_not_a_number_is_refused_when_the_config_is_composed(key, value):
    """The judge schema types both settings: a word fails at compose time, one line naming the key."""
    from r1exp.errors import hydra_error_line

    with pytest.raises(Exception) as err:
        compose([f"judge.{key}={value}"])
    line = hydra_error_line(err.value)
    assert line is not None and f"judge.{key}" in line and "\n" not in line


def test_the_new_settings_have_defaults_when_the_config_lacks_them():
    s = judge_settings(compose([]).judge)
    assert s.score_scale == 1.0 and s.max_reply_bytes == 65536 and reader(s) == ScoreReader(1.0, 65536)


def test_preflight_leaves_a_reference_judge_to_the_failure_stop():
    from r1exp.tasks import build_terms

    fake = FakeReference(lambda p: "nothing useful")
    context = {"counters": Counters(), "judge": reference_cfg(), "reference_model": fake}
    terms = build_terms(compose(["reward=zh_general"]).reward.terms, context)
    preflight(terms)  # the model is not loaded before training: nothing to ask yet
    assert fake.calls == []
