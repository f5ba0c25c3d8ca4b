"""Contamination guard: normalised exact matches and long shared n-grams between training rows and an
evaluation set are counted; above the threshold training is refused with one line naming an example."""

import json

import pytest

from r1exp.common.contamination import check, normalize, overlap, tokens
from r1exp.errors import ConfigError


def test_normalize_folds_width_case_punctuation_and_space():
    assert normalize("  What is ２+２?\n\tAnswer:  FOUR!! ") == "what is 2 2 answer four"
    assert tokens("求函数f(x)的最小值。") == ["求", "函", "数", "f", "x", "的", "最", "小", "值"]


def test_exact_and_ngram_overlap_are_counted_apart():
    evals = [
        "Find the smallest positive integer n such that n squared ends in the digits 444 exactly.",
        "How many ways can five distinct books be arranged on a shelf if two must stay together?",
        "What is 2+2?",
    ]
    train = [
        "find the smallest positive INTEGER n such that n squared ends in the digits 444, exactly",  # exact
        "Q: How many ways can five distinct books be arranged on a shelf if two must stay together? Explain.",
        "What is 3+3?",  # short and different: no match
    ]
    result = overlap(train, evals, "bench", n=13)
    assert (result.exact, result.ngram, result.eval_rows) == (1, 1, 3)
    assert result.examples[0][0].startswith("find the smallest")
    assert overlap(train, evals, "bench", n=40).ngram == 0  # the texts are shorter than 40 tokens


def test_template_boilerplate_shared_by_many_eval_rows_is_not_an_overlap():
    lead = "Using the numbers below create an equation that equals the target and show your work step by step"
    evals = [f"{lead} numbers {i} {i + 1} {i + 2} target {i * 3}" for i in range(40)]
    train = [f"{lead} numbers {i} {i + 5} {i + 7} target {i * 2}" for i in range(100, 140)]
    assert overlap(train, evals, "countdown", n=13).contaminated == 0


def test_chinese_text_gets_character_shingles():
    q = "某商店购进一批水果，第一天卖出总数的三分之一，第二天卖出剩下的一半，还剩二十千克，这批水果共有多少千克？"
    result = overlap(["例题：" + q[:-1] + "呢"], [q, "一加一等于几？"], "cmath", n=13)
    assert result.ngram == 1


def test_check_refuses_above_threshold_and_reports_counts_below():
    evals = {
        "bench": [f"problem number {i} about a triangle with sides {i}, {i + 1} and {i + 2} units" for i in range(100)]
    }
    train = [evals["bench"][0]] + [f"unrelated training question {i} on sequences and series sums" for i in range(50)]
    counts = check(train, evals, n=13, max_fraction=0.05)
    assert counts == {"bench": {"eval_rows": 100, "exact": 1, "ngram": 0, "fraction": 0.01}}
    with pytest.raises(ConfigError) as err:
        check(train, evals, n=13, max_fraction=0.0)
    msg = str(err.value)
    assert "\n" not in msg and "1 of 100 rows" in msg and "contamination.max_fraction=0.0" in msg
    assert "problem number 0" in msg
    with pytest.raises(ConfigError, match="must be between 0 and 1"):
        check(train, evals, max_fraction=2)


def test_a_train_file_copied_from_math500_is_refused(data_dir, tmp_path):
    math500 = [json.loads(line)["problem"] for line in (data_dir / "math500.test.jsonl").read_text().splitlines()]
    # 30 benchmark problems slipped into a training file: 10 recased and repunctuated (exact after
    # normalising), 10 with a sentence added (shared 13-grams), 10 verbatim
    edits = [lambda p: p.upper().replace(",", " ,"), lambda p: p + " Show your work.", lambda p: p]
    train = [edits[i % 3](p) for i, p in enumerate(math500[:30])]
    train += [f"Compute the sum of the first {k} odd numbers." for k in range(3, 200)]
    found = overlap(train, math500, "math500", n=13)
    assert found.exact == 20 and found.ngram >= 8  # a problem under 13 tokens with a sentence added is missed
    with pytest.raises(ConfigError, match=rf"overlaps the evaluation set math500: {found.contaminated} of 500 rows"):
        check(train, {"math500": math500}, n=13, max_fraction=0.01)
    clean = check(train[30:], {"math500": math500}, n=13, max_fraction=0.01)
    assert clean["math500"]["exact"] + clean["math500"]["ngram"] <= 1
