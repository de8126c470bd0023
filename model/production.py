"""Production and markets: capacity from capital, workers and productivity; sales through local,
online and export channels.

Local demand is a pool per (region, sector) that grows with household demand; firms share it in
proportion to capacity weighted by market reach and quality, so a subsidised firm's gain is partly
taken from its unsubsidised neighbours (Criscuolo et al. 2019, FACTS). Manufacturers outside
cluster arrangements sell locally through middlemen, who keep a margin (seed 003).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .clusters import FACILITY_COST_CUT, FACILITY_TECH, as_table
from .population import VA_SHARE
from .scan import check_rows
from .state import blocks

A_SCALE = 12000.0     # IDR of monthly output per unit of K^0.45 L^0.55 (micro VA ~4.5 M per worker a month, FACTS GDP share)
ALPHA = 0.45          # capital elasticity
INITIAL_UTILISATION = 0.85
EXPORT_POOL = 0.03    # world demand reachable by firms with export networks, share of local demand
LOGISTICS_COST_CUT = 0.03


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
    """How much a firm shares resources, marketing and delivery with others, 0..1 (seed 002)."""
    f, n = model.firms, model.firms.n
    c = np.asarray(model.cluster_coop_firm) + 0.7 * (f.platform_step[:n] > 0) + 0.5 * f.participant[:n]
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


def group_of(model) -> np.ndarray:
    """Region-sector group of every firm (index of its local demand pool)."""
    f = model.firms
    return f.derived("group", lambda r: f.region[r].astype(np.int64) * 8 + f.sector[r], dtype=np.int64)


def local_pools(model, cap: np.ndarray) -> None:
    """Set the base local demand pools from initial capacity (called once at set-up)."""
    f, n = model.firms, model.firms.n
    rs = f.region[:n].astype(np.int64) * 8 + f.sector[:n]
    model.local_pool0 = np.bincount(rs, weights=cap, minlength=model.p["n_regions"] * 8) * INITIAL_UTILISATION


def produce_and_sell(model) -> None:
    """Capacity, demand by channel, sales, revenue and value added for every firm.

    Two compiled passes over blocks of rows (:func:`_capacity_weights`, :func:`_sell`): capacity
    and market weights, then, after the region-sector and export totals, sales. Dead firms have no
    capacity, so every flow is 0 for them. ``K^a L^(1-a)`` is computed as
    ``exp(a log K + (1-a) log L)`` in NumPy passes (SIMD; ~20x faster than ``pow``).
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
               online_demand=model.online_demand, middleman=model.middleman_factor_firm)
    w = np.empty(n)
    we = np.empty(n)
    tot = np.zeros(model.local_pool0.size)
    we_tot = 0.0
    supply_scale = float(p["shock_supply_cut"] * s)
    for sl in blocks(n):
        kl = capital_labour(f, sl)
        # one running sum in row order across blocks: the same additions whatever the block size and
        # wherever dead rows (skipped) sit, so compacting them away does not change its last bits
        we_tot = _capacity_weights(sl.start, sl.stop, kl, shock, supply_scale, exp_arr, f.productivity,
                                   fac_t, fac_i, agg_t, agg_i, ex_t, ex_i, f.alive, f.market_reach, rs,
                                   f.capacity, w, we, tot, we_tot)
    np.maximum(tot, 1e-300, out=tot)
    pool = model.local_pool0 * model.demand
    # export buyers: a world pool shared by firms whose cluster has export networks (seed 003)
    world = EXPORT_POOL * model.local_pool0.sum() * model.demand
    _sell(0, n, pool, tot, float(world), max(we_tot, 1e-300), shock, float(p["shock_demand_cut"] * s),
          float(0.3 * p["shock_supply_cut"] * s), exp_arr, float(p["middleman_margin"]), rs, w, we,
          model.online_demand, model.middleman_factor_firm, input_share, fac_t, fac_i, f.alive, f.logistics,
          f.capacity, f.online_revenue, f.export_revenue, f.revenue, f.value_added, f.utilisation)
    model.local_demand_total = float(pool.sum())


@njit(cache=True, nogil=True, error_model="numpy")
def _capacity_weights(lo, hi, kl, shock, supply_scale, exposure, productivity, fac_t, fac_i, agg_t, agg_i,
                      ex_t, ex_i, alive, market_reach, group, capacity, w, we, tot, we_sum):
    """Rows ``lo..hi-1``: capacity (``kl`` = the block's K^a L^(1-a)), the local-market weight
    (capacity x reach x sqrt(quality)) summed per region-sector group into ``tot``, and the export
    weight; returns ``we_sum`` plus the block's export weights, added in row order."""
    for i in range(lo, hi):
        if not alive[i]:
            capacity[i] = 0.0
            w[i] = 0.0
            we[i] = 0.0
            continue
        prod = productivity[i]
        cap = A_SCALE * prod * kl[i - lo] * (FACILITY_TECH * fac_t[fac_i[i]] + 1.0) * agg_t[agg_i[i]]
        if shock:  # disrupted inputs cut usable capacity
            cap *= 1.0 - supply_scale * exposure[i] * 0.5
        capacity[i] = cap
        wi = (1.0 + market_reach[i]) * cap * np.sqrt(prod)
        w[i] = wi
        tot[group[i]] += wi
        wei = cap * ex_t[ex_i[i]] * prod
        we[i] = wei
        we_sum += wei
    return we_sum


@njit(cache=True, nogil=True, error_model="numpy")
def _sell(lo, hi, pool, tot, world, we_tot, shock, demand_cut, supply_cost, exposure, margin_rate, group, w, we,
          online_demand, middleman, input_share, fac_t, fac_i, alive, logistics,
          capacity, online_revenue, export_revenue, revenue, value_added, utilisation):
    """Rows ``lo..hi-1``: local, online and export demand, sales up to capacity, revenue net of
    the middleman margin, value added net of inputs (dearer in the shock, cheaper with shared
    facilities and logistics support), and utilisation."""
    for i in range(lo, hi):
        if not alive[i]:
            online_revenue[i] = 0.0
            export_revenue[i] = 0.0
            revenue[i] = 0.0
            value_added[i] = 0.0
            utilisation[i] = 0.0
            continue
        g = group[i]
        cap = capacity[i]
        d_local = pool[g] * w[i] / tot[g]
        d_export = world * we[i] / we_tot
        if shock:
            cut = 1.0 - demand_cut * exposure[i]
            d_local *= cut
            d_export *= cut
        d_online = online_demand[i]
        demand = d_local + d_online + d_export
        sales = min(cap, demand)
        frac = sales / max(demand, 1e-300)
        online = frac * d_online
        export = frac * d_export
        online_revenue[i] = online
        export_revenue[i] = export
        rev = d_local * frac * (1.0 - margin_rate * middleman[i]) + online + export
        revenue[i] = rev
        inputs = sales * input_share[i]
        if shock:
            inputs *= 1.0 + supply_cost * exposure[i]
        fac = fac_t[fac_i[i]]
        inputs *= (1.0 - FACILITY_COST_CUT * fac) * (1.0 - LOGISTICS_COST_CUT * logistics[i])
        value_added[i] = rev - inputs
        utilisation[i] = sales / max(cap, 1e-300)
