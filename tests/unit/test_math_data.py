"""Math data sources (r1exp/tasks/math/data.py): the shared evaluation files load through their configs
(all rows test, none train), the training option reads the hub, the gold is read as configured, the
split is seeded and never repeats a test question in train, and bad files or fields fail before
training with file, line and key."""

import json
import time

import pytest
from omegaconf import OmegaConf

from r1exp.errors import ConfigError, DataError
from r1exp.rewards.counters import Counters
from r1exp.tasks import build_splits
from r1exp.tasks.math.data import gold_from
from r1exp.tasks.math.reward import math_correct
from tests.conftest import compose

BASE = ["data.test_size=2", "data.seed=0"]


@pytest.mark.parametrize(
    "option, rows, columns, difficulties",
    [
        ("math500", 500, {"solution", "difficulty", "subject", "unique_id"}, {1, 2, 3, 4, 5}),
        ("gsm8k", 1319, {"solution"}, None),
        ("cmath", 600, {"difficulty"}, {1, 2, 3, 4, 5, 6}),
    ],
)
def test_shared_files_load_through_their_configs(data_dir, option, rows, columns, difficulties):
    cfg = compose([f"data={option}", "reward=math"])
    train, test = build_splits(cfg.data, cfg.template)
    # an evaluation set: every row is test, none is train
    assert cfg.data.eval_only and train == [] and len(test) == rows
    every = test
    assert all(set(r) == {"question", "answer", "source", "prompt"} | columns for r in every)
    assert all(r["source"] == cfg.data.name for r in every)
    assert all(isinstance(r["answer"], str) and r["answer"] and "####" not in r["answer"] for r in every)
    assert all(r["question"] in r["prompt"] and "<answer> \\boxed{42} </answer>" in r["prompt"] for r in every)
    if difficulties:
        assert {r["difficulty"] for r in every} == difficulties


def test_gsm8k_gold_is_the_number_after_the_hashes(data_dir):
    cfg = compose(["data=gsm8k", *BASE])
    train, test = build_splits(cfg.data, cfg.template)
    by_question = {r["question"]: r for r in train + test}
    first = json.loads((data_dir / "gsm8k.test.jsonl").open().readline())
    row = by_question[first["question"]]
    assert row["answer"] == "18" and row["solution"] == first["answer"]


def test_math500_keeps_the_solution_and_the_level(data_dir):
    cfg = compose(["data=math500", *BASE])
    train, test = build_splits(cfg.data, cfg.template)
    first = json.loads((data_dir / "math500.test.jsonl").open().readline())
    row = next(r for r in train + test if r["unique_id"] == first["unique_id"])
    assert row["answer"] == first["answer"] and row["solution"] == first["solution"]
    assert row["difficulty"] == first["level"] and row["subject"] == first["subject"]
    assert row["question"] == first["problem"]


def test_cmath_is_chinese_with_the_grade_as_difficulty(data_dir):
    cfg = compose(["data=cmath", *BASE])
    train, test = build_splits(cfg.data, cfg.template)
    first = json.loads((data_dir / "cmath.test.jsonl").open(encoding="utf-8").readline())
    row = next(r for r in train + test if r["question"] == first["question"])
    assert row["answer"] == first["answer"] and row["difficulty"] == first["grade"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in row["question"])


@pytest.mark.parametrize("option", ["gsm8k", "cmath"])
def test_every_shared_gold_is_gradable(data_dir, option):
    """Each gold, boxed as a model would write it, is correct against itself: none is skipped as unparsable."""
    cfg = compose([f"data={option}"])
    _, test = build_splits(cfg.data, cfg.template)
    golds = [r["answer"] for r in test]
    counters = Counters()
    out = math_correct(
        [""] * len(golds),
        [f"<answer>\\boxed{{{g}}}</answer>" for g in golds],
        answer=golds,
        counters=counters,
        workers=2,
        timeout=5.0,
    )
    assert counters.drain() == {}
    assert [g for g, v in zip(golds, out, strict=True) if v != 1.0] == []
    # A boxed gold equals the gold's own text, which the reward settles without math-verify: ask
    # math-verify itself that every gold parses.
    from r1exp.tasks.math.verify import GOLD_UNPARSABLE, Verifier

    pool = Verifier(2, 5.0)
    try:
        results = pool.map([(g, None) for g in golds])
        assert [g for g, (_, r) in zip(golds, results, strict=True) if r == GOLD_UNPARSABLE] == []
    finally:
        pool.close()


def test_split_is_seeded_and_sized(data_dir):
    def ids(*overrides):
        # MATH-500's file as if it were a training file, to test the split itself
        cfg = compose(["data=math500", "data.eval_only=false", "data.seed=${seed}", *overrides])
        train, test = build_splits(cfg.data, cfg.template)
        return [r["unique_id"] for r in train], [r["unique_id"] for r in test]

    train, test = ids("data.seed=1", "data.test_size=50", "data.train_size=100")
    assert (train, test) == ids("data.seed=1", "data.test_size=50", "data.train_size=100")
    assert len(train) == 100 and len(test) == 50 and not set(train) & set(test)
    assert test != ids("data.seed=2", "data.test_size=50")[1]
    assert test == ids("seed=1", "data.test_size=50")[1]  # data.seed follows the run's seed


