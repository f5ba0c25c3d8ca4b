"""PNG curves of a run from its metrics.jsonl: reward, accuracy, response length, truncation.

The accuracy panel carries the periodic evaluation's curve (`eval/accuracy`, greedy on held-out
prompts) beside the training batches' accuracy when the run has one, and the honest name of the
accuracy metric: "judge score" for a judge reward (r1exp.analysis.runs.accuracy_name, read from the
run's .hydra/config.yaml).
"""

from __future__ import annotations

from pathlib import Path

from r1exp.common import jsonl

# (file name, title, [(metric key, label)]); "accuracy" in a title or label becomes the run's name for it.
PANELS = [
    ("reward.png", "Reward", [("reward", "total"), ("format_rate", "format rate"), ("format_credit", "format credit")]),
    (
        "accuracy.png",
        "Accuracy",
        [("accuracy", "training batches (sampled)"), ("eval/accuracy", "periodic eval (greedy, held-out)")],
    ),
    (
        "response_length.png",
        "Response length (tokens)",
        [("completion_length/mean", "mean"), ("completion_length/min", "min"), ("completion_length/max", "max")],
    ),
    ("truncation.png", "Truncation rate", [("truncation_rate", "truncated")]),
]


def _accuracy_name(run_dir: Path) -> str:
    from r1exp.analysis.runs import accuracy_name, read_settings

    return accuracy_name(read_settings(Path(run_dir)))


def run_figures(run_dir: Path) -> list[tuple[str, object]]:
    """The run's figures as (file name, matplotlib figure), one per panel; empty without metrics."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = jsonl.read(Path(run_dir) / "metrics.jsonl")
    if not rows:
        return []
    acc_name = _accuracy_name(run_dir)
    figures = []
    terms = sorted({k for r in rows for k in r if k.startswith("rewards/")})
    for name, title, series in PANELS:
        if name == "reward.png":
            # Each reward term too: what moves is often one term, not the total.
            series = [*series, *[(k, k.removeprefix("rewards/")) for k in terms]]
        if name == "accuracy.png" and acc_name != "accuracy":
            title = acc_name[0].upper() + acc_name[1:]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        drawn = False
        for key, label in series:
            points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            if points:
                # Periodic evaluations are sparse: mark each one.
                marker = "o" if key.startswith("eval/") else None
                ax.plot(*zip(*points, strict=True), label=label, marker=marker)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not logged in this run", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        figures.append((name, fig))
    return figures


def plot_run(run_dir: Path) -> list[Path]:
    """Write the run's curves into <run_dir>/plots and return the files written."""
    import matplotlib.pyplot as plt

    figures = run_figures(run_dir)
    if not figures:
        return []
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    for name, fig in figures:
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        written.append(out_dir / name)
    return written
