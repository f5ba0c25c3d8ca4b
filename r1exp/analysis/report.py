"""The side-by-side comparison of runs: tables (markdown, CSV) and curves (PNG), built on pandas.

One row per variant. The variant is what the runs' settings do not share (a run that did not override
a swept key shows its composed value); runs that differ only in `seed` form one variant. Every number
names its window in its column: `[last 10%]` is the mean over the last 10 % of logged steps (at least
one), `[best 10% window]` the highest such mean over any run of consecutive steps as long, `[eval]`
an eval run's summary over all its samples, `[last eval]` the last periodic evaluation.

Replicates are distinct seeds: runs of one variant with the same seed are duplicates (listed in the
`duplicates` column) and count once, as their mean. Across seeds each variant gets mean, standard
deviation and a 95 % confidence interval (t distribution, n - 1 degrees of freedom); a metric with a
known range (rates, accuracies, judge scores in [0, 1]; lengths and kl >= 0) has its interval clipped
to that range. Each variant is compared with the baseline (the first variant, or the one named) by the
difference of means with its 95 % interval (Welch) and a verdict in words, which needs at least two
distinct seeds on each side.

The `accuracy` metric is the mean of the reward's accuracy term: a rate of correct answers for a 0/1
verifier, a mean judge score for the judge rewards; columns and panels carry the honest name
(`r1exp.analysis.runs.accuracy_name`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from r1exp.analysis.runs import Run

SEED_KEYS = ("seed",)
WINDOW = 0.10
LAST = "[last 10%]"
BEST = "[best 10% window]"
EVAL = "[eval]"
LAST_EVAL = "[last eval]"
# Stands for the run's accuracy name in the tables below: "accuracy", or "judge score" for a judge
# reward (r1exp.analysis.runs.accuracy_name).
ACCURACY = "accuracy"

# metrics.jsonl key -> column base name (training runs)
TRAIN_METRICS = {
    "reward": "reward",
    "accuracy": ACCURACY,
    "format_rate": "format_rate",
    "format_credit": "format_credit",
    "completion_length/mean": "response_length",
    "truncation_rate": "truncation_rate",
    "kl": "kl",
}
# summary.json key -> column base name (eval runs); pass@k and maj@k are added as they appear
EVAL_METRICS = {
    "accuracy": ACCURACY,
    "format_rate": "format_rate",
    "format_credit": "format_credit",
    "reward": "reward",
    "length_mean": "response_length",
    "truncation_rate": "truncation_rate",
}
# Curves of the training figure: (metrics.jsonl key, panel title)
CURVES = [
    ("reward", "Reward"),
    ("accuracy", "Accuracy"),
    ("eval/accuracy", "Periodic eval: accuracy"),
    ("format_rate", "Format rate"),
    ("format_credit", "Format credit (mean)"),
    ("completion_length/mean", "Response length (tokens)"),
    ("truncation_rate", "Truncation rate"),
    ("kl", "KL to the reference"),
]
# Headline numbers compared with the baseline, in order of preference ("score" bases: a judge's or an
# unlisted accuracy term's mean).
HEADLINE = ("accuracy", "score", "reward", "eval/accuracy", "eval/score")

# Column bases whose values lie in [0, 1] (their intervals are clipped there), and ones never negative.
UNIT_RANGE = {"accuracy", "judge score", "format_rate", "format_credit", "truncation_rate"}
NON_NEGATIVE = {"response_length", "kl", "completion_length/mean", "length_mean"}


def value_range(metric: str) -> tuple[float, float]:
    """The range a metric's values (and so their mean and its interval) can take, by name.

    `metric` is a column (`accuracy [last 10%]`), a column base or a metrics.jsonl key. Rates and
    shares (`*_rate`, `*/rate`, `*/share`), accuracies, judge scores and pass@k / maj@k lie in [0, 1];
    lengths and kl are never negative; anything else (reward, a term's mean) is unbounded here.
    """
    base = metric.split(" [")[0].removeprefix("eval/")
    if (
        base in UNIT_RANGE
        or base.startswith(("pass@", "maj@"))
        or base.endswith(("_rate", "/rate", "/share", "/accuracy"))
    ):
        return 0.0, 1.0
    if base in NON_NEGATIVE:
        return 0.0, math.inf
    return -math.inf, math.inf


def _clip(value: float | None, bounds: tuple[float, float]) -> float | None:
    return None if value is None else min(max(value, bounds[0]), bounds[1])


# Two-sided 95 % quantiles of Student's t (0.975 one-sided) by degrees of freedom; others are
# interpolated linearly in 1/df (within about 0.5 % from 3 df up; a few % between 1 and 3).
_T975 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
    11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
    20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
    29: 2.045, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980,
}  # fmt: skip
_Z975 = 1.960


def t975(df: float) -> float:
    """The 0.975 quantile of Student's t with `df` (possibly fractional, Welch) degrees of freedom."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    df = max(df, 1.0)
    points = sorted(_T975)
    if df in _T975:
        return _T975[int(df)]
    if df > points[-1]:
        lo_df, lo_t, hi_inv, hi_t = points[-1], _T975[points[-1]], 0.0, _Z975
    else:
        lo_df = max(p for p in points if p < df)
        hi_df = min(p for p in points if p > df)
        lo_t, hi_inv, hi_t = _T975[lo_df], 1 / hi_df, _T975[hi_df]
    lo_inv = 1 / lo_df
    return lo_t + (hi_t - lo_t) * (lo_inv - 1 / df) / (lo_inv - hi_inv)


def mean_ci(
    values: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)
) -> dict[str, float | int | None]:
    """n, mean, sample sd and the 95 % t interval of the mean (sd and interval need n >= 2).

    The interval is clipped to `bounds`, the range the values can take (a rate's mean is never above 1).
    """
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    n = len(vals)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "low": None, "high": None}
    mean = sum(vals) / n
    if n < 2:
        return {"n": 1, "mean": mean, "sd": None, "low": None, "high": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "low": _clip(mean - half, bounds), "high": _clip(mean + half, bounds)}


