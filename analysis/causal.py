"""Causal outcomes from paired twin runs: what the support itself did, firm by firm and per rupiah.

Every scenario run is paired with runs that share its seed, hence its initial firms and their random
numbers (common random numbers; the burn-in does not depend on the levers):

- its **no-support twin** (``S@no-support``): the same scenario with ``budget_per_firm_month = 0``,
  everything else equal. Scenario minus twin is the effect of the budget: on every initial firm (the
  per-firm counterfactual) and on the whole economy (causal cost-effectiveness, per bn IDR spent).
- its **withdrawal twin** (``analysis.comparison``): the same scenario with programmes ended at the
  withdrawal month. The firms that were recipients just before it are followed for 12 and 24 months.

A firm is a *recipient* at month t if it received support in at least one of months t-11..t
(``support_mask & 0xFFF``); an *ever-recipient* received support in some month of the run. The
per-firm snapshots come from ``experiments/panel.py``.

The split of a causal difference into recipients, non-recipient initial firms and entrants is the
displacement check of Criscuolo et al. (2019, AER 109(1): 48-85: part of a subsidy's gain is taken
from unsubsidised firms): non-recipients' losses are market mechanisms (customers, prices, credit
taken by the supported firms), entrants' the firms that did or did not enter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import mean_ci

NO_SUPPORT_SUFFIX = "@no-support"
WINDOWS = (12, 24)  # months after withdrawal over which recipients are followed

# outcome -> (label, unit, higher is better?)
CAUSAL_OUTCOMES: dict[str, tuple[str, str, bool | None]] = {
    "budget_per_additional_upgrade_bn": ("Budget per additional upgrade", "bn IDR, vs no-support twin", False),
    "extra_upgrades_per_bn": ("Additional upgrades", "per bn IDR spent", True),
    "extra_jobs_per_bn": ("Additional jobs (at the horizon)", "per bn IDR spent", True),
    "extra_value_added_per_bn": ("Additional value added (whole run)", "IDR per IDR spent", True),
    "extra_firms_per_bn": ("Additional surviving firms (at the horizon)", "per bn IDR spent", True),
    "extra_upgrades_per_1000": ("Additional upgrades", "per 1,000 initial firms", True),
    "cf_recipients_share": ("Ever-recipients", "share of initial firms", None),
    "cf_recipient_effort_diff": ("Recipients' effort vs twin", "effort, 0-1 scale, at the horizon", None),
    "cf_recipient_survival_diff_pp": ("Recipients' survival vs twin", "pp", True),
    "cf_recipient_value_added_diff_pct": ("Recipients' value added vs twin", "% (whole run)", True),
    "cf_nonrecipient_effort_diff": ("Non-recipients' effort vs twin", "effort, 0-1 scale, at the horizon", None),
    "cf_nonrecipient_survival_diff_pp": ("Non-recipients' survival vs twin", "pp", True),
    "cf_nonrecipient_value_added_diff_pct": ("Non-recipients' value added vs twin", "% (whole run)", True),
    "wd_recipients_share": ("Recipients at withdrawal", "share of firms alive then", None),
}
for _k in WINDOWS:
    CAUSAL_OUTCOMES.update({
        f"wd_recipient_value_added_drop_{_k}": (f"Recipients' value added drop, {_k} months after withdrawal",
                                                "% vs continuation", False),
        f"wd_recipient_survival_drop_{_k}": (f"Recipients' survival drop, {_k} months after withdrawal",
                                             "pp vs continuation", False),
        f"wd_recipient_effort_drop_{_k}": (f"Recipients' effort drop, {_k} months after withdrawal",
                                           "effort, 0-1 scale, vs continuation", False),
        f"wd_nonrecipient_value_added_drop_{_k}": (f"Non-recipients' value added drop, {_k} months after "
                                                   "withdrawal", "% vs continuation", None),
    })
PARTS = ("recipients", "nonrecipients", "entrants")
SPLIT_OUTCOMES = ("upgrades", "jobs", "value_added", "firms")
for _o in SPLIT_OUTCOMES:
    for _p in PARTS:
        CAUSAL_OUTCOMES[f"extra_{_o}_{_p}_per_bn"] = (f"Additional {_o.replace('_', ' ')}: {_p.replace('non', 'non-')}",
                                                     "per bn IDR spent" if _o != "value_added" else "IDR per IDR spent",
                                                     None)

COUNTERFACTUAL_OUTCOMES = ("cf_recipients_share", "cf_recipient_effort_diff", "cf_recipient_survival_diff_pp",
                           "cf_recipient_value_added_diff_pct", "cf_nonrecipient_effort_diff",
                           "cf_nonrecipient_survival_diff_pp", "cf_nonrecipient_value_added_diff_pct")
WITHDRAWAL_RECIPIENT_OUTCOMES = ("wd_recipients_share",) + tuple(
    f"wd_{who}_{what}_drop_{k}" for k in WINDOWS for who, what in
    (("recipient", "value_added"), ("recipient", "survival"), ("recipient", "effort"),
     ("nonrecipient", "value_added")))
COST_CAUSAL_OUTCOMES = ("budget_per_additional_upgrade_bn", "extra_upgrades_per_bn", "extra_jobs_per_bn",
                        "extra_value_added_per_bn", "extra_firms_per_bn", "extra_upgrades_per_1000")


def no_support_twin(sc):
    """The scenario with no budget, everything else equal (same seed in use: same initial firms)."""
    return sc.with_overrides({"budget_per_firm_month": 0.0}, source="the no-support twin")


def withdrawal_panel_months(month: int, n_months: int) -> tuple[int, ...]:
    """Snapshots of a withdrawal pair: just before withdrawal (month - 1) and 12 and 24 months on."""
    return tuple(m for m in (month - 1, *(month - 1 + k for k in WINDOWS)) if 0 <= m <= n_months)


# -- per-run aggregates from the tidy table ---------------------------------------------------------
def _totals(tidy: pd.DataFrame) -> pd.DataFrame:
    """Per (scenario label, seed): budget spent, upgrades, employment and firms at the horizon, value added
    summed over months 1..horizon (IDR)."""
    names = ("budget_spent_cumulative", "upgrades_cumulative", "employment", "firms_alive", "value_added")
    t = tidy[tidy["metric"].isin(names)]
    rows = {}
    for (scen, seed), g in t.groupby(["scenario", "seed"], sort=False):
        w = g.pivot_table(index="month", columns="metric", values="value", aggfunc="first").sort_index()
        last = w.iloc[-1]
        rows[(scen, int(seed))] = {
            "spent": float(last["budget_spent_cumulative"]), "upgrades": float(last["upgrades_cumulative"]),
            "jobs": float(last["employment"]), "firms": float(last["firms_alive"]),
            "value_added": float(w.loc[w.index >= 1, "value_added"].sum()), "n0": float(w["firms_alive"].iloc[0]),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def _at(panel: pd.DataFrame, month: int, initial_only: bool = False) -> pd.DataFrame | None:
    """The snapshot at ``month`` indexed by firm; ``initial_only``: the initial firms only (entrants
    differ between a run and its no-support twin; experiments/panel.py)."""
    p = panel[panel["month"] == month]
    if initial_only and "initial" in p:
        p = p[p["initial"].to_numpy(dtype=bool)]
    return p.set_index("firm_id").sort_index() if not p.empty else None


def _share_diff(a, b) -> float:
    return float(np.mean(a.astype(float) - b.astype(float))) if len(a) else float("nan")


def _effort_diff(a: pd.Series, b: pd.Series) -> float:
    d = (a - b).to_numpy(dtype=float)
    d = d[np.isfinite(d)]  # firms alive in both runs
    return float(d.mean()) if d.size else float("nan")


def _pct(a: float, b: float) -> float:
    return float((a - b) / b * 100) if b > 0 else float("nan")


def firm_differences(s: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    """Per initial firm at one month: scenario minus twin (``s``, ``t``: snapshots indexed by firm_id)."""
    t = t.reindex(s.index)
    return pd.DataFrame({
        "ever_recipient": s["ever_recipient"].to_numpy(), "support_cum": s["support_cum"].to_numpy(),
        "d_alive": s["alive"].to_numpy(dtype=float) - t["alive"].to_numpy(dtype=float),
        "d_effort": s["effort"].to_numpy() - t["effort"].to_numpy(),
        "d_value_added_cum": s["va_cum"].to_numpy() - t["va_cum"].to_numpy(),
        "d_upgrades": s["upgrades"].to_numpy(dtype=float) - t["upgrades"].to_numpy(dtype=float),
        "d_workers": s["workers"].to_numpy() - t["workers"].to_numpy(),
    }, index=s.index)


def counterfactual_rows(s: pd.DataFrame, t: pd.DataFrame, n0: float) -> dict[str, float]:
    """Recipients' and non-recipients' differences (scenario - no-support twin) at the horizon."""
    t = t.reindex(s.index)
    rec = s["ever_recipient"].to_numpy(dtype=bool)
    out = {"cf_recipients_share": float(rec.sum() / n0) if n0 else float("nan")}
    for who, m in (("recipient", rec), ("nonrecipient", ~rec)):
        out[f"cf_{who}_effort_diff"] = _effort_diff(s["effort"][m], t["effort"][m])
        out[f"cf_{who}_survival_diff_pp"] = _share_diff(s["alive"][m], t["alive"][m]) * 100
        out[f"cf_{who}_value_added_diff_pct"] = _pct(float(s["va_cum"][m].sum()), float(t["va_cum"][m].sum()))
    return out


def total_rows(tot_s: dict, tot_t: dict) -> dict[str, float]:
    """Causal totals over all firms (entrants too): scenario - twin, per bn IDR the scenario spent."""
    spent_bn = tot_s["spent"] / 1e9
    out = {"extra_upgrades_per_1000": (tot_s["upgrades"] - tot_t["upgrades"]) / tot_s["n0"] * 1000}
    for name in SPLIT_OUTCOMES:
        scale = 1e9 if name == "value_added" else 1.0  # value added per IDR: bn IDR per bn IDR
        out[f"extra_{name}_per_bn"] = ((tot_s[name] - tot_t[name]) / scale / spent_bn if spent_bn > 0
                                       else float("nan"))
    return out


def split_rows(s: pd.DataFrame, t: pd.DataFrame, tot_s: dict, tot_t: dict) -> dict[str, float]:
    """The causal totals split into ever-recipients, non-recipient initial firms and entrants (the rest:
    firms that entered after month 0), per bn IDR spent; ``s``, ``t``: snapshots at the horizon."""
    spent_bn = tot_s["spent"] / 1e9
    out = {}
    t = t.reindex(s.index)
    rec = s["ever_recipient"].to_numpy(dtype=bool)
    cols = {"upgrades": "upgrades", "jobs": "workers", "value_added": "va_cum", "firms": "alive"}
    for name, col in cols.items():
        scale = 1e9 if name == "value_added" else 1.0
        d_total = tot_s[name] - tot_t[name]
        d = s[col].to_numpy(dtype=float) - t[col].to_numpy(dtype=float)
        parts = {"recipients": float(d[rec].sum()), "nonrecipients": float(d[~rec].sum())}
        parts["entrants"] = d_total - parts["recipients"] - parts["nonrecipients"]
        for p, v in parts.items():
            out[f"extra_{name}_{p}_per_bn"] = v / scale / spent_bn if spent_bn > 0 else float("nan")
    return out


def withdrawal_rows(w: pd.DataFrame, c: pd.DataFrame, month: int, n_months: int) -> dict[str, float]:
    """Recipients at withdrawal (received support in the 12 months before it: the state at month - 1,
    the same in both runs; initial firms and entrants alike) followed 12 and 24 months:
    drop = continuation (``c``) - withdrawn (``w``)."""
    base = _at(c, month - 1)
    if base is None:
        return {}
    rec = base["recipient"].to_numpy(dtype=bool)
    alive = base["alive"].to_numpy(dtype=bool)
    out = {"wd_recipients_share": float(rec.sum() / alive.sum()) if alive.any() else float("nan")}
    for k in WINDOWS:
        e = month - 1 + k
        cw, ww = _at(c, e), _at(w, e)
        if e > n_months or cw is None or ww is None:
            continue
        # the firms followed from month - 1 (later snapshots also hold entrants that joined since)
        cw, ww = cw.reindex(base.index), ww.reindex(base.index)
        for who, m in (("recipient", rec), ("nonrecipient", ~rec)):
            va_c = float((cw["va_cum"][m] - base["va_cum"][m]).sum())
            va_w = float((ww["va_cum"][m] - base["va_cum"][m]).sum())
            out[f"wd_{who}_value_added_drop_{k}"] = -_pct(va_w, va_c) if va_c > 0 else float("nan")
            if who == "recipient":
                out[f"wd_recipient_survival_drop_{k}"] = _share_diff(cw["alive"][m], ww["alive"][m]) * 100
                out[f"wd_recipient_effort_drop_{k}"] = _effort_diff(cw["effort"][m], ww["effort"][m])
    return out


def causal_outcomes(tidy: pd.DataFrame, panels: dict[tuple[str, int], pd.DataFrame], twins: dict[str, str],
                    pairs: dict[str, tuple[str, str, int]] | None = None,
                    firm_rows: list | None = None) -> pd.DataFrame:
    """One row per (scenario, seed, causal outcome), like ``metrics.outcomes_table``.

    ``twins[S]`` is the label of S's no-support twin; ``pairs[S] = (with, without, month)`` its withdrawal
    pair. Totals come from ``tidy``; the per-firm parts from ``panels[(label, seed)]``, when present.
    ``firm_rows``: if a list, per-firm differences (scenario - twin, at the horizon) are appended to it.
    """
    tot = _totals(tidy)
    rows = []
    for scen, twin in twins.items():
        for seed in sorted({s for (lab, s) in tot.index if lab == scen}):
            if (twin, seed) not in tot.index:
                continue
            a, b = tot.loc[(scen, seed)].to_dict(), tot.loc[(twin, seed)].to_dict()
            vals = total_rows(a, b)
            ps, pt = panels.get((scen, seed)), panels.get((twin, seed))
            if ps is not None and pt is not None:
                n = int(ps["month"].max())
                s, t = _at(ps, n, initial_only=True), _at(pt, n, initial_only=True)
                if s is not None and t is not None:
                    vals.update(split_rows(s, t, a, b))
                    vals.update(counterfactual_rows(s, t, a["n0"]))
                    if firm_rows is not None:
                        d = firm_differences(s, t).reset_index()
                        d.insert(0, "seed", seed)
                        d.insert(0, "scenario", scen)
                        firm_rows.append(d)
            rows += [(scen, seed, k, float(v)) for k, v in vals.items()]
    horizon = tidy.groupby("scenario")["month"].max().to_dict() if len(tidy) else {}
    for scen, (with_label, without_label, month) in (pairs or {}).items():
        for (lab, seed), pw in sorted(panels.items(), key=lambda kv: kv[0][1]):
            if lab != with_label or (without_label, seed) not in panels:
                continue
            n = int(horizon.get(with_label, 0))
            for k, v in withdrawal_rows(pw, panels[(without_label, seed)], month, n).items():
                rows.append((scen, seed, k, float(v)))
    return pd.DataFrame(rows, columns=["scenario", "seed", "metric", "value"])


def per_seed_cost(per_bn: float) -> float:
    """One seed's budget per additional upgrade (bn IDR): undefined when it bought none."""
    return 1.0 / per_bn if np.isfinite(per_bn) and per_bn > 0 else float("nan")


