"""PNG curves of a run from its metrics.jsonl: reward, accuracy, response length, truncation."""

from __future__ import annotations

from pathlib import Path

from r1exp.common import jsonl

# (file name, title, [(metric key, label)])
PANELS = [
    ("reward.png", "Reward", [("reward", "total"), ("format_rate", "format rate"), ("format_credit", "format credit")]),
    ("accuracy.png", "Accuracy", [("accuracy", "accuracy")]),
    (
        "response_length.png",
        "Response length (tokens)",
        [("completion_length/mean", "mean"), ("completion_length/min", "min"), ("completion_length/max", "max")],
    ),
    ("truncation.png", "Truncation rate", [("truncation_rate", "truncated")]),
]


def plot_run(run_dir: Path) -> list[Path]:
    """Write the run's curves into <run_dir>/plots and return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = jsonl.read(Path(run_dir) / "metrics.jsonl")
    if not rows:
        return []
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(exist_ok=True)
    written = []
    terms = sorted({k for r in rows for k in r if k.startswith("rewards/")})
    for name, title, series in PANELS:
        if name == "reward.png":
            # Each reward term too: what moves is often one term, not the total.
            series = [*series, *[(k, k.removeprefix("rewards/")) for k in terms]]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        drawn = False
        for key, label in series:
            points = [(r["step"], r[key]) for r in rows if r.get(key) is not None]
            if points:
                ax.plot(*zip(*points, strict=True), label=label)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not logged in this run", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        written.append(out_dir / name)
    return written