def welch(
    a: Sequence[float], b: Sequence[float], bounds: tuple[float, float] = (-math.inf, math.inf)
) -> dict[str, float | None]:
    """mean(a) - mean(b) with its 95 % Welch interval; the interval needs 2+ values on each side.

    With values in `bounds` the difference lies within +-(high - low), and so does its interval.
    """
    sa, sb = mean_ci(a), mean_ci(b)
    if sa["mean"] is None or sb["mean"] is None:
        return {"diff": None, "low": None, "high": None, "df": None}
    diff = sa["mean"] - sb["mean"]
    if sa["sd"] is None or sb["sd"] is None:
        return {"diff": diff, "low": None, "high": None, "df": None}
    va, vb = sa["sd"] ** 2 / sa["n"], sb["sd"] ** 2 / sb["n"]
    se = math.sqrt(va + vb)
    if se == 0:
        # Every seed gave the same value on both sides: no spread to size an interval with.
        return {"diff": diff, "low": None, "high": None, "df": None}
    df = se**4 / (va**2 / (sa["n"] - 1) + vb**2 / (sb["n"] - 1))
    half = t975(df) * se
    span = bounds[1] - bounds[0]
    limits = (-span, span)
    return {"diff": diff, "low": _clip(diff - half, limits), "high": _clip(diff + half, limits), "df": df}


MIN_SEEDS = 2


def verdict(result: dict[str, float | None], n_variant: int, n_baseline: int) -> str:
    """The difference in plain words; `n_*` count distinct seeds (duplicates count once)."""
    if result["diff"] is None:
        return "no value to compare"
    if min(n_variant, n_baseline) < MIN_SEEDS:
        return (
            f"not enough seeds: {n_variant} vs {n_baseline} distinct (a verdict needs {MIN_SEEDS} per side; "
            "repeat with +sweep=[NAME,seeds])"
        )
    if result["low"] is None:
        return "no spread: every seed gave the same value on both sides, so no interval can be sized"
    seeds = f"{n_variant} seeds" if n_variant == n_baseline else f"{n_variant} vs {n_baseline} seeds"
    if result["low"] > 0:
        return f"higher than the baseline (95 % interval above 0, {seeds})"
    if result["high"] < 0:
        return f"lower than the baseline (95 % interval below 0, {seeds})"
    return f"no detectable difference with {seeds}"


