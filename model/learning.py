"""Learning, self-reliance and adoption.

* Self-determination (seed 001): autonomy falls when support is a large share of income and is
  delivered top-down, and rises with participation in councils (whose capacity is paid for,
  ``delivery/councils.py``); competence follows literacy, skill and success; relatedness follows cluster
  cooperation and council participation. Self-reliance is their mean. (The platform's mentoring
  raises competence and relatedness once, as a paid PAS service; registration alone adds nothing.)
* Effort and risk-taking (seed 000): rise with self-reliance, fall with dependence on support;
  council participation costs the owner time (``participation_time_cost``).
* Skills and productivity: learning by doing, peers in the cluster, innovation effort, noise.
* Digital stages (seed 000): 1.0 -> 2.0 needs skill and internet; 2.0 -> 3.0 (selling online) needs
  skill, internet and some finance. Programmes and the platform's training act through skill.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams
from .clusters import as_table
from .marketplaces import join_marketplace
from .scan import check_rows
from .state import BLOCK, blocks
from .streams import uniform_of

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
    """Monthly learning and decisions of every alive firm (reading the state at the start of the
    month), in one compiled pass over the rows (:func:`_learn`); the random numbers are the
    rows' keyed stream numbers, drawn block by block."""
    p, f, t = model.p, model.firms, model.month
    n = f.n
    councils, _ = _any_participants(model)
    coop_tab, coop_idx = as_table(model.cluster_coop_firm)
    skill_tab, skill_idx = as_table(model.cluster_skill_mean_firm)
    spill = np.asarray(model.spillover_gap)
    net_region = f.derived("internet_factor", lambda r: model.region_internet[f.region[r]])
    check_rows(n, "learning.update", cluster_coop=coop_idx, cluster_skill=skill_idx, spillover=spill,
               internet=net_region)
    seed, terms = model.streams.compiled_keys(t, streams.ADOPTION, n)  # adoption draws, in the loop
    # digital diffusion is a trend in progress (seed 000; FACTS 8 M -> 21.8 M online 2019-2023): the
    # burn-in before month 0 pauses it, so month 0 keeps the observed digital stages
    diffusion = bool(model.diffusion)
    buf = np.empty(min(n, BLOCK) + 1, dtype=np.int64)
    up23 = []
    for sl in blocks(n):
        z = model.streams.normal_rows(t, streams.PRODUCTIVITY, sl)
        # log and exp of productivity as NumPy passes (SIMD; the compiled loop would call libm per row)
        logp = np.log(f.productivity[sl])
        k = _learn(sl.start, sl.stop, bool(councils), diffusion, float(p["dependence_elasticity"]),
                   float(p["participation_time_cost"]),
                   float(p["productivity_volatility"]), float(model.internet), z, seed, terms, logp,
                   coop_tab, coop_idx, skill_tab, skill_idx, spill, net_region,
                   f.alive, f.support_ewm, f.income_ewm, f.participant, f.literacy,
                   f.digital_skill, f.own_profit, f.autonomy, f.competence, f.relatedness, f.effort,
                   f.stage, f.capital, f.online_revenue, f.revenue, f.marketplace,
                   f.market_reach, f.logistics, buf)
        np.exp(logp, out=logp)
        np.copyto(f.productivity[sl], logp, where=f.alive[sl])
        if k:
            up23.append(buf[:k].copy())
    join_marketplace(model, np.concatenate(up23) if up23 else np.zeros(0, dtype=np.int64))


@njit(cache=True, nogil=True, error_model="numpy")
def _learn(lo, hi, councils, diffusion, dep_elasticity, time_cost, volatility, internet, z, seed, terms, logp,
           coop_tab, coop_idx, skill_tab, skill_idx, spill, net_region,
           alive, support_ewm, income_ewm, participant, literacy, digital_skill, own_profit,
           autonomy, competence, relatedness, effort, stage, capital, online_revenue, revenue,
           marketplace, market_reach, logistics, up23):
    """The month's learning of alive rows ``lo..hi-1`` (the reference engine's
    ``ReferenceMSME.learn_and_adopt``, row by row). ``z``: the block's normal numbers (drawn
    in NumPy); the adoption uniforms are drawn in the loop (``seed``, ``terms``); ``logp``: the
    block's log productivity, advanced in place (the caller takes its exp). ``diffusion`` false
    (the burn-in) pauses digital adoption and leaving the online channel.
    Rows that start selling online are written to ``up23``; returns how many."""
    k = 0
    for i in range(lo, hi):
        if not alive[i]:
            continue
        j = i - lo
        s = support_ewm[i]
        dep = s / (max(income_ewm[i], 0.0) + s + 1.0)  # support as a share of income
        part = participant[i] if councils else 0.0
        coop = coop_tab[coop_idx[i]]
        # self-determination (seed 001): autonomy, competence, relatedness
        aut_t = 0.75 - 0.8 * dep
        if councils:
            aut_t += 0.3 * part
        # competence follows own success (profit without support), not subsidised profit
        comp_t = 0.15 + 0.4 * literacy[i]
        comp_t += 0.2 * digital_skill[i]
        comp_t += 0.25 * (1.0 if own_profit[i] > 0 else 0.0)
        rel_t = 0.25 + 0.45 * coop
        if councils:
            rel_t += 0.3 * part
        a = autonomy[i]
        a += (min(max(aut_t, 0.0), 1.0) - a) * SDT_RATE
        autonomy[i] = a
        c = competence[i]
        c += (min(max(comp_t, 0.0), 1.0) - c) * SDT_RATE
        competence[i] = c
        r = relatedness[i]
        r += (min(max(rel_t, 0.0), 1.0) - r) * SDT_RATE
        relatedness[i] = r
        # effort and risk-taking (seed 000): rise with self-reliance, fall with dependence
        e = 0.75 * ((a + c + r) / 3) + 0.25 - dep * dep_elasticity
        if councils:
            e -= time_cost * part  # owner hours given to council meetings and joint activities
        e = min(max(e, 0.05), 1.0)
        effort[i] = e
        # skills: learning by doing, peers in the cluster, forgetting
        skill = digital_skill[i]
        st = stage[i]
        ds = (0.004 if st >= 2 else 0.0) * (1 - skill)
        ds += max(skill_tab[skill_idx[i]] - skill, 0.0) * (0.02 * coop)
        ds -= 0.0015 * skill
        skill += ds
        lit = literacy[i]
        lit += 0.002 * e * (1 - lit) - 0.001 * lit
        # productivity: innovation effort, cluster spillover, mean reversion, noise
        lp = logp[j]
        logp[j] = lp + (INNOVATION * e * lit + spill[i] - MEAN_REVERSION * lp + z[j] * volatility)
        # digital adoption (seed 000 stages)
        net = min(internet * net_region[i], 1.0)
        uj = uniform_of(seed, terms[i])
        if not diffusion:
            pass
        elif st == 1:
            if uj < ADOPT_12 * net * (0.3 + skill) * (1 + 0.5 * lit):
                stage[i] = 2
        elif st == 2:
            if uj < ADOPT_23 * net * (0.2 + skill) ** 2 * (1.0 if capital[i] > 5e6 else 0.0):
                up23[k] = i
                k += 1
        elif uj > 1 - LEAVE_ONLINE and online_revenue[i] < revenue[i] * 0.05:
            stage[i] = 2
            marketplace[i] = -1
        # decaying market positions
        market_reach[i] *= 0.95
        logistics[i] *= 0.97
        digital_skill[i] = min(max(skill, 0.0), 1.0)
        literacy[i] = min(max(lit, 0.0), 1.0)
    return k
