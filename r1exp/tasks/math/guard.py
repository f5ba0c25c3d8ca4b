"""Which answers may be graded: an allow-list of answer shapes in front of math-verify.

math-verify decides whether two answers are equal, and it is lenient by design: it extracts the first
(or last) math it can read and drops what it cannot. Against gold `2` it accepts `3 ⩾ 2`, `≒ 2`,
`\\therefore 2`, `\\cancel{3} 2`, `2_{3}`, `不是 2`: it reads a `2`. A policy finds such holes within
a few hundred GRPO steps, and no list of forbidden spellings is ever complete. So the guard reads the
answer (after `r1exp.tasks.math.normalize`) and accepts it only in one of these shapes:

- boxes: the `\\boxed{…}`/`\\fbox{…}` of the answer, its content read as below. Several boxes: for a
  list or set gold their contents form one list (`\\boxed{1}, \\boxed{2}` for `1, 2`); otherwise each
  box must equal the gold (a solution that boxes its answer twice). Text around the boxes is the
  reasoning and is not graded, except what stands right next to a box: before it a relation other
  than `=`, `\\equiv` and an approximation (`3 ⩾ \\boxed{2}`), an operator (`-\\boxed{2}`) or, for a
  single box, a negation (`not \\boxed{2}`, `不是\\boxed{2}`); after it an operator or digit
  (`\\boxed{2}^3`). A box inside a box is refused;
- a value: the whole text is one expression made only of allowed tokens (below);
- `LHS = RHS`: the RHS is a value; the LHS a label that names a quantity (`x`, `f(3)`, `AB`,
  `\\angle ABC`, `m+n`, `\\text{Area}`, `r^2`, `(x, y)`: letters, names, label commands, operators and
  numbers, but no prose word). In a chain the last side is the answer (or the side before a final
  name: `17 = x`); a side that is one number is a claim too (`3 = 2` claims 3 and 2, and 3 is wrong);
  sides that are expressions are the derivation (allowed, not graded);
- `x \\in S` for a set or interval gold (S is the claim); `x = -2, x = 1` (or `… or …`) for a list gold;
- short prose that states one of the above: `The answer is 5`, `Final Answer: the largest n is 34`,
  `答案是 5` (a subject of at most twelve words, none of them negating or hedging).

Allowed tokens in a value: numbers; single letters; function names (`sin`, `log`, ...), unit words
(`cm`, `degrees`, ...) and words the gold itself uses; the LaTeX commands of values (`\\frac`,
`\\sqrt`, `\\pi`, `\\infty`, `\\cdot`, `\\times`, `\\left`, `\\right`, Greek letters, `\\text{unit}`,
matrices, ...); `+ - * / ^ ( ) [ ] { } , ! | % °` and spacing. A token the gold itself holds is
allowed too (a relation in an equation gold, `\\pm`, `\\cup`, a base subscript `2516_8`). Anything
else refuses the answer and names why (symbol, relation, word, hedge, code, subscript, operator,
numbers, brackets, nested_box, equation, ...); the reward counts each as `math/refused/<reason>`.
The policy in full, with its measurements: docs/grading.md.

What the guard accepts, it hands on as claims: the value strings that must each equal the gold, with
every decimal written as an exact fraction (so `1.414` is not `\\sqrt{2}` and `0.333333` is not
`\\frac13`, while `0.5` is `\\frac12`). Never evaluates anything; linear in the text's length.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from r1exp.common.answers import MAX_ANSWER_CHARS, box_spans
from r1exp.tasks.math.normalize import normalize

# --- the allow-lists -------------------------------------------------------------------------------

_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho varrho "
    "sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Upsilon Phi Psi "
    "Omega".split()
)
VALUE_COMMANDS = (
    frozenset(
        (
            "frac dfrac tfrac cfrac sqrt pi infty cdot times div left right bigl bigr Bigl Bigr big Big circ degree "
            "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln exp lg lfloor rfloor lceil rceil "
            "binom dbinom tbinom quad qquad displaystyle textstyle lvert rvert vert "
            "mathbb begin end"
        ).split()
    )
    | _GREEK
)
# Commands that may also name a quantity on the left of `=`.
LABEL_COMMANDS = frozenset(
    "angle measuredangle triangle overline overrightarrow overleftrightarrow vec hat widehat bar tilde "
    "prime mathbf mathit boldsymbol dots ldots cdots choose".split()
)
# Commands whose braced argument is text (checked word by word).
TEXT_COMMANDS = frozenset("text textrm textbf textit textnormal mbox mathrm mathbf mathit mathsf operatorname".split())
MATRIX_ENVIRONMENTS = frozenset("matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix".split())
VALUE_SYMBOLS = frozenset("+-*/^_()[]{},!|%° ")
# Spacing and escaped characters a value may hold (`\\\\` and `&` only inside a matrix).
VALUE_ESCAPES = frozenset(["\\,", "\\;", "\\:", "\\!", "\\ ", "\\%", "\\$", "\\{", "\\}", "\\|"])
FUNCTION_NAMES = frozenset(
    "sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh log ln exp lg lcm gcd max min mod det deg".split()
)
UNIT_WORDS = frozenset(
    (
        "cm mm km m in inch inches ft foot feet yd yard yards mi mile miles mph kph units unit sq square cubic "
        "degree degrees deg rad radian radians cent cents dollar dollars hour hours hr hrs minute minutes min mins "
        "second seconds sec s day days week weeks month months year years g kg mg lb lbs pound pounds oz ounce "
        "ounces l liter liters litre litres ml gallon gallons meter meters metre metres centimeter centimeters "
        "kilometer kilometers millimeter millimeters percent pct points point"
    ).split()
)
# Words that negate, hedge or compare: refused in labels, prose subjects and right before a box.
HEDGE_WORDS = frozenset(
    (
        "not no nor never neither none or either except unless without maybe perhaps possibly probably likely "
        "approximately approx about around roughly nearly almost circa than isn't aren't wrong incorrect false "
        "ne neq"
    ).split()
)
CJK_HEDGES = tuple(
    "不是 不等于 不 非 或者 或 大于 小于 约等于 约为 约 大约 近似 也许 可能 至少 至多 以上 以下 左右".split()
)
# Short English words that are prose, not a product of variables, in a label.
SHORT_WORDS = frozenset(
    (
        "so is as at by be we it of on to or no if in an am do go he me my up us and the are was get has had not "
        "but for all can its our you yes let set now too two one six ten use say see own how who why any few may "
        "out off per via she her him his new old end met got put ran run sum max min"
    ).split()
)
# Relations for naming a refusal (any symbol outside the allow-list is refused either way).
_RELATION_COMMANDS = frozenset(
    (
        "ge geq geqq geqslant gt le leq leqq leqslant lt ne neq approx sim simeq equiv cong propto neg lnot not in "
        "notin ni subset subseteq supset supseteq to rightarrow Rightarrow leftarrow Leftarrow implies impliedby "
        "iff leftrightarrow Leftrightarrow longrightarrow Longrightarrow mid nmid parallel perp ll gg prec succ "
        "doteq models vdash pm mp coloneqq eqqcolon therefore because"
    ).split()
)

_TOKEN = re.compile(
    r"(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)|(?P<cmd>\\[A-Za-z]+)|(?P<esc>\\.)|(?P<word>[A-Za-z]+)|(?P<space>\s+)"
    r"|(?P<sym>.)",
    re.S,
)
# An expression does not start or end with a binary operator (`\\times 2`, `2 ^`): nothing to apply it to.
_LEADING_OPERATORS = ("*", "/", "^", "_", "!", ",", ";", "%", "\\%", "°", "\\cdot", "\\times", "\\div", "=")
_TRAILING_OPERATORS = ("*", "/", "^", "_", "+", "-", ",", "\\cdot", "\\times", "\\div", "\\sqrt", "\\frac", "=")
_DECIMAL = re.compile(r"(?<![0-9.])([0-9]+)\.([0-9]+)(?![0-9.])")
_OPEN, _CLOSE = "([{", ")]}"
# Signs after a number; another number right after one is a second value (`3 % 2`, `3! 2`).
_POSTFIX = frozenset(["%", "\\%", "!", "°"])
_SPACING_ESCAPES = frozenset(["\\,", "\\;", "\\:", "\\!", "\\ "])


def _is_cjk(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L") and not ch.isascii()


# --- the gold ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gold:
    """What the guard needs to know of a gold: its tokens, variables and kind."""

    text: str
    tokens: frozenset[str]
    letters: frozenset[str]
    relation: bool
    kind: str  # "list" (`1, 2`), "set" (`\\{1, 2\\}`, intervals, unions), or "value"
    number_subscript: bool


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "sym", m.group()) for m in _TOKEN.finditer(text)]


def _split_top(text: str, seps: tuple[str, ...]) -> list[str]:
    """`text` split at `seps` outside any bracket (escaped braces `\\{ \\}` count as brackets)."""
    parts, depth, start, i, n = [], 0, 0, 0, len(text)
    while i < n:
        if depth == 0:
            sep = next((s for s in seps if text.startswith(s, i)), None)
            if sep is not None:
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            if text[i + 1] in "{}":
                depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth -= 1
        i += 1
    parts.append(text[start:])
    return parts


@functools.lru_cache(maxsize=4096)
def read_gold(gold: str) -> Gold:
    """The gold as the guard sees it (cached: a gold recurs for every completion of its prompt)."""
    text = normalize(gold)
    toks = _tokens(text)
    tokens = frozenset(t for kind, t in toks if kind != "space")
    letters = frozenset(t for kind, t in toks if kind == "word" and len(t) == 1)
    words = {t for kind, t in toks if kind == "word"}
    relation = bool({"=", "<", ">"} & tokens) or any(t[1:] in _RELATION_COMMANDS - {"pm", "mp"} for t in tokens)
    number_subscript = bool(re.search(r"[0-9]\s*_", text))
    stripped = text.strip()
    if len(_split_top(stripped, (",",))) > 1:
        kind = "list"
    elif (
        stripped[:2] == "\\{"
        or (stripped[:1] in "([" and stripped[-1:] in ")]")
        or "\\cup" in tokens
        or "\\infty" in tokens
        or "\\emptyset" in tokens
    ):
        kind = "set"
    else:
        kind = "value"
    return Gold(text, tokens | frozenset(words), letters, relation, kind, number_subscript)


# --- token checks -----------------------------------------------------------------------------------


def _text_argument(text: str, start: int) -> tuple[str, int] | None:
    """The content of the `{…}` group at `start` (after spaces) and the index after it, or None."""
    i, n = start, len(text)
    while i < n and text[i] == " ":
        i += 1
    if i >= n or text[i] != "{":
        return None
    depth, j = 0, i
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j], j + 1
        j += 1
    return None


def _text_reason(content: str, gold: Gold, role: str) -> str | None:
    """Why the text of `\\text{…}` may not stand in a value (units, the gold's words) or a label."""
    for word in re.findall(r"[A-Za-z']+|\S", content):
        if word[0].isalpha() and word.isascii():
            lowered = word.lower()
            if lowered in HEDGE_WORDS:
                return "hedge"
            if role == "label":
                continue
            if len(word) == 1 or lowered in UNIT_WORDS or word in gold.tokens or lowered in FUNCTION_NAMES:
                continue
            return "word"
        if word in "()[].,-/^" or (word.isdigit() and word.isascii()):
            continue
        return "word" if _is_cjk(word) else "symbol"
    return None


def _word_ok(word: str, gold: Gold, role: str) -> bool:
    lowered = word.lower()
    if lowered in HEDGE_WORDS and word not in gold.tokens:
        return False
    if role == "label":
        # A name: a variable, points (`AB`), a function, a short product of variables (`xy`, `Bh`); an
        # English word is prose, not a name (`so 3 = 2` is no label; prose goes in `\\text{…}`).
        return (
            len(word) == 1
            or word.isupper()
            or lowered in FUNCTION_NAMES
            or word in gold.tokens
            or (len(word) <= 3 and len(set(word)) == len(word) and lowered not in SHORT_WORDS)
        )
    return (
        len(word) == 1
        or lowered in FUNCTION_NAMES
        or lowered in UNIT_WORDS
        or word in gold.tokens
        or all(ch in gold.letters for ch in word)
    )


def _symbol_reason(sym: str) -> str:
    code = ord(sym)
    if sym in "=<>" or unicodedata.category(sym) == "Sm" or 0x2190 <= code <= 0x21FF or 0x27F0 <= code <= 0x2BFF:
        return "relation"
    if _is_cjk(sym):
        return "word"
    return "symbol"


def scan(text: str, gold: Gold, role: str = "value", need_name: bool = True) -> str | None:
    """Why `text` is not a value (role "value") or a label (role "label"), or None.

    A label may also hold label commands (`\\angle`, `\\overline`, `\\dots`, ...), primes and any word
    that does not hedge; with `need_name` it must hold a name: a letter, a Greek letter, text or a
    label command (`f(3)`, `a_{1}`, `r^2`, `\\angle ABC`).
    """
    commands = VALUE_COMMANDS | LABEL_COMMANDS if role == "label" else VALUE_COMMANDS
    stripped = text.strip()
    if stripped.startswith(_LEADING_OPERATORS) or stripped.endswith(_TRAILING_OPERATORS):
        return "operator"
    depth = matrix = 0
    before_prev = prev = prev_kind = ""  # the previous tokens that are not a space
    bars = 0
    named = False
    i, n = 0, len(text)
    while i < n:
        m = _TOKEN.match(text, i)
        assert m is not None  # the last alternative matches any character
        kind, tok = m.lastgroup, m.group()
        i = m.end()
        if kind == "space":
            continue
        if kind == "num":
            # `3 2`, `3\ 2`: two numbers side by side are not one value (`\log_2 64` is fine)
            if (prev_kind == "num" and before_prev not in ("_", "^")) or prev in _POSTFIX:
                return "numbers"
        elif kind == "word":
            if not _word_ok(tok, gold, role):
                return "hedge" if tok.lower() in HEDGE_WORDS else "word"
            named = True
        elif kind == "cmd":
            name = tok[1:]
            if name in TEXT_COMMANDS or name == "mathbb":
                arg = _text_argument(text, i)
                if arg is None:
                    return "symbol"
                reason = _text_reason(arg[0], gold, role)
                if reason is not None:
                    return reason
                i = arg[1]
                named = True
            elif name in ("begin", "end"):
                arg = _text_argument(text, i)
                if arg is None or arg[0].strip() not in MATRIX_ENVIRONMENTS:
                    return "symbol"
                matrix += 1 if name == "begin" else -1
                i = arg[1]
            elif name in commands or tok in gold.tokens:
                named = named or name in _GREEK or name in LABEL_COMMANDS or name in FUNCTION_NAMES
            else:
                return "relation" if name in _RELATION_COMMANDS else "symbol"
        elif kind == "esc":
            if tok in VALUE_ESCAPES or tok in gold.tokens:
                if tok == "\\{":
                    depth += 1
                elif tok == "\\}":
                    depth -= 1
            elif tok == "\\\\" and matrix > 0:
                pass
            elif tok == "\\#" and role == "label":
                named = True
            else:
                return "symbol"
        else:  # a single character
            if tok == "*" and text.startswith("*", i):
                return "code"
            if tok == "_" and prev and (prev[-1].isdigit() or prev == ".") and not gold.number_subscript:
                return "subscript"
            if tok == "." and prev in ("\\left", "\\right"):
                pass
            elif tok in VALUE_SYMBOLS or (tok == "&" and matrix > 0) or (tok == "'" and role == "label"):
                if tok in _OPEN:
                    depth += 1
                elif tok in _CLOSE:
                    depth -= 1
            elif tok in gold.tokens:
                pass
            else:
                return _symbol_reason(tok)
        if depth < 0:
            return "brackets"
        if (kind == "esc" and tok in _SPACING_ESCAPES) or (kind == "cmd" and tok[1:] in _SPACING):
            continue
        if tok in _CLOSE and prev == _OPEN[_CLOSE.index(tok)]:
            return "brackets"  # an empty group: `3 {} 2`
        if tok == "|":
            bars += 1
        before_prev, prev, prev_kind = prev, tok, kind
    if depth != 0 or bars % 2:
        return "brackets"
    if role == "label" and need_name and not named:
        return "label"
    return None


# --- shapes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """What the guard made of an answer: the claims that must each equal the gold, or why it refused."""

    claims: tuple[str, ...] = ()
    reason: str | None = None


def _refused(reason: str) -> Reading:
    return Reading((), reason)


def exact_decimals(value: str) -> str:
    """Every decimal number as an exact fraction (`1.25` as `\\frac{125}{100}`): equality stays exact."""

    def fraction(m: re.Match) -> str:
        digits = (m.group(1) + m.group(2)).lstrip("0") or "0"
        return "\\frac{" + digits + "}{1" + "0" * len(m.group(2)) + "}"

    return _DECIMAL.sub(fraction, value)


def _value(text: str, gold: Gold) -> tuple[list[str], str | None]:
    text = text.strip()
    if not text:
        return [], "equation"
    reason = scan(text, gold, "value")
    return ([text], None) if reason is None else ([], reason)


# A side of a chain that is one number (or a fraction of two): a claim about the value, checked.
_LITERAL = re.compile(
    r"[-+]?\s*(?:[0-9]+(?:\.[0-9]+)?|\\[dt]?frac\s*\{\s*[0-9]+\s*\}\s*\{\s*[0-9]+\s*\})\s*(?:\\%|%|\^\s*\\circ|°)?"
)


def _names_a_new_quantity(text: str, gold: Gold) -> bool:
    """Whether `text` is a name (no digits) holding a letter the gold does not: `x`, `AB`, `f(x)`."""
    if any(ch.isdigit() for ch in text) or scan(text, gold, "label") is not None:
        return False
    return any(t not in gold.tokens for kind, t in _tokens(text) if kind in ("word", "cmd"))


def _chain(text: str, gold: Gold) -> tuple[list[str], str | None]:
    """Claims of `text` read as a value or an `=` chain; or why it is neither.

    In a chain the last side is the answer (`17 = x`: the side before a final name); the other sides
    must pass the label allow-list, and those that are one number are claims too (`3 = 2` claims 3
    and 2). Sides that are expressions are the derivation: allowed, not graded.
    """
    if gold.relation:  # an equation or inequality gold: math-verify compares the whole relation
        return _value(text, gold)
    sides = [side.strip() for side in _split_top(text, ("=",))]
    if len(sides) == 1:
        return _value(text, gold)
    if any(not side for side in sides):
        return [], "equation"
    if _names_a_new_quantity(sides[-1], gold):
        sides = sides[:-1]
    claims, reason = _value(sides[-1], gold)
    if reason is not None:
        return [], reason
    for side in sides[:-1]:
        reason = scan(side, gold, "label", need_name=False)
        if reason is not None:
            return [], reason
        if _LITERAL.fullmatch(side):
            claims.insert(0, side)
    return claims, None


_CONNECTORS = (",", ";", " and ", " or ", "\\text{ and }", "\\text{ or }", "\\text{and}", "\\text{or}", "和", "或")


def _assignments(text: str, gold: Gold) -> list[str] | None:
    """`x = -2, x = 1` (or `… or …`) as the one claim `-2, 1`, for a list or set gold; else None."""
    items = _split_top(text, _CONNECTORS)
    if len(items) < 2:
        return None
    values = []
    for item in items:
        sides = _split_top(item, ("=",))
        if len(sides) > 2 or not sides[-1].strip():
            return None
        if len(sides) == 2 and scan(sides[0], gold, "label") is not None:
            return None
        if scan(sides[-1], gold, "value") is not None:
            return None
        values.append(sides[-1].strip())
    return [", ".join(values)]


_IN = re.compile(r"\\in(?![A-Za-z])")


def _membership(text: str, gold: Gold) -> list[str] | None:
    """`x \\in [-2, 7]` as the claim `[-2, 7]`, for a set or interval gold; else None."""
    if gold.kind == "value":
        return None
    sides = _split_top(_IN.sub("\x00", text), ("\x00",))
    if len(sides) != 2:
        return None
    if scan(sides[0], gold, "label") is not None or scan(sides[1], gold, "value") is not None:
        return None
    return [sides[1].strip()]


def read_math(text: str, gold: Gold) -> tuple[list[str], str | None]:
    """Claims of an answer without boxes or prose; or why it is not one of the allowed shapes."""
    text = text.strip().rstrip(".。,;").strip()
    if gold.kind in ("list", "set") and "=" in text:
        values = _assignments(text, gold)
        if values is not None:
            return values, None
    if "\\in" in text:
        values = _membership(text, gold)
        if values is not None:
            return values, None
    return _chain(text, gold)


_TEXT_WRAPPED = re.compile(r"\\(?:text|textrm|textbf|textit|textnormal|mbox|mathrm)\s*\{([^{}]*)\}")
_LEAD = re.compile(
    r"^(?:\s*(?:(?:the\s+)?(?:final\s+)?(?:answer|solution|result)\s*(?:is\s*)?:|(?:final\s+)?answer\b(?!\s+is\b)|so|thus|therefore"
    r"|hence|finally"
    r"|then|and)\s*,?)+\s*",
    re.IGNORECASE,
)
_STATEMENT = re.compile(r"^(?P<subject>.{1,160}?)\s+(?:is|are|equals|is equal to|must be|will be)\s+(?P<rest>.+)$")
_CJK_STATEMENT = re.compile(
    r"^(?:所以|因此|故|综上所述|综上|于是)?\s*,?\s*(?:最终|最后的?)?\s*(?:答案|结果|答)\s*(?:是|为|:)\s*:?\s*(?P<rest>.+)$"
)
MAX_SUBJECT_WORDS = 12


def _subject_reason(subject: str, gold: Gold) -> str | None:
    words = subject.split()
    if len(words) > MAX_SUBJECT_WORDS:
        return "prose"
    for word in words:
        if word.isascii() and word.isalpha():
            if word.lower() in HEDGE_WORDS:
                return "hedge"
            continue
        if scan(word.strip(",."), gold, "label") is not None:
            return "prose"
    return None


def read_prose(text: str, gold: Gold) -> tuple[list[str], str | None] | None:
    """Claims of a short statement of the answer (`the answer is 5`, `答案是 5`), or None if it is none."""
    plain = _TEXT_WRAPPED.sub(lambda m: " " + m.group(1) + " ", text)
    plain = " ".join(plain.split()).rstrip(".。").strip()
    cjk = _CJK_STATEMENT.match(plain)
    if cjk:
        return read_math(cjk.group("rest"), gold)
    lead = _LEAD.match(plain)
    body = plain[lead.end() :] if lead else plain
    statement = _STATEMENT.match(body)
    if statement:
        reason = _subject_reason(statement.group("subject"), gold)
        if reason is not None:
            return [], reason
        return read_math(statement.group("rest"), gold)
    if lead and lead.end() > 0:
        return read_math(body, gold)
    return None


# Words that refuse a single box they stand right before: negations. Not `or` (`5/4, or \\boxed{1.25}`
# offers an equivalent form) and not approximations (`\\approx \\boxed{32348}` in a rounding problem):
# the boxed value itself must still equal the gold exactly.
_APPROXIMATIONS = {"approximately", "approx", "about", "around", "roughly", "nearly", "almost", "circa"}
BOX_HEDGES = HEDGE_WORDS - {"or", "either"} - _APPROXIMATIONS
CJK_BOX_HEDGES = tuple(h for h in CJK_HEDGES if h not in ("或", "或者", "约等于", "约为", "约", "大约", "近似"))
# Commands that may stand right before a box: it states the value (`\\equiv \\boxed{3} \\pmod 7`).
BOX_LEADS = frozenset(["equiv", "approx"])


def _before_box(text: str, single: bool, gold: Gold) -> str | None:
    """Why what stands right before a box refuses it: a relation or unknown symbol, or a hedge word."""
    head = _TEXT_WRAPPED.sub(lambda m: " " + m.group(1) + " ", text).rstrip()
    if not head:
        return None
    if single:
        word = re.search(r"(?<![\\A-Za-z])([A-Za-z']+)\W*$", head)
        if word and word.group(1).lower() in BOX_HEDGES and not re.search(r"[=:]\s*$", head):
            return "hedge"
        if head.endswith(CJK_BOX_HEDGES):
            return "hedge"
    command = re.search(r"\\([A-Za-z]+)$", head)
    if command:
        name = command.group(1)
        if name in _SPACING or name in BOX_LEADS or (name == "in" and gold.kind != "value"):
            return None
        return "relation" if name in _RELATION_COMMANDS else "symbol"
    last = head[-1]
    if last.isalnum() or last in "=:,.;([{)]}'\"" or head.endswith(("\\,", "\\;", "\\ ", "\\$")):
        return None
    if last in "+-*/^_!":
        return "operator"
    return _symbol_reason(last)


# The clause a box closes: what stands after the last line break or sentence end before it, less the
# prose words that open it (`so we have 3 = \\boxed{2}` -> `3 =`).
_CLAUSE_START = re.compile(r"(?:\n|[.;:!?。;:!?](?=\s)|,\s)")
_LEADING_WORDS = re.compile(r"^(?:\s*(?:[A-Za-z]{2,}|[\u4e00-\u9fff]+)[\s,,]*)*")


def _box_lhs_claims(head: str, gold: Gold) -> list[str]:
    """Numbers an `=` chain states right before a box: `3 = \\boxed{2}` claims 3 as well as 2.

    The sides of the chain that are one number are claims, as in an unboxed chain (`_chain`); sides
    that are expressions (`2 + 3 = \\boxed{5}`) or names (`x = \\boxed{5}`) are the derivation.
    """
    head = head.rstrip()
    if gold.relation or not head.endswith("="):
        return []
    starts = [m.end() for m in _CLAUSE_START.finditer(head)]
    clause = head[starts[-1] if starts else 0 : -1]
    clause = _LEADING_WORDS.sub("", clause).strip()
    if not clause:
        return []
    return [side.strip() for side in _split_top(clause, ("=",)) if _LITERAL.fullmatch(side.strip())]


# After a box: `= 3` (another claim) or a relation (`\\boxed{2} \\neq 3`) up to the clause's end.
_AFTER_RELATION = re.compile(r"\s*(?:=\s*(?P<literal>[^=,;.\n]*)|(?P<rel>[<>≠≤≥≈]|\\(?P<cmd>[A-Za-z]+)))")
_CLAUSE_END = re.compile(r"[.;:!?。;:!?](?=\s|$)|\n")


def _after_box(tail: str, gold: Gold, last: bool) -> tuple[list[str], str | None]:
    """Claims and refusals from what follows a box within its clause (a hedge, a relation, `= 3`).

    Between two boxes `or` joins equivalent forms (each box must equal the gold); after the last box
    it offers an alternative the grader would not see, so it is a hedge there.
    """
    end = _CLAUSE_END.search(tail)
    clause = tail[: end.start()] if end else tail
    plain = _TEXT_WRAPPED.sub(lambda m: " " + m.group(1) + " ", clause)
    # Only the word right after the box, as before it: the prose of a whole solution goes on after
    # its box ("\\boxed{200} feet less than Martha", "with neither"), a hedge starts right there.
    first = re.match(r"[\s$(),\-:]*(?:(?P<word>[A-Za-z']+)|(?P<cjk>[\u4e00-\u9fff]+))", plain)
    hedges, cjk = (BOX_HEDGES | {"or", "either"}, CJK_HEDGES) if last else (BOX_HEDGES, CJK_BOX_HEDGES)
    if first is not None and (
        (first.group("word") or "").lower() in hedges or (first.group("cjk") or "").startswith(cjk)
    ):
        return [], "hedge"
    if gold.relation:
        return [], None
    m = _AFTER_RELATION.match(clause)
    if m is None:
        return [], None
    if m.group("literal") is not None:
        literal = m.group("literal").strip().rstrip("$").strip()
        return ([literal] if _LITERAL.fullmatch(literal) else []), None
    if m.group("cmd") is not None and m.group("cmd") not in _RELATION_COMMANDS:
        return [], None
    return [], "relation"


_SPACING = frozenset(["quad", "qquad", "displaystyle", "textstyle"])
# What may not follow a box: an operator or digit that would change the boxed value (`\\boxed{2}^3`).
_AFTER_BOX = re.compile(r"[0-9*/]|\s*(?:[\^_!']|\\(?:cdot|times|div|frac|sqrt)(?![A-Za-z]))")


def read_answer(gold: str, content: str | None) -> Reading:
    """The claims of an answer block's content against `gold`, or the reason it is refused."""
    if content is None:
        return _refused("no_answer")
    g = read_gold(gold)
    text = normalize(content)
    if not text:
        return _refused("empty")
    spans, balanced, nested = box_spans(text)
    if not balanced:
        return _refused("unbalanced")
    if nested:
        return _refused("nested_box")
    if spans:
        claims: list[str] = []
        end = 0
        for i, (start, inner_start, inner_end) in enumerate(spans):
            reason = _before_box(text[end:start], len(spans) == 1, g)
            if reason is not None:
                return _refused(reason)
            claims.extend(_box_lhs_claims(text[end:start], g))
            end = inner_end + 1
            if _AFTER_BOX.match(text, end):
                return _refused("operator")
            inner = text[inner_start:inner_end]
            if not inner.strip():
                return _refused("empty")
            if len(inner) > MAX_ANSWER_CHARS:
                return _refused("too_long")
            values, reason = read_math(inner, g)
            if reason is not None:
                prose = read_prose(inner, g)
                if prose is None or prose[1] is not None:
                    return _refused(prose[1] if prose is not None else reason)
                values = prose[0]
            if not values:
                return _refused("empty")
            claims.extend(values)
            last = i + 1 == len(spans)
            following, reason = _after_box(text[end : len(text) if last else spans[i + 1][0]], g, last)
            if reason is not None:
                return _refused(reason)
            claims.extend(following)
        if len(claims) > 1 and g.kind in ("list", "set"):
            claims = [", ".join(claims)]
        return Reading(tuple(exact_decimals(c) for c in claims))
    if len(text) > MAX_ANSWER_CHARS:
        return _refused("too_long")
    values, reason = read_math(text, g)
    if reason is not None:
        prose = read_prose(text, g)
        if prose is None:
            return _refused(reason)
        values, reason = prose
        if reason is not None:
            return _refused(reason)
    return Reading(tuple(exact_decimals(v) for v in values))


def refusal(gold: str, pred: str) -> str | None:
    """Why the answer `pred` is refused against `gold`, or None when it goes to math-verify."""
    return read_answer(gold, pred).reason
