"""One spelling for every answer before its shape is read: Unicode, math delimiters, digit groups.

`normalize` is what the guard and the grader see instead of the raw answer text:

- Unicode NFKC, so fullwidth and compatibility forms read as ASCII (`３ ＝ ２` is `3 = 2`, `ℝ` is `R`);
  before it, superscript and subscript digits become `^{…}`/`_{…}` (NFKC alone would turn `5²` into
  `52`), and after it a few math symbols NFKC keeps become their LaTeX commands (`−` `×` `÷` `·` `√`
  `∞` `≈` `∪` `∩` `∅` and Greek letters, `⁄` as `/`). Every other symbol stays as it is, for the allow-list to judge;
- format characters (Unicode category Cf: zero-width spaces and joiners, bidi controls, the BOM, soft
  hyphens) removed: `n<U+200B>ot 2` is `not 2`;
- math delimiters removed: `$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]` (an escaped `\\$` is a dollar sign and stays);
- digit groups joined: `1\\,000`, `2\\,500`, `1 000`, `10,\\!080`, `1{,}000`, `1,000.99` read as one
  number (groups of exactly three digits after a first group of one to three; plain comma groups only
  before a decimal point, since `1,000` may be a list).

Never evaluates anything; linear in the length of the text.
"""

from __future__ import annotations

import re
import unicodedata

_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-", strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉", "0123456789", strict=True))
_SCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+|[₀₁₂₃₄₅₆₇₈₉]+")
# Symbols NFKC keeps that have a plain LaTeX spelling math-verify reads.
_SYMBOLS = {
    "−": "-",
    "–": "-",
    "⁄": "/",
    "∕": "/",
    "×": "\\times ",
    "÷": "\\div ",
    "·": "\\cdot ",
    "⋅": "\\cdot ",
    "√": "\\sqrt",
    "∞": "\\infty ",
    "∪": "\\cup ",
    "∩": "\\cap ",
    "∅": "\\emptyset ",
    "≈": "\\approx ",
}
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho final_sigma sigma "
    "tau upsilon phi chi psi omega"
).split()
for _i, _name in enumerate(_GREEK):
    if _name not in ("omicron", "final_sigma"):
        _SYMBOLS[chr(0x3B1 + _i)] = f"\\{_name} "
        if _name != "pi":  # a capital pi is a product sign, not a value
            _SYMBOLS[chr(0x391 + _i)] = f"\\{_name.capitalize()} "
_SYMBOL_RE = re.compile("|".join(map(re.escape, _SYMBOLS)))
# A first group of 1-3 digits, then groups of exactly 3 joined by a thin space, a space, `,\\!` or `{,}`.
_GROUP_SEP = r"(?:\\[,!;: ]|~|[ \u00a0]|,\\!\s*|\{,\}|\\,\s*)"
_GROUPED = re.compile(r"(?<![0-9.])[0-9]{1,3}(?:" + _GROUP_SEP + r"[0-9]{3})+(?![0-9])")
_SEP_ONLY = re.compile(_GROUP_SEP)
# `1,000.99`: comma groups before a decimal point can only be thousands.
_COMMA_GROUPED = re.compile(r"(?<![0-9.,])[0-9]{1,3}(?:,[0-9]{3})+(?=\.[0-9])")


def _scripts(match: re.Match) -> str:
    run = match.group(0)
    if run[0] in _SUBSCRIPTS:
        return "_{" + "".join(_SUBSCRIPTS[c] for c in run) + "}"
    return "^{" + "".join(_SUPERSCRIPTS[c] for c in run) + "}"


def strip_delimiters(text: str) -> str:
    """`text` without math delimiters `$`, `$$`, `\\(`, `\\)`, `\\[`, `\\]`; escaped characters kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "()[]":
                out.append(" ")
            else:
                out.append(text[i : i + 2])
            i += 2
            continue
        out.append(" " if ch == "$" else ch)
        i += 1
    return "".join(out)


def join_digit_groups(text: str) -> str:
    """`1\\,000`, `1 000`, `10,\\!080`, `1,000.5` as `1000`, `10080`, `1000.5`: a number in groups of three."""
    text = _COMMA_GROUPED.sub(lambda m: m.group(0).replace(",", ""), text)
    return _GROUPED.sub(lambda m: _SEP_ONLY.sub("", m.group(0)), text)


def normalize(text: str) -> str:
    """The answer in one spelling (see the module docstring); whitespace runs collapsed, ends stripped."""
    text = _SCRIPT_RUN.sub(_scripts, text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group(0)], text)
    text = strip_delimiters(text)
    text = join_digit_groups(text)
    return " ".join(text.split())
