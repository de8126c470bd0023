"""Dependence over recipients against the all-firm versions (docs/ODD.md 7.10): baseline,
self-governance, the collaborative platform and the baseline at 20x the budget.

    python -m experiments.check_recipients [--firms 5000] [--months 96] [--seeds 1 2 3]

Prints, per scenario, the mean over seeds (± sd over seeds) of each metric's mean over months 1..
(chronic shares: at the last month)."""

from __future__ import annotations

import argparse

import pandas as pd

from model import MSMEEcosystem, load_scenario
from model.params import DEFAULTS

METRICS = (
    "recipients_share", "supported_month_share", "recipient_support_share_income", "support_share_income_all_firms",
    "recipient_support_above_10pct_share", "recipient_loss_without_support_share",
    "loss_without_support_share_all_firms", "non_recipient_loss_making_share", "chronic_recipient_share",
    "chronic_recipient_share_all_firms", "recipient_effort", "non_recipient_effort", "effort_gap",
    "recipient_effort_change", "recipient_self_reliance", "self_reliance",
)
AT_END = ("chronic_recipient_share", "chronic_recipient_share_all_firms")
RUNS = (("baseline", "baseline", {}), ("self_governance", "self_governance", {}),
        ("collaborative_platform", "collaborative_platform", {}),
        ("baseline x20 budget", "baseline", {"budget_per_firm_month": 20 * DEFAULTS["budget_per_firm_month"]}))


def run(n_firms: int, months: int, seeds) -> pd.DataFrame:
    rows = []
    for label, scen, kw in RUNS:
        for seed in seeds:
            df = MSMEEcosystem(load_scenario(scen), seed=seed, n_firms=n_firms, n_months=months, msme_agents=False,
                               **kw).run().metrics_frame()
            r = {k: float(df[k].iloc[-1] if k in AT_END else df[k].iloc[1:].mean()) for k in METRICS}
            rows.append({"scenario": label, "seed": seed, **r})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--firms", type=int, default=5000)
    ap.add_argument("--months", type=int, default=96)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    a = ap.parse_args(argv)
    t = run(a.firms, a.months, a.seeds)
    g = t.groupby("scenario", sort=False)[list(METRICS)]
    out = g.mean().T.map(lambda v: f"{v:.4f}") + " ± " + g.std().T.map(lambda v: f"{v:.4f}")
    with pd.option_context("display.width", 250, "display.max_columns", 10):
        print(out.to_string())


if __name__ == "__main__":
    main()
