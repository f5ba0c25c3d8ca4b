"""Start-up cost of `python launch.py --cfg job` (compose and print the config), and where it goes.

    python benchmarks/startup.py [--runs 7]

Prints, side by side from one run: a bare interpreter, `import hydra`, and `launch.py --cfg job`
(wall seconds, best and median of N, and the CPU seconds of the median run, which a busy machine
does not inflate); then the heaviest top-level imports of `launch.py --cfg job` (python -X importtime)
and which heavy libraries it loaded (none of torch/transformers/trl is the rule; a test holds it).
Goal: <= 1 s.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "datasets", "peft", "accelerate", "wandb", "math_verify", "numpy", "pandas")
# Runs launch.py as `python launch.py` would, then names the heavy libraries it imported.
PROBE = f"""
import atexit, runpy, sys
atexit.register(lambda: print("loaded:", sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr))
sys.argv = ["launch.py", *sys.argv[1:]]
runpy.run_path("launch.py", run_name="__main__")
"""


def run(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU (user + system) seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return wall, cpu, done


def import_table(stderr: str, top: int) -> list[tuple[str, float]]:
    """Top-level imports (cumulative ms) from python -X importtime output, heaviest first."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if m and not m.group(2).startswith(" "):
            rows.append((m.group(2).strip(), int(m.group(1)) / 1000))
    return sorted(rows, key=lambda r: -r[1])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import hydra'": [py, "-c", "import hydra, hydra.main"],
        "launch.py --cfg job": [py, "launch.py", "--cfg", "job"],
    }
    env_note = f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, cmd in cases.items():  # interleaved: a busy moment hits every case alike
            wall, cpu, _ = run(cmd)
            results[name].append((wall, cpu))

    print(f"start-up, {args.runs} runs each ({env_note})")
    print(f"{'command':<28}{'best s':>8}{'median s':>10}{'cpu s':>8}")
    for name, runs in results.items():
        walls = sorted(w for w, _ in runs)
        median_run = sorted(runs)[len(runs) // 2]
        print(f"{name:<28}{walls[0]:>8.3f}{statistics.median(walls):>10.3f}{median_run[1]:>8.3f}")
    best = min(w for w, _ in results["launch.py --cfg job"])
    print(f"launch.py --cfg job: {best:.2f} s best (goal <= 1 s)")

    _, _, traced = run([py, "-X", "importtime", "launch.py", "--cfg", "job"])
    print("heaviest top-level imports of launch.py --cfg job (cumulative ms):")
    for name, ms in import_table(traced.stderr, 8):
        print(f"  {name:<40}{ms:>8.1f}")
    _, _, probed = run([py, "-c", PROBE, "--cfg", "job"])
    print(probed.stderr.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
