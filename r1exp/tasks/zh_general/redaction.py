"""A secret removed from text in every form a server may echo it back.

Why: a server that rejects a request may quote the request's headers in its reply, and not as typed:
inside a JSON body (`"Bearer sk-test\\/SECRET"`, characters as `\\u0073`), URL-encoded (`%2F`, `+`
for a space), as an HTML character reference (`&#x73;`), or as the base64 of the whole credential
(`Basic base64(user:KEY)`, `base64(Bearer KEY)`). Replacing only the key as typed leaves those on the
console, in status.json and in the judge's reply log.

How, for each secret:
- one pattern with, for every character, each way these formats write it: the character itself, a
  JSON escape (`\\/`, `\\"`, `\\\\`, `\\uXXXX`, escaped again any number of times), a URL escape of its
  UTF-8 bytes (`%XX`, also encoded again: `%25XX`), `+` for a space, an HTML character reference.
  Spellings may mix within one echo (a server that escapes only `/`).
- base64: the secret inside a longer credential starts at any of three byte alignments; for each,
  the run of base64 characters that depend on the secret's bytes alone is hidden too (standard and
  URL-safe alphabets, padded or not). Those runs go through the same per-character pattern, so a
  JSON- or URL-escaped base64 echo is caught as well. At most the one or two characters at each end
  that also depend on the neighbouring bytes stay, and they give away less than a byte.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# A base64 run shorter than this could be ordinary text; a secret that short is not worth the noise.
_MIN_BASE64_RUN = 6


def _hex(value: int, width: int) -> str:
    """`value` in hex as a pattern that takes either case of the letters."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in f"{value:0{width}x}")


def _json_escapes(ch: str) -> list[str]:
    code = ord(ch)
    if code > 0xFFFF:  # JSON writes an astral character as a UTF-16 surrogate pair
        hi, lo = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        forms = [rf"\\+u{_hex(hi, 4)}\\+u{_hex(lo, 4)}"]
    else:
        forms = [rf"\\+u{_hex(code, 4)}"]
    if ch in '/"\\':
        forms.append(r"\\+" + re.escape(ch))
    return forms


def _char(ch: str) -> str:
    """Every spelling of one character (see the module docstring) as one regex group."""
    forms = [re.escape(ch), *_json_escapes(ch)]
    forms.append("".join(f"%(?:25)*{_hex(b, 2)}" for b in ch.encode("utf-8", "surrogatepass")))
    forms.append(f"&#0*{ord(ch)};")
    forms.append(f"&#[xX]0*{_hex(ord(ch), 1)};")
    if ch == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


def base64_runs(secret: str) -> list[str]:
    """The base64 characters that depend on `secret`'s bytes alone, at each of the three alignments it
    can have inside a longer encoded text, in the standard and the URL-safe alphabet."""
    data = secret.encode("utf-8", "surrogatepass")
    runs = []
    for shift in range(3):
        # With `shift` bytes before it, the secret's first whole base64 character is at ceil(4 * shift / 3)
        # and its last whole one ends at floor(8 * (shift + len) / 6).
        start, end = -(-4 * shift // 3), 8 * (shift + len(data)) // 6
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            run = encode(b"\0" * shift + data).decode("ascii")[start:end]
            if len(run) >= _MIN_BASE64_RUN:
                runs.append(run)
    return list(dict.fromkeys(runs))


class Redactor:
    """Replaces each secret, in any of the spellings above, by `[redacted]`; no secrets: text unchanged."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        literals: list[str] = []
        for secret in secrets:
            if secret:
                literals += [secret, *base64_runs(secret)]
        # Longest first, so a secret wins over a base64 run that happens to start the same way.
        literals = sorted(dict.fromkeys(literals), key=len, reverse=True)
        self.pattern = re.compile("|".join("".join(map(_char, s)) for s in literals)) if literals else None

    def __call__(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text) if self.pattern is not None else text
