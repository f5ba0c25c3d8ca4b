"""The judge under faults: a dead server stops the run, the cache knows its endpoint, the API key never shows."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from r1exp.common import jsonl
from r1exp.errors import UserError
from r1exp.rewards.counters import Counters
from r1exp.tasks.zh_general.judge import judge_answer, judge_reasoning, parse_score
from tests.conftest import error_lines
from tests.integration.test_judge_http import (
    PROMPT,
    JudgeServer,
    answers,
    free_port,
    judge_cfg,
    write_questions,
    zh_smoke,
)

pytestmark = pytest.mark.slow

KEY = "sk-live-0123456789abcdef"


class EchoServer:
    """Answers every request with its own headers: as an error body (`status`) or as the reply text."""

    def __init__(self, status: int) -> None:
        status_code = status

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # The Authorization header first, as a server that logs a request back would show it.
                echoed = f"Authorization: {self.headers.get('Authorization')} " + json.dumps(dict(self.headers))
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


def test_score_digits_are_ascii_only():
    assert parse_score("SCORE: 0.5") == 0.5
    assert parse_score("SCORE: ５") is None
    assert parse_score("SCORE: ０.５") is None
    assert parse_score("SCORE: ١") is None


def test_lone_surrogates_never_raise(tmp_path):
    from tests.conftest import compose
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


@pytest.mark.parametrize("status", [400, 200])
def test_the_api_key_is_redacted_everywhere(tmp_path, monkeypatch, capfd, status):
    monkeypatch.setenv("R1EXP_TEST_JUDGE_KEY", KEY)
    replies = tmp_path / "replies.jsonl"
    with EchoServer(status) as srv:
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
    assert "Bearer [redacted]" in seen  # the echo reached the printed error or the logged reply
    assert KEY not in seen and KEY[:12] not in seen


def test_training_stops_when_the_judge_server_dies(launch, tmp_path):
    """Steps train while the server answers; once it is gone the run ends with one line, status
    failed, and the checkpoints saved so far are kept."""
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    with JudgeServer(max_requests=12) as srv:
        proc = launch(
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
