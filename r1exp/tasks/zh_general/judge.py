"""LLM-judge rewards: the answer judged against the row's reference, and the reasoning judged for order.

Why (the LoRA note, sections 5 and 6): general Chinese questions have no checkable answer, so an LLM
reads the question, the reference and the answer block and gives a smooth score in [0, 1]. Judging the
answer alone ranked a terse think block above a thorough one, so a second prompt scores how well
organised the reasoning is. Both are independent terms, summed with the soft format reward.

Trust: completions are untrusted. Each quoted text sits between BEGIN/END marker lines whose id is a
hash of the text itself, so a completion cannot close its own quote, and chat special-token spellings
(`<|...|>`) are broken up so quoted text cannot fake a chat turn. Lone surrogates in a completion
become `?` before anything is hashed, cached or sent.

A judgment either gives a score or fails; it never fails silently. The reply's last non-empty line
must be `SCORE: <number>` in ASCII digits with the number in [0, judge.score_scale] (mapped to [0, 1]
by dividing by the scale, never clamped), and the reply at most judge.max_reply_bytes long. Anything
else (prose, `SCORE: 8/10`, `**SCORE: 0.9**`, `SCORE: 7` on a 0-1 scale, no reply) is a failure: the
row gets None and the reason is counted. When more than `judge.max_failure_rate` of a batch's
judgments fail, whatever the cause (a dead server, a judge that does not follow the format, a 0-10
judge on a 0-1 setting), the batch raises one line and the run stops (status failed, its last
checkpoint kept) instead of training on the other terms alone. Only replies that give a score are
cached.

Backends (`judge.backend`): `openai` posts to any OpenAI-compatible `{base_url}/chat/completions` with
bounded concurrency, a timeout, retries with exponential backoff (5xx, 429, transport errors; not other
4xx), a reply read as a stream and abandoned past its size limit, and an on-disk cache keyed by a hash
of the endpoint, the prompt version and the request (model, messages, sampling). Before any model
loads, `preflight` sends the endpoint one test judgment (an answer equal to its reference) and stops
with one line when the server cannot be reached or its reply gives no score. `reference` generates the
judgment in process with the run's reference model (LoRA: the policy with adapters disabled), so no
second copy of the weights is loaded; only cmd=train has one, and its check is the failure stop above.

Secrets: `judge.openai.api_key_env` must name an environment variable; a value that is not a variable
name (the key pasted in its place) is refused without being shown. The key is redacted, in every
spelling a server may echo it (JSON-escaped, URL-encoded, base64; see `redaction.py`), from every
error body and reply before it is printed, logged, cached or raised.

Counters (metrics.jsonl `reward_stats/judge/...`): calls (backend requests), cache_hits (replies served
without a request: the disk cache, or an identical prompt earlier in the same batch), retries,
failures (requests without a usable reply: transport, HTTP error, reply over the size limit),
parse_failures (replies without a valid score) and bad_reply/<reason> (empty, too_long, no_score,
out_of_range), latency_s_mean (seconds per backend request).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import time
import weakref
from collections import Counter as Tally
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1exp import schema
from r1exp.common.answers import as_text, last_answer, scored_text
from r1exp.common.hub import DEFAULT_CACHE
from r1exp.errors import ConfigError, UserError, one_line
from r1exp.rewards.base import Reward
from r1exp.rewards.counters import Counters
from r1exp.schema import KEY_IN_CONFIG, is_env_name
from r1exp.tasks.zh_general.redaction import REDACTED as REDACTED
from r1exp.tasks.zh_general.redaction import Redactor

# Part of every cached reply's key: bump it when the rendering of judge prompts changes (quoting,
# defusing), so replies to the old rendering are not served for the new one.
PROMPT_VERSION = 2
CONTEXT_KEYS = ("counters", "judge", "reference_model")
# ASCII only: `\d` would also take other scripts' digits (`SCORE: ５`), which no judge prompt asks for.
# A sign is read so that `SCORE: -1` is reported as out of range rather than as no score.
_SCORE_LINE = re.compile(r"SCORE\s*:\s*([-+]?(?:[0-9]{1,4}(?:\.[0-9]{1,12})?|\.[0-9]{1,12}))", re.IGNORECASE | re.ASCII)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_MAX_SCORE_LINE = 64
# Defaults of the settings the judge schema may not declare yet (read with these when absent).
DEFAULT_SCORE_SCALE = 1.0
DEFAULT_MAX_REPLY_BYTES = 65536
# How much of a non-200 body is read: enough for the 200 characters an error line shows.
ERROR_BODY_BYTES = 4096
# Why a reply gives no score (counted as judge/bad_reply/<reason>).
PROBLEMS = ("empty", "too_long", "no_score", "out_of_range")


# --- prompts and replies ---


@dataclass(frozen=True)
class ScoreReader:
    """Reads a judge reply: (score in [0, 1], None) or (None, why it gives no score)."""

    scale: float = DEFAULT_SCORE_SCALE
    max_bytes: int = DEFAULT_MAX_REPLY_BYTES

    def __call__(self, reply: Any) -> tuple[float | None, str | None]:
        if not isinstance(reply, str) or not reply.strip():
            return None, "empty"
        # A character is at least one byte: the cheap test first, the exact one only when it can matter.
        if len(reply) > self.max_bytes or len(reply.encode("utf-8", "replace")) > self.max_bytes:
            return None, "too_long"
        last = reply.rstrip().rsplit("\n", 1)[-1].strip()
        match = _SCORE_LINE.fullmatch(last) if len(last) <= _MAX_SCORE_LINE else None
        if match is None:
            return None, "no_score"
        value = float(match.group(1))
        if not 0 <= value <= self.scale:
            return None, "out_of_range"
        return value / self.scale + 0.0, None  # + 0.0: `-0` reads as 0.0, not -0.0


def parse_score(
    reply: Any, scale: float = DEFAULT_SCORE_SCALE, max_bytes: int = DEFAULT_MAX_REPLY_BYTES
) -> float | None:
    """The score on the reply's last non-empty line (`SCORE: 0.73`) divided by `scale`; None when the
    reply gives no valid score (see `ScoreReader`)."""
    return ScoreReader(scale, max_bytes)(reply)[0]


def last_line(reply: str | None, limit: int = 60) -> str:
    """The reply's last non-empty line, cut to `limit` characters and quoted with escapes (for one-line messages)."""
    if not reply or not reply.strip():
        return "''"
    line = reply.rstrip().rsplit("\n", 1)[-1].strip()
    return repr(line if len(line) <= limit else line[:limit] + "...")


