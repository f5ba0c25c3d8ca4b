"""Resume picks only checkpoints marked complete; metrics files survive a torn last line, and a garbled
middle line is kept aside, never dropped silently."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

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


@settings(derandomize=True, deadline=None, max_examples=60)
@given(
    steps=st.integers(min_value=1, max_value=12),
    keep=st.integers(min_value=0, max_value=12),
    garbled=st.sets(st.integers(min_value=0, max_value=11), max_size=3),
    torn=st.booleans(),
)
def test_trim_keeps_garbled_middle_rows_aside_and_drops_a_torn_last_line(tmp_path_factory, steps, keep, garbled, torn):
    """Every valid row up to the step is kept in order; a damaged middle line is never dropped silently."""
    path = tmp_path_factory.mktemp("trim") / "metrics.jsonl"
    lines = [json.dumps({"step": s, "reward": s / 10}) for s in range(1, steps + 1)]
    garbled = {i for i in garbled if i < steps}
    for i in garbled:
        lines[i] = lines[i][: len(lines[i]) // 2] + "\x00garbage"
    if torn:
        lines.append('{"step": 99, "rew')
    path.write_text("".join(line + "\n" for line in lines))
    dropped, numbers = jsonl.trim_after(path, keep)
    kept = [json.loads(line)["step"] for line in path.read_text().splitlines()]
    assert kept == [s for s in range(1, steps + 1) if s <= keep and s - 1 not in garbled]
    assert dropped == len([s for s in range(keep + 1, steps + 1) if s - 1 not in garbled])
    # A garbled line counts as damage unless it is the file's last line (a kill mid-write).
    expected = sorted(i + 1 for i in garbled if torn or i != steps - 1)
    assert numbers == expected
    aside = path.with_name("metrics.jsonl.garbled")
    if expected:
        assert [int(line.split(":", 1)[0]) for line in aside.read_text().splitlines()] == expected
    else:
        assert not aside.exists()
