"""LLM-judge rewards: the answer judged against the row's reference, and the reasoning judged for order.

Why (the LoRA note, sections 5 and 6): general Chinese questions have no checkable answer, so an LLM
reads the question, the reference and the answer block and gives a smooth score in [0, 1]. Judging the
answer alone ranked a terse think block above a thorough one, so a second prompt scores how well
organised the reasoning is. Both are independent terms, summed with the soft format reward.

Trust: completions are untrusted. Each quoted text sits between BEGIN/END marker lines whose id is a
hash of the text itself, so a completion cannot close its own quote, and chat special-token spellings
(`<|...|>`) are broken up so quoted text cannot fake a chat turn. Only the judge's reply is parsed: its
last non-empty line must be `SCORE: <number>` in ASCII digits (clamped to [0, 1]); any other reply
gives None and bumps `judge/parse_failures`, never an exception. Lone surrogates in a completion
become `?` before anything is hashed, cached or sent.

Backends (`judge.backend`): `openai` posts to any OpenAI-compatible `{base_url}/chat/completions` with
bounded concurrency, a timeout, retries with exponential backoff (5xx, 429, transport errors; not other
4xx) and an on-disk cache of replies keyed by a hash of the endpoint, the prompt version and the request
(model, messages, sampling). A failed request gives None plus `judge/failures`; when more than
`judge.max_failure_rate` of a batch's requests fail (a dead server), the batch raises one line and the
run stops (status failed, its last checkpoint kept) instead of training on the other terms alone. The
API key is redacted from every error body and reply before it is printed, logged or cached.
`reference` generates the judgment
in process with the run's reference model (LoRA: the policy with adapters disabled), so no second copy
of the weights is loaded; only cmd=train has one.

Counters (metrics.jsonl `reward_stats/judge/...`): calls (backend requests), cache_hits (replies served
without a request: the disk cache, or an identical prompt earlier in the same batch), retries,
failures, parse_failures, latency_s_mean (seconds per backend request).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from r1exp.common.answers import as_text, last_answer, scored_text
from r1exp.common.hub import DEFAULT_CACHE
from r1exp.errors import ConfigError, UserError
from r1exp.rewards.base import Reward
from r1exp.rewards.counters import Counters

BACKENDS = ("openai", "reference")
# Part of every cached reply's key: bump it when the rendering of judge prompts changes (quoting,
# defusing), so replies to the old rendering are not served for the new one.
PROMPT_VERSION = 2
# The placeholders each prompt template must hold; each becomes a quoted block.
PLACEHOLDERS = {"answer": ("question", "reference", "answer"), "reasoning": ("question", "reasoning")}
CONTEXT_KEYS = ("counters", "judge", "reference_model")
# ASCII only: `\d` would also take other scripts' digits (`SCORE: ５`), which no judge prompt asks for.
_SCORE_LINE = re.compile(r"SCORE\s*:\s*([0-9]{1,3}(?:\.[0-9]{1,12})?|\.[0-9]{1,12})", re.IGNORECASE | re.ASCII)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_MAX_SCORE_LINE = 64


# --- prompts and replies ---


def parse_score(reply: Any) -> float | None:
    """The score on the reply's last non-empty line (`SCORE: 0.73`), clamped to [0, 1]; else None."""
    if not isinstance(reply, str):
        return None
    lines = reply.rstrip().rsplit("\n", 1)
    last = lines[-1].strip()
    if not last or len(last) > _MAX_SCORE_LINE:
        return None
    match = _SCORE_LINE.fullmatch(last)
    if match is None:
        return None
    return min(1.0, max(0.0, float(match.group(1))))


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


@dataclass(frozen=True)
class OpenAISettings:
    base_url: str
    model: str
    api_key_env: str | None
    concurrency: int
    timeout_s: float
    retries: int
    backoff_s: float
    max_backoff_s: float
    temperature: float
    max_tokens: int
    cache: bool
    cache_dir: str | None


@dataclass(frozen=True)
class ReferenceSettings:
    max_new_tokens: int
    batch_size: int
    chat_wrapper: str


@dataclass(frozen=True)
class JudgeSettings:
    backend: str
    system: str
    max_chars: int
    prompts: dict[str, str]
    replies_path: str | None
    openai: OpenAISettings
    reference: ReferenceSettings
    max_failure_rate: float = 0.2


def _plain(node: Any) -> dict:
    if node is None:
        return {}
    if hasattr(node, "_metadata"):  # a DictConfig
        from omegaconf import OmegaConf

        return OmegaConf.to_container(node, resolve=True)
    return dict(node)


