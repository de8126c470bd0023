"""Run-level outcomes from the tidy monthly results: growth, dependence, cost-effectiveness, the
withdrawal test and size-class transition matrices.

Input everywhere is the tidy long table ``run_id, scenario, seed, month, metric, value``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.params import SIZE_CLASSES

from .causal import CAUSAL_OUTCOMES

WITHDRAWAL_SUFFIX = "@withdrawal"
NO_WITHDRAWAL_SUFFIX = "@no-withdrawal"
WITHDRAWAL_WINDOW = 24  # months after the end of programmes over which the drop is measured

# outcome name -> (label for reports, unit, higher is better?)
OUTCOMES: dict[str, tuple[str, str, bool | None]] = {
    # total MSME value added: producers' and the traders' who carry their goods (model/reporters.py)
    "value_added_growth": ("MSME value added growth", "% a year", True),
    "producer_value_added_growth": ("Producers' value added growth", "% a year", True),
    "employment_growth": ("Employment growth", "% a year", True),
    "productivity_growth": ("Labour productivity growth", "% a year", True),
    "survival_rate": ("Survival of initial firms", "share of initial firms, end", True),
    "upgrades_per_1000": ("Size-class upgrades (naik kelas)", "per 1,000 initial firms", True),
    "stage_3_share": ("Selling online (stage 3.0)", "share of firms, end", True),
    "cluster_member_share": ("Cluster members", "share of firms, end", True),
    "online_sales_share": ("Online sales", "share of revenue, end", True),
    "gini_value_added": ("Inequality of value added", "Gini", False),
    "regional_disparity": ("Regional disparity", "CV of regional mean", False),
    # dependence over recipients: firms supported in the last 12 months (docs/ODD.md 7.10)
    "recipients_share": ("Recipients (supported in the last 12 months)", "share of firms, mean", None),
    "recipient_support_share_income": ("Support / recipients' income (12-month averages)", "share of income, mean",
                                       False),
    "recipient_support_above_10pct_share": ("Recipients with support above 10 % of income", "share of recipients, "
                                            "mean", False),
    "recipient_loss_without_support_share": ("Recipients loss-making without support", "share of those not "
                                             "loss-making before their first support, mean", False),
    "chronic_recipient_share": ("Chronic recipients", "share of recipients, end", False),
    "effort_gap": ("Effort gap: other firms minus recipients", "effort, 0-1 scale, mean", False),
    "recipient_effort_change": ("Recipients' effort change since first support", "effort, 0-1 scale, mean", True),
    "recipient_self_reliance": ("Recipients' self-reliance (SDT)", "0-1, end", True),
    # the same over all firms (diluted by the firms that receive nothing)
    "support_share_income_all_firms": ("Support / income, all firms", "share of income, mean", False),
    "loss_without_support_share_all_firms": ("Loss-making without support, all firms", "share of firms, mean",
                                             False),
    "chronic_recipient_share_all_firms": ("Chronic recipients, all firms", "share of firms, end", False),
    "self_reliance": ("Self-reliance (SDT), all firms", "0-1, end", True),
    "budget_spent_bn": ("Budget spent", "bn IDR, whole run", None),
    "lost_share": ("Budget lost to overhead, duplication, capture", "share of spending", False),
    "overhead_share": ("Overhead", "share of spending", False),
    "duplication_share": ("Duplication", "share of spending", False),
    "capture_share": ("Capture", "share of spending", False),
    "withdrawal_value_added_drop": ("Withdrawal: value added drop", "% vs no withdrawal", False),
    "withdrawal_survival_drop": ("Withdrawal: survival drop", "pp vs no withdrawal", False),
    "withdrawal_upgrades_drop": ("Withdrawal: upgrades lost", "per 1,000 initial firms", False),
}
# causal outcomes (scenario vs its no-support and withdrawal twins, analysis/causal.py): the budget's cost
# per *additional* upgrade replaces budget / all upgrades, which credited the budget with every upgrade
OUTCOMES.update(CAUSAL_OUTCOMES)


@dataclass(frozen=True)
class Shown:
    """How a reader sees an outcome, in every table, figure and sentence of a report (one source, so they
    cannot disagree). The CSV files keep the raw value (``raw_unit``; shares as fractions 0-1)."""

    label: str
    unit: str        # unit of the shown value, e.g. "% of firms, end"
    scale: float     # shown value = raw value x scale
    diff_unit: str   # unit of a difference of two shown values (of percents: "pp", percentage points)
    raw_unit: str    # unit of the value in the CSV files
    better: bool | None
    digits: int = 3  # significant digits (analysis.report.fmt)

    @property
    def unit_over_time(self) -> str:
        """The unit without the summary over months (", mean" / ", end"): for a time-series axis."""
        return re.sub(r", (mean|end)$", "", self.unit)

    def value(self, raw: float) -> float:
        return raw * self.scale


def _shown(name: str, label: str, raw_unit: str, better: bool | None) -> Shown:
    """The display convention: a share (fraction) is shown as a percent, and a difference of percents in
    percentage points (pp); "points" alone is never used. Effort is on its own 0-1 scale."""
    if raw_unit.startswith("share"):
        unit = "%" + raw_unit[len("share"):]
        return Shown(label, unit, 100.0, "pp", raw_unit, better)
    if raw_unit.startswith("%"):   # growth rates and relative drops already in percent
        return Shown(label, raw_unit, 1.0, "pp a year" if raw_unit == "% a year" else "pp", raw_unit, better)
    if raw_unit.startswith("pp"):  # already a difference of percents
        return Shown(label, raw_unit, 1.0, "pp", raw_unit, better)
    return Shown(label, raw_unit, 1.0, re.sub(r", (mean|end)$", "", raw_unit), raw_unit, better)


SHOWN: dict[str, Shown] = {k: _shown(k, *v) for k, v in OUTCOMES.items()}


def shown(metric: str) -> Shown:
    """The display of ``metric`` (label, unit, scale, unit of differences)."""
    return SHOWN[metric]


def outcome_units() -> pd.DataFrame:
    """The outcome metadata table, written beside the CSV files (``outcome_units.csv``)."""
    return pd.DataFrame([{"metric": k, "label": v.label, "csv_unit": v.raw_unit, "report_unit": v.unit,
                          "report_scale": v.scale, "difference_unit": v.diff_unit} for k, v in SHOWN.items()])
# Parameters as a reader sees them in sweep and sensitivity reports: a short label with the unit of the value as it
# is written in scenario files (0-1 for shares and probabilities, which are not rescaled: the tables show the
# values a user types). The raw name follows in tables so a reader can find it in a file; every parameter of
# model.params has one (tests/test_report_units.py).
PARAM_LABELS: dict[str, str] = {
    "governance_mode": "Governance mode",
    "budget_per_firm_month": "Budget (IDR per firm a month)",
    "grant_amount": "Cash grant size (IDR)",
    **{f"mix_{k}": f"Budget weight: {v}" for k, v in {
        "market_access": "market access", "hr_training": "training", "product_development": "product development",
        "licensing": "licensing help", "financing": "bank linkage", "logistics": "logistics",
        "kur_credit": "KUR credit", "grants": "cash grants", "tax_relief": "tax relief",
        "ecommerce_promotion": "e-commerce promotion", "shared_facilities": "shared facilities"}.items()},
    "targeting": "Targeting rule",
    "renew_clients": "Ministries renew past clients first",
    "max_eligible_class": "Largest eligible size class",
    "phase_out_month": "Month programmes end (0 = never)",
    "phase_out_taper_months": "Phase-out taper (months)",
    "cluster_programme": "Cluster programme (on/off)",
    "cluster_coverage_target": "Cluster coverage target (0-1)",
    "ecommerce_onboarding": "E-commerce onboarding (on/off)",
    "platform_outreach": "Platform outreach (monthly probability)",
    "platform_service_share": "Platform services' budget share (0-1)",
    "council_staff_share": "Council staff budget share (0-1)",
    "council_participation": "Council participation (0-1 of firms)",
    "internet_penetration_start": "Internet penetration at month 0 (0-1)",
    "internet_growth_per_year": "Internet penetration rise (a year, 0-1)",
    "demand_growth_per_year": "Outside demand growth (a year, 0-1)",
    "income_spending_share": "MSME income spent on MSME goods (0-1)",
    "price_sensitivity": "Customers' price sensitivity (elasticity)",
    "customer_churn": "Customer churn (a month, 0-1)",
    "unserved_churn": "Unserved customers who leave (0-1)",
    "appeal_persistence": "Persistence of firm appeal (monthly AR(1))",
    "online_demand_share": "Online share of spending at full internet (0-1)",
    "shock_enabled": "Crisis shock (on/off)",
    "shock_month": "Crisis start (month)",
    "shock_duration_months": "Crisis length (months)",
    "shock_demand_cut": "Crisis: demand cut (0-1)",
    "shock_supply_cut": "Crisis: input cost rise (0-1)",
    "shock_credit_tightening": "Crisis: loans refused (0-1)",
    "shock_rate_premium": "Crisis: loan rate premium (relative)",
    "shock_online_shift": "Crisis: shift to online demand (0-1)",
    "collaboration_softening": "Crisis exposure removed by shared resources (0-1)",
    "capture_rate": "Local capture of council budgets (0-1)",
    "dependence_elasticity": "Effort lost per unit of support (elasticity)",
    "council_step_cost": "Cost of a council capacity step (IDR per firm)",
    "council_staff_turnover": "Council staff turnover (a month, 0-1)",
    "participation_time_cost": "Effort given to council activities (0-1)",
    "council_capacity_spread": "Spread of council speed across regions",
    "commercial_interest_rate": "Commercial loan rate (a year)",
    "kur_interest_rate": "KUR loan rate (a year)",
    "moneylender_interest_rate": "Moneylender rate (a year)",
    "coop_interest_rate": "Cooperative / BPR loan rate (a year)",
    "outside_option_share": "Owner's outside option (share of wage, 0-1)",
    "wage_growth_per_year": "Real wage growth (a year)",
    "productivity_volatility": "Productivity shocks (monthly s.d., log)",
    "exit_hazard": "Exogenous exit hazard (a month)",
    "entry_rate": "Entry rate (entrants per firm a month)",
    "entry_elasticity": "Entry response to spending (elasticity)",
    "middleman_margin": "Middleman margin (0-1 of sales)",
    "trade_cost": "Traders' cost (0-1 of value traded)",
    "trader_bargaining_power": "Traders' bargaining power (0-1)",
    "network_effect": "Marketplace network effect (elasticity)",
    "central_overhead": "Overhead, centralised programmes (0-1)",
    "council_overhead": "Overhead, regional councils (0-1)",
    "platform_overhead": "Overhead, platform (0-1)",
    "central_lag_months": "Delivery lag, centralised (months)",
    "local_lag_months": "Delivery lag, councils and platform (months)",
    "awareness_base": "Awareness of national programmes (probability)",
    "n_firms": "Initial firms",
    "n_months": "Months simulated",
    "n_regions": "Regions",
    "n_marketplaces": "Marketplaces",
    "n_ministries": "Ministries",
    "start_year": "Calendar year of month 0",
    "wage_per_worker": "Wage per worker (IDR a month)",
    "cluster_mean_size": "Mean cluster size (firms)",
    "chronic_months": "Months of support that make a chronic recipient",
    "msme_agents": "One Mesa agent per firm (on/off)",
    "burn_in_months": "Burn-in (months)",
}


def param_label(name: str, with_name: bool = False) -> str:
    """The readable label of parameter ``name`` (its raw name after it with ``with_name``, for tables: the
    name a user writes in a file). An unknown name is shown as it is."""
    lab = PARAM_LABELS.get(name, name)
    return f"{lab} (`{name}`)" if with_name and lab != name else lab


HEADLINE_OUTCOMES = ("value_added_growth", "employment_growth", "survival_rate", "upgrades_per_1000",
                     "stage_3_share", "recipients_share", "recipient_support_share_income",
                     "recipient_loss_without_support_share", "chronic_recipient_share", "effort_gap",
                     "self_reliance", "budget_per_additional_upgrade_bn", "lost_share",
                     "withdrawal_value_added_drop")


def wide(df: pd.DataFrame) -> pd.DataFrame:
    """Monthly metrics of one run as month x metric (transition metrics excluded)."""
    m = df[~df["metric"].str.startswith("transition_") & (df["metric"] != "run_seconds")]
    return m.pivot_table(index="month", columns="metric", values="value", aggfunc="first").sort_index()


def _annual_growth(series: pd.Series) -> float:
    s = series.to_numpy()
    months = series.index.to_numpy()
    a, b = s[0], s[-1]
    years = (months[-1] - months[0]) / 12.0
    if a <= 0 or b <= 0 or years <= 0:
        return float("nan")
    return float((b / a) ** (1 / years) - 1) * 100


def run_outcomes(w: pd.DataFrame, n_initial: float) -> dict[str, float]:
    """Outcomes of one run from its wide monthly table."""
    last = w.iloc[-1]
    spent = float(last["budget_spent_cumulative"])
    upgrades = float(last["upgrades_cumulative"])
    tot = {k: float(w[k].sum()) for k in ("overhead_cost", "duplication_cost", "capture_cost")}
    out = {
        "value_added_growth": _annual_growth(w["value_added"]),
        # runs stored before traders' value added was reported have no producers' column
        "producer_value_added_growth": (_annual_growth(w["producer_value_added"]) if "producer_value_added" in w
                                        else float("nan")),
        "employment_growth": _annual_growth(w["employment"]),
        "productivity_growth": _annual_growth(w["productivity"]),
        "survival_rate": float(last["survival_rate"]),
        "upgrades_per_1000": upgrades / n_initial * 1000,
        "stage_3_share": float(last["stage_3_share"]),
        "online_sales_share": float(last["online_sales_share"]),
        # runs stored before cluster membership was reported have no column
        "cluster_member_share": float(last["cluster_member_share"]) if "cluster_member_share" in w else float("nan"),
        "gini_value_added": float(last["gini_value_added"]),
        "regional_disparity": float(last["regional_disparity"]),
        **dependence_outcomes(w),
        "self_reliance": float(last["self_reliance"]),
        "budget_spent_bn": spent / 1e9,
        "lost_share": sum(tot.values()) / spent if spent > 0 else 0.0,
        "overhead_share": tot["overhead_cost"] / spent if spent > 0 else 0.0,
        "duplication_share": tot["duplication_cost"] / spent if spent > 0 else 0.0,
        "capture_share": tot["capture_cost"] / spent if spent > 0 else 0.0,
    }
    return out


# run outcome -> (monthly metric, how it is summarised: "mean" over months 1.., "end" = last month,
# scale of the value)
DEPENDENCE_OUTCOMES: dict[str, tuple[str, str, float]] = {
    "recipients_share": ("recipients_share", "mean", 1.0),
    "recipient_support_share_income": ("recipient_support_share_income", "mean", 1.0),
    "recipient_support_above_10pct_share": ("recipient_support_above_10pct_share", "mean", 1.0),
    "recipient_loss_without_support_share": ("recipient_loss_without_support_share", "mean", 1.0),
    "chronic_recipient_share": ("chronic_recipient_share", "end", 1.0),
    "effort_gap": ("effort_gap", "mean", 1.0),
    "recipient_effort_change": ("recipient_effort_change", "mean", 1.0),
    "recipient_self_reliance": ("recipient_self_reliance", "end", 1.0),
    "support_share_income_all_firms": ("support_share_income_all_firms", "mean", 1.0),
    "loss_without_support_share_all_firms": ("loss_without_support_share_all_firms", "mean", 1.0),
    "chronic_recipient_share_all_firms": ("chronic_recipient_share_all_firms", "end", 1.0),
}


def dependence_outcomes(w: pd.DataFrame) -> dict[str, float]:
    """The dependence outcomes of one run (recipients' and all firms'); NaN for a metric the run did
    not record (runs stored before the recipient metrics). Month 0 is left out of means: no support
    has arrived yet (ODD, Known limitations)."""
    out = {}
    for name, (col, how, scale) in DEPENDENCE_OUTCOMES.items():
        if col not in w:
            out[name] = float("nan")
        elif how == "mean":
            out[name] = float(w[col].iloc[1:].mean()) * scale
        else:
            out[name] = float(w[col].iloc[-1]) * scale
    return out


def withdrawal_outcomes(w_with: pd.DataFrame, w_without: pd.DataFrame, month: int, n_initial: float,
                        window: int = WITHDRAWAL_WINDOW) -> dict[str, float]:
    """The withdrawal test: drop in growth and survival after programmes end, against the same
    scenario and seed without withdrawal."""
    months = [m for m in w_with.index if month <= m < month + window and m in w_without.index]
    if not months:
        return {}
    a = w_with.loc[months]
    b = w_without.loc[months]
    end = months[-1]
    return {
        "withdrawal_value_added_drop": float(((b["value_added"] - a["value_added"]) / b["value_added"]).mean() * 100),
        "withdrawal_survival_drop": float((b.loc[end, "survival_rate"] - a.loc[end, "survival_rate"]) * 100),
        "withdrawal_upgrades_drop": float((b.loc[end, "upgrades_cumulative"] - a.loc[end, "upgrades_cumulative"])
                                          / n_initial * 1000),
    }


def is_auxiliary(label: str) -> bool:
    """Runs that exist only for the withdrawal test (``S@withdrawal``, ``S@no-withdrawal``)."""
    return "@" in label


def outcomes_table(tidy: pd.DataFrame, pairs: dict[str, tuple[str, str, int]] | None = None) -> pd.DataFrame:
    """One row per (scenario, seed, outcome): run outcomes plus the withdrawal test.

    ``pairs[S] = (with_label, without_label, month)`` names, for scenario ``S``, the runs with
    programmes withdrawn at ``month`` and the same seeds without withdrawal.
    """
    rows = []
    walls = {}
    for (scen, seed), g in tidy.groupby(["scenario", "seed"], sort=False):
        w = wide(g)
        walls[(scen, seed)] = w
        if is_auxiliary(scen):
            continue
        n0 = float(w["firms_alive"].iloc[0])
        for k, v in run_outcomes(w, n0).items():
            rows.append((scen, seed, k, v))
    for scen, (with_label, without_label, month) in (pairs or {}).items():
        seeds = sorted({s for (lab, s) in walls if lab == with_label})
        for seed in seeds:
            if (without_label, seed) not in walls:
                continue
            a = walls[(with_label, seed)]
            n0 = float(a["firms_alive"].iloc[0])
            for k, v in withdrawal_outcomes(a, walls[(without_label, seed)], month, n0).items():
                rows.append((scen, seed, k, v))
    return pd.DataFrame(rows, columns=["scenario", "seed", "metric", "value"])


def withdrawal_gap_series(tidy: pd.DataFrame, pairs: dict[str, tuple[str, str, int]],
                          metric: str = "value_added") -> pd.DataFrame:
    """Per scenario, seed and month: relative gap (with - without withdrawal) / without, in %."""
    out = []
    for scen, (with_label, without_label, _month) in pairs.items():
        a = tidy[(tidy["scenario"] == with_label) & (tidy["metric"] == metric)].set_index(["seed", "month"])["value"]
        b = tidy[(tidy["scenario"] == without_label) & (tidy["metric"] == metric)].set_index(["seed", "month"])["value"]
        gap = ((a - b) / b.replace(0, np.nan) * 100).dropna().rename("value").reset_index()
        gap["scenario"] = scen
        out.append(gap)
    if not out:
        return pd.DataFrame(columns=["seed", "month", "value", "scenario"])
    return pd.concat(out, ignore_index=True)


def transition_matrix(tidy: pd.DataFrame, scenario: str) -> pd.DataFrame:
    """Mean size-class transition matrix (rows: class at start; columns: class at end or exit),
    as shares of the row's firms, over the scenario's seeds."""
    t = tidy[(tidy["scenario"] == scenario) & tidy["metric"].str.startswith("transition_")]
    if t.empty:
        return pd.DataFrame()
    mean = t.groupby("metric")["value"].mean()
    cols = list(SIZE_CLASSES) + ["exit"]
    mat = pd.DataFrame(0.0, index=list(SIZE_CLASSES[:3]), columns=cols)
    for i in mat.index:
        for j in cols:
            mat.loc[i, j] = mean.get(f"transition_{i}_to_{j}", 0.0)
    shares = mat.div(mat.sum(axis=1).replace(0, np.nan), axis=0)
    return shares
