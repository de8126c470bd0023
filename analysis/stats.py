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


def two_level_split(diffs, groups, level: float = LEVEL) -> dict:
    """Seed noise against calibration uncertainty in paired differences run under several parameter vectors.

    ``diffs``: one paired difference per seed; ``groups``: the parameter vector (draw) each seed ran with.
    A one-way random-effects analysis of variance (law of total variance: Var d = Var_θ E[d | θ] +
    E_θ Var[d | θ]; O'Hagan, Stevenson & Madan 2007, Health Economics 16:1009-1023):

    - ``m_g``: mean difference under vector g (``n_g`` seeds); ``diff`` = mean of the m_g (each vector
      weighs the same, whatever its number of seeds);
    - ``var_seed`` = pooled within-vector variance (seed noise of one run), N - D degrees of freedom;
    - ``var_calibration`` = max(0, s²(m_g) - h · var_seed), h = mean of 1/n_g: the spread of the effect
      across the accepted vectors once the seed noise of each vector's mean is taken out;
    - the interval is for the effect under the unknown true parameters, drawn like the accepted vectors:
      variance V = var_calibration · (1 + 1/D) (where the truth lies among the vectors, and which vectors
      were drawn) + var_seed · h / D (seed noise of the estimate); t quantile with Welch-Satterthwaite
      degrees of freedom (Satterthwaite 1946), D - 1 for the first part and N - D for the second;
    - ``share_calibration`` / ``share_seed``: the two parts of V;
    - sign: each vector's mean with its seed-noise interval (pooled variance); the sign depends on the
      calibration when one vector's interval is above zero and another's below.

    Values that cannot be estimated (one vector, or one seed per vector) are NaN and ``note`` says why.
    """
    d = np.asarray(diffs, dtype=float)
    g = np.asarray(groups)
    ok = np.isfinite(d)
    d, g = d[ok], g[ok]
    labels = list(dict.fromkeys(g.tolist()))
    n_total, n_groups = int(d.size), len(labels)
    nan = float("nan")
    out = {"diff": nan, "n_seeds": n_total, "n_vectors": n_groups, "var_seed": nan, "var_calibration": nan,
           "share_seed": nan, "share_calibration": nan, "ci_low": nan, "ci_high": nan, "seed_ci_low": nan,
           "seed_ci_high": nan, "df": nan, "vectors_above_zero": 0, "vectors_below_zero": 0,
           "sign_depends_on_calibration": False, "note": ""}
    if n_total == 0:
        out["note"] = "undefined in every seed"
        return out
    means = np.array([d[g == lab].mean() for lab in labels])
    sizes = np.array([(g == lab).sum() for lab in labels], dtype=float)
    m = float(means.mean())
    out["diff"] = m
    df_w = n_total - n_groups
    var_w = float(sum(((d[g == lab] - mu) ** 2).sum() for lab, mu in zip(labels, means, strict=True)) / df_w) \
        if df_w > 0 else nan
    h = float((1.0 / sizes).mean())
    if np.isfinite(var_w):
        out["var_seed"] = var_w
        q_w = float(st.t.ppf(0.5 + level / 2, df_w))
        half = q_w * math.sqrt(var_w * h / n_groups)
        out["seed_ci_low"], out["seed_ci_high"] = m - half, m + half
        lo = means - q_w * np.sqrt(var_w / sizes)
        hi = means + q_w * np.sqrt(var_w / sizes)
        out["vectors_above_zero"] = int((lo > 0).sum())
        out["vectors_below_zero"] = int((hi < 0).sum())
        out["sign_depends_on_calibration"] = bool(out["vectors_above_zero"] and out["vectors_below_zero"])
    if n_groups < 2 or not np.isfinite(var_w):
        out["note"] = ("one parameter vector: no calibration spread to estimate (use more draws)" if n_groups < 2
                       else "one seed per parameter vector: seed noise and calibration cannot be told apart "
                            "(use at least two seeds per draw)")
        return out
    var_b = max(0.0, float(means.var(ddof=1)) - h * var_w)
    v_cal = var_b * (1 + 1 / n_groups)
    v_seed = var_w * h / n_groups
    v = v_cal + v_seed
    out["var_calibration"] = var_b
    if v > 0:
        out["share_calibration"], out["share_seed"] = v_cal / v, v_seed / v
        denom = v_cal ** 2 / (n_groups - 1) + v_seed ** 2 / df_w
        df = v ** 2 / denom if denom > 0 else float("inf")
        half = float(st.t.ppf(0.5 + level / 2, df)) * math.sqrt(v)
        out["df"] = df
    else:  # the same difference in every seed and vector
        half = 0.0
        out["df"] = float("inf")
    out["ci_low"], out["ci_high"] = m - half, m + half
    return out
