"""Checks of loans, cash and exits from the books (core v2, stage 4; points 5-6).

    python -m experiments.check_loans [N_FIRMS] [SEEDS]     (defaults 5,000 firms, 3 seeds)

Baseline with the exogenous trend at 0, 60 months. Prints (Markdown):
- returns to capital at the firms' own state, months 12, 36 and 60: the median monthly profit /
  capital (profit is the owner's income, so it includes the return to the owner's labour), the same
  net of an imputed owner wage (the real wage), and the median marginal return of capital to the
  firms that sell all they can make (``ALPHA x value added / capital - depreciation - maintenance``;
  for the others an extra rupiah of capital sells nothing: demand, not capital, binds them) and the
  share of firms that are capacity constrained;
- the exit rate by age (first year in business vs later) and by cause;
- the lenders' books over the run (disbursed, repaid, interest, defaults; default rate a year).

de Mel, McKenzie & Woodruff (2008, QJE 123(4)): marginal return 4.6-5.3 %/month; the literature note
derives a median average return (profit / capital) of 10-20 %/month including the owner's labour.
"""

from __future__ import annotations

import sys

import numpy as np

from model import MSMEEcosystem, finance, load_scenario
from model.finance import LEDGER_FIELDS, LENDERS
from model.production import ALPHA


def returns(m) -> tuple[float, float, float, float]:
    f, n = m.firms, m.firms.n
    a = f.alive[:n] & (f.capital[:n] > 0)
    k = f.capital[:n][a]
    pr = f.profit[:n][a]
    wage = finance.real_wage(m)
    busy = f.utilisation[:n][a] >= 0.999
    mpk = ALPHA * f.value_added[:n][a] / k - finance.DEPRECIATION - finance.FIXED_CAPITAL
    return (float(np.median(pr / k)), float(np.median((pr - wage) / k)),
            float(np.median(mpk[busy])) if busy.any() else float("nan"), float(busy.mean()))


def main(n: int = 5000, seeds: int = 3) -> None:
    rows = {12: [], 36: [], 60: []}
    young, old, young_n, old_n = 0.0, 0.0, 0.0, 0.0
    ledgers = []
    exits, alive_months = 0, 0.0
    for seed in range(1, seeds + 1):
        m = MSMEEcosystem(load_scenario("baseline"), seed=seed, n_firms=n, n_months=60, msme_agents=False,
                          demand_growth_per_year=0.0)
        rows_0 = returns(m)
        rows.setdefault(0, []).append(rows_0)
        while m.running:
            f, k = m.firms, m.firms.n
            age = m.month - f.born[:k] + f.age0[:k]
            al = f.alive[:k].copy()
            ids = f.firm_id[:k][al]
            is_young = age[al] < 12
            m.step()
            died = m.firms.row_of(ids)
            dead = (died < 0) | ~m.firms.alive[np.maximum(died, 0)]
            if m.month > 12:  # after the first year (the start's transient)
                young += dead[is_young].sum()
                young_n += is_young.sum()
                old += dead[~is_young].sum()
                old_n += (~is_young).sum()
                exits += dead.sum()
                alive_months += al.sum()
            if m.month in rows:
                rows[m.month].append(returns(m))
        ledgers.append(m.loan_ledger[: m.month + 1].sum(axis=0))
    print(f"\n### Returns to capital (baseline, trend 0, {n} firms, seeds 1-{seeds})\n")
    print("| month | median profit/capital | median (profit - wage)/capital | median marginal return "
          "(capacity-bound firms) | share capacity-bound |")
    print("|---|---|---|---|---|")
    for month in sorted(rows):
        a = np.nanmean(np.array(rows[month]), axis=0)
        print(f"| {month} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} | {a[3]:.1%} |")
    print("\n### Exit rate a year, months 13-60\n")
    yr = lambda d, c: 1 - (1 - d / max(c, 1)) ** 12  # noqa: E731
    print(f"all firms {yr(exits, alive_months):.1%}; first year in business {yr(young, young_n):.1%}; "
          f"later {yr(old, old_n):.1%} (ratio {yr(young, young_n) / max(yr(old, old_n), 1e-9):.2f})")
    led = np.mean(ledgers, axis=0)
    print("\n### Lenders' books over 60 months (mean of seeds, IDR bn)\n")
    print("| lender | " + " | ".join(LEDGER_FIELDS) + " | defaults / disbursed |")
    print("|---|" + "---|" * (len(LEDGER_FIELDS) + 1))
    for j, name in enumerate(LENDERS):
        v = led[j]
        print(f"| {name} | " + " | ".join(f"{x / 1e9:.2f}" for x in v) + f" | {v[3] / max(v[0], 1e-9):.1%} |")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(*args)
