"""Learning, self-reliance and adoption.

* Self-determination (seed 001): autonomy falls when support is a large share of income and is
  delivered top-down, and rises with participation in councils and with the platform's
  co-creation; competence follows literacy, skill and success; relatedness follows cluster
  cooperation, the platform and councils. Self-reliance is their mean.
* Effort and risk-taking (seed 000): rise with self-reliance, fall with dependence on support.
* Skills and productivity: learning by doing, peers in the cluster, innovation effort, noise.
* Digital stages (seed 000): 1.0 -> 2.0 needs skill and internet; 2.0 -> 3.0 (selling online) needs
  skill, internet and some finance; the platform lowers search costs (seeds 000, 002, 003).
"""

from __future__ import annotations

import numpy as np

from . import streams
from .marketplaces import join_marketplace

SDT_RATE = 0.04           # monthly adjustment of autonomy, competence, relatedness
INNOVATION = 0.0025       # monthly log-productivity gain at full effort and literacy
MEAN_REVERSION = 0.004    # pulls log productivity back towards the economy's mean
ADOPT_12 = 0.018          # monthly hazard scale 1.0 -> 2.0
ADOPT_23 = 0.095          # monthly hazard scale 2.0 -> 3.0
LEAVE_ONLINE = 0.002      # monthly chance a seller stops selling online


def dependence_share(f, n: int) -> np.ndarray:
    """Support as a share of the firm's income (12-month averages), 0..1."""
    s = f.support_ewm[:n]
    return s / (np.maximum(f.income_ewm[:n], 0.0) + s + 1.0)


def update(model) -> None:
    """Monthly learning and decisions (reading the state at the start of the month)."""
    p, f, n, t = model.p, model.firms, model.firms.n, model.month
    alive = f.alive[:n]
    dep = dependence_share(f, n)
    plat = f.platform_step[:n]

    # self-determination
    aut_t = np.clip(0.75 - 0.8 * dep + 0.3 * f.participant[:n] + 0.1 * (plat >= 3), 0, 1)
    # competence follows own success (profit without support), not subsidised profit
    comp_t = np.clip(0.15 + 0.4 * f.literacy[:n] + 0.2 * f.digital_skill[:n] + 0.25 * (f.own_profit[:n] > 0), 0, 1)
    rel_t = np.clip(0.25 + 0.45 * model.cluster_coop_firm + 0.3 * (plat >= 3) + 0.3 * f.participant[:n], 0, 1)
    f.autonomy[:n] += SDT_RATE * (aut_t - f.autonomy[:n])
    f.competence[:n] += SDT_RATE * (comp_t - f.competence[:n])
    f.relatedness[:n] += SDT_RATE * (rel_t - f.relatedness[:n])
    self_rel = (f.autonomy[:n] + f.competence[:n] + f.relatedness[:n]) / 3
    f.effort[:n] = np.clip(0.25 + 0.75 * self_rel - p["dependence_elasticity"] * dep, 0.05, 1.0)

    # skills
    skill = f.digital_skill[:n]
    skill += (0.004 * (f.stage[:n] >= 2) * (1 - skill)
              + 0.02 * model.cluster_coop_firm * np.maximum(model.cluster_skill_mean_firm - skill, 0)
              - 0.0015 * skill)
    lit = f.literacy[:n]
    lit += 0.002 * f.effort[:n] * (1 - lit) - 0.001 * lit

    # productivity: innovation effort, cluster spillover, noise, mean reversion
    z = model.streams.normal(t, streams.PRODUCTIVITY, n)
    logp = np.log(f.productivity[:n])
    logp += (INNOVATION * f.effort[:n] * f.literacy[:n] + model.spillover_gap
             - MEAN_REVERSION * logp + p["productivity_volatility"] * z)
    f.productivity[:n] = np.where(alive, np.exp(logp), f.productivity[:n])

    # digital adoption
    u = model.streams.uniform(t, streams.ADOPTION, n)
    net = np.minimum(model.internet * model.region_internet[f.region[:n]], 1.0)
    search = 1.0 + 0.6 * (plat > 0)  # the platform removes search and information costs
    stage = f.stage[:n]
    h12 = ADOPT_12 * net * (0.3 + skill) * (1 + 0.5 * lit) * search
    h23 = ADOPT_23 * net * (0.2 + skill) ** 2 * (f.capital[:n] > 5e6) * search
    up12 = alive & (stage == 1) & (u < h12)
    up23 = alive & (stage == 2) & (u < h23)
    leave = alive & (stage == 3) & (u > 1 - LEAVE_ONLINE) & (f.online_revenue[:n] < f.revenue[:n] * 0.05)
    stage[up12] = 2
    join_marketplace(model, np.flatnonzero(up23))
    stage[leave] = 2
    f.marketplace[:n][leave] = -1

    # decaying market positions
    f.market_reach[:n] *= 0.95
    f.logistics[:n] *= 0.97
    np.clip(skill, 0, 1, out=skill)
    np.clip(lit, 0, 1, out=lit)
