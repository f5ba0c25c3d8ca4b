"""A checkpoint with any file truncated is set aside (renamed, kept) and the previous complete one is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from r1exp.tracking.checkpoints import MARKER, last_checkpoint, mark_complete, resume_point, set_aside, unloadable


def _checkpoint(root: Path, step: int) -> Path:
    """A small checkpoint with the files transformers writes, each in its real format."""
    ckpt = root / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    save_file({"w": torch.arange(4096, dtype=torch.float32)}, str(ckpt / "model.safetensors"))
    torch.save({"state": {0: {"exp_avg": torch.ones(4096)}}}, ckpt / "optimizer.pt")
    torch.save({"last_epoch": step}, ckpt / "scheduler.pt")
    torch.save({"python": [1, 2, 3], "cpu": torch.zeros(64)}, ckpt / "rng_state.pth")
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": [{"loss": 0.1}] * 50}))
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    mark_complete(ckpt)
    return ckpt


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def test_a_whole_checkpoint_is_loadable(tmp_path):
    assert unloadable(_checkpoint(tmp_path, 2)) is None


@pytest.mark.parametrize(
    "name", ["model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "config.json"]
)
def test_any_truncated_file_is_named(tmp_path, name):
    ckpt = _checkpoint(tmp_path, 2)
    _truncate(ckpt / name)
    reason = unloadable(ckpt)
    assert reason is not None and name in reason


def test_missing_weights_or_state_are_named(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    (ckpt / "model.safetensors").unlink()
    assert "model weights" in unloadable(ckpt)
    ckpt = _checkpoint(tmp_path, 4)
    (ckpt / "trainer_state.json").unlink()
    assert "trainer_state.json" in unloadable(ckpt)


def test_resume_point_sets_broken_ones_aside_and_keeps_them(tmp_path, capsys):
    for step in (2, 4, 6):
        _checkpoint(tmp_path, step)
    _truncate(tmp_path / "checkpoint-6" / "optimizer.pt")
    _truncate(tmp_path / "checkpoint-4" / "model.safetensors")
    assert resume_point(tmp_path) == tmp_path / "checkpoint-2"
    aside = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("corrupt-"))
    assert (
        len(aside) == 2
        and aside[0].startswith("corrupt-checkpoint-4-")
        and aside[1].startswith("corrupt-checkpoint-6-")
    )
    # Kept whole (never deleted), and named so that transformers' rotation (glob checkpoint-*) ignores them.
    assert all((tmp_path / a / MARKER).exists() for a in aside)
    from transformers.trainer_utils import sort_checkpoints

    assert [Path(p).name for p in sort_checkpoints(str(tmp_path))] == ["checkpoint-2"]
    assert last_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("r1exp: warning: checkpoint")]
    assert len(lines) == 2 and "optimizer.pt" in lines[0] and "model.safetensors" in lines[1]


def test_a_non_main_process_only_skips(tmp_path):
    for step in (2, 4):
        _checkpoint(tmp_path, step)
    _truncate(tmp_path / "checkpoint-4" / "rng_state.pth")
    assert resume_point(tmp_path, set_aside_broken=False) == tmp_path / "checkpoint-2"
    assert (tmp_path / "checkpoint-4").is_dir()


def test_set_aside_never_overwrites(tmp_path):
    first = set_aside(_checkpoint(tmp_path, 2))
    second = set_aside(_checkpoint(tmp_path, 2))
    assert first != second and first.is_dir() and second.is_dir()
