"""Production and sales: capacity from capital, workers and productivity; sales through local,
online and export channels.

A firm's local demand is its customers' share of its market's local spending (``demand.py``):
customers are won through price, quality and reach, never through capacity, so a subsidised firm's
gain is taken from its unsubsidised neighbours only as it wins their customers (Criscuolo et al.
2019, FACTS). Capacity caps sales: local demand a firm cannot serve goes, this month, to firms of
its market with spare capacity (in proportion to their customers), and costs it customers next
month.

Manufacturers sell locally through traders (middlemen, tengkulak: seed 003), who are trading
MSMEs: the margin a trader keeps is set by a Nash bargain over the gap between the buyer's price and
the trader's real trading cost, in which the producer's outside option is to sell direct at its own
distribution cost (lower in stronger clusters, through joint marketing and delivery, and for firms
that sell online). The trader's margin net of the trading cost is value added of the trade sector
(``model.trade_va_region``), not a loss; cutting out the trader raises the producer's income by the
margin less its own distribution cost, and total MSME value added only by the real cost saved
(issue "economic core v2", point 4; Mitra et al. 2018; Bergquist & Dinerstein 2020).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .clusters import FACILITY_COST_CUT, FACILITY_TECH, as_table
from .demand import LOGISTICS_COST_CUT, group_of  # noqa: F401 (group_of: read as production.group_of too)
from .population import VA_SHARE
from .scan import check_rows
from .state import blocks

A_SCALE = 12000.0     # IDR of monthly output per unit of K^0.45 L^0.55 (micro VA ~4.5 M per worker a month,
#                       FACTS GDP share)
ALPHA = 0.45          # capital elasticity
ONLINE_DELIVERY_COST = 0.05  # share of the value of a local sale made through a marketplace spent on packing and
#                              delivery (assumption, 3-8 %); logistics support cuts it like other input costs


def shock_exposure(model, where: str) -> tuple[bool, np.ndarray, float]:
    """``model.exposure`` (set by :func:`produce_and_sell`) as compiled loops read it: whether it is
    per firm (it is in months of the shock), the per-firm array (its length checked) or a
    one-element placeholder, and its value when it is one number."""
    e = model.exposure
    if np.ndim(e) == 0:
        return False, _NO_EXPOSURE, float(e)
    check_rows(model.firms.n, where, exposure=e)
    return True, np.asarray(e, dtype=np.float64), 0.0


_NO_EXPOSURE = np.ones(1)


def collaboration(model) -> np.ndarray:
    """How much of a firm's production rests on resources shared with others that someone paid
    for, 0..1: its use of its cluster's shared facilities (bought by the shared-facilities
    instrument) plus logistics support (joint delivery, bought by the logistics instrument). Seed
    002 says collaboration softens a shock through shared resources; membership alone (a cluster,
    the platform's register, a council's forum) shares nothing and softens nothing (issue
    "economic core v2", point 6). The softening acts on the shock's supply side (usable capacity,
    input costs) and on credit rationing."""
    f, n = model.firms, model.firms.n
    c = np.asarray(model.facility_usage_firm)[:n] + f.logistics[:n]
    return np.clip(c, 0.0, 1.0)


def capital_labour(f, sl: slice) -> np.ndarray:
    """``K^a L^(1-a)`` of rows ``sl`` (capital and workers at least 1), as ``exp(a log K + (1-a) log L)``:
    vectorised exp/log are ~20x faster than ``pow``."""
    k = np.maximum(f.capital[sl], 1.0)
    np.log(k, out=k)
    k *= ALPHA
    lab = np.maximum(f.workers[sl], 1.0)
    np.log(lab, out=lab)
    lab *= 1 - ALPHA
    k += lab
    np.exp(k, out=k)
    return k


def capacity(model, sl: slice | None = None) -> np.ndarray:
    """Monthly output capacity, IDR at reference prices (0 for dead firms), of rows ``sl`` (all by default)."""
    f = model.firms
    sl = slice(0, f.n) if sl is None else sl
    k = capital_labour(f, sl)
    base = A_SCALE * f.productivity[sl]
    base *= k
    facility = FACILITY_TECH * model.facility_usage_firm[sl]
    facility += 1.0
    base *= facility
    base *= model.agglomeration_firm[sl]
    base *= f.alive[sl]
    return base


def produce_and_sell(model) -> None:
    """Capacity, demand by channel, sales, revenue and value added for every firm.

    Three compiled passes over the rows: capacity and export weights (:func:`_capacity_weights`);
    own demand and first sales, with each market's unserved local demand and spare capacity
    (:func:`_demand`); the unserved demand taken up by firms with spare capacity, revenue and value
    added (:func:`_sell`). Dead firms have no capacity, so every flow is 0 for them.
    ``K^a L^(1-a)`` is computed as ``exp(a log K + (1-a) log L)`` in NumPy passes (SIMD).
    """
    p, f, n = model.p, model.firms, model.firms.n
    s = model.shock
    # exposure to the shock (per firm); in months without a shock it multiplies 0 and is left at 1
    exposure = 1.0 - p["collaboration_softening"] * collaboration(model) if s > 0 else 1.0
    model.exposure = exposure
    shock, exp_arr, _ = shock_exposure(model, "production.produce_and_sell")
    fac_t, fac_i = as_table(model.facility_usage_firm)
    agg_t, agg_i = as_table(model.agglomeration_firm)
    ex_t, ex_i = as_table(model.cluster_export_firm)
    rs = group_of(model)
    input_share = f.derived("input_share", lambda r: 1.0 - VA_SHARE[f.sector[r]])
    check_rows(n, "production.produce_and_sell", facility=fac_i, agglomeration=agg_i, export=ex_i,
               online_demand=model.online_demand, middleman=model.middleman_factor_firm,
               commission=model.commission_firm)
    we = np.empty(n)
    we_tot = 0.0
    supply_scale = float(p["shock_supply_cut"] * s)
    spending = model.spending
    for sl in blocks(n):
        kl = capital_labour(f, sl)
        # one running sum in row order across blocks: the same additions whatever the block size and
        # wherever dead rows (skipped) sit, so compacting them away does not change its last bits
        we_tot = _capacity_weights(sl.start, sl.stop, kl, shock, supply_scale, exp_arr, f.productivity,
                                   fac_t, fac_i, agg_t, agg_i, ex_t, ex_i, f.alive, f.customers, spending, rs,
                                   f.capacity, we, we_tot)
    pool = model.local_pool
    ng = pool.size
    unserved = np.zeros(ng)
    spare_w = np.zeros(ng)
    d_local = np.empty(n)
    d_export = np.empty(n)
    _demand(n, pool, float(model.world_pool), max(we_tot, 1e-300), rs, we, model.online_demand, f.alive,
            f.customers, f.capacity, d_local, d_export, f.demand, f.unfilled, unserved, spare_w)
    tau, beta, own0 = trade_terms(p)
    trade_va = np.zeros(p["n_regions"])
    _sell(n, tau, beta, own0, shock, float(0.3 * p["shock_supply_cut"] * s), exp_arr, rs,
          unserved, spare_w, d_local, d_export, model.online_demand, model.middleman_factor_firm, model.commission_firm,
          input_share, fac_t, fac_i, f.alive, f.region, f.stage, f.logistics, f.customers, f.capacity, f.demand,
          f.online_revenue, f.export_revenue, f.revenue, f.value_added, f.utilisation, trade_va)
    model.trade_va_region = trade_va


def trade_terms(p) -> tuple[float, float, float]:
    """The trade sector's terms: the real trading cost ``tau`` (share of the value traded), the
    traders' bargaining weight ``beta`` and the distribution cost ``own0`` at which a producer with
    no channel of its own (an unclustered or artisan-cluster manufacturer, offline) could sell
    direct: chosen so that such a producer's bargained margin is ``middleman_margin``
    (``tau + beta (own0 - tau)``). A margin set below the trading cost means producers sell direct
    at that cost (no traders): the switch-off of the decomposition."""
    tau = float(p["trade_cost"])
    beta = float(p["trader_bargaining_power"])
    m0 = float(p["middleman_margin"])
    own0 = m0 if m0 < tau else tau + (m0 - tau) / beta
    return tau, beta, own0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def trade_margin(tau, beta, own0, factor, online, commission, logistics):
    """(margin kept by the trader, own distribution cost) as shares of a producer's local sales, for
    one firm (:func:`_sell`; the reference engine calls it too). A Nash bargain whose outside option
    is selling direct at the firm's own cost: ``factor`` (the cluster's middleman factor; 0 = the
    firm sells direct, trade and services) scales that cost between ``tau`` and ``own0``, an online
    listing (``online``) caps it at the commission plus packing and delivery. Selling direct is
    chosen when it is cheaper than the trading cost."""
    if factor <= 0:
        return 0.0, 0.0
    own = tau + (own0 - tau) * factor
    if online:
        own = min(own, commission + ONLINE_DELIVERY_COST * (1.0 - LOGISTICS_COST_CUT * logistics))
    if own < tau:
        return 0.0, own
    return tau + beta * (own - tau), 0.0


@njit(cache=True, nogil=True, error_model="numpy")
def _capacity_weights(lo, hi, kl, shock, supply_scale, exposure, productivity, fac_t, fac_i, agg_t, agg_i,
                      ex_t, ex_i, alive, customers, spending, group, capacity, we, we_sum):
    """Rows ``lo..hi-1``: capacity (``kl`` = the block's K^a L^(1-a)) and the export weight (the
    firm's local customers' spending x its cluster's export access x quality); returns ``we_sum``
    plus the block's export weights, added in row order."""
    for i in range(lo, hi):
        if not alive[i]:
            capacity[i] = 0.0
            we[i] = 0.0
            continue
        prod = productivity[i]
        cap = A_SCALE * prod * kl[i - lo] * (FACILITY_TECH * fac_t[fac_i[i]] + 1.0) * agg_t[agg_i[i]]
        if shock:  # disrupted inputs cut usable capacity
            cap *= 1.0 - supply_scale * exposure[i] * 0.5
        capacity[i] = cap
        wei = customers[i] * spending[group[i]] * ex_t[ex_i[i]] * prod
        we[i] = wei
        we_sum += wei
    return we_sum


@njit(cache=True, nogil=True, error_model="numpy")
def _demand(n, pool, world, we_tot, group, we, online_demand, alive, customers, capacity, d_local, d_export,
            demand, unfilled, unserved, spare_w):
    """Per row: own local demand (customers x the market's local spending), export and online
    demand, what capacity leaves unserved; per market, the unserved local demand and the spare
    capacity weighted by customers."""
    for i in range(n):
        if not alive[i]:
            d_local[i] = 0.0
            d_export[i] = 0.0
            demand[i] = 0.0
            unfilled[i] = 0.0
            continue
        g = group[i]
        dl = pool[g] * customers[i]
        dx = world * we[i] / we_tot
        d = dl + dx + online_demand[i]
        d_local[i] = dl
        d_export[i] = dx
        demand[i] = d
        cap = capacity[i]
        if d > cap:
            unfilled[i] = d - cap
            unserved[g] += dl * (d - cap) / d
        else:
            unfilled[i] = 0.0
            spare_w[g] += (cap - d) * customers[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _sell(n, tau, beta, own0, shock, supply_cost, exposure, group, unserved, spare_w, d_local, d_export,
          online_demand, middleman, commission, input_share, fac_t, fac_i, alive, region, stage, logistics, customers,
          capacity, demand, online_revenue, export_revenue, revenue, value_added, utilisation, trade_va):
    """Per row: sales up to capacity, plus a share of the market's unserved local demand for firms
    with spare capacity (in proportion to spare capacity x customers, at most the spare capacity);
    local sales of manufacturers go through traders at a bargained margin (:func:`trade_margin`)
    or direct at the producer's own distribution cost; revenue, value added net of inputs (dearer
    in the shock, cheaper with shared facilities and logistics support), utilisation, and per
    region the traders' value added (margin less the trading cost, ``trade_va``)."""
    for i in range(n):
        if not alive[i]:
            online_revenue[i] = 0.0
            export_revenue[i] = 0.0
            revenue[i] = 0.0
            value_added[i] = 0.0
            utilisation[i] = 0.0
            continue
        g = group[i]
        cap = capacity[i]
        d = demand[i]
        sales = min(cap, d)
        frac = sales / d if d > 0 else 0.0
        local = d_local[i] * frac
        if d < cap and spare_w[g] > 0:
            extra = min(unserved[g] * (cap - d) * customers[i] / spare_w[g], cap - d)
            local += extra
            sales += extra
        online = frac * online_demand[i]
        export = frac * d_export[i]
        online_revenue[i] = online
        export_revenue[i] = export
        margin, direct = trade_margin(tau, beta, own0, middleman[i], stage[i] == 3, commission[i], logistics[i])
        if margin > 0:
            trade_va[region[i]] += (margin - tau) * local
        rev = local * (1.0 - margin) + online + export
        revenue[i] = rev
        inputs = sales * input_share[i]
        if shock:
            inputs *= 1.0 + supply_cost * exposure[i]
        fac = fac_t[fac_i[i]]
        inputs *= (1.0 - FACILITY_COST_CUT * fac) * (1.0 - LOGISTICS_COST_CUT * logistics[i])
        inputs += direct * local
        value_added[i] = rev - inputs
        utilisation[i] = sales / max(cap, 1e-300)