def swept_keys(runs: list[Run]) -> list[str]:
    """Keys some run overrode whose value (override or composed) is not the same in every run."""
    keys = sorted({k for r in runs for k in r.overrides})
    return [k for k in keys if len({r.setting(k) for r in runs}) > 1]


def _variant_keys(runs: list[Run]) -> list[str]:
    return [k for k in swept_keys(runs) if k not in SEED_KEYS]


def zero_loss_start(rows: list[dict]) -> int:
    """Steps at the start whose loss was exactly 0 (the LoRA note's slow start with warmup on)."""
    n = 0
    for r in rows:
        if r.get("loss") != 0:
            break
        n += 1
    return n


def _at_k(key: str) -> tuple[bool, str, int]:
    """pass@2 < pass@4 < maj@4: pass@k first, then by k."""
    name, _, k = key.partition("@")
    return name != "pass", name, int(k) if k.isdigit() else 0


def _window(n: int) -> int:
    return max(1, math.ceil(WINDOW * n))


def run_row(run: Run) -> dict[str, Any]:
    """The table's numbers for one run (training metrics, or an eval summary), each naming its window.

    The accuracy metric's column carries the run's honest name (`judge score [last 10%]` for a judge).
    """
    acc = run.accuracy_name
    out: dict[str, Any] = {"status": run.status}
    frame = pd.DataFrame(run.metrics)
    if not frame.empty and "step" in frame:
        out["steps"] = int(frame["step"].max())
        for key, base in TRAIN_METRICS.items():
            if key not in frame:
                continue
            series = pd.to_numeric(frame[key], errors="coerce").dropna()
            if series.empty:
                continue
            w = _window(len(series))
            out[f"{acc if base == ACCURACY else base} {LAST}"] = float(series.tail(w).mean())
            if key == "reward":
                out[f"reward {BEST}"] = float(series.rolling(w).mean().max())
        if "eval/accuracy" in frame:
            evals = pd.to_numeric(frame["eval/accuracy"], errors="coerce").dropna()
            if not evals.empty:
                out[f"eval/{acc} {LAST_EVAL}"] = float(evals.iloc[-1])
        out["zero_loss_start_steps"] = zero_loss_start(run.metrics)
        if "num_tokens" in frame:
            out["tokens"] = frame["num_tokens"].dropna().iloc[-1] if frame["num_tokens"].notna().any() else None
    if run.summary:
        s = run.summary
        for key, base in EVAL_METRICS.items():
            if s.get(key) is not None:
                out[f"{acc if base == ACCURACY else base} {EVAL}"] = s[key]
        for key in sorted((k for k in s if k.startswith(("pass@", "maj@"))), key=_at_k):
            out[f"{key} {EVAL}"] = s[key]
    out["wall_time_s"] = run.wall_time_s
    out["error"] = run.error or ""
    return out


def _is_metric(column: str) -> bool:
    return column.endswith((LAST, BEST, EVAL, LAST_EVAL))


# Internal column: the run's seed, or its name when the run dir records none (then it counts alone).
_SEED = "_seed"


def _seed_id(run: Run) -> str:
    seed = run.seed
    return f"seed {seed}" if seed not in ("", "null") else f"run {run.name}"


def run_frame(runs: list[Run]) -> pd.DataFrame:
    """One row per run: the variant's settings, seed, run name and run_row's numbers."""
    keys = swept_keys(runs)
    records = [{**{k: r.setting(k) for k in keys}, "run": r.name, _SEED: _seed_id(r), **run_row(r)} for r in runs]
    return pd.DataFrame.from_records(records)


def per_seed(group: pd.DataFrame, column: str) -> list[float]:
    """One value per distinct seed of a variant's runs: duplicates (same seed) count once, as their mean."""
    values = pd.to_numeric(group[column], errors="coerce")
    by_seed = values.groupby(group[_SEED], sort=False).mean().dropna()
    return [float(v) for v in by_seed]


def duplicates(group: pd.DataFrame) -> str:
    """Runs of one variant that repeat a seed another run of it already has, e.g. `2 = 0 (seed 42)`."""
    notes = []
    for seed_id, members in group.groupby(_SEED, sort=False):
        names = list(members["run"])
        if len(names) > 1:
            notes += [f"{name} = {names[0]} ({seed_id})" for name in names[1:]]
    return "; ".join(notes)


