"""benchmarks/gpu_step.py --dry: the GPU benchmark's own code path on CPU with toy shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_dry_run_writes_its_table_and_keeps_the_rest_of_the_file(tmp_path, tiny_cache):
    out = tmp_path / "bench.md"
    out.write_text("# Benchmarks\n\n## CPU\n\nkept as is\n")
    work = tmp_path / "work"
    env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_step.py"),
            "--dry",
            # relative paths, as in the documented device call
            "--out",
            "bench.md",
            "--work",
            "work",
            "--cases",
            "1.5b-r64",
            "--backends",
            "hf",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\n## CPU\n\nkept as is\n")
    section = text[text.index("<!-- gpu_step_dry:begin -->") : text.index("<!-- gpu_step_dry:end -->")]
    assert "Device: CPU" in section and "torch " in section and "trl " in section
    (row,) = [ln for ln in section.splitlines() if ln.startswith("| Qwen2.5-1.5B (toy)")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["r64", "hf"]
    assert float(cells[3]) > 0  # s/step from metrics.jsonl
    assert float(cells[6]) > 0  # generated tokens/s
    plan_alloc = float(cells[10].split("/")[0])
    assert plan_alloc > 0  # cmd=plan's estimate for the same config
    results = json.loads((work / "results.json").read_text())["results"]
    assert results[0]["steps"]["steps"] == 2 and results[0]["rc"] == 0
    # The run trained the toy model through launch.py under hardware=cpu with the recipe's LoRA.
    overrides = (work / "runs" / "1.5b-r64-hf" / ".hydra" / "overrides.yaml").read_text()
    assert "hardware=cpu" in overrides and "lora=r64" in overrides
