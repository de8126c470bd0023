"""Referee's check of the start (core v2, stage 5, point 7): with no policy change and the
exogenous trend at 0, does the firm population stay where month 0 puts it?

    python -m experiments.check_stationarity [N_FIRMS] [SEEDS] [BURN_IN_MONTHS|-] [flat|still]
        (defaults 10,000 firms, 3 seeds, the model's default burn-in; ``flat``: internet
        penetration held at its month-0 level too, so that no exogenous trend moves; ``still``:
        flat, and digital adoption paused after month 0 as in the burn-in, so that the digital
        transition -- a trend the model reproduces, 8 M -> 21.8 M firms online 2019-2023 -- does not
        move either)

Runs scenario ``baseline`` with ``demand_growth_per_year = 0`` for 20 years (240 months) and prints
(Markdown) class shares, Gini and top-1 % share of firm value added, mean self-reliance at years 0,
5, 10 and 20 against the tolerances of ``TOLERANCES`` (a pass/fail column), and the exit rate year
by year with the year-1 rate against the later years' mean (the issue asks for at most 1.3 times).
``tests/test_start.py`` runs the same check at a small size.
"""

from __future__ import annotations

import sys

import numpy as np

from experiments.check_core import top_share
from model import MSMEEcosystem, load_scenario

YEARS = (0, 5, 10, 20)
# Largest allowed |value at year y - value at month 0| (absolute; shares as fractions). Each is a
# few times the seed-to-seed standard error of the mean at 10^4 firms and 3 seeds, and below the
# drift measured without a burn-in (docs/CORE_V2.md, stage 5): a start that is not stationary fails.
TOLERANCES = {
    "share_micro": 0.005,        # 98.7 % at month 0; a 0.5-point move is ~40 % of the small class
    "share_small": 0.004,        # ~1.2 %
    "share_medium": 0.0015,      # ~0.1 %: a handful of firms at 10^4
    "gini_value_added": 0.03,    # without a burn-in it falls 0.69 -> 0.58 in 10 years
    "top1_share": 0.04,          # without a burn-in 41 % -> 19 % in 10 years
    "self_reliance": 0.01,       # without a burn-in 0.52 -> 0.555
    "exit_rate": 0.02,           # yearly exit rate, ~8-9 %/yr
}
EXIT_RATIO_MAX = 1.3             # year-1 exit rate / mean of years 2..20 (the criterion)
LABELS = {"share_micro": "micro share", "share_small": "small share", "share_medium": "medium share",
          "gini_value_added": "Gini of value added", "top1_share": "top-1 % share of value added",
          "self_reliance": "mean self-reliance", "exit_rate": "exit rate (the year to date)"}


def run(seed: int, n: int, years: int = 20, diffusion: bool = True, **kw) -> dict:
    """One run of the check: ``{"at": {year: {measure: value}}, "exit_by_year": [...]}``.
    ``diffusion`` false pauses digital adoption after month 0 too, as the burn-in does."""
    months = 12 * years
    kw = {"demand_growth_per_year": 0.0, **kw}
    m = MSMEEcosystem(load_scenario("baseline"), seed=seed, n_firms=n, n_months=months, msme_agents=False, **kw)
    m.diffusion = diffusion
    at = {}
    for year in sorted({y for y in YEARS if y <= years} | {years}):
        if year:
            m.run(12 * year - m.month)
        f, k = m.firms, m.firms.n
        alive = f.alive[:k]
        row = m.metrics_frame().iloc[-1]
        at[year] = {name: float(row[name]) for name in ("share_micro", "share_small", "share_medium",
                                                        "gini_value_added", "self_reliance")}
        at[year]["top1_share"] = top_share(f.value_added[:k][alive])
    df = m.metrics_frame()
    exits = df["exits"].to_numpy()
    alive_n = df["firms_alive"].to_numpy()
    by_year = [float(exits[12 * y + 1: 12 * y + 13].sum() / max(alive_n[12 * y], 1)) for y in range(years)]
    for year in at:
        at[year]["exit_rate"] = by_year[year - 1] if year else float("nan")
    return {"at": at, "exit_by_year": by_year, "burn_in_s": m.burn_in_seconds}


