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

A_SCALE = 12000.0     # IDR of monthly output per unit of K^0.45 L^0.55 (micro VA ~4.5 M per worker a month, FACTS GDP share)
ALPHA = 0.45          # capital elasticity
INITIAL_UTILISATION = 0.85
EXPORT_POOL = 0.03    # world demand reachable by firms with export networks, share of local demand
LOGISTICS_COST_CUT = 0.03


def collaboration(model) -> np.ndarray:
    """How much a firm shares resources, marketing and delivery with others, 0..1 (seed 002)."""
    f, n = model.firms, model.firms.n
    c = model.cluster_coop_firm + 0.7 * (f.platform_step[:n] > 0) + 0.5 * f.participant[:n]
    return np.clip(c, 0.0, 1.0)


def capacity(model) -> np.ndarray:
    """Monthly output capacity, IDR at reference prices."""
    f, n = model.firms, model.firms.n
    k = np.maximum(f.capital[:n], 1.0)
    l = np.maximum(f.workers[:n], 1.0)
    base = A_SCALE * f.productivity[:n] * k ** ALPHA * l ** (1 - ALPHA)
    facility = 1.0 + 0.20 * model.facility_usage_firm
    return np.where(f.alive[:n], base * facility * model.agglomeration_firm, 0.0)


def local_pools(model, cap: np.ndarray) -> None:
    """Set the base local demand pools from initial capacity (called once at set-up)."""
    f, n = model.firms, model.firms.n
    rs = f.region[:n].astype(np.int64) * 8 + f.sector[:n]
    model.local_pool0 = np.bincount(rs, weights=cap, minlength=model.p["n_regions"] * 8) * INITIAL_UTILISATION


def produce_and_sell(model) -> None:
    """Capacity, demand by channel, sales, revenue and value added for every firm."""
    p, f, n = model.p, model.firms, model.firms.n
    alive = f.alive[:n]
    exposure = 1.0 - p["collaboration_softening"] * collaboration(model)
    model.exposure = exposure
    s = model.shock
    supply = 1.0 - p["shock_supply_cut"] * s * exposure * 0.5   # disrupted inputs cut usable capacity
    cap = capacity(model) * supply
    f.capacity[:n] = cap
    rs = f.region[:n].astype(np.int64) * 8 + f.sector[:n]
    w = np.where(alive, cap * (1.0 + f.market_reach[:n]) * np.sqrt(f.productivity[:n]), 0.0)
    tot = np.bincount(rs, weights=w, minlength=model.local_pool0.size)
    pool = model.local_pool0 * model.demand
    d_local = pool[rs] * w / np.maximum(tot[rs], 1e-300) * (1.0 - p["shock_demand_cut"] * s * exposure)
    d_online = model.online_demand
    # export buyers: a world pool shared by firms whose cluster has export networks (seed 003)
    we = np.where(alive, cap * model.cluster_export_firm * f.productivity[:n], 0.0)
    world = EXPORT_POOL * model.local_pool0.sum() * model.demand
    d_export = world * we / max(we.sum(), 1e-300) * (1.0 - p["shock_demand_cut"] * s * exposure)
    demand = d_local + d_online + d_export
    sales = np.minimum(cap, demand)
    frac = np.where(demand > 0, sales / np.maximum(demand, 1e-300), 0.0)
    local, online, export = frac * d_local, frac * d_online, frac * d_export
    margin = p["middleman_margin"] * model.middleman_factor_firm
    revenue = local * (1.0 - margin) + online + export
    # disrupted supply chains: part of the shock raises input prices, most of it cuts usable capacity
    inputs = sales * (1.0 - VA_SHARE[f.sector[:n]]) * (1.0 + 0.3 * p["shock_supply_cut"] * s * exposure)
    inputs *= (1.0 - 0.08 * model.facility_usage_firm) * (1.0 - LOGISTICS_COST_CUT * f.logistics[:n])
    f.revenue[:n] = revenue
    f.online_revenue[:n] = online
    f.export_revenue[:n] = export
    f.value_added[:n] = revenue - inputs
    f.utilisation[:n] = np.where(cap > 0, sales / np.maximum(cap, 1e-300), 0.0)
    model.local_demand_total = float(pool.sum())