# --- small fixture files ---------------------------------------------------------------------


def _data(tmp_path, lines, **overrides):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines))
    keys = {
        "name": "fixture",
        "source": "math",
        "path": str(path),
        "hub": None,
        "question_field": "q",
        "answer_field": "a",
        "answer_format": "field",
        "solution_field": None,
        "difficulty_field": None,
        "extra_fields": [],
        "test_size": 1,
        "train_size": None,
        "seed": 0,
        "answer_example": "\\boxed{42}",
        **overrides,
    }
    return OmegaConf.create(keys), path


def _load(tmp_path, lines, **overrides):
    data, _ = _data(tmp_path, lines, **overrides)
    return build_splits(data, compose([]).template)


ROWS = [{"q": "1+1?", "a": "2"}, {"q": "2+2?", "a": "4"}, {"q": "3+3?", "a": "6"}]


def test_a_broken_line_is_reported_with_its_number(tmp_path):
    with pytest.raises(DataError) as err:
        _load(tmp_path, [ROWS[0], "\n", '{"q": "2+2?", "a": \n', ROWS[2]])
    message = str(err.value)
    assert "rows.jsonl:3:" in message and "not valid JSON" in message and "\n" not in message


def test_a_row_that_is_not_an_object_is_reported(tmp_path):
    with pytest.raises(DataError, match=r"rows\.jsonl:2: a row must be a JSON object"):
        _load(tmp_path, [ROWS[0], "[1, 2]\n"])


@pytest.mark.parametrize(
    "overrides, lines, key",
    [
        ({"question_field": "problem"}, ROWS, "data.question_field"),
        ({"answer_field": "gold"}, ROWS, "data.answer_field"),
        ({"solution_field": "solution"}, ROWS, "data.solution_field"),
        ({"difficulty_field": "level"}, ROWS, "data.difficulty_field"),
        ({"extra_fields": ["id"]}, ROWS, "data.extra_fields"),
        ({}, [ROWS[0], {"q": "2+2?", "answer": "4"}], "data.answer_field"),
    ],
)
def test_a_missing_field_names_file_line_field_and_key(tmp_path, overrides, lines, key):
    with pytest.raises(DataError) as err:
        _load(tmp_path, lines, **overrides)
    message = str(err.value)
    line = 2 if lines is not ROWS else 1
    assert f"rows.jsonl:{line}:" in message and key in message and "fields are:" in message


@pytest.mark.parametrize(
    "lines, overrides",
    [
        ([ROWS[0], {"q": "", "a": "4"}], {}),
        ([ROWS[0], {"q": "2+2?", "a": "  "}], {}),
        ([ROWS[0], {"q": "2+2?", "a": None}], {}),
        ([ROWS[0], {"q": "2+2?", "a": "4"}], {"answer_format": "after_hashes"}),
        ([ROWS[0], {"q": "2+2?", "a": "so 4"}], {"answer_format": "last_boxed"}),
        ([ROWS[0], {"q": "2+2?", "a": "4", "lvl": "hard"}], {"difficulty_field": "lvl"}),
    ],
)
def test_a_bad_value_names_its_line(tmp_path, lines, overrides):
    fmt = overrides.get("answer_format")
    if fmt:  # the first row must pass, so give it the right shape
        lines = [{"q": "1+1?", "a": "#### 2" if fmt == "after_hashes" else "\\boxed{2}"}, lines[1]]
    if "difficulty_field" in overrides:
        lines = [{**ROWS[0], "lvl": 1}, lines[1]]
    with pytest.raises(DataError, match=r"rows\.jsonl:2: field"):
        _load(tmp_path, lines, **overrides)


@pytest.mark.parametrize(
    "text, fmt, gold",
    [
        ("42", "field", "42"),
        ("  \\frac{1}{2} ", "field", "\\frac{1}{2}"),
        ("She makes 9 * 2 = $<<9*2=18>>18.\n#### 18", "after_hashes", "18"),
        ("#### 1,000", "after_hashes", "1,000"),
        ("no hashes", "after_hashes", None),
        ("So $x = \\boxed{\\frac{1}{2}}$, or \\boxed{0.5}.", "last_boxed", "0.5"),
        ("\\boxed{\\{1, 2\\}}", "last_boxed", "\\{1, 2\\}"),
        ("no box", "last_boxed", None),
    ],
)
def test_gold_from(text, fmt, gold):
    assert gold_from(text, fmt) == gold