def cost_per_additional_upgrade(per_bn: np.ndarray) -> tuple[float, float, float, int, str]:
    """Budget per additional upgrade (bn IDR) with its 95 % interval, from additional upgrades per bn IDR
    in each seed: the reciprocal of the mean (a ratio of totals when every seed spends the same), and
    the reciprocals of the interval's ends (Fieller-type: the interval of a ratio is not symmetric).
    When the interval of upgrades per bn reaches zero or below, the budget may buy no additional
    upgrade at all: the upper end is unbounded (inf); when the mean is not positive, no cost is defined.
    """
    m, lo, hi, n = mean_ci(per_bn)
    if n == 0 or not np.isfinite(m):
        return float("nan"), float("nan"), float("nan"), n, "no budget spent"
    if m <= 0:
        return float("nan"), float("nan"), float("nan"), n, (
            f"the budget bought no additional upgrade on average ({m:.3g} per bn IDR): no cost per upgrade")
    if not np.isfinite(lo):  # one seed: no interval
        return 1 / m, float("nan"), float("nan"), n, ""
    low = 1 / hi if hi > 0 else float("nan")
    high = 1 / lo if lo > 0 else float("inf")
    note = "" if lo > 0 else "the interval of additional upgrades includes zero: the upper end is unbounded"
    return 1 / m, low, high, n, note


def summarise_causal(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Rows for ``stats.summarise``'s table: budget per additional upgrade per scenario (from the seeds'
    additional upgrades per bn IDR)."""
    rows = []
    g = outcomes[outcomes["metric"] == "extra_upgrades_per_bn"]
    for scen, x in g.groupby("scenario", sort=False):
        m, lo, hi, n, note = cost_per_additional_upgrade(x["value"].to_numpy(dtype=float))
        rows.append((scen, "budget_per_additional_upgrade_bn", m, lo, hi, n, int(len(x) - n), note))
    return pd.DataFrame(rows, columns=["scenario", "metric", "mean", "ci_low", "ci_high", "n", "n_undefined",
                                       "note"])