def _defuse(text: str) -> str:
    # A lone surrogate (possible in any str) cannot be encoded for hashing, caching or HTTP: make it "?".
    text = text.encode("utf-8", "replace").decode("utf-8")
    # A decoded completion can spell `<|im_end|>` with ordinary tokens; re-tokenized inside the judge
    # prompt it would become the real special token and end the quote's chat turn.
    return text.replace("<|", "< |")


def clip(text: str, max_chars: int) -> str:
    """At most about `max_chars` characters: the head and the tail, with the omission marked."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    return f"{text[:head]}\n[... {len(text) - head - tail} characters omitted ...]\n{text[len(text) - tail :]}"


def quote(name: str, text: str, max_chars: int) -> str:
    """`text` between BEGIN/END lines whose id hashes the text, so the text cannot close its own quote."""
    body = clip(_defuse(text), max_chars)
    tag = hashlib.sha256(body.encode("utf-8")).hexdigest()[:12]
    label = name.upper()
    return f"<<<BEGIN {label} {tag}>>>\n{body}\n<<<END {label} {tag}>>>"


def fill(template: str, values: dict[str, str]) -> str:
    """Replace `{name}` for the given names in one pass (inserted text is never scanned again)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def answer_text(text: str) -> str | None:
    """The content of the last answer block, stripped; None when there is none or it is empty."""
    answer = last_answer(text)
    if answer is None or not answer.strip():
        return None
    return answer.strip()


def reasoning_text(text: str) -> str:
    """The think block (to `</think>`, else to `<answer>`, else to the end); without one, the text before `<answer>`."""
    start = text.find("<think>")
    if start >= 0:
        body = text[start + len("<think>") :]
        ends = [i for i in (body.find("</think>"), body.find("<answer>")) if i >= 0]
        return body[: min(ends)].strip() if ends else body.strip()
    end = text.find("<answer>")
    return (text[:end] if end >= 0 else text).strip()