def comparison_table(runs: list[Run]) -> pd.DataFrame:
    """One row per variant: seed means, and per metric sd and 95 % interval when a variant has 2+ seeds.

    `runs` counts the variant's runs, `seeds` its distinct seeds (the replicates); runs repeating a
    seed are named in `duplicates` and count once. Failed or unfinished runs each get their own row
    with their error.
    """
    frame = run_frame(runs)
    if frame.empty:
        return frame
    keys = _variant_keys(runs)
    ok = frame[frame["status"] == "ok"].copy()
    failed = frame[frame["status"] != "ok"].copy()
    failed.insert(len(keys), "runs", 1)
    group_keys = keys or ["__all__"]
    if not keys:
        ok["__all__"] = ""
    metrics = [c for c in frame.columns if _is_metric(c)]
    plain = [c for c in frame.columns if c not in metrics and c not in group_keys and c not in (*SEED_KEYS, _SEED)]
    rows: list[dict[str, Any]] = []
    for values, group in ok.groupby(group_keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = dict(zip(keys, values, strict=False))
        row["runs"] = len(group)
        row["seeds"] = group[_SEED].nunique()
        row["duplicates"] = duplicates(group)
        for col in plain:
            if col == "run":
                row[col] = ",".join(group[col])
            elif pd.api.types.is_numeric_dtype(group[col]) and group[col].nunique() > 1:
                # Differs across seeds (wall time, tokens): the mean.
                row[col] = float(group[col].mean())
            else:
                row[col] = group[col].iloc[0]
        for col in metrics:
            stats = mean_ci(per_seed(group, col), value_range(col))
            row[col] = stats["mean"]
            if row["seeds"] > 1:
                row[f"{col} sd"] = stats["sd"]
                row[f"{col} ci95 low"] = stats["low"]
                row[f"{col} ci95 high"] = stats["high"]
        rows.append(row)
    failed = failed.drop(columns=[*SEED_KEYS, _SEED], errors="ignore")
    table = pd.concat([pd.DataFrame.from_records(rows), failed])
    if "duplicates" in table and not table["duplicates"].fillna("").astype(bool).any():
        table = table.drop(columns=["duplicates"])
    order = {name: i for i, name in enumerate(r.name for r in runs)}
    table["_order"] = table["run"].map(lambda names: order.get(str(names).split(",")[0], 0))
    table = table.sort_values("_order", kind="stable").drop(columns=["_order"]).reset_index(drop=True)
    for col in ("runs", "seeds", "steps", "tokens"):
        # Counts stay whole numbers next to failed rows that have none (pandas would make them floats).
        if col in table and (table[col].dropna() % 1 == 0).all():
            table[col] = table[col].astype("Int64")
    front = [*keys, "runs", "seeds", "duplicates", "run", "status", "steps"]
    back = ["zero_loss_start_steps", "tokens", "wall_time_s", "error"]
    cols = [c for c in front if c in table] + [c for c in table.columns if c not in front and c not in back]
    cols += [c for c in back if c in table]
    # Numbers of a metric next to each other: mean, sd, interval.
    ordered: list[str] = []
    for c in cols:
        if c.endswith((" sd", " ci95 low", " ci95 high")):
            continue
        ordered.append(c)
        ordered += [f"{c}{s}" for s in (" sd", " ci95 low", " ci95 high") if f"{c}{s}" in table]
    return table[ordered]


def _is_headline(column: str, base: str) -> bool:
    """`score` stands for any `<...> score` (a judge's, an unlisted accuracy term's); `eval/score` likewise."""
    name = column.split(" [")[0]
    if base in ("score", "eval/score"):
        return name.startswith("eval/") == (base == "eval/score") and name.endswith(" score")
    return name == base


def _headline_columns(table: pd.DataFrame) -> list[str]:
    out: list[str] = []
    for base in HEADLINE:
        found = [c for c in table.columns if _is_metric(c) and not c.endswith(BEST) and _is_headline(c, base)]
        out += [c for c in found if c not in out]
    return out


def _same(a: str, b: str) -> bool:
    """Setting values equal as written, or as numbers (`0.04` and `4e-2`, `0` and `0.0`)."""
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        return False


BASELINE_FORMS = (
    "KEY:VALUE (e.g. cmd.baseline=trainer.beta:0.04) or the job number of one of its runs (e.g. cmd.baseline=0)"
)


def parse_baseline(baseline: str) -> dict[str, str] | str:
    """`cmd.baseline` as {key: value} (`key:value` or `key=value` pairs) or a run's name (a job number)."""
    text = str(baseline).strip()
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        # key:value needs no quoting on a Hydra command line; key=value (quoted) is read too.
        cut = min((i for i in (part.find(":"), part.find("=")) if i > 0), default=-1)
        if cut < 0:
            return text
        pairs[part[:cut].strip().lstrip("+~")] = part[cut + 1 :].strip()
    return pairs


def baseline_differences(runs: list[Run], baseline: str | None = None) -> pd.DataFrame:
    """Each variant against the baseline on the headline metrics: difference, 95 % Welch interval, verdict.

    `baseline` names a variant as `key:value[,key:value]` (or `key=value`), or by a job number (the
    name of a run dir of that variant); by default the first variant in job order. Seeds are counted
    once each (duplicates are averaged), and a verdict needs 2 distinct seeds on each side.
    """
    from r1exp.errors import ConfigError

    keys = _variant_keys(runs)
    frame = run_frame(runs)
    if frame.empty or not keys:
        return pd.DataFrame()
    ok = frame[frame["status"] == "ok"]
    groups = list(ok.groupby(keys, sort=False, dropna=False))
    if len(groups) < 2:
        return pd.DataFrame()

    def settings(vals: Any) -> dict[str, str]:
        return dict(zip(keys, vals if isinstance(vals, tuple) else (vals,), strict=True))

    labels = [", ".join(f"{k}={v}" for k, v in settings(vals).items()) for vals, _ in groups]
    if baseline is not None and str(baseline).strip():
        wanted = parse_baseline(str(baseline))
        if isinstance(wanted, str):
            index = next((i for i, (_, g) in enumerate(groups) if wanted in set(g["run"])), None)
        else:
            unknown = [k for k in wanted if k not in keys]
            index = None if unknown else next(
                (i for i, (vals, _) in enumerate(groups)
                 if all(_same(settings(vals)[k], v) for k, v in wanted.items())),
                None,
            )  # fmt: skip
        if index is None:
            raise ConfigError(
                f"cmd.baseline={baseline}: no such variant; give {BASELINE_FORMS}; variants: "
                + "; ".join(f"{lab} (jobs {','.join(g['run'])})" for lab, (_, g) in zip(labels, groups, strict=True))
            )
    else:
        index = 0
    base_group = groups[index][1]
    rows = []
    for col in _headline_columns(frame):
        bounds = value_range(col)
        base_vals = per_seed(base_group, col)
        for i, (_, group) in enumerate(groups):
            if i == index:
                continue
            vals = per_seed(group, col)
            result = welch(vals, base_vals, bounds)
            dup = duplicates(group)
            base_dup = duplicates(base_group)
            rows.append(
                {
                    "variant": labels[i],
                    "baseline": labels[index],
                    "metric": col,
                    "difference": result["diff"],
                    "ci95 low": result["low"],
                    "ci95 high": result["high"],
                    "seeds": f"{len(vals)} vs {len(base_vals)}",
                    "duplicates": "; ".join(d for d in (dup, base_dup) if d),
                    "verdict": verdict(result, len(vals), len(base_vals)),
                }
            )
    out = pd.DataFrame.from_records(rows)
    if not out.empty and not out["duplicates"].astype(bool).any():
        out = out.drop(columns=["duplicates"])
    return out


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        # Float noise (a sd of 4e-17 over equal values) reads as 0.
        return "0" if abs(value) < 1e-12 else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _bounded(column: str) -> bool:
    low, high = value_range(column)
    return math.isfinite(low) or math.isfinite(high)


def _interval_text(mean: Any, low: Any, high: Any, column: str) -> str:
    """`mean ± half` for an unbounded metric; `mean [low, high]` where the range clips the interval."""
    if pd.isna(low):
        return _fmt(mean)
    if _bounded(column):
        return f"{_fmt(mean)} [{_fmt(low)}, {_fmt(high)}]"
    return f"{_fmt(mean)} ± {_fmt((high - low) / 2)}"


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The markdown view: a metric with seeds reads `mean ± half-interval` (or `mean [low, high]` for a
    metric with a range); sd and bounds stay in the CSV."""
    shown = table.copy()
    for col in [c for c in table.columns if _is_metric(c)]:
        if f"{col} ci95 low" in table:
            low, high = table[f"{col} ci95 low"], table[f"{col} ci95 high"]
            shown[col] = [_interval_text(m, lo, hi, col) for m, lo, hi in zip(table[col], low, high, strict=True)]
    extra = [c for c in table.columns if c.endswith((" sd", " ci95 low", " ci95 high"))]
    return shown.drop(columns=extra).map(_fmt)


def _seed_section(table: pd.DataFrame, keys: list[str]) -> str:
    cols = _headline_columns(table)
    if not any(f"{c} sd" in table for c in cols):
        return ""
    lines = []
    for col in cols:
        if f"{col} sd" not in table:
            continue
        sub = table[table["status"] == "ok"]
        view = pd.DataFrame(
            {
                **{k: sub[k] for k in keys},
                "seeds": sub["seeds"],
                "mean": sub[col],
                "sd": sub[f"{col} sd"],
                "95 % CI": [
                    "" if pd.isna(lo) else f"[{_fmt(lo)}, {_fmt(hi)}]"
                    for lo, hi in zip(sub[f"{col} ci95 low"], sub[f"{col} ci95 high"], strict=True)
                ],
            }
        )
        lines.append(f"### {col} across seeds\n\n{view.map(_fmt).to_markdown(index=False)}\n")
    return (
        "## Across seeds (mean, sample sd, 95 % t interval of the mean; distinct seeds only)\n\n"
        + "\n".join(lines)
        + "\n"
    )


def _legend(table: pd.DataFrame) -> str:
    notes = {
        LAST: "mean over the last 10 % of logged steps (at least one step)",
        BEST: "highest mean over any window of consecutive steps as long as the last-10 % window",
        EVAL: "an eval run's summary over all its samples",
        LAST_EVAL: "the last periodic evaluation during training (greedy, fixed prompts)",
    }
    used = [f"- `{tag}`: {text}" for tag, text in notes.items() if any(c.endswith(tag) for c in table.columns)]
    if any(c.split(" [")[0].endswith("judge score") for c in table.columns):
        used.append("- `judge score`: mean score in [0, 1] the LLM judge gave the answers, not a rate of correct ones")
    if any(c.endswith(" sd") for c in table.columns):
        used.append("- `seeds`: distinct seeds, the replicates; `runs` counts every run, duplicates included")
        used.append("- `a ± b`: mean over seeds ± half the 95 % confidence interval (t distribution, n - 1 df)")
        if any(c.endswith(" sd") and _bounded(c.removesuffix(" sd")) for c in table.columns):
            used.append(
                "- `a [l, h]`: mean over seeds and its 95 % interval, clipped to the metric's range "
                "(rates and scores in [0, 1], lengths and kl >= 0)"
            )
    if "duplicates" in table:
        used.append("- `duplicates`: runs repeating a seed of the same variant; each seed counts once (their mean)")
    return "Columns:\n" + "\n".join(used) + "\n\n" if used else ""


def to_markdown(runs: list[Run], table: pd.DataFrame, diffs: pd.DataFrame) -> str:
    """comparison.md: header, legend, the table, seed statistics and the baseline comparison."""
    failed = [r for r in runs if r.status != "ok"]
    text = f"# Comparison of {len(runs)} runs\n\n"
    if failed:
        text += f"{len(failed)} did not finish: " + ", ".join(f"{r.name} ({r.status})" for r in failed) + "\n\n"
    if table.empty:
        return text + "_no runs_\n"
    if "duplicates" in table:
        dup = [d for d in table["duplicates"].fillna("") if d]
        text += "Duplicates (the same seed and settings twice; counted once, as their mean): " + "; ".join(dup) + "\n\n"
    text += _legend(table) + _display(table).to_markdown(index=False) + "\n\n"
    text += _seed_section(table, _variant_keys(runs))
    if not diffs.empty:
        text += (
            f"## Against the baseline ({diffs['baseline'].iloc[0]})\n\n"
            "Difference of means (variant - baseline) over distinct seeds, with its 95 % Welch interval "
            f"(clipped to the metric's range); a verdict needs {MIN_SEEDS} distinct seeds per side.\n\n"
            + diffs.drop(columns=["baseline"]).map(_fmt).to_markdown(index=False)
            + "\n"
        )
    return text


def _groups(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    keys = _variant_keys(runs)
    out: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.status == "ok" or run.metrics:
            out.setdefault(tuple(run.setting(k) for k in keys), []).append(run)
    return [
        (
            ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(keys, variant, strict=True)) or _plain_label(members),
            members,
        )
        for variant, members in out.items()
    ]


def _by_seed(members: list[Run]) -> list[list[Run]]:
    """A variant's runs grouped by seed: duplicates together, so a seed counts once."""
    out: dict[str, list[Run]] = {}
    for run in members:
        out.setdefault(_seed_id(run), []).append(run)
    return list(out.values())


def _plain_label(members: list[Run]) -> str:
    """Label of a group no setting tells apart: seeds of one variant, or a single run by its dir name."""
    seeds = len(_by_seed(members))
    return f"all {seeds} seeds" if seeds > 1 else members[0].name


def _band(ax, x, values: list[list[float]], label: str, color: str, metric: str) -> None:
    """Mean line, and the 95 % interval over seeds (one value each) as a band where there are 2+ values."""
    bounds = value_range(metric)
    stats = [mean_ci(v, bounds) for v in values]
    mean = [s["mean"] for s in stats]
    ax.plot(x, mean, label=label, color=color, marker="o" if len(x) <= 8 else None)
    lows = [s["low"] if s["low"] is not None else s["mean"] for s in stats]
    highs = [s["high"] if s["high"] is not None else s["mean"] for s in stats]
    if any(s["low"] is not None for s in stats):
        ax.fill_between(x, lows, highs, color=color, alpha=0.2)


def _seed_values(members: list[Run], value) -> list[float]:
    """One value per distinct seed: `value(run)` averaged over a seed's duplicates (None left out)."""
    out = []
    for same_seed in _by_seed(members):
        vals = [v for v in (value(r) for r in same_seed) if v is not None]
        if vals:
            out.append(sum(vals) / len(vals))
    return out


def _accuracy_title(runs: list[Run], title: str) -> str:
    """A panel title with `accuracy` replaced by what the runs' accuracy metric is (e.g. judge score)."""
    names = {r.accuracy_name for r in runs} or {"accuracy"}
    if names == {"accuracy"}:
        return title
    name = names.pop() if len(names) == 1 else "accuracy / score"
    return title.replace("Accuracy", name[0].upper() + name[1:]).replace("accuracy", name)


def _training_figure(runs: list[Run]):
    import matplotlib.pyplot as plt

    groups = _groups([r for r in runs if r.metrics])
    curves = [(k, t) for k, t in CURVES if any(k in row for r in runs for row in r.metrics)]
    curves = curves or CURVES[:4]
    ncols = 2 if len(curves) <= 4 else 3
    nrows = math.ceil(len(curves) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.5 * ncols, 3.6 * nrows), squeeze=False)
    seeded = any(len(_by_seed(m)) > 1 for _, m in groups)
    for ax, (metric, title) in zip(axes.flat, curves, strict=False):
        # One color per variant in every panel (a panel where a variant has no values keeps the others').
        for i, (label, members) in enumerate(groups):
            # step -> one value per distinct seed (duplicates of a seed averaged first)
            by_step: dict[int, list[float]] = {}
            for same_seed in _by_seed(members):
                values: dict[int, list[float]] = {}
                for run in same_seed:
                    for row in run.metrics:
                        if row.get(metric) is not None:
                            values.setdefault(row["step"], []).append(float(row[metric]))
                for step, vals in values.items():
                    by_step.setdefault(step, []).append(sum(vals) / len(vals))
            if by_step:
                steps = sorted(by_step)
                _band(ax, steps, [by_step[s] for s in steps], label, f"C{i % 10}", metric)
        ax.set_title(_accuracy_title(runs, title) if "accuracy" in metric else title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves) :]:
        ax.set_visible(False)
    _finish(fig, axes, "band: 95 % interval over seeds" if seeded else "")
    return fig


