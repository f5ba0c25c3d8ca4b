"""Contamination guard: does the training split contain problems of an evaluation set?

Both sides are normalised first: Unicode NFKC (full-width forms, ligatures), format characters removed
(zero-width spaces and joiners, bidi marks, soft hyphens), case folded, and common Cyrillic/Greek
look-alikes of Latin letters folded to the Latin letter. The text is then cut into tokens: a run of
letters, a run of digits, one CJK character, or one arithmetic symbol (`+ - * / = < > ^ | ( )` and
Unicode's mathematical operators), so two formulas that share only their digits do not look alike.

An evaluation problem E is in the training texts when one training text T holds:
- the same token sequence (`exact`);
- or a copy with light edits (`near`): at least `min_overlap` of E's n-grams occur in T, and aligning
  E with T (difflib) leaves no run of more than `MAX_GAP` tokens of E unmatched. The fraction is
  per problem, so a stock phrase shared by two distinct problems covers only part of either, and the
  gap rule tells a dropped word or a changed number (a gap of one or two tokens) from a different
  question after the same set-up (a gap as long as the question);
- or the same text with its numbers changed (`renamed`): with every number masked, at least
  `RENAMED_OVERLAP` of E's n-grams occur in T (and the gap rule holds). Only for a problem whose
  words identify it: at least `RENAMED_MIN_NGRAMS` of its number-free n-grams occur in no other
  evaluation problem. `Compute $\\dbinom{31}{28}$.` with other numbers is another problem, not a copy.

n-grams are sized for the script: `NGRAM` tokens (3) for text written mostly in words, `ngram + 1`
characters for text written mostly in CJK characters (a character says less than a word), one less
for problems under `SHORT` tokens. An n-gram found in more than `boilerplate` of the evaluation rows
(and in at least 3) is template text and does not count. Measured on the shared evaluation sets
(detection of edited copies, false positives between distinct problems): docs/benchmarks.md,
benchmarks/contamination.py.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from r1exp.errors import ConfigError

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# One CJK ideograph; a run of letters; a run of digits; one arithmetic symbol (ASCII, the multiplication
# and division signs, Unicode's Mathematical Operators block). Braces, `$` and other punctuation are
# layout, not content.
_TOKEN = re.compile(rf"[{_CJK}]|[^\W\d_{_CJK}]+|\d+|[+\-*/=<>^|()\u00d7\u00f7\u2200-\u22ff]")
_CJK_CHAR = re.compile(rf"[{_CJK}]")
# Look-alikes of Latin letters (after case folding) in Cyrillic and Greek: an allow-list of the letters
# whose glyphs are the Latin ones in common fonts, so a homoglyph copy reads as the original.
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
        "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
        "һ": "h", "ӏ": "l", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ζ": "z", "μ": "u",
    }
)  # fmt: skip

# n-gram size in tokens for text written in words (characters: one more); measured in docs/benchmarks.md.
NGRAM = 3
# Problems shorter than this many tokens use n-grams one token shorter.
SHORT = 13
# The longest run of an evaluation problem's tokens a copy may lack (a dropped word, a changed number).
MAX_GAP = 2
# With numbers masked: the share of n-grams a copy with renamed numbers keeps, and how many number-free
# n-grams of its own (found in no other evaluation problem) a problem needs for this test.
RENAMED_OVERLAP = 0.9
RENAMED_MIN_NGRAMS = 4
_NUMBER = "0"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text))
    # Format characters (Cf): zero-width space/joiners, word joiner, BOM, bidi controls, soft hyphen.
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.casefold().translate(_CONFUSABLES)


def tokens(text: str) -> list[str]:
    """The normalised text's tokens (letter runs, digit runs, CJK characters, arithmetic symbols)."""
    return _TOKEN.findall(_fold(text))


def normalize(text: str) -> str:
    """The tokens joined by one space: what two exact copies share."""
    return " ".join(tokens(text))


