"""Referee's checks of the economic core (core v2, stage 2): does growth come from demand that
answers to incomes, does concentration stay put without a policy change, how does a shock play out?

    python -m experiments.check_core [N_FIRMS] [SEEDS]      (defaults 5,000 firms, 3 seeds)

Prints four tables (Markdown): concentration with no policy change (exogenous trend 0, 10 years);
baseline value-added growth with each source switched off in turn (96 months); the shock's path
of value added, employment and firms against the same seeds without the shock, with and without
collaboration (48 months from onset); and each scenario's effect on total and producers' value added
against the baseline, with and without traders.
"""

from __future__ import annotations

import sys

import numpy as np

from model import MSMEEcosystem, load_scenario


def _run(scenario: str, seed: int, n: int, months: int, **kw) -> MSMEEcosystem:
    return MSMEEcosystem(load_scenario(scenario), seed=seed, n_firms=n, n_months=months, msme_agents=False,
                         **kw).run()


def top_share(va: np.ndarray, q: float = 0.01) -> float:
    """Share of the top ``q`` of firms in the sum of (non-negative) value added."""
    v = np.sort(np.maximum(va, 0.0))[::-1]
    k = max(1, int(round(q * v.size)))
    return float(v[:k].sum() / max(v.sum(), 1e-300))


def concentration(n: int, seeds: list[int]) -> None:
    print("\n### Concentration with no policy change (exogenous trend 0)\n")
    print("| year | Gini of value added | top-1 % share of value added | employment in firms of 100+ workers | "
          "exit rate (year) |")
    print("|---|---|---|---|---|")
    rows: dict[int, list] = {}
    for seed in seeds:
        m = MSMEEcosystem(load_scenario("baseline"), seed=seed, n_firms=n, n_months=120, msme_agents=False,
                          demand_growth_per_year=0.0)
        for year in (0, 1, 5, 10):
            if year:
                m.run(12 * year - m.month)
            f, k = m.firms, m.firms.n
            alive = f.alive[:k]
            va = np.maximum(f.value_added[:k][alive], 0)
            big = alive & (f.workers[:k] >= 100)
            df = m.metrics_frame()
            exit_rate = float(df["exits"].iloc[max(1, m.month - 11): m.month + 1].sum()
                              / max(df["firms_alive"].iloc[max(0, m.month - 12)], 1)) if year else float("nan")
            rows.setdefault(year, []).append((float(df["gini_value_added"].iloc[-1]), top_share(va),
                                              float(f.workers[:k][big].sum() / f.workers[:k][alive].sum()),
                                              exit_rate))
    for year, vals in rows.items():
        a = np.nanmean(np.array(vals), axis=0)
        print(f"| {year} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3%} | {a[3]:.1%} |")


def decomposition(n: int, seeds: list[int]) -> None:
    print("\n### Baseline value-added growth, each source switched off in turn (96 months)\n")
    variants = {
        "baseline (exogenous trend 5 %/yr)": {},
        "exogenous trend 0": {"demand_growth_per_year": 0.0},
        "no spending out of MSME incomes": {"income_spending_share": 0.0},
        "no online channel": {"online_demand_share": 0.0},
        "traders' margin = their trading cost (no bargaining rent)": {"middleman_margin": 0.10},
        "no traders (producers sell direct at no cost)": {"middleman_margin": 0.0},
        "no programme budget": {"budget_per_firm_month": 0.0},
    }
    print("| variant | total MSME value added %/yr | producers' value added %/yr | traders' share of value "
          "added, month 0 → 96 | employment growth %/yr | firms at month 96 / month 0 |")
    print("|---|---|---|---|---|---|")
    for name, kw in variants.items():
        g, gp, ts0, ts1, e, fr = [], [], [], [], [], []
        for seed in seeds:
            df = _run("baseline", seed, n, 96, **kw).metrics_frame()
            g.append(100 * ((df["value_added"].iloc[-1] / df["value_added"].iloc[0]) ** (12 / 96) - 1))
            gp.append(100 * ((df["producer_value_added"].iloc[-1] / df["producer_value_added"].iloc[0]) ** (12 / 96)
                             - 1))
            ts = df["trade_value_added"] / df["value_added"]
            ts0.append(100 * ts.iloc[0])
            ts1.append(100 * ts.iloc[-1])
            e.append(100 * ((df["employment"].iloc[-1] / df["employment"].iloc[0]) ** (12 / 96) - 1))
            fr.append(df["firms_alive"].iloc[-1] / df["firms_alive"].iloc[0])
        print(f"| {name} | {np.mean(g):.2f} ± {np.std(g):.2f} | {np.mean(gp):.2f} | {np.mean(ts0):.1f} → "
              f"{np.mean(ts1):.1f} % | {np.mean(e):.2f} | {np.mean(fr):.3f} |")


def shock_path(n: int, seeds: list[int]) -> None:
    print("\n### The shock (month 13, 12 months) against the same scenario and seeds without it: % difference\n")
    onset = 13
    months = onset + 48
    out = {}
    for scen in ("covid_shock", "covid_shock_collaborative"):
        diffs = []
        for seed in seeds:  # the twin: the same scenario (same levers) without the shock
            s = _run(scen, seed, n, months).metrics_frame()
            b = _run(scen, seed, n, months, shock_enabled=False).metrics_frame()
            diffs.append({k: 100 * (s[k] / b[k] - 1) for k in ("value_added", "employment", "firms_alive")})
        out[scen] = diffs
    print("| months after onset | VA (shock) | employment (shock) | firms (shock) | VA (collaborative) | "
          "employment (collaborative) | firms (collaborative) |")
    print("|---|---|---|---|---|---|---|")
    for k in (0, 3, 6, 9, 12, 18, 24, 36, 48):
        t = onset + k
        cells = []
        for scen in ("covid_shock", "covid_shock_collaborative"):
            for key in ("value_added", "employment", "firms_alive"):
                cells.append(f"{np.mean([d[key].iloc[t] for d in out[scen]]):+.1f}")
        print(f"| {k} | " + " | ".join(cells) + " |")


def scenario_effects(n: int, seeds: list[int]) -> None:
    print("\n### Scenario effects on value-added growth against the baseline (paired seeds, 96 months, pp/yr)\n")
    print("| scenario | total MSME value added | producers' value added | total, no traders |")
    print("|---|---|---|---|")

    def growth(df, col):
        return 100 * ((df[col].iloc[-1] / df[col].iloc[0]) ** (12 / 96) - 1)

    for scen in ("clustering", "self_governance", "collaborative_platform", "ecommerce_promotion", "phase_out"):
        cells = []
        for kw, cols in (({}, ("value_added", "producer_value_added")), ({"middleman_margin": 0.0}, ("value_added",))):
            d = {c: [] for c in cols}
            for seed in seeds:
                a = _run(scen, seed, n, 96, **kw).metrics_frame()
                b = _run("baseline", seed, n, 96, **kw).metrics_frame()
                for c in cols:
                    d[c].append(growth(a, c) - growth(b, c))
            cells += [f"{np.mean(v):+.2f} ± {np.std(v):.2f}" for v in d.values()]
        print(f"| {scen} | " + " | ".join(cells) + " |")


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 5000
    seeds = list(range(1, (int(argv[1]) if len(argv) > 1 else 3) + 1))
    concentration(n, seeds)
    decomposition(n, seeds)
    scenario_effects(n, seeds)
    shock_path(n, seeds)


if __name__ == "__main__":
    main(sys.argv[1:])