def _numeric(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _eval_figure(runs: list[Run]):
    """Eval runs: accuracy, pass@k, truncation and response length against the swept setting."""
    import matplotlib.pyplot as plt

    done = [r for r in runs if r.summary]
    keys = _variant_keys(done)
    x_key = next((k for k in keys if _numeric([r.setting(k) for r in done]) is not None), keys[0] if keys else None)
    pass_keys = sorted({k for r in done for k in r.summary if k.startswith("pass@")}, key=_at_k)
    panels = [("accuracy", "Accuracy"), ("truncation_rate", "Truncation rate"), ("length_mean", "Response length")]
    if len(pass_keys) > 1:
        panels.insert(1, (pass_keys[-1], pass_keys[-1]))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.8), squeeze=False)
    budget = x_key is not None and x_key.endswith(("max_new_tokens", "max_completion_length"))
    lines: dict[str, dict[str, list[Run]]] = {}
    for r in done:
        rest = ", ".join(f"{k.split('.')[-1]}={r.setting(k)}" for k in keys if k != x_key) or "eval"
        lines.setdefault(rest, {}).setdefault(r.setting(x_key) if x_key else r.name, []).append(r)
    seeded = any(len(_by_seed(m)) > 1 for pts in lines.values() for m in pts.values())
    for ax, (metric, title) in zip(axes.flat, panels, strict=True):
        for i, (label, points) in enumerate(lines.items()):
            xs = list(points)
            nums = _numeric(xs)
            order = sorted(range(len(xs)), key=lambda i: nums[i]) if nums else range(len(xs))
            x = [nums[i] for i in order] if nums else [xs[i] for i in order]
            vals = [_seed_values(points[xs[i]], lambda run, key=metric: run.summary.get(key)) for i in order]
            _band(ax, x, vals, label, f"C{i % 10}", metric)
        if metric == "length_mean" and budget:
            xs_all = sorted({float(r.setting(x_key)) for r in done})
            ax.plot(xs_all, xs_all, linestyle="--", color="grey", label="token budget")
            ax.legend(fontsize="small")
        if metric in ("accuracy", "truncation_rate") or metric.startswith("pass@"):
            ax.set_ylim(-0.02, 1.02)
        if budget:
            ticks = sorted({float(r.setting(x_key)) for r in done})
            ax.set_xscale("log", base=2)
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
            ax.minorticks_off()
        ax.set_title(_accuracy_title(done, title) if metric == "accuracy" else title)
        ax.set_xlabel(x_key or "run")
        ax.grid(alpha=0.3)
    _finish(fig, axes, "band: 95 % interval over seeds" if seeded else "")
    return fig


