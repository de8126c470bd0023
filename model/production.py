"""Production and markets: capacity from capital, workers and productivity; sales through local,
online and export channels.

Local demand is a pool per (region, sector) that grows with household demand; firms share it in
proportion to capacity weighted by market reach and quality, so a subsidised firm's gain is partly
taken from its unsubsidised neighbours (Criscuolo et al. 2019, FACTS). Manufacturers outside
cluster arrangements sell locally through middlemen, who keep a margin (seed 003).
"""

from __future__ import annotations

import numpy as np

from .population import VA_SHARE
from .state import blocks

A_SCALE = 12000.0     # IDR of monthly output per unit of K^0.45 L^0.55 (micro VA ~4.5 M per worker a month, FACTS GDP share)
ALPHA = 0.45          # capital elasticity
INITIAL_UTILISATION = 0.85
EXPORT_POOL = 0.03    # world demand reachable by firms with export networks, share of local demand
LOGISTICS_COST_CUT = 0.03


def collaboration(model) -> np.ndarray:
    """How much a firm shares resources, marketing and delivery with others, 0..1 (seed 002)."""
    f, n = model.firms, model.firms.n
    c = np.asarray(model.cluster_coop_firm) + 0.7 * (f.platform_step[:n] > 0) + 0.5 * f.participant[:n]
    return np.clip(c, 0.0, 1.0)


def capacity(model, sl: slice | None = None) -> np.ndarray:
    """Monthly output capacity, IDR at reference prices (0 for dead firms), of rows ``sl`` (all by default)."""
    f = model.firms
    sl = slice(0, f.n) if sl is None else sl
    # K^a L^(1-a) as exp(a log K + (1-a) log L): vectorised exp/log are ~20x faster than pow
    k = np.maximum(f.capital[sl], 1.0)
    np.log(k, out=k)
    k *= ALPHA
    l = np.maximum(f.workers[sl], 1.0)
    np.log(l, out=l)
    l *= 1 - ALPHA
    k += l
    np.exp(k, out=k)
    base = A_SCALE * f.productivity[sl]
    base *= k
    facility = 0.20 * model.facility_usage_firm[sl]
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

    Two passes over blocks of rows: capacity and market weights, then (after the region-sector and
    export totals) sales. Dead firms have no capacity, so every flow is 0 for them. Terms multiplied
    by the shock are skipped in months without one (they would multiply by exactly 1).
    """
    p, f, n = model.p, model.firms, model.firms.n
    s = model.shock
    # exposure to the shock (per firm); in months without a shock it multiplies 0 and is left at 1
    exposure = 1.0 - p["collaboration_softening"] * collaboration(model) if s > 0 else 1.0
    model.exposure = exposure
    w = np.empty(n)
    we = np.empty(n)
    for sl in blocks(n):
        cap = capacity(model, sl)
        if s > 0:
            supply = 1.0 - p["shock_supply_cut"] * s * exposure[sl] * 0.5   # disrupted inputs cut usable capacity
            cap *= supply
        f.capacity[sl] = cap
        prod = f.productivity[sl]
        wb = np.add(1.0, f.market_reach[sl], out=w[sl])
        wb *= cap
        wb *= np.sqrt(prod)
        web = np.multiply(cap, model.cluster_export_firm[sl], out=we[sl])
        web *= prod
    rs = group_of(model)
    tot = np.maximum(np.bincount(rs, weights=w, minlength=model.local_pool0.size), 1e-300)
    pool = model.local_pool0 * model.demand
    # export buyers: a world pool shared by firms whose cluster has export networks (seed 003)
    world = EXPORT_POOL * model.local_pool0.sum() * model.demand
    we_tot = max(we.sum(), 1e-300)
    margin_rate = p["middleman_margin"]
    supply_cost = 0.3 * p["shock_supply_cut"] * s
    for sl in blocks(n):
        g = rs[sl]
        cap = f.capacity[sl]
        d_local = pool[g] * w[sl]
        d_local /= tot[g]
        d_export = world * we[sl]
        d_export /= we_tot
        if s > 0:
            cut = 1.0 - p["shock_demand_cut"] * s * exposure[sl]
            d_local *= cut
            d_export *= cut
        d_online = model.online_demand[sl]
        demand = d_local + d_online
        demand += d_export
        sales = np.minimum(cap, demand)
        frac = np.maximum(demand, 1e-300, out=demand)
        np.divide(sales, frac, out=frac)
        local = d_local
        local *= frac
        online = np.multiply(frac, d_online, out=f.online_revenue[sl])
        export = np.multiply(frac, d_export, out=f.export_revenue[sl])
        margin = margin_rate * model.middleman_factor_firm[sl]
        keep = np.subtract(1.0, margin, out=margin)
        revenue = local
        revenue *= keep
        revenue += online
        revenue += export
        f.revenue[sl] = revenue
        # disrupted supply chains: part of the shock raises input prices, most of it cuts usable capacity
        inputs = sales * f.derived("input_share", lambda r: 1.0 - VA_SHARE[f.sector[r]])[sl]
        if s > 0:
            inputs *= 1.0 + supply_cost * exposure[sl]
        cost_cut = 1.0 - 0.08 * model.facility_usage_firm[sl]
        cost_cut *= 1.0 - LOGISTICS_COST_CUT * f.logistics[sl]
        inputs *= cost_cut
        np.subtract(revenue, inputs, out=f.value_added[sl])
        np.divide(sales, np.maximum(cap, 1e-300), out=f.utilisation[sl])
    model.local_demand_total = float(pool.sum())
