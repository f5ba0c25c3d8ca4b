"""The openai judge backend over real HTTP against a small OpenAI-compatible server on 127.0.0.1.

The server grades like a crude judge (string similarity of the quoted answer to the quoted reference)
and is scripted by markers inside the quoted answer: SLEEP=<s>, HTTP500ONCE, HTTP500ALWAYS, HTTP429ONCE,
HTTP400, GARBAGE. It counts requests in flight, stops when the test ends, and on its own after a
lifetime or a request budget.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from r1exp.common import jsonl
from r1exp.rewards.counters import Counters
from r1exp.tasks.zh_general.judge import judge_answer, judge_reasoning
from tests.conftest import compose

pytestmark = pytest.mark.slow

PROMPT = "User: 中国的首都是哪里？\nAssistant: Let me solve this step by step.\n<think>"
_BLOCK = re.compile(r"<<<BEGIN (\w+) (\w+)>>>\n(.*?)\n<<<END \1 \2>>>", re.DOTALL)


class _Server(ThreadingHTTPServer):
    # Room for every connection a test opens at once (the default backlog of 5 drops SYNs under load).
    request_queue_size = 64


class JudgeServer:
    """An OpenAI-compatible /chat/completions endpoint in a thread (see the module docstring)."""

    def __init__(self, lifetime_s: float = 120.0, max_requests: int = 2000) -> None:
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_requests = max_requests
        self._seen: set[str] = set()
        handler = self._handler()
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime_s, self.stop)
        self._timer.daemon = True
        self._stopped = False

    def __enter__(self) -> JudgeServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        with self.lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def grade(self, user: str) -> tuple[int, str, float]:
        """(HTTP status, reply content, delay in seconds) for one judge prompt."""
        blocks = {name: text for name, _, text in _BLOCK.findall(user)}
        subject = blocks.get("ANSWER", blocks.get("REASONING", ""))
        delay = float(m.group(1)) if (m := re.search(r"SLEEP=([\d.]+)", subject)) else 0.0
        with self.lock:
            first = user not in self._seen
            self._seen.add(user)
        if "HTTP500ALWAYS" in subject or ("HTTP500ONCE" in subject and first):
            return 500, "", delay
        if "HTTP429ONCE" in subject and first:
            return 429, "", delay
        if "HTTP400" in subject:
            return 400, "", delay
        if "GARBAGE" in subject:
            return 200, "Looks fine to me.", delay
        if "ANSWER" in blocks:
            score = difflib.SequenceMatcher(None, blocks["ANSWER"], blocks.get("REFERENCE", "")).ratio()
        else:
            score = min(1.0, len(subject.splitlines()) / 4)
        return 200, f"Compared the quoted texts.\nSCORE: {score:.2f}", delay

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server does
            disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (~40 ms)

            def log_message(self, *args):
                pass

            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                    with server.lock:
                        server.requests.append(body)
                        server.headers.append(dict(self.headers))
                        over_budget = len(server.requests) > server.max_requests
                    if over_budget or not self.path.endswith("/chat/completions"):
                        status, content, delay = 503 if over_budget else 404, "", 0.0
                    else:
                        status, content, delay = server.grade(body["messages"][-1]["content"])
                    time.sleep(delay)
                    payload = {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
                    data = json.dumps(payload).encode() if status == 200 else b'{"error": "scripted"}'
                    with contextlib.suppress(OSError):  # the client may have timed out and gone
                        self.send_response(status)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                finally:
                    with server.lock:
                        server.in_flight -= 1
                if over_budget:
                    threading.Thread(target=server.stop, daemon=True).start()

        return Handler


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    with JudgeServer() as srv:
        yield srv


def judge_cfg(base_url: str, tmp_path, *overrides: str):
    return compose(
        [
            "judge.backend=openai",
            f"judge.openai.base_url={base_url}",
            f"judge.openai.cache_dir={tmp_path / 'cache'}",
            "judge.openai.backoff_s=0.01",
            "judge.openai.timeout_s=5",
            *overrides,
        ]
    ).judge


def answers(*texts: str) -> list[str]:
    return [f"我想了想</think>\n<answer>{t}</answer>" for t in texts]


def test_scores_are_smooth_and_come_from_the_server(server, tmp_path):
    cfg = judge_cfg(server.base_url, tmp_path)
    counters = Counters()
    refs = ["北京", "北京", "北京市", "北京"]
    out = judge_answer(
        [PROMPT] * 4, answers("北京", "上海", "北京", "北京是首都"), reference=refs, counters=counters, judge=cfg
    )
    assert out[0] == 1.0 and out[1] == 0.0
    assert 0 < out[2] < 1 and 0 < out[3] < 1  # smooth, not 0/1
    body = server.requests[0]
    assert body["model"] == cfg.openai.model and body["temperature"] == 0.0
    assert body["messages"][0]["role"] == "system" and "<<<BEGIN REFERENCE" in body["messages"][1]["content"]
    stats = counters.drain()
    assert stats["judge/calls"] == 4 and stats.get("judge/failures", 0) == 0
    assert 0 < stats["judge/latency_s_mean"] < 1


def test_concurrency_never_exceeds_the_limit(server, tmp_path):
    cfg = judge_cfg(server.base_url, tmp_path, "judge.openai.concurrency=3", "judge.openai.cache=false")
    texts = [f"答案{i} SLEEP=0.2" for i in range(12)]
    t0 = time.perf_counter()
    out = judge_answer([PROMPT] * 12, answers(*texts), reference=["答案"] * 12, judge=cfg)
    elapsed = time.perf_counter() - t0
    assert all(v is not None for v in out) and len(server.requests) == 12
    assert server.max_in_flight == 3  # never more, and the limit is used
    assert elapsed < 12 * 0.2 * 0.75  # parallel: ~4 rounds of 0.2 s, not 12


def test_retries_after_500_and_429_but_not_after_400(server, tmp_path):
    cfg = judge_cfg(
        server.base_url, tmp_path, "judge.openai.retries=2", "judge.openai.backoff_s=0.1", "judge.max_failure_rate=1"
    )
    counters = Counters()
    texts = ["北京 HTTP500ONCE", "北京 HTTP429ONCE", "北京 HTTP500ALWAYS", "北京 HTTP400"]
    t0 = time.perf_counter()
    out = judge_answer([PROMPT] * 4, answers(*texts), reference=["北京"] * 4, counters=counters, judge=cfg)
    assert time.perf_counter() - t0 >= 0.1 + 0.2  # backoff doubles: 0.1 s, then 0.2 s
    assert out[0] is not None and out[1] is not None and out[2] is None and out[3] is None
    per_text = {t: sum(t in r["messages"][-1]["content"] for r in server.requests) for t in texts}
    assert per_text == {texts[0]: 2, texts[1]: 2, texts[2]: 3, texts[3]: 1}
    stats = counters.drain()
    assert stats["judge/retries"] == 4 and stats["judge/failures"] == 2 and stats["judge/calls"] == 4


def test_a_slow_server_times_out_into_none(server, tmp_path):
    cfg = judge_cfg(
        server.base_url, tmp_path, "judge.openai.timeout_s=0.3", "judge.openai.retries=1", "judge.max_failure_rate=1"
    )
    counters = Counters()
    t0 = time.perf_counter()
    out = judge_answer(
        [PROMPT] * 2, answers("北京 SLEEP=3", "北京"), reference=["北京"] * 2, counters=counters, judge=cfg
    )
    assert out == [None, 1.0]
    assert time.perf_counter() - t0 < 2.0  # two 0.3 s attempts, not the server's 3 s
    stats = counters.drain()
    assert stats["judge/failures"] == 1 and stats["judge/retries"] == 1


def test_a_second_identical_call_is_a_cache_hit(server, tmp_path):
    cfg = judge_cfg(server.base_url, tmp_path, f"judge.replies_path={tmp_path / 'replies.jsonl'}")
    refs = ["北京"] * 3
    first, second = Counters(), Counters()
    out1 = judge_answer([PROMPT] * 3, answers("北京", "南京", "北京"), reference=refs, counters=first, judge=cfg)
    n = len(server.requests)
    out2 = judge_answer([PROMPT] * 3, answers("北京", "南京", "北京"), reference=refs, counters=second, judge=cfg)
    assert out1 == out2 and n == 2 and len(server.requests) == n  # no request the second time
    assert first.drain()["judge/cache_hits"] == 1  # the repeated completion within the batch
    stats = second.drain()
    assert stats["judge/cache_hits"] == 3 and "judge/calls" not in stats
    logged = jsonl.read(tmp_path / "replies.jsonl")
    assert [r["cached"] for r in logged] == [False, False, True, True]
    assert logged[0]["reply"].endswith("SCORE: 1.00") and logged[0]["score"] == 1.0
    # another model name is another key
    other = judge_cfg(server.base_url, tmp_path, "judge.openai.model=other")
    judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=other)
    assert len(server.requests) == n + 1


def test_unparsable_replies_are_none_with_a_counter_and_are_not_cached(server, tmp_path):
    counters = Counters()
    cfg = judge_cfg(server.base_url, tmp_path, "judge.max_failure_rate=0.5")
    texts = ["GARBAGE</think>", "一\n二\n三\n四</think>"]
    out = judge_reasoning([PROMPT] * 2, texts, counters=counters, judge=cfg)
    assert out == [None, 1.0]
    stats = counters.drain()
    assert stats["judge/parse_failures"] == 1 and stats["judge/bad_reply/no_score"] == 1
    assert judge_reasoning([PROMPT] * 2, texts, counters=counters, judge=cfg) == [None, 1.0]
    assert len(server.requests) == 3  # the unparsable reply is asked for again; the good one is cached


def test_the_api_key_comes_from_the_named_variable_and_is_not_stored(server, tmp_path, monkeypatch):
    monkeypatch.setenv("R1EXP_TEST_JUDGE_KEY", "sk-test-secret")
    replies = tmp_path / "replies.jsonl"
    cfg = judge_cfg(
        server.base_url, tmp_path, "judge.openai.api_key_env=R1EXP_TEST_JUDGE_KEY", f"judge.replies_path={replies}"
    )
    judge_answer([PROMPT], answers("北京"), reference=["北京"], judge=cfg)
    assert server.headers[-1]["Authorization"] == "Bearer sk-test-secret"
    stored = [p.read_text() for p in (tmp_path / "cache").rglob("*.json")] + [replies.read_text()]
    assert stored and not any("sk-test-secret" in s for s in stored)


def test_a_server_that_is_down_gives_none_and_a_failure_count(tmp_path, capfd):
    # Below judge.max_failure_rate (here: any share), failures are counted and the batch goes on.
    cfg = judge_cfg(f"http://127.0.0.1:{free_port()}", tmp_path, "judge.openai.retries=1", "judge.max_failure_rate=1")
    counters = Counters()
    t0 = time.perf_counter()
    out = judge_answer([PROMPT] * 3, answers("a", "b", "c"), reference=["a"] * 3, counters=counters, judge=cfg)
    assert out == [None, None, None] and time.perf_counter() - t0 < 2
    stats = counters.drain()
    assert stats["judge/failures"] == 3 and stats["judge/retries"] == 3
    warning = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("r1exp: warning: judge")]
    assert len(warning) == 1 and "3 of 3" in warning[0] and "ConnectError" in warning[0]


def zh_smoke(data) -> list[str]:
    """Overrides for a smoke run of reward=zh_general on a question file from `write_questions`."""
    # reward=zh_general has its own soft format term; the smoke recipe's would count it twice.
    return [
        "+experiment=smoke",
        "reward=zh_general",
        "reward.terms.soft_format=null",
        "data=zh_general",
        f"data.path={data}",
        "data.test_size=2",
        "data.difficulty_field=level",
    ]


# Distinct questions: the contamination guard rightly counts one question with a renamed number in the
# training and the test split as the same problem.
CAPITALS = [
    ("中国", "北京"),
    ("法国", "巴黎"),
    ("日本", "东京"),
    ("英国", "伦敦"),
    ("德国", "柏林"),
    ("意大利", "罗马"),
    ("俄罗斯", "莫斯科"),
    ("埃及", "开罗"),
    ("泰国", "曼谷"),
    ("韩国", "首尔"),
    ("西班牙", "马德里"),
    ("希腊", "雅典"),
]
QUESTION_FORMS = ["{c}的首都是哪座城市？", "请写出{c}首都的名字。", "哪一座城市是{c}的首都？"]


def write_questions(path, n: int = 12) -> None:
    rows = [
        {"question": QUESTION_FORMS[i % 3].format(c=c), "reference": city, "level": i % 3}
        for i, (c, city) in enumerate(CAPITALS[:n])
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_training_keeps_going_when_the_judge_server_is_down(launch_here, tmp_path):
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    proc = launch_here(
        *zh_smoke(data),
        "judge.backend=openai",
        f"judge.openai.base_url=http://127.0.0.1:{free_port()}",
        "judge.openai.retries=1",
        "judge.openai.backoff_s=0.01",
        "judge.openai.cache=false",
        # Failures below the rate are counted and training goes on (a dead server stops the run by default).
        "judge.max_failure_rate=1.0",
        "trainer.max_steps=3",
        "trainer.save_steps=100",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert all(r["reward_stats/judge/failures"] > 0 for r in rows)
    assert all(r["rewards/format"] is not None for r in rows)  # the other terms still score
    assert "r1exp: warning: judge" in proc.stderr
