"""Contamination guard: detection of lightly edited copies, false positives between distinct problems.

    R1EXP_DATA_DIR=... python benchmarks/contamination.py [--splits 20] [--seed 0]

For each evaluation set in $R1EXP_DATA_DIR (math500, gsm8k, cmath, gaokao_mc = gaokao_math_qa,
cn_middle_school), the question texts the guard sees (`problem_text` of the set's rows):

- Detection: every problem, lightly edited, is put in a training list next to nothing else; the
  share of problems the guard finds. Edits (seeded): `Problem: ` in front; zero-width characters
  (U+200B/C/D, U+2060, U+FEFF) after 15 % of characters; Cyrillic look-alikes for half of the Latin
  a/c/e/o/p/x; dropped words (Latin: prose words outside `$...$`, one per 20 words, at least one; CJK:
  a two-character word per 40 characters, at least one); one number renamed (a number of the problem
  raised by 1-9). Also measured, with no target: every number renamed, which makes another problem out
  of a short formula (`Compute $\\dbinom{31}{28}$.`) and is caught where the words identify it.
- False positives: the set's distinct problems (exact duplicates removed) split at random into halves,
  each half checked against the other, `--splits` times; a flagged problem is a false positive unless
  the two problems are a pair read and listed below as the same problem (a reformatted duplicate with
  the same answer inside the set). Every flagged pair is printed, so the list can be reviewed.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from r1exp.common.contamination import EvalIndex, tokens
from r1exp.eval_sets import eval_set_rows, problem_text

SETS = ("math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school")

# Pairs of one set that are the same problem written twice (LaTeX vs plain text, spacing, a typo), read
# one by one among the flagged pairs: (a phrase of one text, the same place in the other).
SAME_PROBLEM = {
    "gaokao_mc": [
        ("新冠肺炎疫情防控期间", "新冠肺炎疫情防控期间"),
        ("直线 $x=a$ 与双曲线", "直线 $x=a$ 与双曲线"),
        ("是面积为 $\\frac{9 \\sqrt{3}}{4}$ 的等边三角形", "是面积为 $\\frac{9 \\sqrt{3}}{4}$ 的等边三角形"),
    ],
    "cn_middle_school": [
        ("m*n=m^n-mn", "m * n=m^{n}-m n"),
        ("[(2a+b)^2-(2a+b)(2a-b)]", "\\left[(2 a+b)^{2}-(2 a+b)(2 a-b)\\right]"),
        ("标有数字1，2，3，4", "标有数字 1 ， 2 ， 3 ， 4"),
        ("A.π/2  B.1/3", "A. \\frac{\\pi}{2} B. \\frac{1}{3}"),
        ("麻辣烫", "麻辣䖿"),
        ("运算结果为a^5", "运算结果为 a^{5}"),
        ("y=kx-1(k≠0)", "一次函数 y=k x-1(k"),
        ("降价2元销售", "降价 2 元销售"),
        ("x2+2x﹣m=0", "x^{2}+2 x-m=0"),
        ("化简：(a+1+1/(a-1))", "化简: \\left(a+1+\\frac{1}{a-1}\\right)"),
    ],
}

ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
HOMOGLYPHS = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х"}
_WORD = re.compile(r"^[A-Za-z]+[,.;:?!]?$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def prefix(text: str, rng: random.Random) -> str:
    return "Problem: " + text


def zero_width(text: str, rng: random.Random) -> str:
    return "".join(ch + (rng.choice(ZERO_WIDTH) if rng.random() < 0.15 else "") for ch in text)


def homoglyphs(text: str, rng: random.Random) -> str:
    return "".join(HOMOGLYPHS[ch] if ch in HOMOGLYPHS and rng.random() < 0.5 else ch for ch in text)


def dropped_words(text: str, rng: random.Random) -> str:
    cjk = [i for i in range(len(text) - 1) if _CJK.match(text[i]) and _CJK.match(text[i + 1])]
    if 3 * len(_CJK.findall(text)) > len(text):
        chars = list(text)
        for i in rng.sample(cjk, min(len(cjk), max(1, len(_CJK.findall(text)) // 40))):
            chars[i] = chars[i + 1] = ""
        return "".join(chars)
    parts, in_math, words = re.split(r"(\s+)", text), False, []
    for i, part in enumerate(parts):
        if not in_math and _WORD.match(part):
            words.append(i)
        if part.count("$") % 2:
            in_math = not in_math
    count = max(1, sum(1 for p in parts if p.strip()) // 20)
    for i in rng.sample(words, min(len(words), count)):
        parts[i] = ""
    return "".join(parts)


def one_number(text: str, rng: random.Random) -> str:
    numbers = list(re.finditer(r"\d+", text))
    if not numbers:
        return text
    m = rng.choice(numbers)
    return text[: m.start()] + str(int(m.group()) + rng.randint(1, 9)) + text[m.end() :]


def every_number(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), text)


EDITS = {
    "prefix": prefix,
    "zero-width": zero_width,
    "homoglyphs": homoglyphs,
    "dropped words": dropped_words,
    "one number renamed": one_number,
}
EXTRA = {"every number renamed": every_number}


def same_problem(name: str, a: dict, b: dict) -> bool:
    qa, qb = a["question"], b["question"]
    return any((x in qa and y in qb) or (y in qa and x in qb) for x, y in SAME_PROBLEM.get(name, ()))


def detection(texts: list[str], edit, seed: int) -> float:
    rng = random.Random(seed)
    index = EvalIndex(texts)
    return len(index.scan([edit(t, rng) for t in texts])) / len(texts)


def false_positives(name: str, rows: list[dict], splits: int, seed: int) -> tuple[list[float], set, set]:
    rates, wrong, same = [], set(), set()
    for s in range(splits):
        rng = random.Random(seed * 1000 + s)
        order = rows[:]
        rng.shuffle(order)
        half = len(order) // 2
        for evals, train in ((order[:half], order[half:]), (order[half:], order[:half])):
            found = EvalIndex([problem_text(r) for r in evals]).scan([problem_text(r) for r in train])
            bad = 0
            for i, match in found.items():
                pair = (evals[i]["question"][:60], train[match.train_index]["question"][:60], match.kind)
                if same_problem(name, evals[i], train[match.train_index]):
                    same.add(pair)
                else:
                    bad += 1
                    wrong.add(pair)
            rates.append(bad / len(evals))
    return rates, wrong, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    conf = Path(__file__).resolve().parents[1] / "conf"
    # One Hydra context for the whole run: every set's config is composed inside it.
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        report(compose("config").template, args.splits, args.seed)


def report(template, splits: int, seed: int) -> None:
    header = ["set", "rows", *EDITS, *EXTRA, "false positives (mean / max)", "s"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    notes = []
    for name in SETS:
        start = time.perf_counter()
        rows, why = eval_set_rows(name, template)
        if rows is None:
            print(f"| {name} | skipped: {why} |")
            continue
        texts = [problem_text(r) for r in rows]
        distinct = list({" ".join(tokens(problem_text(r))): r for r in rows}.values())
        cells = [f"{100 * detection(texts, edit, seed):.1f} %" for edit in (*EDITS.values(), *EXTRA.values())]
        rates, wrong, same = false_positives(name, distinct, splits, seed)
        fp = f"{100 * sum(rates) / len(rates):.2f} % / {100 * max(rates):.2f} %"
        elapsed = time.perf_counter() - start
        print(
            f"| {name} | {len(rows)} ({len(distinct)} distinct) | " + " | ".join(cells) + f" | {fp} | {elapsed:.0f} |"
        )
        notes += [f"{name}: flagged, distinct problems ({kind}): {a!r} ~ {b!r}" for a, b, kind in sorted(wrong)]
        notes += [f"{name}: flagged, same problem listed ({kind}): {a!r} ~ {b!r}" for a, b, kind in sorted(same)]
    print()
    print("\n".join(notes))


if __name__ == "__main__":
    main()
