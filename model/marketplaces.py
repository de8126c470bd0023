"""E-commerce marketplaces (seed 003): commission, buyer reach, promotion tools and seller ranking.

A marketplace's buyers grow with internet penetration and with its number of sellers (network
effect). Its buyer spending is shared among its sellers by a ranking score built from price and
quality (productivity), reputation and visibility; visibility is bought with promotion (social
media marketing, online ads, email marketing), by the firm itself or through the e-commerce
promotion instrument, and decays when promotion stops. Everything is a bincount over seller rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams

# Four marketplaces of falling size with rising commission (assumption: 2-8 %, typical fees).
BASE_COMMISSION = np.array([0.05, 0.04, 0.06, 0.08, 0.05, 0.07, 0.03, 0.06, 0.05, 0.04,
                            0.06, 0.07, 0.05, 0.04, 0.06, 0.05, 0.07, 0.03, 0.06, 0.05])
BASE_REACH = 1.0 / (1.0 + np.arange(20)) ** 0.7
# Promotion tools (seed 003): share of spend, visibility per million IDR, reputation-leveraged?
TOOLS = {  # name: (share of a promotion budget, visibility per Rp 1 M, uses reputation)
    "social_media": (0.45, 0.25, False),
    "online_ads": (0.40, 0.35, False),
    "email": (0.15, 0.30, True),   # email marketing works through an existing customer base
}
VISIBILITY_DECAY = 0.25     # monthly
OWN_PROMOTION_RATE = 0.03   # share of online revenue sellers spend on promotion, times effort
RANK_WEIGHTS = {"quality": 1.5, "reputation": 2.0, "visibility": 1.0, "logistics": 0.4}


class MarketTable:
    """Per-marketplace columns."""

    def __init__(self, n: int):
        self.commission = BASE_COMMISSION[:n].copy()
        self.base_reach = BASE_REACH[:n] / BASE_REACH[:n].sum()
        self.sellers = np.zeros(n, dtype=np.int64)
        self.sellers0 = np.ones(n)
        self.pool = np.zeros(n)          # buyer spending this month, IDR
        self.online_sales = np.zeros(n)  # sales made this month, IDR

    @property
    def n(self) -> int:
        return self.commission.size


def promotion_visibility(amounts: np.ndarray, reputation: np.ndarray) -> np.ndarray:
    """Visibility bought with ``amounts`` IDR of promotion spread over the three tools."""
    v = np.zeros_like(amounts, dtype=float)
    for share, per_m, uses_rep in TOOLS.values():
        eff = per_m * (0.5 + reputation) if uses_rep else per_m
        v += share * eff * amounts / 1e6
    return v


def choice_probabilities(mt: MarketTable) -> np.ndarray:
    """Where a new seller lists: logit on reach (with network effect) and commission."""
    util = np.log(mt.base_reach * np.maximum(mt.sellers, 1) ** 0.3) - 20.0 * mt.commission
    w = np.exp(util - util.max())
    return w / w.sum()


def join_marketplace(model, rows: np.ndarray) -> None:
    """Firms ``rows`` start selling online (digital stage 3.0) on a marketplace of their choice."""
    if rows.size == 0:
        return
    f, mt = model.firms, model.market_table
    # the choice probabilities change only with the seller counts (a new array each month, see
    # update): computed once for all the joins of a month
    cached = mt.__dict__.get("_cum")
    if cached is None or cached[0] is not mt.sellers:
        cached = mt._cum = (mt.sellers, np.cumsum(choice_probabilities(mt)))
    cum = cached[1]
    u = model.streams.uniform_rows(model.month, streams.MARKET, rows)
    f.marketplace[rows] = np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)
    f.stage[rows] = 3
    f.reputation[rows] = np.maximum(f.reputation[rows], 0.2)


def init_marketplaces(model) -> None:
    """Sellers of the initial population (stage 3) list on marketplaces."""
    f, n = model.firms, model.firms.n
    rows = np.flatnonzero(f.stage[:n] == 3)
    join_marketplace(model, rows)
    mt = model.market_table
    mt.sellers = np.bincount(f.marketplace[rows], minlength=mt.n)
    mt.sellers0 = np.maximum(mt.sellers, 1).astype(float)


def buyer_pools(model, local_demand_total: float) -> None:
    """Buyer spending of each marketplace this month (``mt.pool``), from its sellers ``mt.sellers``:
    internet penetration x marketplace reach x network effect; the shock shifts demand online."""
    p, mt = model.p, model.market_table
    network = (np.maximum(mt.sellers, 1) / mt.sellers0) ** p["network_effect"]
    shift = 1.0 + p["shock_online_shift"] * model.shock
    mt.pool = p["online_demand_share"] * local_demand_total * model.internet * mt.base_reach * network * shift


def update(model, local_demand_total: float) -> None:
    """Buyer pools, promotion and ranking: sets ``model.online_demand`` per firm (IDR).

    Everything per firm is computed over the sellers only (``model.seller_rows``); other firms get 0.
    """
    f, n, mt = model.firms, model.firms.n, model.market_table
    # one compiled pass: visibility decays for every firm; the alive listed firms are the sellers
    srows = np.empty(n, dtype=np.int64)
    srows = srows[: _decay_and_sellers(n, 1.0 - VISIBILITY_DECAY, f.marketplace, f.alive, f.visibility, srows)]
    model.seller_rows = srows
    ms = f.marketplace[srows].astype(np.int64)
    mt.sellers = np.bincount(ms, minlength=mt.n)
    # promotion: own spending (effort-driven) plus joint promotion by clusters / the platform
    own = OWN_PROMOTION_RATE * f.online_revenue[srows] * f.effort[srows]
    rep = f.reputation[srows]
    vis_all = f.visibility[:n]
    # joint promotion: clusters (by type) and the platform's marketing step (PAS 5)
    joint = model.cluster_promotion_firm[srows] + 0.1 * (f.platform_step[srows] >= 5)
    vis = vis_all[srows] + (promotion_visibility(own, rep) + joint)
    vis_all[srows] = vis
    model.own_promotion = np.zeros(n)
    model.own_promotion[srows] = own
    buyer_pools(model, local_demand_total)
    # ranking score
    w = RANK_WEIGHTS
    score = np.exp(w["quality"] * np.log(f.productivity[srows]) + w["reputation"] * rep
                   + w["visibility"] * np.log1p(vis) + w["logistics"] * f.logistics[srows])
    weight = score * np.sqrt(np.maximum(f.capacity[srows], 1.0) / 1e7)
    tot = np.bincount(ms, weights=weight, minlength=mt.n)
    share = weight / np.maximum(tot[ms], 1e-300)
    model.online_demand = np.zeros(n)
    model.online_demand[srows] = share * mt.pool[ms]
    model.commission_firm = np.zeros(n)
    model.commission_firm[srows] = mt.commission[ms]


def after_sales(model) -> None:
    """Reputation follows fulfilled orders (quality and logistics) of active sellers."""
    f, mt = model.firms, model.market_table
    srows = model.seller_rows  # this month's sellers (listing and exits change at the month's end)
    ms = f.marketplace[srows].astype(np.int64)
    online = f.online_revenue[srows]
    mt.online_sales = np.bincount(ms, weights=online, minlength=mt.n)
    active = srows[online > 0]
    target = np.clip(0.3 + 0.3 * np.log(f.productivity[active]) + 0.3 * f.logistics[active]
                     + 0.2 * f.literacy[active], 0, 1)
    rate = 0.05
    rep = f.reputation[active]
    f.reputation[active] = rep + rate * (target - rep)


@njit(cache=True, nogil=True, error_model="numpy")
def _decay_and_sellers(n, keep, marketplace, alive, visibility, out):
    """Visibility of rows ``0..n-1`` times ``keep``; the rows of alive listed firms go to ``out``
    (ascending); returns how many."""
    k = 0
    for i in range(n):
        visibility[i] *= keep
        out[k] = i  # kept if the firm sells (k <= i: never past the end); branch-free selection
        k += (marketplace[i] >= 0) & alive[i]
    return k
