"""pass@k, maj@k and the eval summary, against hand-computed values."""

from math import comb

import pytest

from r1exp.evaluation import majority_correct, pass_at_k, summarize


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (4, 0, 1, 0.0),
        (4, 4, 1, 1.0),
        (4, 1, 1, 0.25),
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2) = 1 - 1/6
        (4, 1, 4, 1.0),
        (10, 3, 5, 1 - comb(7, 5) / comb(10, 5)),  # 1 - 21/252
        (5, 3, 3, 1.0),  # n - c < k
    ],
)
def test_pass_at_k(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.parametrize("n, c, k", [(3, 4, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_majority_vote():
    assert majority_correct(["1 + 2", "1+2", "3"], [True, True, False])
    assert not majority_correct(["3", "3", "1+2"], [False, False, True])
    assert majority_correct(["a", "b"], [True, False])  # tie: first seen
    assert not majority_correct([None, None], [False, False])


def _row(i, correct, tokens, truncated, difficulty, answer="x", fmt=1.0):
    return {
        "prompt_index": i,
        "completion_tokens": tokens,
        "truncated": truncated,
        "difficulty": difficulty,
        "answer_text": answer,
        "rewards": {"correct": correct, "format": fmt},
        "reward": correct + 0.1 * fmt,
    }


def test_summary_overall_and_by_difficulty():
    rows = [
        _row(0, 1.0, 10, False, 3, "a"),
        _row(0, 0.0, 20, False, 3, "b"),
        _row(0, 1.0, 30, False, 3, "a"),
        _row(0, 0.0, 40, True, 3, "c"),
        _row(1, 0.0, 50, False, 4, "d"),
        _row(1, 0.0, 60, True, 4, "d"),
        _row(1, 0.0, 70, True, 4, "e"),
        _row(1, 1.0, 80, False, 4, "f", fmt=0.0),
    ]
    s = summarize(rows, "correct", "format")
    assert s["samples"] == 8 and s["prompts"] == 2
    assert s["accuracy"] == pytest.approx(3 / 8)
    assert s["pass@1"] == pytest.approx((2 / 4 + 1 / 4) / 2)
    assert s["pass@2"] == pytest.approx(((1 - comb(2, 2) / comb(4, 2)) + (1 - comb(3, 2) / comb(4, 2))) / 2)
    assert s["pass@4"] == pytest.approx(1.0)
    assert s["maj@4"] == pytest.approx(0.5)  # prompt 0: "a" (correct); prompt 1: "d" (wrong)
    assert s["truncation_rate"] == pytest.approx(3 / 8)
    assert s["format_rate"] == pytest.approx(7 / 8)
    assert s["length_mean"] == pytest.approx(45) and s["length_median"] == pytest.approx(45)
    assert s["length_p90"] == 80
    assert set(s["by_difficulty"]) == {"3", "4"}
    assert s["by_difficulty"]["3"]["accuracy"] == pytest.approx(0.5)
    assert s["by_difficulty"]["4"]["truncation_rate"] == pytest.approx(0.5)
