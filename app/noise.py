"""Run-to-run noise of the app's headline numbers, so that a difference on one seed is not read as an effect.

The app compares "your policy" with a reference on one seed. One run has no noise estimate, so one is
measured here and shipped in ``app/noise.csv``: for each headline metric and month, the standard deviation
across seeds of the *paired* difference (scenario minus baseline on the same seed and firms), pooled over a few
bundled policy scenarios (``PAIRS``). That is the spread of exactly what the app shows, at ``n_firms`` firms.

    python -m app.noise                             # 20 seeds, 2,000 firms, writes app/noise.csv
    python -m app.noise --seeds 8 --firms 1000 --out /tmp/noise_1000.csv   # e.g. to check the scaling

The app rescales the sd to its own number of firms (``scale``): totals (firms, output, jobs, upgrades, budget)
are sums over firms, whose sampling sd grows as sqrt(n); shares and per-firm averages shrink as 1/sqrt(n).
A difference is "within the noise" when it is smaller than ``Z`` = 2 sd (about a 95% band for a normal
difference). Assumption, documented in docs/TEACHING.md and docs/ODD.md: the noise of a policy change the
user makes is of the same size as that between the bundled scenarios and the baseline.
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

NOISE_FILE = Path(__file__).with_name("noise.csv")
Z = 2.0  # a difference is outside the noise when |d| >= Z * sd
BASE = "baseline"
PAIRS = ("concentrated_grants", "ecommerce_promotion")  # policy scenarios compared with the baseline, pooled
STEP = 6  # months between rows of the file
# metric -> how its sampling sd changes with the number of firms: "total" (sum over firms: sd ~ sqrt(n)) or
# "share" (fraction or per-firm average: sd ~ 1/sqrt(n)). Every metric the app's headline numbers and
# difference chart show (app/page.py _kpi_rows, app/charts.py difference_svg).
METRICS = {
    "firms_alive": "total", "value_added": "total", "employment": "total", "upgrades_cumulative": "total",
    "budget_spent_cumulative": "total", "stage_3_share": "share", "recipient_support_share_income": "share",
    "self_reliance": "share",
}
COLUMNS = ["metric", "month", "sd", "scales_as", "n_firms", "seeds", "pairs"]


def measure(seeds: int = 20, n_firms: int = 2000, jobs: int | None = 1, progress: bool = True) -> pd.DataFrame:
    """The pooled sd of the paired difference (scenario minus baseline, same seed) per metric and month."""
    from experiments.runner import Task, run_tasks
    from model.scenario import load_scenario

    names = (BASE, *PAIRS)
    tasks = [Task.make(load_scenario(s, {"n_firms": int(n_firms)}), seed)
             for s in names for seed in range(1, seeds + 1)]
    df = run_tasks(tasks, jobs=jobs, progress=progress, desc="noise runs")
    df = df[df["metric"].isin(list(METRICS))]
    wide = df.pivot_table(index=["metric", "month", "seed"], columns="scenario", values="value")
    diffs = pd.concat({s: wide[s] - wide[BASE] for s in PAIRS}, axis=1)  # paired differences
    var = diffs.groupby(level=["metric", "month"]).var(ddof=1).mean(axis=1)  # pooled over the pairs
    out = np.sqrt(var).rename("sd").reset_index()
    out = out[(out["month"] % STEP == 0) | (out["month"] == out["month"].max())]
    out = out.assign(scales_as=out["metric"].map(METRICS), n_firms=int(n_firms), seeds=int(seeds),
                     pairs="+".join(PAIRS))
    return out[COLUMNS].sort_values(["metric", "month"]).reset_index(drop=True)


@lru_cache(maxsize=4)
def load(path: str = str(NOISE_FILE)) -> pd.DataFrame:
    """The noise table (``app/noise.csv``); an empty table when the file is missing or malformed, so the app
    then colours differences as before rather than failing."""
    try:
        tab = pd.read_csv(path)
    except (OSError, ValueError):
        return pd.DataFrame(columns=COLUMNS)
    if not set(COLUMNS) <= set(tab.columns):
        return pd.DataFrame(columns=COLUMNS)
    return tab


def scale(sd_ref: float, scales_as: str, n_ref: int, n_firms: int) -> float:
    """An sd measured at ``n_ref`` firms, at ``n_firms`` firms: totals grow as sqrt(n), shares shrink."""
    r = math.sqrt(n_firms / n_ref)
    if scales_as == "total":
        return sd_ref * r
    if scales_as == "share":
        return sd_ref / r
    raise ValueError(f"scales_as must be 'total' or 'share', not {scales_as!r}")


def sd_at(metric: str, month: int, n_firms: int, table: pd.DataFrame | None = None) -> float:
    """The run-to-run sd of a paired difference in ``metric`` at ``month`` and ``n_firms`` firms (interpolated
    between the file's months, the last month's beyond it); NaN when the file has no row for the metric."""
    return float(sd_series(metric, np.asarray([month]), n_firms, table)[0])


def sd_series(metric: str, months, n_firms: int, table: pd.DataFrame | None = None) -> np.ndarray:
    """``sd_at`` for an array of months (NaN everywhere when the file has no row for the metric)."""
    tab = load() if table is None else table
    rows = tab[tab["metric"] == metric].sort_values("month")
    months = np.asarray(months, dtype=float)
    if rows.empty:
        return np.full(months.shape, np.nan)
    sd = np.interp(months, rows["month"].to_numpy(float), rows["sd"].to_numpy(float))
    return scale(1.0, str(rows["scales_as"].iloc[0]), int(rows["n_firms"].iloc[0]), int(n_firms)) * sd


def within_noise(diff: float, sd: float, z: float = Z) -> bool:
    """True when ``diff`` is smaller than ``z`` sd (False when there is no noise estimate)."""
    return bool(np.isfinite(sd)) and abs(diff) < z * sd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.noise", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20, help="seeds per scenario (default 20)")
    ap.add_argument("--firms", type=int, default=2000, help="firms per run (default 2000)")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    ap.add_argument("--out", default=str(NOISE_FILE), help="CSV to write (default app/noise.csv)")
    a = ap.parse_args(argv)
    if a.seeds < 3 or a.firms < 100 or a.jobs < 1:
        print("error: --seeds must be at least 3, --firms at least 100 and --jobs at least 1", file=sys.stderr)
        return 2
    from analysis.io import OutputError, write_csv

    tab = measure(a.seeds, a.firms, a.jobs)
    try:
        write_csv(a.out, tab, float_format="%.6g")
    except (OSError, OutputError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}: {len(tab)} rows ({tab['metric'].nunique()} metrics)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
