"""The side-by-side comparison of runs: a table (markdown, CSV) and curves (PNG).

One row per variant. The variant is what the runs' overrides do not share; when seeds were swept,
runs that differ only in `seed` form one variant: the table reports their mean and the plot a mean
line with a min-max band.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from r1exp.analysis.runs import Run

SEED_KEYS = ("seed",)
CURVES = [
    ("reward", "Reward"),
    ("accuracy", "Accuracy"),
    ("completion_length/mean", "Response length (tokens)"),
    ("truncation_rate", "Truncation rate"),
]


def swept_keys(runs: list[Run]) -> list[str]:
    """Override keys whose value is not the same in every run."""
    keys = sorted({k for r in runs for k in r.overrides})
    return [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]


def _window_mean(rows: list[dict], key: str, tail: bool = True) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None
    n = max(1, len(vals) // 10)
    part = vals[-n:] if tail else vals
    return sum(part) / len(part)


def _best(rows: list[dict], key: str, window: int = 5) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None
    w = min(window, len(vals))
    return max(sum(vals[i : i + w]) / w for i in range(len(vals) - w + 1))


def zero_loss_start(rows: list[dict]) -> int:
    """Steps at the start whose loss was exactly 0 (the LoRA note's slow start with warmup on)."""
    n = 0
    for r in rows:
        if r.get("loss") != 0:
            break
        n += 1
    return n


def run_row(run: Run) -> dict[str, Any]:
    """The table's numbers for one run (training metrics, or an eval summary)."""
    rows = run.metrics
    out: dict[str, Any] = {"status": run.status, "steps": rows[-1]["step"] if rows else 0}
    if rows:
        out.update(
            final_reward=_window_mean(rows, "reward"),
            best_reward=_best(rows, "reward"),
            accuracy=_window_mean(rows, "accuracy"),
            format_rate=_window_mean(rows, "format_rate"),
            response_length=_window_mean(rows, "completion_length/mean", tail=False),
            truncation_rate=_window_mean(rows, "truncation_rate"),
            zero_loss_start_steps=zero_loss_start(rows),
            tokens=rows[-1].get("num_tokens"),
        )
        if any("eval/accuracy" in r for r in rows):
            out["eval_accuracy"] = [r["eval/accuracy"] for r in rows if "eval/accuracy" in r][-1]
    if run.summary:
        s = run.summary
        for key in ("accuracy", "format_rate", "truncation_rate", "reward"):
            if s.get(key) is not None:
                out[key] = s[key]
        out["response_length"] = s.get("length_mean")
        out.update({k: v for k, v in s.items() if k.startswith(("pass@", "maj@"))})
    out["wall_time_s"] = run.wall_time_s
    out["error"] = run.error or ""
    return out


def _variant(run: Run, keys: list[str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, run.overrides.get(k, "")) for k in keys if k not in SEED_KEYS)


def comparison_table(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per variant (seeds averaged; failed runs listed on their own with their error)."""
    keys = swept_keys(runs)
    groups: dict[tuple, list[Run]] = defaultdict(list)
    table: list[dict[str, Any]] = []
    for run in runs:
        if run.status == "ok":
            groups[_variant(run, keys)].append(run)
        else:
            table.append({**dict(_variant(run, keys)), "runs": 1, "run": run.name, **run_row(run)})
    for variant, members in groups.items():
        rows = [run_row(r) for r in members]
        merged: dict[str, Any] = {**dict(variant), "runs": len(members), "run": ",".join(r.name for r in members)}
        for key in rows[0]:
            vals = [r.get(key) for r in rows]
            nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None]
            if nums and len(nums) == len(vals) and len(set(nums)) > 1:
                merged[key] = sum(nums) / len(nums)
            else:
                merged[key] = vals[0]
        table.append(merged)
    order = {name: i for i, name in enumerate(r.name for r in runs)}
    table.sort(key=lambda row: order.get(row["run"].split(",")[0], 0))
    return table


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: list[dict[str, Any]]) -> str:
    if not table:
        return "_no runs_\n"
    cols = list(dict.fromkeys(k for row in table for k in row))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in cols) + " |" for row in table]
    return "\n".join(lines) + "\n"


def to_csv(table: list[dict[str, Any]]) -> str:
    cols = list(dict.fromkeys(k for row in table for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols)
    writer.writeheader()
    writer.writerows(table)
    return buf.getvalue()


def comparison_figure(runs: list[Run]):
    """Reward, accuracy, response length and truncation vs step; one line per variant, band over seeds."""
    import matplotlib.pyplot as plt

    keys = swept_keys(runs)
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        if run.metrics:
            groups[_variant(run, keys)].append(run)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, (metric, title) in zip(axes.flat, CURVES, strict=True):
        for variant, members in groups.items():
            label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in variant) or members[0].name
            by_step: dict[int, list[float]] = defaultdict(list)
            for run in members:
                for row in run.metrics:
                    if row.get(metric) is not None:
                        by_step[row["step"]].append(row[metric])
            if not by_step:
                continue
            steps = sorted(by_step)
            mean = [sum(by_step[s]) / len(by_step[s]) for s in steps]
            (line,) = ax.plot(steps, mean, label=label)
            if len(members) > 1:
                ax.fill_between(
                    steps,
                    [min(by_step[s]) for s in steps],
                    [max(by_step[s]) for s in steps],
                    color=line.get_color(),
                    alpha=0.2,
                )
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize="small")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_comparison(runs: list[Run], path: Path) -> Path:
    """comparison_figure saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = comparison_figure(runs)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(runs: list[Run], out_dir: Path) -> dict[str, Path]:
    """comparison.md, comparison.csv and comparison.png in `out_dir`."""
    from r1exp.common.jsonl import write_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = comparison_table(runs)
    failed = [r for r in runs if r.status != "ok"]
    header = f"# Comparison of {len(runs)} runs\n\n"
    if failed:
        header += f"{len(failed)} did not finish: " + ", ".join(f"{r.name} ({r.status})" for r in failed) + "\n\n"
    write_atomic(out_dir / "comparison.md", header + to_markdown(table))
    write_atomic(out_dir / "comparison.csv", to_csv(table))
    png = plot_comparison(runs, out_dir / "comparison.png")
    return {"md": out_dir / "comparison.md", "csv": out_dir / "comparison.csv", "png": png}
