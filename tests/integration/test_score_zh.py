"""`cmd=score reward=zh_general` scores a JSONL of completions with the judge server on 127.0.0.1, answers
a second identical run from the cache, and fails with one line where it cannot judge."""

import json

import pytest

from tests.conftest import error_lines
from tests.integration.test_judge_http import JudgeServer, free_port

pytestmark = pytest.mark.slow

PROMPT = "User: 中国的首都是哪里？\nAssistant: Let me solve this step by step.\n<think>"
ROWS = [
    {"prompt": PROMPT, "completion": "一\n二\n三\n四</think>\n<answer>北京</answer>", "reference": "北京"},
    {"prompt": PROMPT, "completion": "想一想</think>\n<answer>北京市</answer>", "reference": "北京", "id": 7},
    {"prompt": PROMPT, "completion": "没有答案", "reference": "北京"},
]


def score(launch_here, tmp_path, base_url, *extra, env: dict | None = None):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    src.write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n", encoding="utf-8")
    proc = launch_here(
        "cmd=score",
        "reward=zh_general",
        "judge.backend=openai",
        f"judge.openai.base_url={base_url}",
        f"judge.openai.cache_dir={tmp_path / 'cache'}",
        "judge.openai.retries=1",
        "judge.openai.backoff_s=0.01",
        f"cmd.input={src}",
        f"cmd.output={dst}",
        "cmd.overwrite=true",
        *extra,
        env=env,
    )
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()] if dst.exists() else []
    return proc, out


def test_score_with_the_judge_server_and_a_cached_second_run(launch_here, tmp_path):
    with JudgeServer() as server:
        proc, out = score(launch_here, tmp_path, server.base_url)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert [r["rewards"] for r in out] == [
            {"answer": 1.0, "reasoning": 1.0, "format": 1.0},
            {"answer": 0.8, "reasoning": 0.25, "format": 1.0},
            {"answer": 0.0, "reasoning": 0.25, "format": 0.25},
        ]
        assert [r["reward"] for r in out] == pytest.approx([3.0, 2.05, 0.5])
        assert out[1]["id"] == 7 and out[0]["reference"] == "北京"
        problems = error_lines(proc.stderr)
        assert len(problems) == 1 and "in.jsonl:2:" in problems[0]
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        assert summary["reward_stats"]["judge/calls"] == 5  # 2 answer blocks + 3 reasonings
        assert "judge/cache_hits" not in summary["reward_stats"]
        n = len(server.requests)

        proc, again = score(launch_here, tmp_path, server.base_url)
        assert proc.returncode == 0 and again == out
        # Only the start-up test judgment (never cached) reached the server: every judgment came from the cache.
        assert len(server.requests) == n + 1
        stats = json.loads(proc.stdout.strip().splitlines()[-1])["reward_stats"]
        assert stats["judge/cache_hits"] == 5 and "judge/calls" not in stats


def test_score_with_the_server_down_stops_with_one_line(launch_here, tmp_path):
    proc, _ = score(launch_here, tmp_path, f"http://127.0.0.1:{free_port()}", "judge.openai.cache=false")
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    # The start-up test judgment finds the dead endpoint before any row is read.
    assert lines[-1].startswith("r1exp: error:") and "failed a test judgment" in lines[-1], lines
    assert "judge.openai.base_url" in lines[-1]


def test_score_with_the_server_down_gives_none_for_judge_terms(launch_here, tmp_path):
    # Failures tolerated (max_failure_rate=1): judge terms are None, the rest is scored.
    proc, out = score(
        launch_here, tmp_path, f"http://127.0.0.1:{free_port()}", "judge.openai.cache=false", "judge.max_failure_rate=1"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["rewards"]["answer"] for r in out] == [None, None, 0.0]
    assert [r["rewards"]["format"] for r in out] == [1.0, 1.0, 0.25]
    assert [r["reward"] for r in out] == pytest.approx([1.0, 1.0, 0.25])
    assert json.loads(proc.stdout.strip().splitlines()[-1])["reward_stats"]["judge/failures"] == 5
    # The failed start-up test is one warning: max_failure_rate=1 tolerates it.
    assert "r1exp: warning:" in proc.stderr and "failed a test judgment" in proc.stderr


def test_score_on_the_reference_backend_is_one_line_naming_it(launch_here, tmp_path):
    proc, _ = score(launch_here, tmp_path, "http://127.0.0.1:9", "judge.backend=reference")
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "judge.backend=reference" in lines[-1] and lines[-1].startswith("r1exp: error:")


KEY = "sk-live-0123456789abcdef/XYZ+w"


def files_under(root) -> dict[str, str]:
    return {str(p): p.read_text(errors="replace") for p in root.rglob("*") if p.is_file()}


def test_a_judge_whose_replies_give_no_score_stops_with_one_line_and_the_key_nowhere(launch_here, tmp_path):
    from tests.integration.test_judge_faults import ScriptedServer, encodings, leaked

    # Replies without a score line that echo the key in every spelling (a server logging the request back).
    echo = " ".join(encodings(f"Bearer {KEY}").values())

    run = tmp_path / "run"

    def reply(user: str) -> str:
        # The start-up test judgment ("What is 2 + 3?") is answered properly, so the batch's replies are
        # what stops the run (and what must be redacted in judge_replies.jsonl and status.json).
        if "What is 2 + 3?" in user:
            return "SCORE: 1"
        return f"Request was: {echo}\nAuthorization {echo} graded fine"

    with ScriptedServer(reply) as server:
        proc, _ = score(
            launch_here,
            tmp_path,
            server.base_url,
            "judge.openai.api_key_env=R1EXP_TEST_JUDGE_KEY",
            f"judge.replies_path={run / 'judge_replies.jsonl'}",
            f"hydra.run.dir={run}",
            env={"R1EXP_TEST_JUDGE_KEY": KEY},
        )
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "judge.max_failure_rate=0.2" in lines[-1] and "no_score" in lines[-1] and "[redacted]" in lines[-1]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "failed" and "no_score" in status["error"]
    assert "[redacted]" in (run / "judge_replies.jsonl").read_text()
    written = files_under(tmp_path)
    assert written and not {path: leaked(text, KEY) for path, text in written.items() if leaked(text, KEY)}
    assert leaked(proc.stdout + proc.stderr, KEY) == []


PASTED = "sk-proj-AbC123dEf456GhI789jKl0"


@pytest.mark.parametrize("multirun", [False, True])
def test_a_key_pasted_as_api_key_env_is_refused_before_anything_is_written(launch_here, tmp_path, multirun):
    value = f"JUDGE_KEY,{PASTED}" if multirun else PASTED
    args = [f"hydra.sweep.dir={tmp_path / 'sweep'}", "-m"] if multirun else [f"hydra.run.dir={tmp_path / 'run'}"]
    proc, _ = score(launch_here, tmp_path, "http://127.0.0.1:9", f"judge.openai.api_key_env={value}", *args)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "judge.openai.api_key_env" in lines[0], proc.stderr[-2000:]
    assert PASTED not in proc.stdout + proc.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()
    assert not [path for path, text in files_under(tmp_path).items() if PASTED in text]
