"""`cmd=score` scores completions offline: per-term rewards, weighted total, malformed lines reported,
in a run dir named after it."""

import json
import re

import pytest

from tests.conftest import error_lines

pytestmark = pytest.mark.slow

PROMPT = (
    "User: Using the numbers [48, 7, 45, 5], create an equation that equals 91.\n"
    "Assistant: Let me solve this step by step.\n<think>"
)
ROWS = [
    {
        "prompt": PROMPT,
        "completion": "48+45=93</think>\n<answer>48 + 45 - 7 + 5</answer>",
        "nums": [48, 7, 45, 5],
        "target": 91,
    },
    {
        "prompt": PROMPT,
        "completion": "x</think><answer>48 + 45 - 7 + 5</answer>\nUser: hi",
        "nums": [48, 7, 45, 5],
        "target": 91,
    },
    {
        "prompt": PROMPT,
        "completion": "x</think><answer>1</answer>",
        "nums": [48, 7, 45, 5],
        "target": 91,
        "id": "keep-me",
    },
]


def _write(path, lines):
    path.write_text("".join(lines))


def test_score_writes_per_term_rewards_and_reports_bad_lines(launch_here, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps(r) + "\n" for r in ROWS]
    _write(src, [lines[0], "{not json\n", lines[1], '{"prompt": "p"}\n', "\n", lines[2]])
    proc = launch_here("cmd=score", "reward=countdown", f"cmd.input={src}", f"cmd.output={dst}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    assert [r["rewards"] for r in out] == [
        {"correct": 1.0, "format": 1.0},
        {"correct": 1.0, "format": 0.0},
        {"correct": 0.0, "format": 1.0},
    ]
    assert [r["reward"] for r in out] == pytest.approx([1.1, 1.0, 0.1])
    assert out[2]["id"] == "keep-me" and out[0]["nums"] == [48, 7, 45, 5]
    problems = error_lines(proc.stderr)
    assert len(problems) == 2
    assert "in.jsonl:2:" in problems[0] and "JSON" in problems[0]
    assert "in.jsonl:4:" in problems[1] and "completion" in problems[1]
    # No hydra.run.dir: the run dir is named after what ran (outputs/<date>/<time>_score_in), not after
    # the default model it never used
    (run_dir,) = (tmp_path / "outputs").glob("*/*")
    assert re.fullmatch(r"\d{2}-\d{2}-\d{2}_score_in", run_dir.name), run_dir


def test_score_with_a_length_term_counts_tokens_with_the_model_tokenizer(launch_here, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [json.dumps(r) + "\n" for r in ROWS])
    proc = launch_here(
        "cmd=score",
        "model=tiny",
        "reward=countdown_length_linear",
        "trainer.max_completion_length=1000",
        f"cmd.input={src}",
        f"cmd.output={dst}",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = [json.loads(line) for line in dst.read_text().splitlines()]
    lengths = [r["rewards"]["length"] for r in out]
    assert all(0 < v < 0.1 for v in lengths)
    assert lengths[1] > lengths[2]  # the longer completion gets more length reward


def test_score_never_overwrites_silently(launch_here, tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [json.dumps(ROWS[0]) + "\n"])
    dst.write_text("precious\n")
    proc = launch_here("cmd=score", f"cmd.input={src}", f"cmd.output={dst}")
    assert proc.returncode == 2 and "cmd.overwrite=true" in proc.stderr
    assert dst.read_text() == "precious\n"
    proc = launch_here("cmd=score", f"cmd.input={src}", f"cmd.output={dst}", "cmd.overwrite=true")
    assert proc.returncode == 0 and json.loads(dst.read_text())["reward"] == pytest.approx(1.1)
    proc = launch_here("cmd=score", f"cmd.input={src}", f"cmd.output={src}", "cmd.overwrite=true")
    assert proc.returncode == 2 and "same file" in proc.stderr
    proc = launch_here("cmd=score", f"cmd.input={tmp_path / 'missing.jsonl'}", f"cmd.output={tmp_path / 'o.jsonl'}")
    assert proc.returncode == 2 and "cmd.input=" in proc.stderr
