"""Contamination guard: lightly edited copies of an evaluation problem are found (prefix, zero-width
characters, homoglyphs, dropped words, a renamed number, numbers renamed in a worded problem), distinct
problems sharing a stock phrase are not, and above the threshold training is refused in one line."""

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.common.contamination import EvalIndex, check, normalize, overlap, tokens
from r1exp.errors import ConfigError


def test_normalize_folds_width_case_format_characters_and_look_alikes():
    assert normalize("  What is ２+２?\n\tAnswer:  FOUR!! ") == "what is 2 + 2 answer four"
    assert tokens("求函数f(x)的最小值。") == ["求", "函", "数", "f", "(", "x", ")", "的", "最", "小", "值"]
    # zero-width space, word joiner, BOM and a soft hyphen vanish; Cyrillic а/е/о/р/с/х read as Latin
    assert normalize("Fi\u200bnd th\u2060e v\ufeffal\u00adue") == normalize("Find the value")
    assert normalize("Соmрute thе ехасt vаluе") == normalize("Compute the exact value")
    # letters and digits are separate tokens; braces and dollars are layout
    assert tokens("$\\frac{10r^3}{4r}$") == ["\\", "frac", "10", "r", "^", "3", "4", "r"][1:]


def test_exact_near_and_renamed_copies_are_counted_apart():
    evals = [
        "Find the smallest positive integer n such that n squared ends in the digits 444 exactly.",
        "How many ways can five distinct books be arranged on a shelf if two must stay together?",
        "A train leaves the station at 3 pm traveling 60 miles per hour toward a city 240 miles away. "
        "When does it arrive?",
        "What is 2+2?",
    ]
    train = [
        "find the smallest positive INTEGER n such that n squared ends in the digits 444, exactly",  # exact
        "Problem: How many ways can five books be arranged on a shelf if two must stay together?",  # near
        "A train leaves the station at 5 pm traveling 45 miles per hour toward a city 180 miles away. "
        "When does it arrive?",  # every number renamed, the words identify the problem
        "What is 3+3?",  # a short formula with other numbers is another problem
    ]
    result = overlap(train, evals, "bench")
    assert (result.exact, result.near, result.renamed, result.eval_rows) == (1, 1, 1, 4)
    assert result.examples[0][0].startswith("find the smallest")


def test_template_boilerplate_shared_by_many_eval_rows_is_not_an_overlap():
    lead = "Using the numbers below create an equation that equals the target and show your work step by step"
    evals = [f"{lead} numbers {i} {i + 1} {i + 2} target {i * 3}" for i in range(40)]
    train = [f"{lead} numbers {i} {i + 5} {i + 7} target {i * 2}" for i in range(100, 140)]
    assert overlap(train, evals, "countdown").contaminated == 0


def test_chinese_uses_character_ngrams_and_a_stock_phrase_is_not_a_copy():
    q = "某商店购进一批水果，第一天卖出总数的三分之一，第二天卖出剩下的一半，还剩二十千克，这批水果共有多少千克？"
    assert overlap(["例题：" + q[:-1] + "呢"], [q, "一加一等于几？"], "cmath").near == 1
    # Two linear programs share the stock set-up "设x,y满足约束条件 ... 则z=...的最大值": distinct problems.
    a = "设 $x, y$ 满足约束条件 $x+y-7 \\leqslant 0, x-3 y+1 \\leqslant 0, 3 x-y-5 \\geqslant 0$, "
    a += "则 $z=2 x-y$ 的最大值为"
    b = "设 $x, y$ 满足约束条件 $2 x+3 y-3 \\leqslant 0, 2 x-3 y+3 \\geqslant 0, y+3 \\geqslant 0$, "
    b += "则 $z=2 x+y$ 的最小值是"
    assert overlap([b], [a], "gaokao").contaminated == 0
    assert overlap([a.replace("的最大值为", "的最大值")], [a], "gaokao").near == 1


def test_a_different_question_after_the_same_set_up_is_not_a_copy():
    setup = "A farmer has 17 sheep and 23 goats in a field next to the river, and buys 5 more sheep at the market."
    e = setup + " How many animals does the farmer have now in total?"
    t = setup + " If each sheep eats twice as much as a goat, what fraction of the hay do the goats eat?"
    assert overlap([t], [e], "gsm8k").contaminated == 0
    assert overlap([e.replace(" now", "")], [e], "gsm8k").near == 1  # one dropped word


