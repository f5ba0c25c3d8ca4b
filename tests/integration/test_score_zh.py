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


def score(launch, tmp_path, base_url, *extra):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in ROWS]
    src.write_text("\n".join([lines[0], "{broken", *lines[1:]]) + "\n", encoding="utf-8")
    proc = launch(
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
    )
    out = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()] if dst.exists() else []
    return proc, out


def test_score_with_the_judge_server_and_a_cached_second_run(launch, tmp_path):
    with JudgeServer() as server:
        proc, out = score(launch, tmp_path, server.base_url)
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

        proc, again = score(launch, tmp_path, server.base_url)
        assert proc.returncode == 0 and again == out
        assert len(server.requests) == n  # every judgment came from the cache
        stats = json.loads(proc.stdout.strip().splitlines()[-1])["reward_stats"]
        assert stats["judge/cache_hits"] == 5 and "judge/calls" not in stats


def test_score_with_the_server_down_stops_with_one_line(launch, tmp_path):
    proc, _ = score(launch, tmp_path, f"http://127.0.0.1:{free_port()}", "judge.openai.cache=false")
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "judge.max_failure_rate=0.2" in lines[-1] and lines[-1].startswith("r1exp: error:")


def test_score_with_the_server_down_gives_none_for_judge_terms(launch, tmp_path):
    # Failures tolerated (max_failure_rate=1): judge terms are None, the rest is scored.
    proc, out = score(
        launch, tmp_path, f"http://127.0.0.1:{free_port()}", "judge.openai.cache=false", "judge.max_failure_rate=1"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["rewards"]["answer"] for r in out] == [None, None, 0.0]
    assert [r["rewards"]["format"] for r in out] == [1.0, 1.0, 0.25]
    assert [r["reward"] for r in out] == pytest.approx([1.0, 1.0, 0.25])
    assert json.loads(proc.stdout.strip().splitlines()[-1])["reward_stats"]["judge/failures"] == 5


def test_score_on_the_reference_backend_is_one_line_naming_it(launch, tmp_path):
    proc, _ = score(launch, tmp_path, "http://127.0.0.1:9", "judge.backend=reference")
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "judge.backend=reference" in lines[-1] and lines[-1].startswith("r1exp: error:")