def test_fields_formats_and_types_are_mapped(tmp_path):
    lines = [
        {"problem": "p1", "solution": "so \\boxed{18}", "level": "Level 3", "id": "a"},
        {"problem": "p2", "solution": "so \\boxed{\\frac12}", "level": 5, "id": "b"},
    ]
    train, test = _load(
        tmp_path,
        lines,
        question_field="problem",
        answer_field="solution",
        answer_format="last_boxed",
        solution_field="solution",
        difficulty_field="level",
        extra_fields=["id"],
    )
    rows = {r["id"]: r for r in train + test}
    assert rows["a"] == {
        "question": "p1",
        "answer": "18",
        "source": "fixture",
        "solution": "so \\boxed{18}",
        "difficulty": 3,
        "id": "a",
        "prompt": rows["a"]["prompt"],
    }
    assert rows["b"]["answer"] == "\\frac12" and rows["b"]["difficulty"] == 5


def test_a_numeric_gold_becomes_text(tmp_path):
    train, test = _load(tmp_path, [{"q": "1+1?", "a": 2}, {"q": "half?", "a": 0.5}])
    assert sorted(r["answer"] for r in train + test) == ["0.5", "2"]


def test_a_missing_file_names_the_key_and_the_env_var(tmp_path):
    data, path = _data(tmp_path, ROWS)
    path.unlink()
    with pytest.raises(DataError, match=r"data\.path=.*no such file; set R1EXP_DATA_DIR"):
        build_splits(data, compose([]).template)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"hub": "org/name"}, "set exactly one"),
        ({"path": None}, "set exactly one"),
        ({"answer_format": "boxed"}, "data.answer_format='boxed' is unknown"),
        ({"test_size": 3}, "the data has 3 rows"),
        ({"test_size": 1, "train_size": 5}, "the data has 3 rows"),
        ({"test_size": -1}, "data.test_size=-1"),
        ({"train_size": "all"}, "data.train_size='all'"),
    ],
)
def test_config_mistakes_are_one_line(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        _load(tmp_path, ROWS, **overrides)


def test_an_explicit_empty_train_split_is_allowed(tmp_path):
    train, test = _load(tmp_path, ROWS, test_size=3, train_size=0)
    assert train == [] and len(test) == 3


def test_a_hub_dataset_offline_fails_at_once_with_one_line(tmp_path, monkeypatch):
    from huggingface_hub import constants

    from r1exp.common import hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    data, _ = _data(tmp_path, ROWS, path=None, hub="HuggingFaceH4/MATH-500", hub_split="test")
    start = time.monotonic()
    with pytest.raises(DataError) as err:
        build_splits(data, compose([]).template)
    assert time.monotonic() - start < 5
    message = str(err.value)
    assert message.startswith("data.hub=HuggingFaceH4/MATH-500: ") and "data.path" in message and "\n" not in message


def test_a_hub_style_dataset_maps_like_a_file(tmp_path, monkeypatch):
    """`data.hub` goes through datasets.load_dataset; a local dataset folder stands in for the hub here."""
    from huggingface_hub import constants

    from r1exp.common import hub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)
    folder = tmp_path / "hub"
    folder.mkdir()
    (folder / "test.jsonl").write_text("".join(json.dumps({**r, "level": "Level 2"}) + "\n" for r in ROWS))
    data, _ = _data(tmp_path, ROWS, path=None, hub=str(folder), hub_split="test", difficulty_field="level")
    train, test = build_splits(data, compose([]).template)
    assert sorted(r["answer"] for r in train + test) == ["2", "4", "6"]
    assert {r["difficulty"] for r in train + test} == {2} and len(test) == 1


def test_the_training_option_reads_math_train_from_the_hub_and_fails_offline_in_one_line(monkeypatch):
    from huggingface_hub import constants

    from r1exp.common import hub

    cfg = compose(["data=math"])
    assert (cfg.data.hub, cfg.data.hub_split, cfg.data.path) == ("DigitalLearningGmbH/MATH-lighteval", "train", None)
    assert cfg.data.answer_format == "last_boxed" and not cfg.data.eval_only
    assert compose(["data=gsm8k_train"]).data.hub == "openai/gsm8k"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: False)
    with pytest.raises(DataError) as err:
        build_splits(cfg.data, cfg.template)
    assert str(err.value).startswith("data.hub=DigitalLearningGmbH/MATH-lighteval: ") and "\n" not in str(err.value)


def test_a_local_math_train_file_with_an_unknown_level_and_a_repeated_question(tmp_path):
    lines = [
        {"problem": f"p{i}", "solution": f"so \\boxed{{{i}}}", "level": f"Level {i % 5 + 1}", "type": "Algebra"}
        for i in range(20)
    ]
    lines.append({"problem": "p-unknown", "solution": "\\boxed{7}", "level": "Level ?", "type": "Geometry"})
    lines += [dict(lines[i]) for i in range(20)]  # every question twice
    path = tmp_path / "math_train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    cfg = compose(["data=math", "data.hub=null", f"data.path={path}", "data.test_size=5"])
    train, test = build_splits(cfg.data, cfg.template)
    # a question held out for test never appears in train, even when the file repeats it
    assert not {r["question"] for r in test} & {r["question"] for r in train}
    unknown = [r for r in train + test if r["question"] == "p-unknown"]
    assert unknown and "difficulty" not in unknown[0] and unknown[0]["answer"] == "7"