def _number(node: dict, key: str, path: str, kind: type, minimum: float) -> Any:
    value = node.get(key)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        number = kind(value)
        if kind is int and number != value:
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{path}.{key}={value!r} must be a {kind.__name__} >= {minimum}") from None
    if number < minimum:
        raise ConfigError(f"{path}.{key}={value!r} must be a {kind.__name__} >= {minimum}")
    return number


def _text(node: dict, key: str, path: str, optional: bool = False) -> str | None:
    value = node.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}.{key}={value!r} must be a non-empty string")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"judge.max_failure_rate={value!r} must be a number from 0 to 1 (a share of requests)")
    return float(value)


def settings(judge: Any) -> JudgeSettings:
    """Validated judge settings from the `judge` config group (a DictConfig or a dict)."""
    cfg = _plain(judge)
    if not cfg:
        raise ConfigError("judge: no judge config; add judge=default to the defaults (conf/judge/default.yaml)")
    backend = cfg.get("backend")
    if backend not in BACKENDS:
        raise ConfigError(f"judge.backend={backend!r} is unknown; use one of {', '.join(BACKENDS)}")
    prompts = cfg.get("prompts") or {}
    for kind, names in PLACEHOLDERS.items():
        template = _text(prompts, kind, "judge.prompts")
        missing = [f"{{{n}}}" for n in names if f"{{{n}}}" not in template]
        if missing:
            raise ConfigError(f"judge.prompts.{kind} must contain {', '.join(missing)}")
    oa = cfg.get("openai") or {}
    ref = cfg.get("reference") or {}
    wrapper = _text(ref, "chat_wrapper", "judge.reference")
    if "{prompt}" not in wrapper:
        raise ConfigError("judge.reference.chat_wrapper must contain {prompt}")
    return JudgeSettings(
        backend=backend,
        system=_text(cfg, "system", "judge", optional=True) or "",
        max_chars=_number(cfg, "max_chars", "judge", int, 1),
        prompts={k: prompts[k] for k in PLACEHOLDERS},
        replies_path=_text(cfg, "replies_path", "judge", optional=True),
        max_failure_rate=_rate(cfg.get("max_failure_rate", 0.2)),
        openai=OpenAISettings(
            base_url=_text(oa, "base_url", "judge.openai") or "",
            model=_text(oa, "model", "judge.openai") or "",
            api_key_env=_text(oa, "api_key_env", "judge.openai", optional=True),
            concurrency=_number(oa, "concurrency", "judge.openai", int, 1),
            timeout_s=_number(oa, "timeout_s", "judge.openai", float, 0.001),
            retries=_number(oa, "retries", "judge.openai", int, 0),
            backoff_s=_number(oa, "backoff_s", "judge.openai", float, 0),
            max_backoff_s=_number(oa, "max_backoff_s", "judge.openai", float, 0),
            temperature=_number(oa, "temperature", "judge.openai", float, 0),
            max_tokens=_number(oa, "max_tokens", "judge.openai", int, 1),
            cache=bool(oa.get("cache", True)),
            cache_dir=_text(oa, "cache_dir", "judge.openai", optional=True),
        ),
        reference=ReferenceSettings(
            max_new_tokens=_number(ref, "max_new_tokens", "judge.reference", int, 1),
            batch_size=_number(ref, "batch_size", "judge.reference", int, 1),
            chat_wrapper=wrapper,
        ),
    )


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
    """Too many judge requests of one batch failed: training on would use the other terms alone."""


REDACTED = "[redacted]"


