"""Statistics over replications: means with 95 % confidence intervals, paired differences against a
baseline (common random numbers make seeds pairs), effect sizes and how many seeds would be enough.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as st

LEVEL = 0.95


def t_halfwidth(sd: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the t confidence interval of a mean."""
    if n < 2 or not np.isfinite(sd):
        return float("nan")
    return float(st.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n))


def mean_ci(values, level: float = LEVEL) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of finite values with a t interval."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    m = float(x.mean())
    h = t_halfwidth(float(x.std(ddof=1)) if n > 1 else float("nan"), n, level)
    return m, m - h, m + h, n


UNDEFINED_WHY = {  # why an outcome can be undefined in a run (it is then left out of the mean, and said so)
    "extra_upgrades_per_bn": "nothing spent",
    "extra_jobs_per_bn": "nothing spent",
    "extra_value_added_per_bn": "nothing spent",
    "extra_firms_per_bn": "nothing spent",
}


def summarise(run_values: pd.DataFrame, by=("scenario", "metric")) -> pd.DataFrame:
    """Mean, 95 % CI and n per group of a table with a ``value`` column (one row per run).

    ``n`` counts the runs the mean is over; ``n_undefined`` the runs where the outcome is undefined
    (e.g. budget per net job in a seed with no net jobs), which are not in the mean; ``note`` says so
    in words, so a mean over fewer seeds is never taken for a mean over all of them.
    """
    rows = []
    for key, g in run_values.groupby(list(by), sort=False):
        values = g["value"].to_numpy(dtype=float)
        m, lo, hi, n = mean_ci(values)
        undefined = int(values.size - n)
        note = ""
        if undefined:
            metric = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True)).get("metric", "")
            why = UNDEFINED_WHY.get(metric, "undefined")
            note = (f"undefined in {undefined} of {values.size} seeds ({why}): mean over the other {n}" if n else
                    f"undefined in every seed ({why})")
        rows.append((*key, m, lo, hi, n, undefined, note))
    return pd.DataFrame(rows, columns=[*by, "mean", "ci_low", "ci_high", "n", "n_undefined", "note"])


def paired_t_power(n: int, d: float, level: float = LEVEL) -> float:
    """Power of a two-sided paired t test with ``n`` pairs at effect size ``d`` (= mean / sd of the
    differences), from SciPy's noncentral t distribution (exact, unlike the normal approximation,
    which at a few seeds promises too much)."""
    df = n - 1
    tc = st.t.ppf(0.5 + level / 2, df)
    nc = abs(d) * math.sqrt(n)
    return float(st.nct.sf(tc, df, nc) + st.nct.cdf(-tc, df, nc))


def seeds_needed(sd_diff: float, diff: float, level: float = LEVEL, power: float = 0.8) -> float:
    """Seeds for a paired difference of this size to be clear: the smallest n whose two-sided paired t
    test at ``level`` has ``power`` (:func:`paired_t_power`). ``nan`` when there is no difference at
    all (every seed gives 0: nothing to detect); ``inf`` when the difference is 0 on average but not
    in every seed; 2 when the differences do not vary (any two seeds show it)."""
    if not np.isfinite(diff):
        return float("inf")
    if diff == 0:
        return float("nan") if sd_diff == 0 else float("inf")
    if sd_diff == 0 or not np.isfinite(sd_diff):  # (one seed: no spread to go by yet; at least two)
        return 2.0
    d = abs(diff) / sd_diff
    if paired_t_power(2, d, level) >= power:
        return 2.0
    lo, hi = 2, 4
    while paired_t_power(hi, d, level) < power:  # bracket, then bisect on whole numbers
        lo, hi = hi, hi * 2
        if hi > 10**7:
            return float("inf")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if paired_t_power(mid, d, level) < power else (lo, mid)
    return float(hi)


def paired_differences(run_values: pd.DataFrame, baseline: str, level: float = LEVEL) -> pd.DataFrame:
    """Scenario minus baseline, paired by seed, per metric: mean difference, CI, relative difference,
    effect size (Cohen's d_z = mean / sd of the paired differences), p-value, precision and seeds needed.

    ``run_values`` has columns scenario, seed, metric, value (one row per run and metric).
    """
    base = run_values[run_values["scenario"] == baseline].set_index(["metric", "seed"])["value"]
    rows = []
    for (scen, metric), g in run_values.groupby(["scenario", "metric"], sort=False):
        if scen == baseline:
            continue
        b = base.reindex(pd.MultiIndex.from_arrays([[metric] * len(g), g["seed"].to_numpy()]))
        d = g["value"].to_numpy() - b.to_numpy()
        d = d[np.isfinite(d)]
        n = d.size
        if n == 0:
            continue
        mean = float(d.mean())
        sd = float(d.std(ddof=1)) if n > 1 else float("nan")
        h = t_halfwidth(sd, n, level)
        bmean = float(np.nanmean(b.to_numpy()))
        if n > 1 and sd > 1e-9 * max(abs(mean), 1e-300):
            dz = mean / sd
        else:  # the same difference in every pair (e.g. a fixed overhead rate): no noise to scale by
            dz = 0.0 if mean == 0 else float("inf") * np.sign(mean)
        p = (float(2 * st.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1)) if n > 1 and sd > 0
             else (1.0 if mean == 0 else 0.0))
        rows.append({
            "scenario": scen, "metric": metric, "n_pairs": n, "diff": mean, "ci_low": mean - h,
            "ci_high": mean + h, "relative_diff": mean / bmean if bmean not in (0.0,) and np.isfinite(bmean)
            else float("nan"), "effect_size_dz": dz, "p_value": p,
            "halfwidth_over_diff": abs(h / mean) if mean != 0 and np.isfinite(h) else float("inf"),
            "seeds_needed": seeds_needed(sd, mean, level),
            "clear": bool(np.isfinite(h) and (mean - h > 0 or mean + h < 0)),
        })
    return pd.DataFrame(rows)