def _finish(fig, axes, note: str) -> None:
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels and lab not in ("token budget", "eval"):
                handles.append(h)
                labels.append(lab)
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize="small")
    if note:
        fig.suptitle(note, fontsize="small")
    fig.tight_layout(rect=(0, 0.1 if handles else 0, 1, 0.97 if note else 1))


def comparison_figure(runs: list[Run]):
    """Training runs: curves vs step per variant (band over seeds); eval runs: metrics vs the swept setting."""
    if any(r.metrics for r in runs) or not any(r.summary for r in runs):
        return _training_figure(runs)
    return _eval_figure(runs)


def plot_comparison(runs: list[Run], path: Path) -> Path:
    """comparison_figure saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = comparison_figure(runs)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(runs: list[Run], out_dir: Path, baseline: str | None = None) -> dict[str, Path]:
    """comparison.md, comparison.csv and comparison.png in `out_dir` (and comparison_baseline.csv)."""
    from r1exp.common.jsonl import write_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = comparison_table(runs)
    diffs = baseline_differences(runs, baseline)
    files = {"md": out_dir / "comparison.md", "csv": out_dir / "comparison.csv"}
    write_atomic(files["md"], to_markdown(runs, table, diffs))
    write_atomic(files["csv"], table.to_csv(index=False))
    if not diffs.empty:
        files["baseline_csv"] = out_dir / "comparison_baseline.csv"
        write_atomic(files["baseline_csv"], diffs.to_csv(index=False))
    files["png"] = plot_comparison(runs, out_dir / "comparison.png")
    return files