def test_check_refuses_above_threshold_and_reports_counts_below():
    rng = random.Random(0)
    words = "triangle circle square sides angle degrees area perimeter radius chord tangent height base".split()
    evals = {
        "bench": [f"problem {i}: a {' '.join(rng.sample(words, 6))} of {i} units and {i + 1} more" for i in range(100)]
    }
    train = [evals["bench"][0]] + [f"unrelated training question {i} on sequences and series sums" for i in range(50)]
    counts = check(train, evals, max_fraction=0.05)
    assert counts == {"bench": {"eval_rows": 100, "exact": 1, "near": 0, "renamed": 0, "fraction": 0.01}}
    with pytest.raises(ConfigError) as err:
        check(train, evals, max_fraction=0.0)
    msg = str(err.value)
    assert "\n" not in msg and "1 of 100 rows (1 exact, 0 near copies, 0 with numbers renamed)" in msg
    assert "contamination.max_fraction=0.0" in msg and "problem 0" in msg
    with pytest.raises(ConfigError, match="must be between 0 and 1"):
        check(train, evals, max_fraction=2)
    with pytest.raises(ConfigError, match=r"contamination.min_overlap=0 must be in \(0, 1\]"):
        check(train, evals, min_overlap=0)


def test_exact_only_sets_ignore_near_copies():
    evals = {"countdown": ["countdown 1 2 3 target 6", "countdown 4 5 6 target 15"]}
    train = ["countdown 1 2 3 target 7", "countdown 4 5 6 target 15"]
    assert check(train, evals, max_fraction=1.0)["countdown"]["near"] == 1
    assert check(train, evals, max_fraction=1.0, exact_only=["countdown"])["countdown"] == {
        "eval_rows": 2,
        "exact": 1,
        "near": 0,
        "renamed": 0,
        "fraction": 0.5,
    }


# ------------------------------------------------------------------ generated problems and edits

WORDS = (
    "apple basket river garden teacher market bicycle window number bottle pencil orange library "
    "station chicken bridge candle forest ladder mirror rocket silver tomato violin wallet yellow"
).split()
HANZI = "苹果篮子河流花园老师市场自行车窗户数字瓶子铅笔橘子图书馆车站小鸡桥梁蜡烛森林梯子镜子火箭银色番茄"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
LOOK_ALIKES = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х"}


def _vocab(units, part):
    units = sorted(set(units))
    return units if part is None else units[part::2]


@st.composite
def problems(draw, part=None, chinese=None):
    """A worded problem (8-20 English words or 20-40 Chinese characters, from half the vocabulary when
    `part` is 0 or 1) with a few numbers in it; a light edit changes at most a tenth of it."""
    if not (draw(st.booleans()) if chinese is None else chinese):
        words = draw(st.lists(st.sampled_from(_vocab(WORDS, part)), min_size=8, max_size=20, unique=True))
        sep = " "
    else:
        words = draw(st.lists(st.sampled_from(_vocab(HANZI, part)), min_size=20, max_size=40, unique=True))
        sep = ""
    for _ in range(draw(st.integers(1, 3))):
        words.insert(draw(st.integers(0, len(words))), str(draw(st.integers(2, 999))))
    return sep.join(words) + "?", sep


@st.composite
def edited(draw):
    """(problem, a light edit of it): prefix, zero-width characters, look-alikes, a dropped word, a number."""
    (text, sep), edit = draw(problems()), draw(st.sampled_from(["prefix", "zw", "glyph", "drop", "number"]))
    if edit == "prefix":
        out = draw(st.sampled_from(["Problem: ", "Question 12. ", "题目：", "Solve: "])) + text
    elif edit == "zw":
        out = "".join(ch + (draw(st.sampled_from(ZERO_WIDTH)) if draw(st.booleans()) else "") for ch in text)
    elif edit == "glyph":
        out = "".join(LOOK_ALIKES[ch] if ch in LOOK_ALIKES and draw(st.booleans()) else ch for ch in text)
    elif edit == "drop":
        units = text.split(" ") if sep else list(text)
        # In Chinese a dropped word between two numbers would join them into a new number: that is
        # two edits at once, not a dropped word.
        joins = [
            not sep and 0 < i < len(units) - 2 and units[i - 1].isdigit() and units[i + 2].isdigit()
            for i in range(len(units))
        ]
        words = [i for i, u in enumerate(units) if not u.isdigit() and not u.endswith("?") and not joins[i]]
        i = draw(st.sampled_from(words))
        out = sep.join(units[:i] + units[i + (1 if sep else 2) :])
    else:
        numbers = list(re.finditer(r"\d+", text))
        m = draw(st.sampled_from(numbers))
        out = text[: m.start()] + str(int(m.group()) + draw(st.integers(1, 9))) + text[m.end() :]
    return text, out


