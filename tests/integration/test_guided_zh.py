"""Reference-guided groups on the Chinese task (the LoRA note's idea): the reference answer goes into
each group in the template's format and is judged like any completion."""

import pytest

from r1exp.common import jsonl
from tests.integration.test_judge_http import CAPITALS, JudgeServer, write_questions, zh_smoke

pytestmark = pytest.mark.slow


def test_guided_groups_insert_the_reference_answer_and_the_judge_scores_it(launch_here, tmp_path):
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    with JudgeServer() as srv:
        proc = launch_here(
            *zh_smoke(data),
            "judge.backend=openai",
            f"judge.openai.base_url={srv.base_url}",
            "judge.openai.cache=false",
            "trainer.guide_with_reference=true",
            "trainer.max_steps=2",
            "trainer.save_steps=100",
            f"hydra.run.dir={run}",
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = jsonl.read(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    # One completion of each group is the reference: the share is 1 / num_generations, every step.
    assert all(r["guided/share"] > 0 for r in rows), rows
    # The fake judge scores an answer by its likeness to the reference: the inserted reference itself
    # gets full marks, so the judge really read it (not a format-only reward).
    assert all(r["guided/accuracy"] == pytest.approx(1.0) for r in rows), rows
    judged = [req for req in srv.requests if any(city in str(req) for _, city in CAPITALS)]
    assert judged, "the judge never saw the reference answer"
    # On zh `accuracy` is the answer judge's mean score: the summary says so, not "acc".
    (last,) = [ln for ln in proc.stdout.splitlines() if ln.strip().startswith("last step:")]
    assert " judge " in f" {last} " and " acc " not in f" {last} ", last