def question_text(prompt: Any, question: Any) -> str:
    """The row's question; without a `question` column, the prompt (its last user message for chats)."""
    if isinstance(question, str) and question.strip():
        return question
    if isinstance(prompt, (list, tuple)):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        if users:
            return as_text(users[-1])
    return as_text(prompt)


# --- settings ---
# The judge's settings are `r1exp.schema.Judge` (the `judge` config group's schema), which checks them
# itself (`Judge.check`); the names and limits it checks against are defined here.


def reader(s: schema.Judge) -> ScoreReader:
    """How replies are read under settings `s`."""
    return ScoreReader(s.score_scale, s.max_reply_bytes)


_CONVENTIONAL_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def _api_key_env_values(cfg: Any) -> list[Any]:
    """Every value a config gives judge.openai.api_key_env: the composed one, and those in the command
    line's overrides and the sweeper's parameters (a sweep's values are not in the composed config)."""
    from omegaconf import OmegaConf

    field = "judge.openai.api_key_env"
    values: list[Any] = []
    # An interpolation that does not resolve is Hydra's to report.
    with contextlib.suppress(Exception):
        values.append(OmegaConf.select(cfg, field, default=None))
    overrides: list[str] = []
    with contextlib.suppress(Exception):
        overrides += [str(o) for o in (OmegaConf.select(cfg, "hydra.overrides.task", default=None) or [])]
    with contextlib.suppress(Exception):
        params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
        if params is not None:
            overrides += [f"{key}={value}" for key, value in OmegaConf.to_container(params, resolve=False).items()]
    mentioned = [o for o in overrides if field in o]
    if not mentioned:
        return values
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for text in mentioned:
        try:
            (override,) = parser.parse_overrides([text])
        except Exception:
            values.append(text.split("=", 1)[-1])  # not parsable: judge the raw text
            continue
        if override.key_or_group != field:
            continue
        if override.is_sweep_override():
            values += list(override.sweep_string_iterator())
        else:
            values.append(override.value())
    return values


def refuse_key_in_config(cfg: Any) -> None:
    """Refuse, with one line that does not show it, a judge.openai.api_key_env that is not a variable name.

    Meant for a Hydra callback's `on_run_start` and `on_multirun_start`, which run before Hydra writes
    `.hydra/*.yaml`, `multirun.yaml` or a launcher's job files (and before a sweep prints its jobs'
    overrides), so a key pasted there never reaches the disk. `settings` refuses it too, later.
    """
    for value in _api_key_env_values(cfg):
        if value is not None and not is_env_name(value):
            raise ConfigError(KEY_IN_CONFIG)


def settings(judge: Any) -> schema.Judge:
    """Checked judge settings from a `schema.Judge` (a run's typed section) or a `judge` config node or dict."""
    if judge is None or (not isinstance(judge, schema.Judge) and not judge):
        raise ConfigError("judge: no judge config; add judge=default to the defaults (conf/judge/default.yaml)")
    if not isinstance(judge, schema.Judge):
        from omegaconf.errors import OmegaConfBaseException

        try:
            judge = schema.typed(judge, schema.Judge)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"judge: {one_line(str(exc))}") from None
    return judge.check()


# --- the on-disk cache ---


class ReplyCache:
    """Judge replies on disk, one small JSON file per request hash; None root = no cache."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    @staticmethod
    def key(body: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        if self.root is None:
            return None
        try:
            reply = json.loads(self._path(key).read_text(encoding="utf-8")).get("reply")
        except (OSError, ValueError, AttributeError):
            return None
        return reply if isinstance(reply, str) else None

    def put(self, key: str, reply: str) -> None:
        if self.root is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a temporary sibling and rename it, so a reader never sees half a file.
            fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"reply": reply}, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs a repeated request


# --- backends ---


class JudgeUnavailable(UserError):
    """Too many judgments of one batch failed, or the judge failed its start-up test: training on would
    use the other terms alone."""


@dataclass(frozen=True)
class Reply:
    """A backend's answer to one prompt: the reply text, or why there is none (`error`)."""

    text: str | None
    cached: bool = False
    error: str | None = None