def ngrams(toks: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Every run of n consecutive tokens (the whole sequence when it is shorter than n)."""
    if len(toks) < n:
        return {tuple(toks)} if toks else set()
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def _masked(toks: Sequence[str]) -> list[str]:
    return [_NUMBER if t.isdigit() else t for t in toks]


def _size(toks: Sequence[str], ngram: int) -> int:
    cjk = sum(1 for t in toks if _CJK_CHAR.fullmatch(t))
    n = ngram + 1 if 2 * cjk >= len(toks) else ngram
    return max(1, n - 1) if len(toks) < SHORT else n


def _longest_gap(problem: Sequence[str], text: Sequence[str]) -> int:
    """The longest run of the problem's tokens left unmatched when aligned with the text."""
    matcher = difflib.SequenceMatcher(None, problem, text, autojunk=False)
    longest = end = 0
    for start, _, size in matcher.get_matching_blocks():
        longest = max(longest, start - end)
        end = start + size
    return longest


@dataclass
class Match:
    """Why one evaluation problem counts as contained in the training texts."""

    train_index: int
    kind: str  # exact | near | renamed
    score: float


class EvalIndex:
    """The evaluation problems, indexed once; `scan` finds the ones a set of training texts contains."""

    def __init__(
        self,
        eval_texts: Sequence[str],
        ngram: int = NGRAM,
        min_overlap: float = 0.65,
        boilerplate: float = 0.05,
        fuzzy: bool = True,
    ) -> None:
        if ngram < 1:
            raise ConfigError(f"ngram={ngram} must be at least 1")
        if not 0 < min_overlap <= 1:
            raise ConfigError(f"contamination.min_overlap={min_overlap} must be in (0, 1]")
        self.min_overlap, self.fuzzy = min_overlap, fuzzy
        self.raw = [tokens(t) for t in eval_texts]
        self.by_text: dict[str, list[int]] = defaultdict(list)
        for i, toks in enumerate(self.raw):
            if toks:
                self.by_text[" ".join(toks)].append(i)
        self.masked = [_masked(t) for t in self.raw]
        self.sizes = [_size(t, ngram) for t in self.masked]
        limit = max(3, boilerplate * len(eval_texts))
        self.plain = self._without_boilerplate([ngrams(t, n) for t, n in zip(self.raw, self.sizes, strict=True)], limit)
        all_masked = [ngrams(t, n) for t, n in zip(self.masked, self.sizes, strict=True)]
        df: dict[tuple[str, ...], int] = defaultdict(int)
        for grams in all_masked:
            for g in grams:
                df[g] += 1
        # Number-free n-grams no other evaluation problem has: the words that make this problem itself.
        own = [sum(1 for g in grams if _NUMBER not in g and df[g] == 1) for grams in all_masked]
        self.numbered = self._without_boilerplate(all_masked, limit)
        self.plain_post = self._postings(self.plain, [True] * len(self.raw))
        self.masked_post = self._postings(
            self.numbered, [o >= RENAMED_MIN_NGRAMS and _NUMBER in t for o, t in zip(own, self.masked, strict=True)]
        )
        self.all_sizes = sorted(set(self.sizes))

    def __len__(self) -> int:
        return len(self.raw)

    @staticmethod
    def _without_boilerplate(sets: list[set[tuple[str, ...]]], limit: float) -> list[set[tuple[str, ...]]]:
        df: dict[tuple[str, ...], int] = defaultdict(int)
        for grams in sets:
            for g in grams:
                df[g] += 1
        # A problem made only of template n-grams keeps them (else it could never match).
        return [{g for g in grams if df[g] <= limit} or grams for grams in sets]

    @staticmethod
    def _postings(sets: list[set[tuple[str, ...]]], keep: list[bool]) -> dict[tuple[str, ...], list[int]]:
        post: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i, grams in enumerate(sets):
            if keep[i]:
                for g in grams:
                    post[g].append(i)
        return post

    def scan(self, train_texts: Iterable[str]) -> dict[int, Match]:
        """{evaluation index: the first training text that contains it} (exact before near before renamed)."""
        found: dict[int, Match] = {}
        rank = {"exact": 0, "near": 1, "renamed": 2}
        for ti, text in enumerate(train_texts):
            toks = tokens(text)
            if not toks:
                continue
            for i in self.by_text.get(" ".join(toks), ()):
                if i not in found or found[i].kind != "exact":
                    found[i] = Match(ti, "exact", 1.0)
            if not self.fuzzy:
                continue
            masked = _masked(toks)
            for kind, seq, post, sets, least in (
                ("near", toks, self.plain_post, self.plain, self.min_overlap),
                ("renamed", masked, self.masked_post, self.numbered, RENAMED_OVERLAP),
            ):
                grams: set[tuple[str, ...]] = set()
                for n in self.all_sizes:
                    grams |= ngrams(seq, n)
                counts: dict[int, int] = defaultdict(int)
                for g in grams:
                    for i in post.get(g, ()):
                        counts[i] += 1
                for i, c in counts.items():
                    score = c / len(sets[i])
                    if score < least or (i in found and rank[found[i].kind] <= rank[kind]):
                        continue
                    problem = self.raw[i] if kind == "near" else self.masked[i]
                    if _longest_gap(problem, seq) <= MAX_GAP:
                        found[i] = Match(ti, kind, round(score, 3))
        return found


@dataclass
class Overlap:
    """How much of one evaluation set also appears in the training rows."""

    name: str
    eval_rows: int
    exact: int = 0
    near: int = 0
    renamed: int = 0
    # (evaluation text, training text) of the first few hits, to show the user.
    examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def contaminated(self) -> int:
        return self.exact + self.near + self.renamed

    @property
    def fraction(self) -> float:
        return self.contaminated / self.eval_rows if self.eval_rows else 0.0

    def record(self) -> dict[str, Any]:
        """The manifest.json entry."""
        return {
            "eval_rows": self.eval_rows,
            "exact": self.exact,
            "near": self.near,
            "renamed": self.renamed,
            "fraction": round(self.fraction, 6),
        }


def overlap(
    train_texts: Sequence[str],
    eval_texts: Sequence[str],
    name: str,
    ngram: int = NGRAM,
    min_overlap: float = 0.65,
    fuzzy: bool = True,
    keep_examples: int = 3,
) -> Overlap:
    """Count the evaluation rows contained in the training texts (exactly, as a near copy, renamed)."""
    found = EvalIndex(eval_texts, ngram, min_overlap, fuzzy=fuzzy).scan(train_texts)
    result = Overlap(name=name, eval_rows=len(eval_texts))
    for match in found.values():
        setattr(result, match.kind, getattr(result, match.kind) + 1)
    for i, match in sorted(found.items())[:keep_examples]:
        result.examples.append((normalize(eval_texts[i]), normalize(train_texts[match.train_index])))
    return result


def check(
    train_texts: Sequence[str],
    eval_sets: dict[str, Sequence[str]],
    ngram: int = NGRAM,
    min_overlap: float = 0.65,
    max_fraction: float = 0.0,
    key: str = "contamination.max_fraction",
    exact_only: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Overlap of the training texts with each evaluation set; a set above `max_fraction` fails in one line.

    Sets named in `exact_only` are compared by exact match alone (Countdown instances: short keys whose
    neighbours are other instances). Returns {set name: counts} for manifest.json.
    """
    if not 0 <= max_fraction <= 1:
        raise ConfigError(f"{key}={max_fraction} must be between 0 and 1")
    exact = set(exact_only)
    results = {
        name: overlap(train_texts, texts, name, ngram, min_overlap, fuzzy=name not in exact)
        for name, texts in eval_sets.items()
        if texts
    }
    for result in results.values():
        if result.contaminated and result.fraction > max_fraction:
            eval_text, train_text = result.examples[0]
            raise ConfigError(
                f"training data overlaps the evaluation set {result.name}: {result.contaminated} of "
                f"{result.eval_rows} rows ({result.exact} exact, {result.near} near copies, {result.renamed} "
                f"with numbers renamed), above {key}={max_fraction}; e.g. {_short(eval_text)!r} (train: "
                f"{_short(train_text)!r}); train on a training set (or remove those rows), or raise the "
                "threshold knowingly"
            )
    return {name: r.record() for name, r in results.items()}


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
