"""Contamination guard: does the training split contain problems of an evaluation set?

Problem texts are normalised (Unicode NFKC, lowercase, punctuation and whitespace collapsed to one
space) and compared two ways: an exact match of the whole normalised text, and a shared long n-gram
of tokens (GPT-3's decontamination used 13-gram word shingles). A token is a run of letters/digits,
or a single CJK character, so Chinese text (no spaces) gets character shingles. Texts shorter than n
tokens are compared by exact match only. An n-gram that occurs in many evaluation rows is template
boilerplate, not a problem, and is ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from r1exp.errors import ConfigError

# One CJK ideograph (incl. extension A and compatibility forms) is a token; so is a run of other
# letters or digits.
_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def normalize(text: str) -> str:
    """NFKC, lowercase, punctuation dropped, whitespace collapsed: the text two copies share."""
    return " ".join(tokens(text))


def tokens(text: str) -> list[str]:
    """The normalised text's tokens (letter/digit runs; each CJK character alone)."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", str(text)).lower())


def ngrams(toks: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """Every run of n consecutive tokens."""
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


@dataclass
class Overlap:
    """How much of one evaluation set also appears in the training rows."""

    name: str
    eval_rows: int
    # Evaluation rows with an exact (normalised) copy in training, or a shared n-gram.
    exact: int = 0
    ngram: int = 0
    # (evaluation text, training text) of the first few hits, to show the user.
    examples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def contaminated(self) -> int:
        return self.exact + self.ngram

    @property
    def fraction(self) -> float:
        return self.contaminated / self.eval_rows if self.eval_rows else 0.0

    def record(self) -> dict[str, Any]:
        """The manifest.json entry."""
        return {
            "eval_rows": self.eval_rows,
            "exact": self.exact,
            "ngram": self.ngram,
            "fraction": round(self.fraction, 6),
        }


def overlap(
    train_texts: Iterable[str],
    eval_texts: Sequence[str],
    name: str,
    n: int = 13,
    boilerplate: float = 0.05,
    keep_examples: int = 3,
) -> Overlap:
    """Count the evaluation rows whose problem is in the training texts (exactly or by a shared n-gram).

    An n-gram found in more than `boilerplate` of the evaluation rows (and in at least 3) is treated as
    template text and ignored.
    """
    if n < 1:
        raise ConfigError(f"contamination.ngram={n} must be at least 1")
    eval_norm = [normalize(t) for t in eval_texts]
    by_text: dict[str, list[int]] = defaultdict(list)
    by_gram: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for i, text in enumerate(eval_norm):
        if not text:
            continue
        by_text[text].append(i)
        for gram in ngrams(text.split(" "), n):
            by_gram[gram].add(i)
    limit = max(3, boilerplate * len(eval_norm))
    by_gram = {g: rows for g, rows in by_gram.items() if len(rows) <= limit}
    exact: dict[int, str] = {}
    near: dict[int, str] = {}
    for text in train_texts:
        norm = normalize(text)
        if not norm:
            continue
        for i in by_text.get(norm, ()):
            exact.setdefault(i, norm)
        if by_gram:
            for gram in ngrams(norm.split(" "), n):
                for i in by_gram.get(gram, ()):
                    near.setdefault(i, norm)
    near = {i: t for i, t in near.items() if i not in exact}
    result = Overlap(name=name, eval_rows=len(eval_norm), exact=len(exact), ngram=len(near))
    for i, train_text in sorted({**near, **exact}.items())[:keep_examples]:
        result.examples.append((eval_norm[i], train_text))
    return result


def check(
    train_texts: Sequence[str],
    eval_sets: dict[str, Sequence[str]],
    n: int = 13,
    max_fraction: float = 0.0,
    key: str = "contamination.max_fraction",
) -> dict[str, dict[str, Any]]:
    """Overlap of the training texts with each evaluation set; a set above `max_fraction` fails in one line.

    Returns {set name: counts} for manifest.json.
    """
    if not 0 <= max_fraction <= 1:
        raise ConfigError(f"{key}={max_fraction} must be between 0 and 1")
    results = {name: overlap(train_texts, texts, name, n) for name, texts in eval_sets.items() if texts}
    for result in results.values():
        if result.contaminated and result.fraction > max_fraction:
            eval_text, train_text = result.examples[0]
            raise ConfigError(
                f"training data overlaps the evaluation set {result.name}: {result.contaminated} of "
                f"{result.eval_rows} rows ({result.exact} exact, {result.ngram} sharing a {n}-gram), above "
                f"{key}={max_fraction}; e.g. {_short(eval_text)!r} (train: {_short(train_text)!r}); train on "
                "a training set (or remove those rows), or raise the threshold knowingly"
            )
    return {name: r.record() for name, r in results.items()}


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
