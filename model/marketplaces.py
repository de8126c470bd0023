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
from .clusters import as_table
from .demand import group_of
from .scan import check_rows

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
# the tools as arrays, for compiled loops
_TOOL_SHARE = np.array([share for share, _, _ in TOOLS.values()])
_TOOL_PER_M = np.array([per_m for _, per_m, _ in TOOLS.values()])
_TOOL_USES_REP = np.array([uses_rep for _, _, uses_rep in TOOLS.values()])
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


def buyer_pools(model) -> None:
    """Buyer spending of each marketplace this month (``mt.pool``): the online part of all regions'
    spending (``demand.online_share``: internet penetration, more in the shock) shared among the
    marketplaces by reach x network effect. The network effect raises a marketplace's share of
    online spending, not the total; the online channel diverts spending from local markets."""
    p, mt = model.p, model.market_table
    network = (np.maximum(mt.sellers, 1) / mt.sellers0) ** p["network_effect"]
    w = mt.base_reach * network
    mt.pool = model.online_spending * w / w.sum()


def update(model) -> None:
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
    # promotion: own spending (effort-driven) plus joint promotion by clusters buys visibility, which
    # decays (above) when promotion stops (the platform's marketing is a paid PAS service: delivery/platform.py)
    model.own_promotion = np.zeros(n)
    promo_t, promo_i = as_table(model.cluster_promotion_firm)
    check_rows(n, "marketplaces.update", cluster_promotion=promo_i)
    k = srows.size
    rep, vis, logq, logistics = np.empty(k), np.empty(k), np.empty(k), np.empty(k)
    _promote(srows, OWN_PROMOTION_RATE, _TOOL_SHARE, _TOOL_PER_M, _TOOL_USES_REP, promo_t, promo_i, f.online_revenue,
             f.effort, f.reputation, f.visibility, f.productivity, f.logistics,
             model.own_promotion, rep, vis, logq, logistics)
    buyer_pools(model)
    # ranking score: quality (productivity), reputation, visibility, logistics
    w = RANK_WEIGHTS
    np.log(logq, out=logq)
    model.seller_markets, model.seller_log_quality = ms, logq  # read again by after_sales
    np.log1p(vis, out=vis)
    score = np.exp(w["quality"] * logq + w["reputation"] * rep + w["visibility"] * vis + w["logistics"] * logistics)
    # a seller's scale online is its customer base (its local customers' spending), not its capacity
    size = np.sqrt(np.maximum(f.customers[srows] * model.spending[group_of(model)[srows]], 1.0) / 1e7)
    model.online_demand = np.zeros(n)
    model.commission_firm = np.zeros(n)
    _orders(srows, ms, score, size, mt.pool, mt.commission, model.online_demand, model.commission_firm)


@njit(cache=True, nogil=True, error_model="numpy")
def _promote(srows, rate, tool_share, tool_per_m, uses_rep, promo_t, promo_i, online_revenue, effort, reputation,
             visibility, productivity, logistics, own_promotion, rep_out, vis_out, q_out, logistics_out):
    """Per seller (rows ``srows``): own promotion spending, the visibility it and joint promotion
    buy (:func:`promotion_visibility`, tool by tool), and the seller's ranking inputs gathered
    into contiguous arrays (``q_out``: productivity, whose log the caller takes)."""
    for j in range(srows.size):
        i = srows[j]
        own = rate * online_revenue[i] * effort[i]
        rep = reputation[i]
        bought = 0.0
        for t in range(tool_share.size):
            eff = tool_per_m[t] * (0.5 + rep) if uses_rep[t] else tool_per_m[t]
            bought += tool_share[t] * eff * own / 1e6
        joint = promo_t[promo_i[i]]
        vis = visibility[i] + (bought + joint)
        visibility[i] = vis
        own_promotion[i] = own
        rep_out[j] = rep
        vis_out[j] = vis
        q_out[j] = productivity[i]
        logistics_out[j] = logistics[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _orders(srows, ms, score, size, pool, commission, online_demand, commission_firm):
    """Each marketplace's buyer spending shared among its sellers by ranking weight
    (score x sqrt(customer spending / 10^7)); the sellers' commission rate."""
    weight = score * size
    tot = np.zeros(pool.size)
    for j in range(srows.size):
        tot[ms[j]] += weight[j]
    for j in range(srows.size):
        m = ms[j]
        online_demand[srows[j]] = weight[j] / max(tot[m], 1e-300) * pool[m]
        commission_firm[srows[j]] = commission[m]


def after_sales(model) -> None:
    """Reputation follows fulfilled orders (quality and logistics) of active sellers."""
    f, mt = model.firms, model.market_table
    # this month's sellers, their marketplaces and log productivity, as found by update() (listing,
    # exits and productivity change only after this, at the month's end)
    srows, ms, logq = model.seller_rows, model.seller_markets, model.seller_log_quality
    online = f.online_revenue[srows]
    mt.online_sales = np.bincount(ms, weights=online, minlength=mt.n)
    sold = online > 0
    active = srows[sold]
    target = np.clip(0.3 + 0.3 * logq[sold] + 0.3 * f.logistics[active] + 0.2 * f.literacy[active], 0, 1)
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
