"""`cmd=score reward=math` scores a JSONL file of math completions: per-term rewards, the weighted total,
rows without a gold or with an unparsable one skipped by the correctness term, and a counter for the latter."""

import json
import time

import pytest

pytestmark = pytest.mark.slow

PROMPT = "User: What is half of one?\nAssistant: Let me solve this step by step.\n<think>"
ROWS = [
    {"prompt": PROMPT, "completion": "1/2</think>\n<answer>\\boxed{0.5}</answer>", "answer": "\\frac{1}{2}"},
    {"prompt": PROMPT, "completion": "1/2</think>\n<answer>\\frac12</answer>\nUser: more", "answer": "\\frac{1}{2}"},
    {"prompt": PROMPT, "completion": "hmm</think>\n<answer>\\boxed{2}</answer>", "answer": "\\frac{1}{2}"},
    {"prompt": PROMPT, "completion": "hmm</think>\n<answer>\\boxed{9^{9^{9^{9}}}}</answer>", "answer": "5"},
    {"prompt": PROMPT, "completion": "I give up", "answer": 18},
    {"prompt": PROMPT, "completion": "x</think>\n<answer>\\boxed{1}</answer>", "answer": "}{", "id": "bad-gold"},
    {"prompt": PROMPT, "completion": "x</think>\n<answer>\\boxed{1}</answer>"},
]


def test_score_math_jsonl(launch_here, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    start = time.monotonic()
    proc = launch_here("cmd=score", "reward=math", f"cmd.input={src}", f"cmd.output={dst}")
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["rewards"] for r in out] == [
        {"correct": 1.0, "format": 1.0},
        {"correct": 1.0, "format": 0.0},
        {"correct": 0.0, "format": 1.0},
        {"correct": 0.0, "format": 1.0},  # pathological: incorrect, within the time bound
        {"correct": 0.0, "format": 0.0},
        {"correct": None, "format": 1.0},  # gold math-verify cannot parse: skipped, counted
        {"correct": None, "format": 1.0},  # no gold at all (a mixed batch)
    ]
    assert [r["reward"] for r in out] == pytest.approx([1.1, 1.0, 0.1, 0.1, 0.0, 0.1, 0.1])
    assert out[5]["id"] == "bad-gold" and out[4]["answer"] == 18
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["scored"] == 7
    assert summary["reward_stats"] == {"math/gold_unparsable": 1, "math/timeout": 1, "math/refused/no_answer": 1}
    assert summary["mean"]["correct"] == pytest.approx(2 / 5)
    assert elapsed < 120
