"""`launch.py cmd=plan`: the user's path, for the 7B 3090 recipe and the smoke recipe, with no model load."""

from __future__ import annotations

import json

from tests.conftest import error_lines


def test_plan_7b_recipe_prints_table_and_verdict(launch_here, tmp_path):
    run_dir = tmp_path / "plan7b"
    proc = launch_here("cmd=plan", "+experiment=math_7b_base_lora_3090", f"hydra.run.dir={run_dir}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "model=qwen7b" in out and "7.62B params" in out
    for row in ("weights (bfloat16", "LoRA r16 adapters", "optimizer state", "activations", "KV cache (hf, 64 x 1280"):
        assert row in out
    # The recipe was measured with the allocator's pool at its cap (docs/benchmarks.md): no "fits".
    assert "verdict: at the cap, no headroom" in out and "of 24.0 GiB" in out and "verdict: fits" not in out
    assert "measured: 7B LoRA r16, math recipe: pool 24.0 GiB" in out
    # Only the phases a math run has: no judge; periodic eval every 50 steps.
    phases = [line.split()[1] for line in out.splitlines() if line.startswith("phase ")]
    assert phases == ["generate", "train", "eval"] and ",judge" not in out
    # Time, from measured throughput, labelled as an estimate with its source.
    assert "time (ESTIMATES from measured throughput" in out and "issue 9" in out
    assert "generation     102.4 s/step" in out and "500 steps: 2" in out
    record = json.loads((run_dir / "plan.json").read_text())
    assert record["fits"] is False and record["verdict"] == "at the cap" and record["card_gib"] == 24.0
    assert record["pool_peak_gib"] > 23.5 > record["allocator_peak_gib"]
    assert record["time"]["estimate"] is True and record["time"]["total_s"] > 14 * 3600
    assert 14.0 < record["components"]["weights (bfloat16, 7.62B params)"] < 14.3


def test_plan_smoke_recipe_loads_no_model(launch, tmp_path):
    cache = tmp_path / "fresh-cache"
    out_json = tmp_path / "smoke-plan.json"
    # A subprocess: what a fresh interpreter imports is the subject (this process has torch loaded).
    proc = launch(
        "cmd=plan",
        "+experiment=smoke",
        f"cmd.output={out_json}",
        f"hydra.run.dir={tmp_path / 'plan-smoke'}",
        # Python lists every module it imports on stderr.
        env={"R1EXP_CACHE": str(cache), "PYTHONPROFILEIMPORTTIME": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {ln.rsplit("|", 1)[-1].strip() for ln in proc.stderr.splitlines() if ln.startswith("import time:")}
    assert "omegaconf" in imported and not imported & {"torch", "transformers", "trl"}
    assert "model=tiny (the tiny model's spec" in proc.stdout
    assert "verdict: no card to check against (hardware=cpu runs on CPU)" in proc.stdout
    assert json.loads(out_json.read_text())["fits"] is None
    # The tiny model is built on first use: a plan never builds (or loads) it.
    assert not cache.exists() or not any(cache.iterdir())


def test_plan_full_7b_on_a_3090_names_the_levers(launch_here, tmp_path):
    proc = launch_here("cmd=plan", "model=qwen7b", "hardware=rtx3090", f"hydra.run.dir={tmp_path / 'p'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verdict: does NOT fit" in proc.stdout
    assert "lora=r16: saves" in proc.stdout


def test_plan_bad_values_are_one_line(launch_here, tmp_path):
    proc = launch_here("cmd=plan", "cmd.prompt_tokens=0", f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "r1exp: error: cmd.prompt_tokens=0 must be a positive integer (tokens of a prompt)"
    ]
    proc = launch_here("cmd=plan", "model.path=nobody/nothing", f"hydra.run.dir={tmp_path / 'b'}")
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith("r1exp: error: model.path=nobody/nothing: plan knows no shape")


def test_plan_against_another_card(launch_here, tmp_path):
    proc = launch_here(
        "cmd=plan", "+experiment=math_7b_base_lora_3090", "cmd.card_gb=16", f"hydra.run.dir={tmp_path / 'c'}"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "verdict: does NOT fit:" in proc.stdout and "of 16.0 GiB (cmd.card_gb)" in proc.stdout
