"""trainer.guide_with_reference on every task that has a reference, refused at start-up where none exists."""

from __future__ import annotations

import random

import pytest

from r1exp.common.templates import render_reference
from r1exp.errors import ConfigError
from r1exp.sections import Sections
from r1exp.tasks import TASKS, build_terms, data_columns
from r1exp.training import check_reward_data
from tests.conftest import ROOT, compose


@pytest.mark.parametrize("template", ["r1zero_base", "qwen_chat", "answer_only"])
def test_a_chinese_row_gives_its_reference_answer_in_the_templates_format(template):
    cfg = compose([f"template={template}"])
    row = {"question": "中国的首都是哪里?", "reference": "北京。"}
    think, answer = TASKS["zh_general"].reference(row, random.Random(0), 1)
    assert (think, answer) == ("", "北京。")
    text = render_reference(cfg.template, think, answer)
    assert "<answer>" in text and "北京。" in text and text.rstrip().endswith("</answer>")


def test_rows_without_a_reference_give_none():
    for name in TASKS:
        assert TASKS[name].reference({"question": "q", "reference": "  "}, random.Random(0), 1) is None
        assert TASKS[name].reference({"question": "q", "numbers": [3, 1, 2]}, random.Random(0), 1) is None


@pytest.mark.parametrize(
    ("data", "reward"),
    [("countdown", "countdown"), ("math", "math"), ("zh_general", "zh_general"), ("zh_cqia_exam", "zh_general")],
)
def test_every_built_in_training_set_supports_reference_guided_groups(data, reward):
    cfg = compose([f"data={data}", f"reward={reward}", "trainer.guide_with_reference=true"])
    terms = build_terms(cfg.reward.terms, {"counters": None, "reference_model": None, "judge": cfg.judge})
    check_reward_data(Sections(cfg), terms, data_columns(cfg.data))


def test_data_without_a_reference_is_refused_at_start_up(monkeypatch):
    """A task of one's own (the sort-numbers example) has no reference: one line, before any model."""
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "fixtures" / "sort_task"))
    cfg = compose(["data.source=sort_numbers:source", "trainer.guide_with_reference=true", "reward=countdown"])
    columns = {"prompt", "question", "numbers"}
    with pytest.raises(ConfigError) as err:
        check_reward_data(Sections(cfg), [], columns)
    message = str(err.value)
    assert "trainer.guide_with_reference=true" in message and "no reference" in message
    assert "\n" not in message
    # Off, the same data is fine.
    cfg.trainer.guide_with_reference = False
    check_reward_data(Sections(cfg), [], columns)
