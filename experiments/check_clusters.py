"""Referee's check of the cluster rules (core v2, stage 1): initial types per run, the members'
productivity against non-members over time, and whether value added jumps in the months a year
starts. ``python -m experiments.check_clusters [N_FIRMS] [MONTHS]`` (defaults 10,000 and 120)."""

from __future__ import annotations

import sys

import numpy as np

from model import MSMEEcosystem, load_scenario


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 10_000
    months = int(argv[1]) if len(argv) > 1 else 120
    for scen in ("baseline", "clustering"):
        for seed in (1, 2):
            m = MSMEEcosystem(load_scenario(scen), seed=seed, n_firms=n, n_months=months, msme_agents=False)
            ct, f = m.cluster_table, m.firms
            init_types = np.bincount(ct.ctype, minlength=4)

            def logp(f=f):
                k = f.n
                mem = (f.cluster[:k] >= 0) & f.alive[:k]
                lp = np.log(f.productivity[:k])
                return lp[mem].mean(), lp[f.alive[:k] & ~mem].mean()

            lp = [logp()]
            m.run(months // 2)
            lp.append(logp())
            m.run()
            lp.append(logp())
            va = m.metrics_frame()["value_added"].to_numpy()
            g = np.abs(np.diff(np.log(va)))
            year = np.arange(1, len(va)) % 12 == 0
            print(f"{scen} seed {seed}, {n:,} firms: {ct.n} clusters; types at start {init_types.tolist()}, "
                  f"at end {np.bincount(ct.ctype[ct.members > 0], minlength=4).tolist()}; mean log TFP "
                  f"members {[round(float(a), 3) for a, _ in lp]} non-members {[round(float(b), 3) for _, b in lp]} "
                  f"(start, middle, end); |monthly change of log value added| in a year's first month "
                  f"{g[year].mean():.4f}, other months {g[~year].mean():.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
