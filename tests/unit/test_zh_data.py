"""data=zh_general and its presets: the shared files load through their configs with the right columns,
multiple-choice rows get their choices and a reference naming them, splits are deterministic, and a
broken file stops with its line and field."""

import json

import pytest

import r1exp.common.hub
from r1exp.errors import ConfigError, DataError
from r1exp.tasks import build_splits
from tests.conftest import compose


def load(overrides: list[str]):
    cfg = compose(overrides)
    return build_splits(cfg.data, cfg.template)


def write(path, rows) -> str:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_gaokao_multiple_choice_file_loads_with_choices_and_references(data_dir):
    train, test = load(["data=gaokao_mc"])
    rows = train + test
    assert train == [] and len(test) == 351  # an evaluation set: every row is test
    assert all(set(r) == {"question", "reference", "source", "prompt"} for r in rows)
    assert {r["source"] for r in rows} == {"gaokao_mc"}
    first = next(r for r in rows if r["question"].startswith("设集合 $A=\\{x \\mid x \\geq 1\\}"))
    assert first["reference"] == "D. $\\{x \\mid 1 \\leq x<2\\}$"
    assert first["question"].endswith(
        "\nA. $\\{x \\mid x>-1\\}$\nB. $\\{x \\mid x \\geq 1\\}$\nC. $\\{x \\mid-1<x<1\\}$"
        "\nD. $\\{x \\mid 1 \\leq x<2\\}$"
    )
    multi = [r for r in rows if "\n" in r["reference"]]
    assert multi and all(r["reference"].startswith(("A. ", "B. ", "C. ")) for r in multi)
    assert first["prompt"].endswith("<think>") and "B. 必要非充分条件" in first["prompt"]


def test_cn_middle_school_file_loads_with_inline_choices(data_dir):
    train, test = load(["data=cn_middle_school"])
    rows = {r["question"]: r for r in train + test}
    assert len(rows) == 101 and len(test) == 101 and train == []
    assert rows["下列四个数中，最小的数是()\nA.-2  B.0  C. 3  D.  -1/2"]["reference"] == "A. -2"
    free = rows["若关于 x 的一元二次方程 x^{2}+2 x+c=0 有两个相等的实数根, 则 c=____"]
    assert free["reference"] == "1" and free["source"] == "cn_middle_school"


def test_chat_template_gives_messages(data_dir):
    _, test = load(["data=cn_middle_school", "template=qwen_chat"])
    assert [m["role"] for m in test[0]["prompt"]] == ["system", "user"]
    assert test[0]["prompt"][1]["content"] == test[0]["question"]


def test_split_is_deterministic_by_seed_and_disjoint(tmp_path):
    path = write(tmp_path / "qa.jsonl", [{"question": f"问题{i}", "reference": str(i)} for i in range(40)])
    base = ["data=zh_general", f"data.path={path}", "data.test_size=8"]
    a, b, c = load([*base, "seed=1"]), load([*base, "seed=1"]), load([*base, "seed=2"])
    assert a == b and a[1] != c[1]
    assert len(a[0]) == 32 and not {r["question"] for r in a[0]} & {r["question"] for r in a[1]}
    capped, _ = load([*base, "data.train_size=5"])
    assert len(capped) == 5


def test_difficulty_is_copied_when_a_field_names_it(tmp_path):
    path = write(tmp_path / "qa.jsonl", [{"q": f"问题{i}", "a": "答", "grade": i} for i in range(5)])
    train, _ = load(
        [
            "data=zh_general",
            f"data.path={path}",
            "data.question_field=q",
            "data.reference_field=a",
            "data.difficulty_field=grade",
            "data.test_size=1",
        ]
    )
    assert all(set(r) == {"question", "reference", "source", "difficulty", "prompt"} for r in train)
    assert len(train) == 4 and {r["difficulty"] for r in train} < set(range(5))


GOOD = {"question": "中国的首都是哪里？", "reference": "北京"}
MC = {"question": "选一个 ( )", "options": {"A": "甲", "B": "乙"}, "label": "B"}