def _read_capped(resp: Any, limit: int) -> tuple[bytes, bool]:
    """(at most `limit` bytes of the body, whether that is the whole body), never reading much past the limit."""
    declared = resp.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        return b"", False
    data = bytearray()
    for chunk in resp.iter_bytes():
        data += chunk
        if len(data) > limit:
            return bytes(data[:limit]), False
    return bytes(data), True


class OpenAIBackend:
    """Chat completions over HTTP: bounded concurrency, timeout, retries with backoff, reply cache.

    The API key never leaves in a message: every text taken from a response (an error body, a
    reply) has it replaced by `[redacted]`, in any spelling, before it is printed, logged, cached or
    raised. Replies are read as a stream and abandoned past `reader.max_bytes`.
    """

    def __init__(
        self, s: schema.OpenAIJudge, system: str, counters: Counters, reader: ScoreReader | None = None
    ) -> None:
        self.s = s
        self.system = system
        self.counters = counters
        self.reader = reader or ScoreReader()
        self.url = s.base_url.rstrip("/") + "/chat/completions"
        root = Path(s.cache_dir or DEFAULT_CACHE).expanduser() / "judge" if s.cache else None
        self.cache = ReplyCache(root)
        self.api_key: str | None = None
        if s.api_key_env:
            if not is_env_name(s.api_key_env):
                raise ConfigError(KEY_IN_CONFIG)
            self.api_key = os.environ.get(s.api_key_env)
            if not self.api_key:
                # Named only when spelled as variables conventionally are: a key of short words of letters,
                # digits and _ passes is_env_name, and must not be echoed either.
                named = f"={s.api_key_env}" if _CONVENTIONAL_NAME.fullmatch(s.api_key_env) else ""
                raise ConfigError(
                    f"judge.openai.api_key_env{named}: that environment variable is not set; export it, "
                    "or set judge.openai.api_key_env=null for a server that needs no key"
                )
        self._redact = Redactor([self.api_key])

    def redact(self, text: str) -> str:
        """`text` without the API key in any spelling (a server may echo the Authorization header back)."""
        return self._redact(text)

    def cache_key(self, body: dict[str, Any]) -> str:
        """The reply cache key: endpoint, prompt version and the request (model, messages, sampling)."""
        return ReplyCache.key({"endpoint": self.url, "prompt_version": PROMPT_VERSION, **body})

    def body(self, prompt: str) -> dict[str, Any]:
        messages = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": prompt})
        return {
            "model": self.s.model,
            "messages": messages,
            "temperature": self.s.temperature,
            "max_tokens": self.s.max_tokens,
        }

    def client(self, workers: int) -> Any:
        import httpx

        # identity: a compressed body could expand far past the size limit inside one network chunk.
        headers = {"Accept-Encoding": "identity"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        return httpx.Client(timeout=httpx.Timeout(self.s.timeout_s), headers=headers, limits=limits)

    def _error_text(self, data: bytes) -> str:
        # One line, the key out, then cut: redacting first means no prefix of the key survives the cut.
        return self.redact(" ".join(data.decode("utf-8", "replace").split()))[:200]

    def _post(self, client: Any, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """(reply, None), or (None, why) once retries are spent or the server refused the request."""
        import httpx

        error = "no attempt"
        for attempt in range(self.s.retries + 1):
            if attempt:
                self.counters.add("judge/retries")
                time.sleep(min(self.s.max_backoff_s, self.s.backoff_s * 2 ** (attempt - 1)))
            try:
                with client.stream("POST", self.url, json=body) as resp:
                    status = resp.status_code
                    data, whole = _read_capped(resp, self.reader.max_bytes if status == 200 else ERROR_BODY_BYTES)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                error = type(exc).__name__
                continue
            except httpx.HTTPError as exc:  # a body that cannot be decoded, too many redirects: not transient
                return None, type(exc).__name__
            if status == 429 or status >= 500:
                error = f"HTTP {status}"
                continue
            if status in (401, 403):
                # The body may quote part of the key; say where the key comes from instead.
                return None, f"HTTP {status} (not retried): check the key in judge.openai.api_key_env"
            if status != 200:
                return None, f"HTTP {status} (not retried): {self._error_text(data)}"
            if not whole:
                return None, f"a reply over judge.max_reply_bytes={self.reader.max_bytes} bytes (not read further)"
            try:
                content = json.loads(data)["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                return None, "a 200 response without choices[0].message.content"
            if not isinstance(content, str):
                return None, "a 200 response whose message content is not text"
            return self.redact(content), None
        return None, error

    def _one(self, client: Any, prompt: str) -> Reply:
        t0 = time.perf_counter()
        body = self.body(prompt)
        reply, error = self._post(client, body)
        self.counters.add("judge/calls")
        self.counters.observe("judge/latency_s", time.perf_counter() - t0)
        if reply is None:
            self.counters.add("judge/failures")
        elif self.reader(reply)[0] is not None:
            # Only a reply that gives a score is kept: a bad one is asked again next time, not served for good.
            self.cache.put(self.cache_key(body), reply)
        return Reply(reply, False, error)

    def complete(self, prompts: list[str]) -> list[Reply]:
        """A `Reply` for each prompt (from the cache when it holds one that gives a score); never raises."""
        out: list[Reply] = [Reply(None)] * len(prompts)
        todo = []
        for i, prompt in enumerate(prompts):
            cached = self.cache.get(self.cache_key(self.body(prompt)))
            if cached is not None and self.reader(cached)[0] is not None:
                self.counters.add("judge/cache_hits")
                out[i] = Reply(cached, True)
            else:
                todo.append(i)
        if not todo:
            return out
        workers = min(self.s.concurrency, len(todo))
        with self.client(workers) as client, ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda i: self._one(client, prompts[i]), todo))
        for i, reply in zip(todo, results, strict=True):
            out[i] = reply
        return out

    def probe(self, prompt: str) -> None:
        """One judgment of `prompt`, not cached: one line unless the server answers with a reply that gives a score."""
        with self.client(1) as client:
            reply, error = self._post(client, self.body(prompt))
        where = f"the judge at {self.url} failed a test judgment before the model loads"
        if reply is None:
            # 401/403 already say where the key comes from.
            fix = "" if error.startswith(("HTTP 401", "HTTP 403")) else "; " + self.fix(_error_cause(error))
            raise JudgeUnavailable(f"{where}: {error}{fix}")
        _, problem = self.reader(reply)
        if problem is not None:
            raise JudgeUnavailable(
                f"{where}: its reply gives no score ({problem}: {last_line(reply)}); {self.fix(problem)}"
            )

    def describe(self) -> str:
        return f"requests to {self.url}"

    def fix(self, problem: str) -> str:
        return FIX.get(problem, FIX["no_score"]).format(scale=f"{self.reader.scale:g}")


# What to do about each kind of failure, in one clause.
FIX = {
    "unreachable": "start the judge server or fix judge.openai.base_url",
    "rejected": "the server refused the request: check judge.openai.model, judge.openai.api_key_env and its log",
    "no_score": "make the judge end its reply with one line `SCORE: <a number from 0 to {scale}>` "
    "(judge.prompts, judge.openai.model), or set judge.score_scale to the scale it scores on",
    "empty": "make the judge end its reply with one line `SCORE: <a number from 0 to {scale}>` "
    "(judge.prompts, judge.openai.model)",
    "out_of_range": "the judge scores outside 0 to {scale}: set judge.score_scale to the top of its scale "
    "(10 for a 0-10 judge) or fix judge.prompts",
    "too_long": "raise judge.max_reply_bytes or lower judge.openai.max_tokens",
}
# judge.backend=reference: the run's own model writes the judgments.
REFERENCE_FIX = (
    "the run's model does not follow the judge prompt: use judge.backend=openai with an instruction-tuned judge "
    "(or raise judge.max_failure_rate to train without those rows' judge reward)"
)


NO_REFERENCE_MODEL = (
    "judge.backend=reference needs the run's reference model, which only cmd=train has; "
    "use judge.backend=openai (a judge server) here"
)


class ReferenceBackend:
    """The run's reference model writes the judgment, greedily, in process."""

    def __init__(
        self, model: Any, s: schema.ReferenceJudge, system: str, counters: Counters, scale: float = 1.0
    ) -> None:
        if model is None or not getattr(model, "bound", True):
            raise ConfigError(NO_REFERENCE_MODEL)
        self.model = model
        self.s = s
        self.system = system
        self.counters = counters
        self.scale = scale

    def complete(self, prompts: list[str]) -> list[Reply]:
        texts = [fill(self.s.chat_wrapper, {"system": self.system, "prompt": p}) for p in prompts]
        t0 = time.perf_counter()
        replies = self.model.generate(texts, max_new_tokens=self.s.max_new_tokens, batch_size=self.s.batch_size)
        self.counters.add("judge/calls", len(texts))
        self.counters.observe("judge/latency_s", (time.perf_counter() - t0) / max(len(texts), 1))
        return [Reply(r if isinstance(r, str) else None) for r in replies]

    def describe(self) -> str:
        return "judgments by the run's reference model"

    def fix(self, problem: str) -> str:
        if problem == "too_long":
            return "raise judge.max_reply_bytes or lower judge.reference.max_new_tokens"
        if problem == "out_of_range":
            return FIX["out_of_range"].format(scale=f"{self.scale:g}")
        return REFERENCE_FIX


def make_backend(s: schema.Judge, counters: Counters, reference_model: Any = None) -> Any:
    if s.backend == "openai":
        return OpenAIBackend(s.openai, s.system, counters, reader(s))
    return ReferenceBackend(reference_model, s.reference, s.system, counters, s.score_scale)


# --- judging ---


def judge_prompts(kind: str, items: list[dict[str, str]], s: schema.Judge) -> list[str]:
    """The judge prompt of each item: the kind's template with every value quoted."""
    template = s.prompts[kind]
    return [fill(template, {k: quote(k, v, s.max_chars) for k, v in item.items()}) for item in items]


# The start-up test judgment: an answer equal to its reference, which any judge scores at the top.
PROBE_ITEM = {"question": "What is 2 + 3?", "reference": "5", "answer": "5"}
# Endpoints already tested, per run (keyed by the run's Counters, which lives exactly as long as the run):
# the answer and reasoning terms share one test request.
_PROBED: weakref.WeakKeyDictionary[Counters, set[tuple]] = weakref.WeakKeyDictionary()


class RunBackend:
    """The judge backend of one run: built on first use (the reference model is bound after the
    trainer is built), then kept, so its HTTP client and reply cache live as long as the run."""

    def __init__(self, s: schema.Judge, counters: Counters, reference_model: Any = None) -> None:
        self.s = s
        self.counters = counters
        self.reference_model = reference_model
        self._backend: Any = None

    @property
    def backend(self) -> Any:
        if self._backend is None:
            self._backend = make_backend(self.s, self.counters, self.reference_model)
        return self._backend

    def complete(self, prompts: list[str]) -> list[Reply]:
        return self.backend.complete(prompts)

    def preflight(self) -> None:
        """One test judgment per run and endpoint (openai); nothing for judge.backend=reference, whose
        model is not loaded yet (its check is the failure stop of every batch)."""
        if self.s.backend != "openai":
            return
        endpoint = (self.s.openai.base_url, self.s.openai.model, self.s.openai.api_key_env)
        done = _PROBED.setdefault(self.counters, set())
        if endpoint in done:
            return
        done.add(endpoint)
        try:
            self.backend.probe(judge_prompts("answer", [PROBE_ITEM], self.s)[0])
        except JudgeUnavailable as exc:
            if self.s.max_failure_rate < 1:
                raise
            # judge.max_failure_rate=1 tolerates every failed judgment: say so once, and go on.
            print(
                f"r1exp: warning: {exc}; judge.max_failure_rate=1 tolerates it: rows the judge cannot score get "
                "no judge reward",
                file=sys.stderr,
            )


def _failure_line(backend: Any, s: schema.Judge, judged: int, errors: list[str], bad: list[tuple[str, str]]) -> str:
    """`N of M judgments failed (...)`: how many, why, the last example of each cause."""
    parts = []
    if errors:
        parts.append(f"{len(errors)} {backend.describe()} failed (last: {errors[-1]})")
    if bad:
        reasons = Tally(problem for problem, _ in bad)
        kinds = ", ".join(f"{n} {problem}" for problem, n in reasons.most_common())
        problem, text = bad[-1]
        example = "" if problem == "too_long" else f", last: {text}"
        parts.append(f"{len(bad)} replies gave no valid score ({kinds}{example})")
    return f"{len(errors) + len(bad)} of {judged} judgments failed: {'; '.join(parts)}"


def _error_cause(error: str) -> str:
    """The FIX entry for a request that gave no reply text."""
    if "judge.max_reply_bytes" in error:
        return "too_long"
    return "rejected" if error.startswith("HTTP 4") else "unreachable"


def _stop_or_warn(backend: Any, s: schema.Judge, judged: int, errors: list[str], bad: list[tuple[str, str]]) -> None:
    """Raise one line above judge.max_failure_rate; below it, one warning line (those rows get None)."""
    failed = len(errors) + len(bad)
    if not failed:
        return
    line = _failure_line(backend, s, judged, errors, bad)
    if failed > s.max_failure_rate * judged:
        # The commonest cause names the fix.
        causes = Tally(problem for problem, _ in bad) + Tally(_error_cause(e) for e in errors)
        fix = backend.fix(causes.most_common(1)[0][0])
        raise JudgeUnavailable(
            f"judge: {line}, above judge.max_failure_rate={s.max_failure_rate:g}; {fix} "
            "(stops here; a training run keeps its last checkpoint)"
        )
    print(f"r1exp: warning: judge: {line}; those rows get no judge reward", file=sys.stderr)


def run_judge(
    kind: str,
    items: list[dict[str, str]],
    judge: Any,
    counters: Counters | None,
    reference_model: Any = None,
    backend: Any = None,
) -> list[float | None]:
    """Scores in [0, 1] for each item; None where the judgment failed (no reply, or a reply without a
    valid score), and the batch stops with one line when more than judge.max_failure_rate failed.

    `backend`: the run's (see `RunBackend`); without one, a backend is built for this call.
    """
    if not items:
        return []
    # A run's backend holds the settings checked at start-up; a call without one checks them now.
    s = backend.s if isinstance(backend, RunBackend) else settings(judge)
    read = reader(s)
    counters = counters if counters is not None else Counters()
    prompts = judge_prompts(kind, items, s)
    # Identical prompts (a GRPO group often repeats a completion) are judged once.
    unique = list(dict.fromkeys(prompts))
    if len(unique) < len(prompts):
        counters.add("judge/cache_hits", len(prompts) - len(unique))
    backend = backend if backend is not None else make_backend(s, counters, reference_model)
    replies: list[Reply] = backend.complete(unique)
    verdicts: dict[str, tuple[Reply, float | None, str | None]] = {}
    errors: list[str] = []
    bad: list[tuple[str, str]] = []
    for prompt, reply in zip(unique, replies, strict=True):
        if reply.text is None:
            verdicts[prompt] = (reply, None, None)
            errors.append(reply.error or "no reply")
            continue
        score, problem = read(reply.text)
        verdicts[prompt] = (reply, score, problem)
        if problem is not None:
            counters.add("judge/parse_failures")
            counters.add(f"judge/bad_reply/{problem}")
            bad.append((problem, last_line(reply.text)))
    if s.replies_path:
        _log_replies(Path(s.replies_path).expanduser(), kind, s.backend, unique, verdicts)
    _stop_or_warn(getattr(backend, "backend", backend), s, len(unique), errors, bad)
    return [verdicts[p][1] for p in prompts]


def _log_replies(path: Path, kind: str, backend: str, prompts: list[str], verdicts: dict) -> None:
    """Append each judgment (prompt, raw reply, score or why none) to a JSONL file, for inspecting the judge."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for prompt in prompts:
            reply, score, problem = verdicts[prompt]
            row = {"kind": kind, "backend": backend, "prompt": prompt, "reply": reply.text, "cached": reply.cached}
            row.update(score=score, problem=problem, error=reply.error)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _column(values: list | None, n: int) -> list:
    return list(values) if values is not None else [None] * n


def judge_answer(
    prompts: list,
    completions: list,
    reference: list | None = None,
    question: list | None = None,
    counters: Counters | None = None,
    judge: Any = None,
    reference_model: Any = None,
    backend: Any = None,
    **_: Any,
) -> list[float | None]:
    """Judge score in [0, 1] of the last answer block against the row's `reference`.

    No reference: None (not applicable). No (or an empty) answer block: 0.0 without asking the judge.
    """
    n = len(completions)
    out: list[float | None] = [None] * n
    todo, items = [], []
    for i, (p, c, ref, q) in enumerate(
        zip(prompts, completions, _column(reference, n), _column(question, n), strict=True)
    ):
        if ref is None or not str(ref).strip():
            continue
        answer = answer_text(scored_text(p, c))
        if answer is None:
            out[i] = 0.0
            continue
        todo.append(i)
        items.append({"question": question_text(p, q), "reference": str(ref), "answer": answer})
    scores = run_judge("answer", items, judge, counters, reference_model, backend)
    for i, score in zip(todo, scores, strict=True):
        out[i] = score
    return out


def judge_reasoning(
    prompts: list,
    completions: list,
    question: list | None = None,
    counters: Counters | None = None,
    judge: Any = None,
    reference_model: Any = None,
    backend: Any = None,
    **_: Any,
) -> list[float | None]:
    """Judge score in [0, 1] of how well organised the reasoning (the think block) is; empty reasoning: 0.0."""
    n = len(completions)
    out: list[float | None] = [None] * n
    todo, items = [], []
    for i, (p, c, q) in enumerate(zip(prompts, completions, _column(question, n), strict=True)):
        reasoning = reasoning_text(scored_text(p, c))
        if not reasoning:
            out[i] = 0.0
            continue
        todo.append(i)
        items.append({"question": question_text(p, q), "reasoning": reasoning})
    scores = run_judge("reasoning", items, judge, counters, reference_model, backend)
    for i, score in zip(todo, scores, strict=True):
        out[i] = score
    return out


def check(kwargs: dict[str, Any]) -> None:
    """Fail before any model loads on what a judge term will need: settings, the API key, a reference model.

    Without a run context (no `judge` entry: a config test building terms alone) there is nothing to check.
    Reaching the server is `preflight`'s job, after every config check.
    """
    if kwargs.get("judge") is None:
        return
    s = settings(kwargs["judge"])
    if s.backend == "openai":
        OpenAIBackend(s.openai, s.system, Counters(), reader(s))  # reads the API key variable
    elif kwargs.get("reference_model") is None:
        raise ConfigError(NO_REFERENCE_MODEL)


class JudgeReward(Reward):
    """A judge reward: its settings are checked at start-up and its backend is built once per run."""

    context_keys = CONTEXT_KEYS

    def __init__(self, func: Any, columns: tuple[str, ...]) -> None:
        self.func = func
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__
        self.columns = columns
        self.check = check  # type: ignore[method-assign]

    def setup(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("judge") is None:
            return kwargs  # no run context (a config test building terms alone)
        counters = kwargs.get("counters") or Counters()
        # `check` ran on these kwargs just before (build_terms: check, then setup), so a run's typed
        # section is checked already; a node or dict is typed (and checked) here.
        judge = kwargs["judge"]
        s = judge if isinstance(judge, schema.Judge) else settings(judge)
        backend = RunBackend(s, counters, kwargs.get("reference_model"))
        return {**kwargs, "counters": counters, "backend": backend}

    def preflight(self, kwargs: dict[str, Any]) -> None:
        """Reach the judge once before any model loads (the kwargs `setup` returned); one line if it fails."""
        backend = kwargs.get("backend")
        if isinstance(backend, RunBackend):
            backend.preflight()

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float | None]:
        return self.func(prompts, completions, **kwargs)


def preflight(terms: Iterable[Any]) -> None:
    """Test the judge of a run's reward terms (RewardTerm objects) with one request before any model loads.

    Call it after every config check: a dead endpoint, a rejected key or a judge whose reply gives no
    score stops the run with one line. Terms without a judge, and judge.backend=reference, pass untouched.
    """
    for term in terms:
        reward = getattr(term, "reward", None)
        if isinstance(reward, JudgeReward):
            reward.preflight(term.kwargs)


judge_answer_reward = JudgeReward(judge_answer, columns=("reference",))
judge_reasoning_reward = JudgeReward(judge_reasoning, columns=())