def exit_ratio(by_year: list[float]) -> float:
    """Year-1 exit rate over the mean of the later years."""
    return by_year[0] / max(float(np.mean(by_year[1:])), 1e-12)


def check(runs: list[dict]) -> tuple[dict, list[tuple[str, int, float, float, bool]]]:
    """Means over runs and the pass/fail rows ``(measure, year, value, month-0 value, ok)``; the
    exit rate is compared with the mean of years 2..end."""
    years = sorted(runs[0]["at"])
    mean = {y: {k: float(np.mean([r["at"][y][k] for r in runs])) for k in runs[0]["at"][y]} for y in years}
    later_exit = float(np.mean([np.mean(r["exit_by_year"][1:]) for r in runs]))
    rows = []
    for name, tol in TOLERANCES.items():
        ref = later_exit if name == "exit_rate" else mean[0][name]
        for y in years[1:]:
            v = mean[y][name]
            rows.append((name, y, v, ref, abs(v - ref) <= tol))
    return mean, rows


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 10_000
    seeds = list(range(1, (int(argv[1]) if len(argv) > 1 else 3) + 1))
    kw = {"burn_in_months": int(argv[2])} if len(argv) > 2 and argv[2] != "-" else {}
    mode = argv[3] if len(argv) > 3 else ""
    if mode in ("flat", "still"):  # no exogenous trend at all: internet penetration held too
        kw["internet_growth_per_year"] = 0.0
    runs = [run(s, n, diffusion=mode != "still", **kw) for s in seeds]
    mean, rows = check(runs)
    burn = kw.get("burn_in_months", MSMEEcosystem(seed=1, n_firms=50, n_months=1).p["burn_in_months"])
    what = ("demand and internet trends 0, digital adoption paused" if mode == "still" else
            "demand and internet trends 0" if mode == "flat" else "exogenous demand trend 0")
    print(f"\n### Stationarity with no policy change (baseline, {what}), {n:,} firms, seeds "
          f"{seeds[0]}-{seeds[-1]}, burn-in {burn} months (burn-in {np.mean([r['burn_in_s'] for r in runs]):.1f} s "
          "a run)\n")
    print("| measure | year 0 | year 5 | year 10 | year 20 | tolerance (abs.) | max deviation | pass |")
    print("|---|---|---|---|---|---|---|---|")
    for name, tol in TOLERANCES.items():
        mine = [r for r in rows if r[0] == name]
        dev = max(abs(v - ref) for _, _, v, ref, _ in mine)
        ok = all(r[4] for r in mine)
        cells = []
        for y in YEARS:
            v = mean[y][name]
            cells.append("–" if np.isnan(v) else (f"{v:.4f}" if name.startswith("share") else f"{v:.3f}"))
        if name == "exit_rate":
            cells[0] = f"({mine[0][3]:.3f} = mean of years 2–20)"
        print(f"| {LABELS[name]} | " + " | ".join(cells) + f" | ±{tol:g} | {dev:.4f} | {'yes' if ok else 'NO'} |")
    by_year = np.mean([r["exit_by_year"] for r in runs], axis=0)
    ratios = [exit_ratio(r["exit_by_year"]) for r in runs]
    print("\n### Exit rate by year (mean over seeds)\n")
    print("| year | " + " | ".join(str(y + 1) for y in range(len(by_year))) + " |")
    print("|---|" + "---|" * len(by_year))
    print("| exit rate | " + " | ".join(f"{v:.1%}" for v in by_year) + " |")
    r = exit_ratio(list(by_year))
    print(f"\nyear-1 exit rate / mean of years 2–{len(by_year)}: {r:.2f} (per seed "
          f"{', '.join(f'{x:.2f}' for x in ratios)}); criterion ≤ {EXIT_RATIO_MAX} — "
          f"{'pass' if r <= EXIT_RATIO_MAX else 'FAIL'}")


if __name__ == "__main__":
    main(sys.argv[1:])
