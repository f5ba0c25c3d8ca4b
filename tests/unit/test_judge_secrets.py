"""The judge's API key: redacted in every spelling a server may echo it, and refused (unshown) when it is
given where the NAME of its environment variable belongs.

The redaction checks decode the redacted text the way a reader would (JSON, URL, base64) and look for
the key there, so they do not depend on how the redactor finds it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import string
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from r1exp.errors import ConfigError
from r1exp.tasks.zh_general.judge import KEY_IN_CONFIG, is_env_name, refuse_key_in_config
from r1exp.tasks.zh_general.judge import settings as judge_settings
from r1exp.tasks.zh_general.redaction import REDACTED, Redactor
from tests.conftest import compose

HYPOTHESIS = settings(derandomize=True, deadline=None, max_examples=60)

# Keys as providers issue them: a prefix, then letters, digits and the punctuation some use.
KEY_BODY = st.text(string.ascii_letters + string.digits + "-_/+=.", min_size=16, max_size=60)
KEYS = st.builds(lambda prefix, body: prefix + body, st.sampled_from(["sk-", "sk-proj-", "gsk_", "", "key-"]), KEY_BODY)
# Text around an echo: anything but the characters the encodings themselves use.
AROUND = st.text(string.ascii_letters + string.digits + " :,{}", max_size=30)


def json_escaped(key: str, mask: list[bool]) -> str:
    """The key as a JSON string body: `/` escaped PHP-style, and the masked characters as \\u escapes."""
    out = []
    for ch, as_u in zip(key, mask + [False] * len(key), strict=False):
        if as_u:
            out.append(f"\\u{ord(ch):04x}" if len(out) % 2 else f"\\u{ord(ch):04X}")
        else:
            out.append(json.dumps(ch)[1:-1].replace("/", "\\/"))
    return "".join(out)


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(.)", re.DOTALL)
_SHORT = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def json_decoded(text: str) -> str:
    """The JSON string escapes of `text` undone (one level), leaving everything else as it is."""
    return _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)) if m[1] else _SHORT.get(m[2], m[2]), text)


def base64_decoded(text: str) -> bytes:
    """Every run of base64 characters in `text` decoded at every alignment, joined (what a reader could recover)."""
    found = []
    for run in re.findall(r"[A-Za-z0-9+/_=-]{4,}", text):
        run = run.replace("-", "+").replace("_", "/").rstrip("=")
        for start in range(4):
            part = run[start:]
            part = part[: len(part) - len(part) % 4]
            try:
                found.append(base64.b64decode(part))
            except (binascii.Error, ValueError):
                continue
    return b"\n".join(found)


@HYPOTHESIS
@given(key=KEYS, before=AROUND, after=AROUND)
def test_the_key_as_typed_is_redacted(key, before, after):
    out = Redactor([key])(before + key + after)
    assert key not in out and REDACTED in out


@HYPOTHESIS
@given(key=KEYS, mask=st.lists(st.booleans(), max_size=60), before=AROUND, after=AROUND)
def test_a_json_escaped_echo_is_redacted(key, mask, before, after):
    for echo in (json_escaped(key, mask), json.dumps(key)[1:-1], json.dumps(json.dumps(key))[1:-1]):
        out = Redactor([key])(f"{before}Bearer {echo}{after}")
        assert key not in out and key not in json_decoded(out) and key not in json_decoded(json_decoded(out))


@HYPOTHESIS
@given(key=KEYS, before=AROUND, after=AROUND)
def test_a_url_encoded_echo_is_redacted(key, before, after):
    for echo in (quote(key), quote(key, safe=""), quote_plus(key), quote(quote(key, safe=""), safe="")):
        out = Redactor([key])(f"{before}{echo}{after}")
        assert key not in out and key not in unquote(out) and key not in unquote_plus(unquote(out))


@settings(derandomize=True, deadline=None, max_examples=60)
@given(key=KEYS, wrapper=st.sampled_from(["{k}", "Bearer {k}", "user:{k}", ":{k}", "x{k}y", "ab{k}"]))
def test_a_base64_echo_is_redacted(key, wrapper):
    secret = wrapper.format(k=key).encode()
    for echo in (
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).decode(),
        base64.b64encode(secret).decode().rstrip("="),
        json.dumps(base64.b64encode(secret).decode())[1:-1].replace("/", "\\/"),
    ):
        out = Redactor([key])(f"Authorization: Basic {echo} end")
        recovered = base64_decoded(json_decoded(out))
        # At most the byte on each edge of the key can share a base64 character with its neighbours.
        assert key.encode()[2:-2] not in recovered, (echo, out)


def test_text_without_the_key_is_unchanged():
    redact = Redactor(["sk-live-0123456789abcdef"])
    text = 'error: {"detail": "model not found"} %20 \\u0041 QmVhcmVy'
    assert redact(text) == text
    assert Redactor([None])(text) == text and Redactor([])(text) == text


def test_redaction_is_quick_on_a_reply_at_the_size_limit():
    # Correctness only; the point is that a 64 KiB reply is handled in one pass (no exception, no blow-up).
    redact = Redactor(["sk-proj-" + "Ab1/" * 12])
    assert redact("s" * 65536) == "s" * 65536


# --- api_key_env: a name, never the key ---


@functools.cache
def default_judge() -> dict:
    return OmegaConf.to_container(compose([]).judge, resolve=True)


# Keys that use only the characters of a variable name: random letters and digits (as random keys have).
NAME_CHARACTER_KEYS = st.builds(
    lambda prefix, body: prefix + body,
    st.sampled_from(["gsk_", "", "AIza", "hf_", "xai_", "KEY_"]),
    st.text(string.ascii_letters + string.digits, min_size=16, max_size=60).filter(
        lambda b: any(c.isdigit() for c in b) or (any(c.islower() for c in b) and any(c.isupper() for c in b))
    ),
)


# A key with a character no variable name has (`-`, `/`, `+`, `=`, `.`), or one whose letters and digits
# run long enough to be random. (A key of short words of name characters cannot be told from a name: it
# is looked up as a variable, and the "not set" line does not echo an unconventional name.)
KEY_SHAPED = st.one_of(KEYS.filter(lambda k: re.fullmatch(r"\w+", k, re.ASCII) is None), NAME_CHARACTER_KEYS)


@HYPOTHESIS
@given(key=KEY_SHAPED)
def test_a_key_given_as_the_variable_name_is_refused_unshown(key):
    assert not is_env_name(key)
    cfg = default_judge()
    cfg = {**cfg, "openai": {**cfg["openai"], "api_key_env": key}}
    with pytest.raises(ConfigError) as err:
        judge_settings(cfg)
    assert str(err.value) == KEY_IN_CONFIG and key not in str(err.value)


def test_a_key_on_the_command_line_is_refused_unshown():
    key = "sk-proj-AbC123dEf456GhI789"
    with pytest.raises(ConfigError) as err:
        judge_settings(compose([f"judge.openai.api_key_env={key}"]).judge)
    assert str(err.value) == KEY_IN_CONFIG


@pytest.mark.parametrize(
    "name", ["OPENAI_API_KEY", "JUDGE_API_KEY", "DEEPSEEK_API_KEY_2", "my_judge_key", "_KEY", "A", "AZURE_OPENAI_KEY"]
)
def test_ordinary_variable_names_are_accepted(name):
    assert is_env_name(name)
    assert judge_settings(compose([f"judge.openai.api_key_env={name}"]).judge).openai.api_key_env == name


@pytest.mark.parametrize("name", ["", "2KEY", "MY-KEY", "MY KEY", "KEY=1", "$KEY"])
def test_other_values_are_refused_too(name):
    assert not is_env_name(name)


def config_with(judge_value, task: list[str], params: dict | None = None):
    hydra = {"overrides": {"task": task}, "sweeper": {"params": params}}
    return OmegaConf.create({"judge": {"openai": {"api_key_env": judge_value}}, "hydra": hydra})


@pytest.mark.parametrize(
    "cfg",
    [
        config_with("sk-proj-AbC123dEf456GhI789", ["judge.openai.api_key_env=sk-proj-AbC123dEf456GhI789"]),
        # a sweep: the composed config holds no value, the override and the sweeper's parameters do
        config_with(None, ["judge.openai.api_key_env=JUDGE_KEY,sk-live-0123456789abcdef"]),
        config_with(None, ["+judge.openai.api_key_env=choice(JUDGE_KEY,sk-live-0123456789abcdef)"]),
        config_with(None, [], {"judge.openai.api_key_env": "JUDGE_KEY,sk-live-0123456789abcdef"}),
    ],
)
def test_refuse_key_in_config_reads_the_config_the_overrides_and_the_sweep(cfg, capsys):
    with pytest.raises(ConfigError) as err:
        refuse_key_in_config(cfg)
    assert str(err.value) == KEY_IN_CONFIG
    assert "sk-" not in "".join(capsys.readouterr())


def test_refuse_key_in_config_passes_names_and_configs_without_a_judge():
    refuse_key_in_config(config_with("JUDGE_KEY", ["judge.openai.api_key_env=JUDGE_KEY", "seed=3"]))
    refuse_key_in_config(config_with(None, ["judge.openai.api_key_env=A_KEY,B_KEY"]))
    refuse_key_in_config(OmegaConf.create({"seed": 1}))
    refuse_key_in_config(compose([]))