@settings(max_examples=150, derandomize=True, deadline=None)
@given(edited(), st.lists(problems(), min_size=2, max_size=4))
def test_lightly_edited_copies_are_found(pair, others):
    problem, copy = pair
    evals = [problem, *(text for text, _ in others)]
    assert 0 in EvalIndex(evals).scan([copy]), (problem, copy)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.booleans(), st.data())
def test_distinct_problems_sharing_a_stock_phrase_are_not_flagged(chinese, data):
    """Two problems written with disjoint vocabularies behind the same stock opening do not match."""
    ta, sep = data.draw(problems(part=0, chinese=chinese))
    tb, _ = data.draw(problems(part=1, chinese=chinese))
    stock = ["设", "满", "足", "约", "束", "条", "件"] if chinese else ["let", "x", "and", "y", "be", "such", "that"]
    ea, eb = sep.join([*stock, ta]), sep.join([*stock, tb])
    assert EvalIndex([ea]).scan([eb]) == {}, (ea, eb)
    assert 0 in EvalIndex([ea]).scan([eb + sep + ea])  # the problem inside a longer training text is found


# ------------------------------------------------------------------ the shared evaluation files


def _questions(path, field="question"):
    return [json.loads(line)[field] for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_train_file_copied_from_math500_is_refused(data_dir):
    math500 = _questions(data_dir / "math500.test.jsonl", "problem")
    # 30 benchmark problems slipped into a training file behind a prefix, with zero-width spaces, with
    # a number changed; the 51 problems under 13 tokens used to escape behind the prefix
    short = [p for p in math500 if len(tokens(p)) < 13][:10]
    edits = [lambda p: "Problem: " + p, lambda p: p.replace(" ", " \u200b"), lambda p: re.sub(r"\d", "7", p, count=1)]
    train = [edits[i % 3](p) for i, p in enumerate(math500[:20] + short)]
    train += [f"Compute the sum of the first {k} odd numbers." for k in range(3, 200)]
    found = overlap(train, math500, "math500")
    assert found.contaminated >= 29
    with pytest.raises(ConfigError, match=rf"overlaps the evaluation set math500: {found.contaminated} of 500 rows"):
        check(train, {"math500": math500}, max_fraction=0.01)
    assert check(train[30:], {"math500": math500}, max_fraction=0.01)["math500"]["fraction"] == 0


@pytest.mark.parametrize(
    "file, field",
    [("math500", "problem"), ("gsm8k", "question"), ("cmath", "question"), ("gaokao_math_qa", "question")],
)
def test_real_sets_edited_copies_found_and_halves_do_not_match(data_dir, file, field):
    """On a sample of each shared set: every light edit found; two random halves (distinct problems) clean."""
    texts = list(dict.fromkeys(_questions(data_dir / f"{file}.test.jsonl", field)))
    rng = random.Random(0)
    sample = rng.sample(texts, 150)
    index = EvalIndex(sample)
    copies = [
        "Problem: " + t if i % 3 == 0 else "".join(ch + "\u200b" * (j % 5 == 0) for j, ch in enumerate(t))
        if i % 3 == 1 else "".join(LOOK_ALIKES.get(ch, ch) for ch in t)
        for i, t in enumerate(sample)
    ]  # fmt: skip
    assert len(index.scan(copies)) == len(sample)
    half = len(sample) // 2
    # gaokao_math_qa holds one problem twice, reformatted; a sample of 150 of 346 may catch both
    assert len(EvalIndex(sample[:half]).scan(sample[half:])) <= 1
