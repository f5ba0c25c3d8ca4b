"""A dead judge is found before the model loads (issue 19: it used to surface after the first generation)."""

import json

import pytest

from tests.conftest import error_lines
from tests.integration.test_judge_http import free_port, write_questions, zh_smoke

pytestmark = pytest.mark.slow


def test_training_with_an_unreachable_judge_stops_before_the_model_loads(launch_here, tmp_path):
    data, run = tmp_path / "qa.jsonl", tmp_path / "run"
    write_questions(data)
    proc = launch_here(
        *zh_smoke(data),
        "judge.backend=openai",
        f"judge.openai.base_url=http://127.0.0.1:{free_port()}",
        "judge.openai.retries=0",
        f"hydra.run.dir={run}",
    )
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(lines) == 1 and "failed a test judgment before the model loads" in lines[0], lines
    assert "judge.openai.base_url" in lines[0]
    # Nothing after the checks ran: no manifest (written once the model is loaded), no step, no checkpoint.
    assert not (run / "manifest.json").exists() and not (run / "metrics.jsonl").exists()
    assert not (run / "checkpoints").exists()
    assert json.loads((run / "status.json").read_text())["status"] == "failed"
