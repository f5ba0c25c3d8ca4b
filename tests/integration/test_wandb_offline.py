"""logger=wandb mirrors the metrics.jsonl names with WANDB_MODE=offline and no network, on a console as
quiet as logger=jsonl's: one bar and the end summary (which says where the wandb run is)."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_wandb_offline_run_mirrors_metrics(launch_here, tmp_path):
    run = tmp_path / "run"
    proc = launch_here(
        "+experiment=smoke", "logger=wandb", "trainer.max_steps=4", "trainer.save_steps=2", f"hydra.run.dir={run}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_id = (run / "wandb_id.txt").read_text().strip()
    offline = list((run / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(offline) == 1, list((run / "wandb").iterdir())
    records = next(offline[0].glob("run-*.wandb")).read_bytes()
    # History keys are stored as plain strings in wandb's record log; these names exist only in
    # r1exp's metrics rows (TRL logs completions/clipped_ratio, ...), so finding them proves the mirror.
    for key in (b"accuracy", b"format_rate", b"truncation_rate", b"completion_length/mean", b"step_time"):
        assert key in records, key
    assert list((offline[0] / "files" / "media" / "table").glob("completions_*.table.json"))
    assert (run / "metrics.jsonl").read_text().count("\n") == 4

    # The console (a 3-step run printed 1,861 lines): TRL's rich completion tables, wandb's banner and
    # run history, and transformers' "[INFO] Running in WANDB offline mode" stay off it.
    console = proc.stdout + proc.stderr
    for noise in ("┃", "╭", "Run history", "Run summary", "[INFO]"):
        assert noise not in console, noise
    lines = [ln for ln in console.replace("\r", "\n").splitlines() if ln.strip() and not ln.startswith("train:")]
    assert not any(line.startswith("wandb:") for line in lines)  # wandb's own lines (its logs stay in wandb/)
    assert len(lines) <= 6, lines
    # The completion tables are kept: in wandb (above) and in TRL's parquet files.
    assert len(list((run / "checkpoints" / "completions").glob("completions_*.parquet"))) == 4
    summary = proc.stdout.strip().splitlines()
    assert summary[0].startswith("r1exp: trained 4 steps in ")
    assert summary[-1] == f"  wandb: offline run in {offline[0]} (upload: wandb sync {offline[0]})"

    # checkpoints/README.md names the model the run started from (TRL's card said "[None]")
    manifest = json.loads((run / "manifest.json").read_text())
    card = (run / "checkpoints" / "README.md").read_text()
    assert "None" not in card and f"`{manifest['model']['path']}` (a local directory" in card