@pytest.mark.parametrize(
    "rows, overrides, needles",
    [
        ([GOOD, '{"question": "坏行", ', GOOD], [], [":2:", "not valid JSON"]),
        ([GOOD, GOOD, ["a list"]], [], [":3:", "JSON object"]),
        ([GOOD, {"question": "无答案"}], [], [":2:", "'reference'", "data.reference_field", "question"]),
        ([GOOD, {"question": "", "reference": "x"}], [], [":2:", "'question'", "non-empty"]),
        ([GOOD, {"question": "空答案", "reference": None}], [], [":2:", "'reference'", "no reference"]),
        ([GOOD], ["data.question_field=prompt"], [":1:", "'prompt'", "data.question_field", "reference"]),
        (
            [MC, MC],
            ["data.reference_field=null", "data.options_field=choices", "data.label_field=label"],
            [":1:", "'choices'", "data.options_field"],
        ),
        (
            [MC, {**MC, "label": "E"}],
            ["data.reference_field=null", "data.options_field=options", "data.label_field=label"],
            [":2:", "'label'", "'E'", "A, B"],
        ),
        (
            [MC, {**MC, "label": ""}],
            ["data.reference_field=null", "data.options_field=options", "data.label_field=label"],
            [":2:", "'label'", "data.label_field"],
        ),
    ],
)
def test_a_broken_file_names_file_line_and_field(tmp_path, rows, overrides, needles):
    path = write(tmp_path / "broken.jsonl", rows)
    with pytest.raises(DataError) as err:
        load(["data=zh_general", f"data.path={path}", "data.test_size=0", *overrides])
    message = str(err.value)
    assert "\n" not in message and "broken.jsonl" in message
    for needle in needles:
        assert needle in message, message


def test_multi_answer_labels_name_every_option(tmp_path):
    rows = [{**MC, "options": {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}, "label": label} for label in ("AD", "A C")]
    path = write(tmp_path / "mc.jsonl", rows)
    _, train = load(["data=gaokao_mc", f"data.path={path}"])  # an evaluation preset: all rows test
    assert [r["reference"] for r in train] == ["A. 甲\nD. 丁", "A. 甲\nC. 丙"]
    assert train[0]["question"] == "选一个 ( )\nA. 甲\nB. 乙\nC. 丙\nD. 丁"


@pytest.mark.parametrize(
    "overrides, error, needle",
    [
        (["data.test_size=3"], ConfigError, "data.test_size=3"),
        (["data.test_size=-1"], ConfigError, "data.test_size"),
        (["data.reference_field=null"], ConfigError, "data.reference_field"),
    ],
)
def test_bad_settings_are_one_line_errors(tmp_path, overrides, error, needle):
    path = write(tmp_path / "qa.jsonl", [GOOD, GOOD, GOOD])
    with pytest.raises(error, match=needle):
        load(["data=zh_general", f"data.path={path}", *overrides])


def test_missing_file_and_offline_hub_id_fail_with_one_line(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="no such file"):
        load(["data=zh_general", f"data.path={tmp_path / 'nope.jsonl'}"])
    # Never touch the network here: the hub is reported unreachable.
    monkeypatch.setattr(r1exp.common.hub, "hub_reachable", lambda *a, **k: False)
    with pytest.raises(DataError, match=r"data.path=someone/zh-qa: .*unreachable \(offline\).*hub dataset id"):
        load(["data=zh_general", "data.path=someone/zh-qa"])


def test_the_training_option_reads_its_hub_dataset_and_fails_offline_in_one_line(monkeypatch):
    from huggingface_hub import constants

    cfg = compose(["data=zh_cqia_exam"])
    assert (cfg.data.hub, cfg.data.hub_config, cfg.data.path) == ("m-a-p/COIG-CQIA", "exam", None)
    assert not cfg.data.eval_only
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(r1exp.common.hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(DataError) as err:
        build_splits(cfg.data, cfg.template)
    assert str(err.value).startswith("data.hub=m-a-p/COIG-CQIA: ") and "data.path" in str(err.value)