class OpenAIBackend:
    """Chat completions over HTTP: bounded concurrency, timeout, retries with backoff, reply cache.

    The API key never leaves in a message: every text taken from a response (an error body, a
    reply) has it replaced by `[redacted]` before it is printed, logged, cached or raised.
    """

    def __init__(self, s: OpenAISettings, system: str, counters: Counters, max_failure_rate: float = 1.0) -> None:
        self.s = s
        self.system = system
        self.counters = counters
        self.max_failure_rate = max_failure_rate
        self.url = s.base_url.rstrip("/") + "/chat/completions"
        root = Path(s.cache_dir or DEFAULT_CACHE).expanduser() / "judge" if s.cache else None
        self.cache = ReplyCache(root)
        self.api_key: str | None = None
        if s.api_key_env:
            self.api_key = os.environ.get(s.api_key_env)
            if not self.api_key:
                raise ConfigError(
                    f"judge.openai.api_key_env={s.api_key_env}: that environment variable is not set; export it, "
                    "or set judge.openai.api_key_env=null for a server that needs no key"
                )

    def redact(self, text: str) -> str:
        """`text` without the API key (a server may echo the Authorization header back)."""
        return text.replace(self.api_key, REDACTED) if self.api_key else text

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

    def _post(self, client: Any, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """(reply, None), or (None, why) once retries are spent or the server refused the request."""
        import httpx

        error = "no attempt"
        for attempt in range(self.s.retries + 1):
            if attempt:
                self.counters.add("judge/retries")
                time.sleep(min(self.s.max_backoff_s, self.s.backoff_s * 2 ** (attempt - 1)))
            try:
                resp = client.post(self.url, json=body)
            except httpx.TransportError as exc:  # connection refused/reset, timeouts
                error = type(exc).__name__
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                error = f"HTTP {resp.status_code}"
                continue
            if resp.status_code in (401, 403):
                # The body may quote part of the key; say where the key comes from instead.
                return None, f"HTTP {resp.status_code} (not retried): check the key in judge.openai.api_key_env"
            if resp.status_code != 200:
                # Redacted before it is cut, so no prefix of the key survives the cut either.
                return None, f"HTTP {resp.status_code} (not retried): {self.redact(resp.text)[:200]}"
            try:
                content = resp.json()["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                return None, "a 200 response without choices[0].message.content"
            if not isinstance(content, str):
                return None, "a 200 response whose message content is not text"
            return self.redact(content), None
        return None, error

    def _one(self, client: Any, prompt: str) -> tuple[str | None, str | None]:
        t0 = time.perf_counter()
        body = self.body(prompt)
        reply, error = self._post(client, body)
        self.counters.add("judge/calls")
        self.counters.observe("judge/latency_s", time.perf_counter() - t0)
        if reply is None:
            self.counters.add("judge/failures")
        else:
            self.cache.put(self.cache_key(body), reply)
        return reply, error

    def complete(self, prompts: list[str]) -> list[tuple[str | None, bool]]:
        """(reply or None, served from the cache) for each prompt."""
        import httpx

        out: list[tuple[str | None, bool]] = [(None, False)] * len(prompts)
        todo = []
        for i, prompt in enumerate(prompts):
            cached = self.cache.get(self.cache_key(self.body(prompt)))
            if cached is not None:
                self.counters.add("judge/cache_hits")
                out[i] = (cached, True)
            else:
                todo.append(i)
        if not todo:
            return out
        workers = min(self.s.concurrency, len(todo))
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        with (
            httpx.Client(timeout=httpx.Timeout(self.s.timeout_s), headers=headers, limits=limits) as client,
            ThreadPoolExecutor(max_workers=workers) as pool,
        ):
            results = list(pool.map(lambda i: self._one(client, prompts[i]), todo))
        errors = [err for _, err in results if err is not None]
        for i, (reply, _) in zip(todo, results, strict=True):
            out[i] = (reply, False)
        if errors and len(errors) > self.max_failure_rate * len(todo):
            raise JudgeUnavailable(
                f"judge: {len(errors)} of {len(todo)} requests to {self.url} failed (last: {errors[-1]}), above "
                f"judge.max_failure_rate={self.max_failure_rate:g}; start the judge server or fix "
                "judge.openai.base_url (stops here; a training run keeps its last checkpoint)"
            )
        if errors:
            print(
                f"r1exp: warning: judge: {len(errors)} of {len(todo)} requests to {self.url} failed "
                f"(last: {errors[-1]}); those rows get no judge reward",
                file=sys.stderr,
            )
        return out


NO_REFERENCE_MODEL = (
    "judge.backend=reference needs the run's reference model, which only cmd=train has; "
    "use judge.backend=openai (a judge server) here"
)


class ReferenceBackend:
    """The run's reference model writes the judgment, greedily, in process."""

    def __init__(self, model: Any, s: ReferenceSettings, system: str, counters: Counters) -> None:
        if model is None or not getattr(model, "bound", True):
            raise ConfigError(NO_REFERENCE_MODEL)
        self.model = model
        self.s = s
        self.system = system
        self.counters = counters

    def complete(self, prompts: list[str]) -> list[tuple[str | None, bool]]:
        texts = [fill(self.s.chat_wrapper, {"system": self.system, "prompt": p}) for p in prompts]
        t0 = time.perf_counter()
        replies = self.model.generate(texts, max_new_tokens=self.s.max_new_tokens, batch_size=self.s.batch_size)
        self.counters.add("judge/calls", len(texts))
        self.counters.observe("judge/latency_s", (time.perf_counter() - t0) / max(len(texts), 1))
        return [(r, False) for r in replies]


def make_backend(s: JudgeSettings, counters: Counters, reference_model: Any = None) -> Any:
    if s.backend == "openai":
        return OpenAIBackend(s.openai, s.system, counters, s.max_failure_rate)
    return ReferenceBackend(reference_model, s.reference, s.system, counters)


# --- judging ---


def judge_prompts(kind: str, items: list[dict[str, str]], s: JudgeSettings) -> list[str]:
    """The judge prompt of each item: the kind's template with every value quoted."""
    template = s.prompts[kind]
    return [fill(template, {k: quote(k, v, s.max_chars) for k, v in item.items()}) for item in items]


class RunBackend:
    """The judge backend of one run: built on first use (the reference model is bound after the
    trainer is built), then kept, so its HTTP client and reply cache live as long as the run."""

    def __init__(self, s: JudgeSettings, counters: Counters, reference_model: Any = None) -> None:
        self.s = s
        self.counters = counters
        self.reference_model = reference_model
        self._backend: Any = None

    def complete(self, prompts: list[str]) -> list[tuple[str | None, bool]]:
        if self._backend is None:
            self._backend = make_backend(self.s, self.counters, self.reference_model)
        return self._backend.complete(prompts)


def run_judge(
    kind: str,
    items: list[dict[str, str]],
    judge: Any,
    counters: Counters | None,
    reference_model: Any = None,
    backend: Any = None,
) -> list[float | None]:
    """Scores in [0, 1] (None: no reply, or a reply that does not parse) for each item.

    `backend`: the run's (see `RunBackend`); without one, a backend is built for this call.
    """
    if not items:
        return []
    s = settings(judge)
    counters = counters if counters is not None else Counters()
    prompts = judge_prompts(kind, items, s)
    # Identical prompts (a GRPO group often repeats a completion) are judged once.
    unique = list(dict.fromkeys(prompts))
    if len(unique) < len(prompts):
        counters.add("judge/cache_hits", len(prompts) - len(unique))
    backend = backend if backend is not None else make_backend(s, counters, reference_model)
    answered = dict(zip(unique, backend.complete(unique), strict=True))
    scores: list[float | None] = []
    for prompt in prompts:
        reply, _ = answered[prompt]
        score = parse_score(reply) if reply is not None else None
        if reply is not None and score is None:
            counters.add("judge/parse_failures")
        scores.append(score)
    if s.replies_path:
        _log_replies(Path(s.replies_path).expanduser(), kind, s.backend, unique, answered)
    return scores


def _log_replies(path: Path, kind: str, backend: str, prompts: list[str], answered: dict) -> None:
    """Append each judgment (prompt, raw reply, parsed score) to a JSONL file, for inspecting the judge."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        for prompt in prompts:
            reply, cached = answered[prompt]
            row = {"kind": kind, "backend": backend, "prompt": prompt, "reply": reply, "cached": cached}
            row["score"] = parse_score(reply) if reply is not None else None
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
    """
    if kwargs.get("judge") is None:
        return
    s = settings(kwargs["judge"])
    if s.backend == "openai":
        OpenAIBackend(s.openai, s.system, Counters())  # reads the API key variable
    elif kwargs.get("reference_model") is None:
        raise ConfigError(NO_REFERENCE_MODEL)


class JudgeReward(Reward):
    """A judge reward: its settings are checked at start-up and its backend is built once per run."""

    context_keys = CONTEXT_KEYS

    def __init__(self, fn: Any, columns: tuple[str, ...]) -> None:
        self.fn = fn
        self.__name__ = fn.__name__
        self.__doc__ = fn.__doc__
        self.columns = columns
        self.check = check  # type: ignore[method-assign]

    def setup(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.get("judge") is None:
            return kwargs  # no run context (a config test building terms alone)
        counters = kwargs.get("counters") or Counters()
        backend = RunBackend(settings(kwargs["judge"]), counters, kwargs.get("reference_model"))
        return {**kwargs, "counters": counters, "backend": backend}

    def __call__(self, prompts: list, completions: list, **kwargs: Any) -> list[float | None]:
        return self.fn(prompts, completions, **kwargs)


judge_answer_reward = JudgeReward(judge_answer, columns=("reference",))
judge_reasoning_reward = JudgeReward(judge_reasoning, columns=())
