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
from .state import blocks

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


def _any_participants(model) -> bool:
    """Whether council participation or platform registration has ever been possible in this run
    (otherwise those columns are all 0 and the terms they enter are skipped: they add exactly 0)."""
    return getattr(model, "councils_active", False), getattr(model, "platform_active", False)


def update(model) -> None:
    """Monthly learning and decisions (reading the state at the start of the month)."""
    n = model.firms.n
    up23 = [_update_block(model, sl) for sl in blocks(n)]
    join_marketplace(model, np.concatenate(up23) if up23 else np.zeros(0, dtype=np.int64))


def _update_block(model, sl: slice) -> np.ndarray:
    """The monthly update of rows ``sl``; returns the rows that start selling online."""
    p, f, t = model.p, model.firms, model.month
    alive = f.alive[sl]
    s = f.support_ewm[sl]
    dep = s / (np.maximum(f.income_ewm[sl], 0.0) + s + 1.0)
    plat = f.platform_step[sl]
    part = f.participant[sl]
    councils, platform = _any_participants(model)
    coop = model.cluster_coop_firm[sl]
    if platform:
        co_created = plat >= 3

    # self-determination
    aut_t = 0.75 - 0.8 * dep
    if councils:
        aut_t += 0.3 * part
    if platform:
        aut_t += 0.1 * co_created
    aut_t.clip(0, 1, out=aut_t)
    # competence follows own success (profit without support), not subsidised profit
    comp_t = 0.15 + 0.4 * f.literacy[sl]
    comp_t += 0.2 * f.digital_skill[sl]
    comp_t += 0.25 * (f.own_profit[sl] > 0)
    comp_t.clip(0, 1, out=comp_t)
    rel_t = 0.25 + 0.45 * coop
    if platform:
        rel_t += 0.3 * co_created
    if councils:
        rel_t += 0.3 * part
    rel_t.clip(0, 1, out=rel_t)
    self_rel = None
    for col, target in ((f.autonomy, aut_t), (f.competence, comp_t), (f.relatedness, rel_t)):
        x = col[sl]
        target -= x
        target *= SDT_RATE
        x += target
        self_rel = x.copy() if self_rel is None else np.add(self_rel, x, out=self_rel)
    self_rel /= 3
    effort = f.effort[sl]
    np.multiply(0.75, self_rel, out=effort)
    effort += 0.25
    dep *= p["dependence_elasticity"]
    effort -= dep
    effort.clip(0.05, 1.0, out=effort)

    # skills
    skill = f.digital_skill[sl]
    stage = f.stage[sl]
    ds = 0.004 * (stage >= 2)
    ds *= 1 - skill
    gap = model.cluster_skill_mean_firm[sl] - skill
    np.maximum(gap, 0, out=gap)
    gap *= 0.02 * coop
    ds += gap
    ds -= 0.0015 * skill
    skill += ds
    lit = f.literacy[sl]
    dl = 0.002 * effort
    dl *= 1 - lit
    dl -= 0.001 * lit
    lit += dl

    # productivity: innovation effort, cluster spillover, noise, mean reversion
    z = model.streams.normal_rows(t, streams.PRODUCTIVITY, sl)
    prod = f.productivity[sl]
    logp = np.log(prod)
    dp = INNOVATION * effort
    dp *= lit
    dp += model.spillover_gap[sl]
    dp -= MEAN_REVERSION * logp
    z *= p["productivity_volatility"]
    dp += z
    logp += dp
    np.exp(logp, out=logp)
    np.copyto(prod, logp, where=alive)

    # digital adoption
    u = model.streams.uniform_rows(t, streams.ADOPTION, sl)
    net = model.internet * f.derived("internet_factor", lambda r: model.region_internet[f.region[r]])[sl]
    np.minimum(net, 1.0, out=net)
    if platform:
        search = 1.0 + 0.6 * (plat > 0)  # the platform removes search and information costs
    h12 = ADOPT_12 * net
    h12 *= 0.3 + skill
    h12 *= 1 + 0.5 * lit
    if platform:
        h12 *= search
    h23 = ADOPT_23 * net
    h23 *= (0.2 + skill) ** 2
    h23 *= f.capital[sl] > 5e6
    if platform:
        h23 *= search
    up12 = (stage == 1) & alive & (u < h12)
    up23 = (stage == 2) & alive & (u < h23)
    leave = (stage == 3) & alive & (u > 1 - LEAVE_ONLINE)
    leave = leave.nonzero()[0] + sl.start
    leave = leave[f.online_revenue[leave] < f.revenue[leave] * 0.05]
    stage[up12] = 2
    f.stage[leave] = 2
    f.marketplace[leave] = -1

    # decaying market positions
    f.market_reach[sl] *= 0.95
    f.logistics[sl] *= 0.97
    skill.clip(0, 1, out=skill)
    lit.clip(0, 1, out=lit)
    return up23.nonzero()[0] + sl.start
