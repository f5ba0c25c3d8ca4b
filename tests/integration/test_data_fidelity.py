"""No evaluation set is trained on: an evaluation data option or a file of the shared evaluation folder
is refused for training, a training file that overlaps the benchmark is refused with one line, and a
small overlap below the threshold is counted in manifest.json."""

import json

import pytest

from tests.conftest import error_lines

pytestmark = pytest.mark.slow

FAST = ["+experiment=smoke", "trainer.max_steps=2", "trainer.save_steps=100", "logger.samples_every=0"]
MATH = [
    *FAST,
    "data.train_size=null",
    "reward=math",
    "reward.terms.correct.kwargs.workers=1",
    "trainer.max_completion_length=16",
]


def _train_file(path, problems):
    path.write_text(
        "".join(
            json.dumps({"problem": p, "solution": f"It is $\\boxed{{{i}}}$."}) + "\n" for i, p in enumerate(problems)
        )
    )
    return path


def _own_problems(n):
    return [
        f"A train leaves station {i} at {i % 12 + 1} o'clock going {10 + i} miles per hour; when is it {i} miles away?"
        for i in range(n)
    ]


def test_an_evaluation_set_is_refused_for_training(launch_here, data_dir, tmp_path):
    proc = launch_here(*MATH, "data=math500", f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 2
    line = error_lines(proc.stderr)[-1]
    assert "data=math500 is an evaluation set" in line and "data=math" in line
    proc = launch_here(
        *MATH,
        "data=math",
        "data.hub=null",
        f"data.path={data_dir / 'gsm8k.test.jsonl'}",
        "data.question_field=question",
        "data.answer_field=answer",
        "data.answer_format=after_hashes",
        "data.solution_field=null",
        "data.difficulty_field=null",
        "data.extra_fields=[]",
        f"hydra.run.dir={tmp_path / 'b'}",
    )
    assert proc.returncode == 2
    assert "R1EXP_DATA_DIR" in error_lines(proc.stderr)[-1] and "evaluation" in error_lines(proc.stderr)[-1]


def test_a_training_file_copied_from_the_benchmark_is_refused(launch_here, data_dir, tmp_path):
    math500 = [json.loads(line)["problem"] for line in (data_dir / "math500.test.jsonl").read_text().splitlines()]
    train = _train_file(tmp_path / "train.jsonl", math500[:20] + _own_problems(80))
    args = [*MATH, "data=math", "data.hub=null", f"data.path={train}", "data.test_size=0", "data.difficulty_field=null"]
    args += ["data.extra_fields=[]", "bench=math500"]
    proc = launch_here(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = error_lines(proc.stderr)[-1]
    assert "overlaps the evaluation set bench=math500: 20 of 500 rows" in line
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_small_overlap_below_the_threshold_is_recorded(launch_here, data_dir, tmp_path):
    math500 = [json.loads(line)["problem"] for line in (data_dir / "math500.test.jsonl").read_text().splitlines()]
    train = _train_file(tmp_path / "train.jsonl", math500[:2] + _own_problems(60))
    run = tmp_path / "run"
    proc = launch_here(
        *MATH,
        "data=math",
        "data.hub=null",
        f"data.path={train}",
        "data.test_size=0",
        "data.difficulty_field=null",
        "data.extra_fields=[]",
        "bench=math500",
        "periodic_eval.every=2",
        "periodic_eval.prompts=2",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = json.loads((run / "manifest.json").read_text())
    record = manifest["contamination"]
    assert record["sets"]["bench=math500"]["exact"] == 2 and record["sets"]["bench=math500"]["eval_rows"] == 500
    assert record["ngram"] == 3 and record["max_fraction"] == 0.01
    # the periodic evaluation runs on the benchmark, not on the training file
    assert manifest["evaluation"]["periodic_eval_set"] == "bench=math500"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "eval/accuracy" in rows[1]
