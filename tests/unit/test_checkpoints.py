"""Resume picks only checkpoints marked complete; metrics files survive a torn last line."""

import json

from r1exp.common import jsonl
from r1exp.tracking.checkpoints import MARKER, checkpoint_step, last_checkpoint, mark_complete


def _ckpt(root, step, state=True, marker=True):
    d = root / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "model.safetensors").write_bytes(b"x")
    if state:
        (d / "trainer_state.json").write_text("{}")
    if marker:
        mark_complete(d)
    return d


def test_resume_skips_checkpoints_a_kill_left_incomplete(tmp_path):
    root = tmp_path / "checkpoints"
    _ckpt(root, 5)
    _ckpt(root, 10)
    _ckpt(root, 15, marker=False)  # killed after transformers' files, before r1exp's marker
    _ckpt(root, 20, state=False, marker=False)  # killed while writing the weights
    (root / "checkpoint-25.tmp").mkdir()
    (root / "final").mkdir()
    best = last_checkpoint(root)
    assert best.name == "checkpoint-10" and checkpoint_step(best) == 10
    assert (best / MARKER).exists() and not (best / f"{MARKER}.tmp").exists()


def test_no_complete_checkpoint_means_a_fresh_start(tmp_path):
    assert last_checkpoint(tmp_path / "missing") is None
    _ckpt(tmp_path, 3, marker=False)
    assert last_checkpoint(tmp_path) is None


def test_metrics_trim_and_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for step in range(1, 6):
        jsonl.append(path, {"step": step, "reward": step / 10, "loss": float("nan")})
    with open(path, "a") as fh:
        fh.write('{"step": 6, "rew')  # a kill mid-write
    rows = jsonl.read(path)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5] and rows[0]["loss"] is None
    assert jsonl.truncate_after(path, 3) == 2
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]
