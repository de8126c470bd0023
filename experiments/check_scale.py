"""Referee's check of scale invariance (core v2, stage 6, point 9): do per-firm outcomes depend on
how many firms are simulated?

    python -m experiments.check_scale [N_SMALL] [N_LARGE] [SEEDS] [MONTHS] [SCENARIO ...]
        (defaults 10,000 and 100,000 firms, 3 seeds, 120 months, every bundled scenario:
        the default comparison of ``python run.py``)

Prints (Markdown), for every scenario, per-firm outcomes at the two sizes as mean and 95 %
confidence interval over seeds (t distribution), and whether they agree: the two intervals overlap.
``tests/test_scale.py`` runs the same comparison at small sizes.
"""

from __future__ import annotations

import sys

import numpy as np

from analysis.stats import t_halfwidth
from model import MSMEEcosystem, load_scenario
from model.scenario import available_scenarios

# outcome -> (label, format)
OUTCOMES = {
    "va_growth": ("value-added growth %/yr", "{:.2f}"),
    "employment_growth": ("employment growth %/yr", "{:.2f}"),
    "share_micro": ("micro share, last month", "{:.4f}"),
    "share_small": ("small share, last month", "{:.4f}"),
    "share_medium": ("medium share, last month", "{:.4f}"),
    "upgrades_per_1000": ("upgrades per 1,000 initial firms", "{:.1f}"),
    "exit_rate": ("exit rate %/yr", "{:.2f}"),
    "support_share_income": ("support share of income, all firms (mean)", "{:.4f}"),
    "recipients_share": ("share of firms supported in the month (mean)", "{:.4f}"),
    "recipient_support_share_income": ("support share of recipients' income (mean)", "{:.4f}"),
    "chronic_recipient_share": ("chronic recipients, share of all firms, last month", "{:.4f}"),
    "self_reliance": ("self-reliance, last month", "{:.4f}"),
}


def outcomes(scenario: str, seed: int, n: int, months: int = 120, **kw) -> dict[str, float]:
    """Per-firm outcomes of one run (growth over the whole horizon; shares at its end or their mean)."""
    m = MSMEEcosystem(load_scenario(scenario), seed=seed, n_firms=n, n_months=months, msme_agents=False, **kw)
    df = m.run().metrics_frame()
    first, last = df.iloc[0], df.iloc[-1]
    yrs = months / 12.0
    out = {
        "va_growth": 100 * ((last["value_added"] / first["value_added"]) ** (1 / yrs) - 1),
        "employment_growth": 100 * ((last["employment"] / first["employment"]) ** (1 / yrs) - 1),
        "upgrades_per_1000": 1000 * last["upgrades_cumulative"] / first["firms_alive"],
        "exit_rate": 100 * 12 * float(df["exit_rate"].iloc[1:].mean()),
        "support_share_income": float(df["support_share_income_all_firms"].iloc[1:].mean()),
        "recipients_share": float(df["supported_month_share"].iloc[1:].mean()),
        "recipient_support_share_income": float(df["recipient_support_share_income"].iloc[1:].mean()),
        "chronic_recipient_share": float(last["chronic_recipient_share_all_firms"]),
    }
    for k in ("share_micro", "share_small", "share_medium", "self_reliance"):
        out[k] = float(last[k])
    return out


def mean_ci(values) -> tuple[float, float]:
    """Mean and the half-width of its 95 % confidence interval (t distribution)."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return float(v.mean()), float("inf")
    return float(v.mean()), t_halfwidth(float(v.std(ddof=1)), v.size)


def agree(a, b) -> bool:
    """The 95 % intervals of two sets of runs overlap."""
    (ma, ha), (mb, hb) = mean_ci(a), mean_ci(b)
    return abs(ma - mb) <= ha + hb


def compare(scenarios, sizes, seeds, months=120, **kw) -> dict:
    """``{scenario: {outcome: {size: [value per seed]}}}``."""
    res: dict = {}
    for scen in scenarios:
        for n in sizes:
            for seed in seeds:
                for k, v in outcomes(scen, seed, n, months, **kw).items():
                    res.setdefault(scen, {}).setdefault(k, {}).setdefault(n, []).append(v)
    return res


def main(argv: list[str]) -> None:
    small = int(argv[0]) if argv else 10_000
    large = int(argv[1]) if len(argv) > 1 else 100_000
    seeds = list(range(1, (int(argv[2]) if len(argv) > 2 else 3) + 1))
    months = int(argv[3]) if len(argv) > 3 else 120
    scenarios = argv[4:] or available_scenarios()
    res = compare(scenarios, (small, large), seeds, months)
    n_agree = n_all = 0
    print(f"\n### Scale invariance: per-firm outcomes at {small:,} and {large:,} firms, {months} months, "
          f"seeds {seeds[0]}-{seeds[-1]} (mean ± 95 % CI half-width)\n")
    print(f"| scenario | outcome | {small:,} firms | {large:,} firms | agree |")
    print("|---|---|---|---|---|")
    for scen in scenarios:
        for k, (label, fmt) in OUTCOMES.items():
            a, b = res[scen][k][small], res[scen][k][large]
            (ma, ha), (mb, hb) = mean_ci(a), mean_ci(b)
            ok = agree(a, b)
            n_agree += ok
            n_all += 1
            print(f"| {scen} | {label} | {fmt.format(ma)} ± {fmt.format(ha)} | {fmt.format(mb)} ± {fmt.format(hb)} | "
                  f"{'yes' if ok else 'NO'} |")
    print(f"\n{n_agree} of {n_all} outcomes agree (95 % intervals overlap; with {n_all} comparisons about "
          f"{max(1, round(0.006 * n_all))} may disagree by chance even if nothing depends on scale).")


if __name__ == "__main__":
    main(sys.argv[1:])
