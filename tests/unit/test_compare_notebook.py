"""notebooks/ablations.ipynb finds its sweep from the notebook's own folder: the default used to be
`multirun` relative to notebooks/, which does not exist there, so the first cell failed."""

from __future__ import annotations

import json
import os
import time

import nbformat
import pytest

from r1exp.analysis import resolve_sweep_dir
from r1exp.errors import ConfigError
from tests.conftest import ROOT


def _checkout(tmp_path):
    """A checkout's layout: launch.py at the root, the notebook folder, two sweeps under multirun/."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "launch.py").write_text("")
    sweeps = []
    for stamp in ("2026-11-20/12-00-00", "2026-11-21/09-30-00"):
        sweep = root / "multirun" / stamp
        job = sweep / "0"
        (job / ".hydra").mkdir(parents=True)
        (job / ".hydra" / "overrides.yaml").write_text("- trainer.beta=0\n")
        (job / "status.json").write_text(json.dumps({"status": "ok"}))
        (job / "metrics.jsonl").write_text(json.dumps({"step": 1, "reward": 0.1, "accuracy": 0.0}) + "\n")
        (sweep / "multirun.yaml").write_text("{}\n")
        sweeps.append(sweep)
        time.sleep(0.01)
    os.utime(sweeps[0] / "multirun.yaml", (1, 1))  # the older one
    return root, sweeps


def test_default_is_the_newest_sweep_of_the_checkout_seen_from_the_notebook_folder(tmp_path):
    root, sweeps = _checkout(tmp_path)
    assert resolve_sweep_dir(None, start=root / "notebooks") == sweeps[1]
    # R1EXP_SWEEP_DIR relative to the checkout's root, from any folder inside it
    assert resolve_sweep_dir("multirun/2026-11-20/12-00-00", start=root / "notebooks") == sweeps[0]
    assert resolve_sweep_dir(str(sweeps[0]), start=tmp_path) == sweeps[0]


def test_no_sweep_is_one_clear_error(tmp_path):
    (tmp_path / "launch.py").write_text("")
    with pytest.raises(ConfigError, match=r"^R1EXP_SWEEP_DIR is not set and .*multirun holds no sweep: run one"):
        resolve_sweep_dir(None, start=tmp_path)
    with pytest.raises(ConfigError, match=r"^R1EXP_SWEEP_DIR=nowhere: .* is not a directory"):
        resolve_sweep_dir("nowhere", start=tmp_path)


def test_the_notebooks_first_cell_runs_in_the_notebook_folder_without_settings(tmp_path, monkeypatch):
    """The user's path: open notebooks/ablations.ipynb after a sweep, run the first cell as it is."""
    root, sweeps = _checkout(tmp_path)
    monkeypatch.delenv("R1EXP_SWEEP_DIR", raising=False)
    monkeypatch.chdir(root / "notebooks")
    nb = nbformat.read(ROOT / "notebooks" / "ablations.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    scope: dict = {}
    exec(compile(first.source, "ablations.ipynb", "exec"), scope)  # the notebook's own code, not model output
    assert scope["SWEEP_DIR"] == sweeps[1] and len(scope["runs"]) == 1
