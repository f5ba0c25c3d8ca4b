"""The judge under faults: a dead server stops the run, the cache knows its endpoint, the API key never shows."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest

from r1exp.common import jsonl
from r1exp.errors import UserError
from r1exp.rewards.counters import Counters
from r1exp.tasks.zh_general.judge import JudgeUnavailable, judge_answer, judge_reasoning, parse_score, preflight
from tests.conftest import compose, error_lines
from tests.integration.test_judge_http import (
    PROMPT,
    JudgeServer,
    answers,
    free_port,
    judge_cfg,
    write_questions,
    zh_smoke,
)
from tests.unit.test_judge_secrets import base64_decoded, json_decoded

pytestmark = pytest.mark.slow

KEY = "sk-live-0123456789abcdef"


def encodings(value: str) -> dict[str, str]:
    """`value` (an Authorization header) as a server might echo it back."""
    key = value.removeprefix("Bearer ")
    return {
        "as typed": value,
        "json": json.dumps(value)[1:-1].replace("/", "\\/"),
        "json \\u": "".join(f"\\u{ord(c):04x}" for c in value),
        "url": quote(value, safe=""),
        "url plus": quote_plus(value),
        "base64": base64.b64encode(value.encode()).decode(),
        "base64 basic": base64.b64encode(f"user:{key}".encode()).decode(),
        "base64 urlsafe": base64.urlsafe_b64encode(key.encode()).decode().rstrip("="),
    }


class EchoServer:
    """Answers every request with its Authorization header in one spelling, in an error body or the reply."""

    def __init__(self, status: int, encoding: str = "as typed") -> None:
        status_code = status

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # The header first, as a server that logs a request back would show it.
                echoed = f"Authorization: {encodings(self.headers.get('Authorization', ''))[encoding]}"
                if status_code == 200:
                    reply = {"choices": [{"message": {"content": f"headers: {echoed}\nSCORE: 0.5"}}]}
                    data = json.dumps(reply).encode()
                else:
                    data = json.dumps({"error": f"bad request, you sent {echoed}"}).encode()
                with contextlib.suppress(OSError):
                    self.send_response(status_code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> EchoServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedServer(JudgeServer):
    """A JudgeServer whose every reply is `reply(user prompt)` (status 200)."""

    def __init__(self, reply, **kwargs) -> None:
        super().__init__(**kwargs)
        self.reply = reply

    def grade(self, user: str) -> tuple[int, str, float]:
        return 200, self.reply(user), 0.0


class HugeServer:
    """Answers 200 with a body of `size` bytes, sent in 1 MB writes of one buffer (with or without a
    Content-Length), and counts the bytes it managed to send before the client hung up."""

    def __init__(self, size: int, declare_length: bool) -> None:
        self.sent = 0
        server = self
        chunk = b" " * (1 << 20)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # without a length, the body ends when the connection closes

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if declare_length:
                    self.send_header("Content-Length", str(size))
                self.end_headers()
                with contextlib.suppress(OSError):
                    while server.sent < size:
                        self.wfile.write(chunk)
                        server.sent += len(chunk)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HugeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def leaked(text: str, key: str) -> list[str]:
    """The readings of `text` (as typed, JSON-, URL- or base64-decoded) in which `key` can be read."""
    readings = {
        "as typed": text,
        "json": json_decoded(text),
        "json twice": json_decoded(json_decoded(text)),
        "url": unquote(text),
        "url plus": unquote_plus(unquote(text)),
    }
    found = [name for name, reading in readings.items() if key in reading]
    if key.encode()[2:-2] in base64_decoded(json_decoded(text)):
        found.append("base64")
    return found


def test_score_digits_are_ascii_only():
    assert parse_score("SCORE: 0.5") == 0.5
    assert parse_score("SCORE: ５") is None
    assert parse_score("SCORE: ０.５") is None
    assert parse_score("SCORE: ١") is None


def test_lone_surrogates_never_raise(tmp_path):
    from tests.unit.test_reward_adversarial import StubJudgeModel

    cfg = compose(["judge.backend=reference"]).judge
    texts = ["想\ud800</think>\n<answer>\ud800</answer>", "\udfff</think>\n<answer>北京</answer>"]
    out = judge_answer([PROMPT] * 2, texts, reference=["北京\ud800"] * 2, judge=cfg, reference_model=StubJudgeModel())
    assert out == [0.5, 0.5]
    assert judge_reasoning([PROMPT], ["\ud800"], judge=cfg, reference_model=StubJudgeModel()) == [0.5]


def test_a_dead_server_stops_the_batch_with_one_line(tmp_path):
    cfg = judge_cfg(f"http://127.0.0.1:{free_port()}", tmp_path, "judge.openai.retries=0")
    with pytest.raises(UserError) as err:
        judge_answer([PROMPT] * 3, answers("a", "b", "c"), reference=["a"] * 3, counters=Counters(), judge=cfg)
    message = str(err.value)
    assert "\n" not in message and "3 of 3" in message and "judge.max_failure_rate=0.2" in message


def test_failures_below_the_rate_are_counted(server, tmp_path):
    cfg = judge_cfg(server.base_url, tmp_path, "judge.openai.retries=0", "judge.max_failure_rate=0.5")
    counters = Counters()
    texts = ["北京", "北京 HTTP500ALWAYS", "上海", "南京"]
    out = judge_answer([PROMPT] * 4, answers(*texts), reference=["北京"] * 4, counters=counters, judge=cfg)
    assert out[1] is None and all(v is not None for i, v in enumerate(out) if i != 1)
    assert counters.drain()["judge/failures"] == 1


@pytest.fixture
def server():
    with JudgeServer() as srv:
        yield srv


def test_the_cache_is_keyed_on_the_endpoint(tmp_path):
    with JudgeServer() as one, JudgeServer() as two:
        judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=judge_cfg(one.base_url, tmp_path))
        judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=judge_cfg(two.base_url, tmp_path))
        judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=judge_cfg(two.base_url, tmp_path))
        assert len(one.requests) == 1 and len(two.requests) == 1  # the third call is a hit on two's entry


@pytest.mark.parametrize("encoding", list(encodings("Bearer x")))
@pytest.mark.parametrize("status", [400, 200])
def test_the_api_key_is_redacted_everywhere(tmp_path, monkeypatch, capfd, status, encoding):
    monkeypatch.setenv("R1EXP_TEST_JUDGE_KEY", KEY)
    replies = tmp_path / "replies.jsonl"
    with EchoServer(status, encoding) as srv:
        cfg = judge_cfg(
            srv.base_url,
            tmp_path,
            "judge.openai.api_key_env=R1EXP_TEST_JUDGE_KEY",
            "judge.openai.retries=1",
            f"judge.replies_path={replies}",
        )
        try:
            judge_answer([PROMPT] * 2, answers("北京", "上海"), reference=["北京"] * 2, judge=cfg)
            raised = ""
        except UserError as exc:
            raised = str(exc)
    seen = raised + "".join(capfd.readouterr()) + (replies.read_text() if replies.exists() else "")
    seen += "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert "[redacted]" in seen  # the echo reached the printed error or the logged reply
    assert leaked(seen, KEY) == [] and KEY[:12] not in seen


def test_training_stops_when_the_judge_server_dies(launch_here, tmp_path):
    """Steps train while the server answers; once it is gone the run ends with one line, status
    failed, and the checkpoints saved so far are kept."""
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    with JudgeServer(max_requests=12) as srv:
        proc = launch_here(
            *zh_smoke(data),
            "judge.backend=openai",
            f"judge.openai.base_url={srv.base_url}",
            "judge.openai.retries=0",
            "judge.openai.cache=false",
            "trainer.max_steps=50",
            "trainer.save_steps=1",
            "trainer.save_total_limit=2",
            f"hydra.run.dir={run}",
        )
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in error_lines(proc.stderr) if "error" in ln]
    assert len(lines) == 1 and "judge.max_failure_rate" in lines[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "max_failure_rate" in status["error"]
    kept = sorted((run / "checkpoints").glob("checkpoint-*/r1exp_complete"))
    assert kept, "the checkpoints saved before the judge died are kept"
    assert not (run / "checkpoints" / "final").exists()
    steps = [r["step"] for r in jsonl.read(run / "metrics.jsonl")]
    assert steps and max(steps) < 50


# --- replies without a score: failures, never cached ---

FOUR = answers("北京", "上海", "南京", "广州")


@pytest.mark.parametrize("reply", ["SCORE: 8/10", "**SCORE: 0.9**", "The answer looks right.", "SCORE: 7", ""])
def test_replies_without_a_score_stop_the_batch_and_are_never_cached(tmp_path, reply):
    with ScriptedServer(lambda user: reply) as srv:
        cfg = judge_cfg(srv.base_url, tmp_path)
        for attempt in (1, 2):
            with pytest.raises(JudgeUnavailable) as err:
                judge_answer([PROMPT] * 4, FOUR, reference=["北京"] * 4, judge=cfg)
            assert len(srv.requests) == 4 * attempt  # asked again: nothing was cached
        message = str(err.value)
        assert "\n" not in message and "4 of 4 judgments failed" in message and "judge.max_failure_rate" in message
        assert not list((tmp_path / "cache").rglob("*.json"))


def test_a_0_to_10_judge_is_mapped_and_a_cached_reply_is_read_again_under_the_current_scale(tmp_path):
    with ScriptedServer(lambda user: "Good.\nSCORE: 7") as srv:
        ten = judge_cfg(srv.base_url, tmp_path, "++judge.score_scale=10")
        assert judge_answer([PROMPT] * 4, FOUR, reference=["北京"] * 4, judge=ten) == [0.7] * 4
        assert judge_answer([PROMPT] * 4, FOUR, reference=["北京"] * 4, judge=ten) == [0.7] * 4
        assert len(srv.requests) == 4  # the second batch came from the cache
        # The same replies on the default 0-1 scale: not served from the cache, asked again, and refused.
        with pytest.raises(JudgeUnavailable, match=r"4 out_of_range.*judge\.score_scale"):
            judge_answer([PROMPT] * 4, FOUR, reference=["北京"] * 4, judge=judge_cfg(srv.base_url, tmp_path))
        assert len(srv.requests) == 8


@pytest.mark.parametrize("declare_length", [True, False])
def test_a_60_mb_reply_is_a_failure_and_is_not_read_whole(tmp_path, declare_length):
    size = 60 << 20
    with HugeServer(size, declare_length) as srv:
        cfg = judge_cfg(srv.base_url, tmp_path, "judge.openai.retries=0", "judge.openai.timeout_s=20")
        tracemalloc.start()
        try:
            with pytest.raises(JudgeUnavailable) as err:
                judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=cfg)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        time.sleep(0.2)  # let the server notice the closed connection
    assert "judge.max_reply_bytes=65536" in str(err.value)
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while reading the reply"
    assert srv.sent < size // 2, f"the server sent {srv.sent / 2**20:.0f} MiB"


# --- the judge is tested before any model loads ---


def judge_terms(cfg, counters: Counters | None = None):
    from r1exp.tasks import build_terms

    context = {"counters": counters or Counters(), "judge": cfg, "reference_model": None}
    return build_terms(compose(["reward=zh_general"]).reward.terms, context)


def test_preflight_sends_one_test_judgment_for_both_judge_terms(tmp_path):
    with ScriptedServer(lambda user: "SCORE: 1") as srv:
        terms = judge_terms(judge_cfg(srv.base_url, tmp_path))
        assert len(srv.requests) == 0  # building the terms reaches nothing
        preflight(terms)
        preflight(terms)
        assert len(srv.requests) == 1
        assert "<<<BEGIN ANSWER" in srv.requests[0]["messages"][-1]["content"]
        assert not list((tmp_path / "cache").rglob("*.json"))  # the test judgment is not cached


@pytest.mark.parametrize(
    "reply, needle",
    [
        ("SCORE: 10", "out_of_range: 'SCORE: 10'"),
        ("**SCORE: 1**", "no_score: '**SCORE: 1**'"),
        ("", "empty"),
    ],
)
def test_preflight_refuses_a_judge_whose_reply_gives_no_score(tmp_path, reply, needle):
    with ScriptedServer(lambda user: reply) as srv, pytest.raises(JudgeUnavailable) as err:
        preflight(judge_terms(judge_cfg(srv.base_url, tmp_path)))
    message = str(err.value)
    assert "\n" not in message and "test judgment before the model loads" in message and needle in message


def test_preflight_accepts_a_0_to_10_judge_with_its_scale_declared(tmp_path):
    with ScriptedServer(lambda user: "SCORE: 10") as srv:
        with pytest.raises(JudgeUnavailable, match=r"judge\.score_scale"):
            preflight(judge_terms(judge_cfg(srv.base_url, tmp_path)))
        preflight(judge_terms(judge_cfg(srv.base_url, tmp_path, "++judge.score_scale=10")))


def test_preflight_names_a_dead_server_in_one_line(tmp_path):
    cfg = judge_cfg(f"http://127.0.0.1:{free_port()}", tmp_path, "judge.openai.retries=1")
    with pytest.raises(JudgeUnavailable) as err:
        preflight(judge_terms(cfg))
    message = str(err.value)
    assert "\n" not in message and "ConnectError" in message and "judge.openai.base_url" in message


def test_preflight_names_a_rejected_key_without_showing_it(tmp_path, monkeypatch):
    class Rejecting(ScriptedServer):
        def grade(self, user):
            return 401, "", 0.0

    monkeypatch.setenv("R1EXP_TEST_JUDGE_KEY", KEY)
    with Rejecting(lambda user: "") as srv:
        cfg = judge_cfg(srv.base_url, tmp_path, "judge.openai.api_key_env=R1EXP_TEST_JUDGE_KEY")
        with pytest.raises(JudgeUnavailable) as err:
            preflight(judge_terms(cfg))
    assert "HTTP 401" in str(err.value) and "judge.openai.api_key_env" in str(err.value)
    assert KEY not in str(err.value)
