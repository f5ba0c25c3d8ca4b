"""The shape guard in front of math-verify: answers that cannot be an answer to the gold score 0.

math-verify decides whether two answers are equal, and it is lenient by design: it extracts the
first math it finds and drops what it cannot read. Against gold `2` it accepts `2**3` (reads `2`),
`3 = 2` and `\\ge 2` (the right-hand side), `\\approx 2`, `\\neg 2` and even
`2 if __import__('os').system(...) else 2` (nothing ran: it read `2`). A policy finds such holes
within a few hundred GRPO steps. So before math-verify sees a prediction, `refusal` checks its shape
against the gold's and names the first rule it breaks:

- code: `**`, `__`, backticks, or a programming keyword (`if`, `else`, `import`, `lambda`, ...);
- relation: a relation or logic sign (`=`, `<`, `>`, `\\ge`, `\\le`, `\\ne`, `\\approx`, `\\sim`,
  `\\neg`, `\\in`, `\\to`, `\\pm`, their Unicode forms, ...) when the gold has none. A bare
  `var = value` (one `=`, a variable on the left, a plain value on the right) stays fine. When the
  gold is itself an equation, inequality or relation, relations are math-verify's to compare;
- hedge: a word that negates or hedges the answer (`not`, `or`, `except`, ...), also inside `\\text`;
- no math: no digit, variable, LaTeX command or operator at all, unless the gold has none either
  (a text or choice gold such as `\\text{(B)}`).

Everything else goes to math-verify unchanged: `x = 2`, `\\frac{4}{2}`, `2.0`, `2 \\text{ cm}`, `B`
or `(B)` for a choice gold, an interval for an interval gold, `x \\ge 2` for that inequality.
"""

from __future__ import annotations

import re

# Relation and logic commands; `\\not` and `\\n…` forms are caught by the prefix rule below.
_RELATION_COMMANDS = (
    "ge geq geqq geqslant gt le leq leqq leqslant lt ne neq approx sim simeq equiv cong propto neg lnot "
    "not in notin ni subset subseteq supset supseteq to rightarrow Rightarrow leftarrow Leftarrow "
    "implies impliedby iff leftrightarrow Leftrightarrow mid nmid parallel perp vee wedge lor land "
    "ll gg prec succ preceq succeq doteq models vdash pm mp gtrsim lesssim"
).split()
_RELATION = re.compile(
    r"\\(?:" + "|".join(sorted(_RELATION_COMMANDS, key=len, reverse=True)) + r")(?![A-Za-z])"
    r"|\\n(?:less|gtr|leq|geq|eq)(?![A-Za-z])"
    r"|[<>=≤≥≠≈∼≃≡≅∝¬∈∉⊂⊆⊃⊇→⇒⇔↔±∓]|!="
)
_CODE = re.compile(
    r"\*\*|__|`|(?<![\\A-Za-z])(?:if|else|elif|import|lambda|def|return|exec|eval|for|while|print|"
    r"system|open|class|True|False|None)(?![A-Za-z])"
)
_HEDGE = re.compile(
    r"(?<![\\A-Za-z])(?:not|no|never|neither|nor|or|either|except|unless|without|maybe|perhaps)(?![A-Za-z])",
    re.IGNORECASE,
)
# A variable on the left of a bare `var = value`: `x`, `x_1`, `a_{n}`, `\theta`, `f(x)`.
_VARIABLE = re.compile(r"\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?(?:\([A-Za-z]\))?\s*")
_TEXT_COMMAND = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_MATH = re.compile(r"[0-9]|\\[A-Za-z]+|(?<![A-Za-z])[A-Za-z](?![A-Za-z])|[+\-*/^]")


def _relations(text: str) -> list[str]:
    return _RELATION.findall(text)


def has_relation(text: str) -> bool:
    """Whether `text` holds a relation or logic sign (an equation, inequality, membership, ...)."""
    return bool(_RELATION.search(text))


def has_math(text: str) -> bool:
    """Whether `text` holds any math: a digit, a lone letter (a variable or choice), a command or an operator."""
    plain = _TEXT_COMMAND.sub(lambda m: " " + m.group(1) + " ", text)
    return bool(_MATH.search(plain))


def refusal(gold: str, pred: str) -> str | None:
    """The rule `pred` breaks against `gold` (code, relation, hedge, no math), or None when it may be graded."""
    # Each rule applies only where the gold itself keeps it (a gold may be `\\text{no}` or an equation).
    if _CODE.search(pred) and not _CODE.search(gold):
        return "code"
    if _HEDGE.search(pred) and not _HEDGE.search(gold):
        return "hedge"
    if not has_relation(gold):
        relations = _relations(pred)
        if relations:
            # A bare `var = value` names the value; anything else is a claim, not a value.
            left, _, right = pred.partition("=")
            if relations != ["="] or not _VARIABLE.fullmatch(left) or not right.strip():
                return "relation"
    if not has_math(pred) and has_math(gold):
        return "no math"
    return None
