"""A checkpoint is whole or not used: a missing, truncated, corrupted or non-finite file sets it aside
(renamed, kept) and the previous complete one is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from r1exp.tracking.checkpoints import (
    MARKER,
    last_checkpoint,
    mark_complete,
    read_marker,
    resume_point,
    set_aside,
    unloadable,
)


def _checkpoint(root: Path, step: int, legacy: bool = False, weights: torch.Tensor | None = None) -> Path:
    """A small checkpoint with the files transformers writes, each in its real format.

    `legacy`: the marker an older r1exp wrote (no checksums).
    """
    ckpt = root / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    w = weights if weights is not None else torch.arange(4096, dtype=torch.float32)
    save_file({"w": w, "steps": torch.arange(4)}, str(ckpt / "model.safetensors"))
    torch.save({"state": {0: {"exp_avg": torch.ones(4096)}}}, ckpt / "optimizer.pt")
    torch.save({"last_epoch": step}, ckpt / "scheduler.pt")
    torch.save({"python": [1, 2, 3], "cpu": torch.zeros(64)}, ckpt / "rng_state.pth")
    (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step, "log_history": [{"loss": 0.1}] * 50}))
    (ckpt / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (ckpt / "curriculum_state.json").write_text(json.dumps({"stage": 1}))
    if legacy:
        (ckpt / MARKER).write_text("complete\n")
    else:
        mark_complete(ckpt)
    return ckpt


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("legacy", [False, True])
def test_a_whole_checkpoint_is_loadable(tmp_path, legacy):
    assert unloadable(_checkpoint(tmp_path, 2, legacy=legacy)) is None


def test_the_marker_lists_every_file_with_its_checksum(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    files = read_marker(ckpt)["files"]
    assert sorted(files) == sorted(p.name for p in ckpt.iterdir() if p.name != MARKER)
    assert all(len(f["sha256"]) == 64 and f["size"] == (ckpt / n).stat().st_size for n, f in files.items())


NAMES = ["model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json", "config.json"]


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_any_truncated_file_is_named(tmp_path, name, legacy):
    ckpt = _checkpoint(tmp_path, 2, legacy=legacy)
    _truncate(ckpt / name)
    reason = unloadable(ckpt)
    assert reason is not None and name in reason


@pytest.mark.parametrize("name", [*NAMES, "curriculum_state.json"])
def test_a_same_length_corruption_is_caught_by_its_checksum(tmp_path, name):
    """One byte changed in the middle: every format check passes, the checksum does not."""
    ckpt = _checkpoint(tmp_path, 2)
    data = bytearray((ckpt / name).read_bytes())
    middle = len(data) // 2
    data[middle] = (data[middle] + 1) % 256
    (ckpt / name).write_bytes(bytes(data))
    reason = unloadable(ckpt)
    assert reason is not None and name in reason and "checksum" in reason


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("name", ["optimizer.pt", "scheduler.pt", "rng_state.pth"])
def test_missing_optimizer_scheduler_or_rng_state_is_named(tmp_path, name, legacy):
    """transformers would silently resume with a fresh AdamW, a fresh schedule or new random streams."""
    ckpt = _checkpoint(tmp_path, 2, legacy=legacy)
    (ckpt / name).unlink()
    reason = unloadable(ckpt)
    assert reason is not None and name in reason and "missing" in reason


def test_a_listed_file_of_r1exp_state_that_is_gone_is_named(tmp_path):
    ckpt = _checkpoint(tmp_path, 2)
    (ckpt / "curriculum_state.json").unlink()
    assert "curriculum_state.json is missing" in unloadable(ckpt)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(tmp_path, bad):
    weights = torch.arange(4096, dtype=torch.float32)
    weights[123] = bad
    ckpt = _checkpoint(tmp_path, 2, weights=weights)
    reason = unloadable(ckpt)
    assert reason is not None and "not finite" in reason and "model.safetensors: w" in reason


@pytest.mark.parametrize("legacy", [False, True])
def test_missing_weights_or_state_are_named(tmp_path, legacy):
    ckpt = _checkpoint(tmp_path, 2, legacy=legacy)
    (ckpt / "model.safetensors").unlink()
    assert "model" in unloadable(ckpt)
    ckpt = _checkpoint(tmp_path, 4, legacy=legacy)
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
