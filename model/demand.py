"""Demand: what households spend on MSME goods, and the customers through which firms win it.

Aggregate demand (economic core v2, stage 2; docs/CORE_V2.md). Spending on MSME goods of region r
and sector s (a local market g) is

    S_g(t) = X_g(t) + c * sigma_g * Y_r(t-1)

where X_g is the rest of the economy's spending (growing at ``demand_growth_per_year``, an
uncertainty; cut by the shock), Y_r the value added of the region's MSMEs last month (wages and
owners' incomes), c = ``income_spending_share`` the share of it spent on local MSME goods and
sigma_g the sector's share of the region's spending. At set-up X_g(0) is solved so that S_g(0)
is the month-0 demand: the start is a fixed point. Everything is real, at month-0 prices: a
market's spending buys more when its firms' unit costs fall (a customer-weighted price index).
A share of each region's spending goes online (internet penetration; more in the shock): the
channels divert spending, they do not add to it.

Customers (Dosi, Fagiolo & Roventini 2010 replicator competition; customer capital as in Gourio &
Rudanko 2014 and Foster, Haltiwanger & Syverson 2016). Each firm holds ``customers``: its share of
its local market's customers. Every month a share ``customer_churn`` of every firm's customers,
plus a share ``unserved_churn`` of those it failed to serve, look again, and choose among the
market's firms in proportion to attractiveness exp(E_i):

    E_i = price_sensitivity * log(efficiency_i) + log(appeal_i) + log(1 + market_reach_i)

(efficiency: productivity with shared facilities and agglomeration, and lower input costs: the
firm's price advantage; appeal: a persistent firm-specific demand shifter, AR(1) in logs).
Capacity never enters: a firm that adds capacity gains no customers, and one that cannot serve its
customers loses them to competitors.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from scipy.special import ndtri

from .clusters import FACILITY_COST_CUT, FACILITY_TECH, as_table
from .scan import check_rows
from .streams import uniform_of

INITIAL_UTILISATION = 0.85  # month-0 demand as a share of capacity (v1's pools)
APPEAL_KNOTS = 1024          # quantiles of the month-0 appeal distribution kept for the copula
APPEAL_MOVES = 1.0 / 12      # monthly chance a firm's appeal moves (on average once a year; assumption)
DEMAND = 200                 # stream purpose of the appeal shocks
EXPORT_POOL = 0.03           # world demand reachable by exporters, share of month-0 spending (v1)
LOGISTICS_COST_CUT = 0.03


def group_of(model) -> np.ndarray:
    """Local market (region x sector) of every firm: the index of its spending pool."""
    f = model.firms
    return f.derived("group", lambda r: f.region[r].astype(np.int64) * 8 + f.sector[r], dtype=np.int64)


@njit(cache=True, nogil=True, error_model="numpy")
def efficiency(productivity, facility, agglomeration, logistics):
    """A firm's cost advantage: output per unit of inputs (capacity multipliers) over its input-cost
    factor; its price relative to a firm with efficiency 1 is 1 / efficiency."""
    return productivity * (FACILITY_TECH * facility + 1.0) * agglomeration / (
        (1.0 - FACILITY_COST_CUT * facility) * (1.0 - LOGISTICS_COST_CUT * logistics))


def online_share(model) -> np.ndarray:
    """Share of each region's MSME spending that goes through marketplaces: ``online_demand_share``
    x regional internet penetration, raised by the shock's shift online (seed 003), at most 0.9."""
    p = model.p
    net = np.minimum(model.internet * model.region_internet, 1.0)
    return np.minimum(p["online_demand_share"] * net * (1.0 + p["shock_online_shift"] * model.shock), 0.9)


def trend(p: dict, month: int) -> float:
    """The exogenous spending index: real growth ``demand_growth_per_year`` a year."""
    return float((1.0 + p["demand_growth_per_year"]) ** (month / 12.0))


def aggregate(model) -> None:
    """This month's spending per local market (``model.spending``, IDR at month-0 prices), its
    local and online parts (``model.local_pool``, ``model.online_spending``), the world demand for
    exports (``model.world_pool``) and the demand index ``model.demand`` (real spending / month 0)."""
    p = model.p
    g_region = model.market_region
    level = trend(p, model.month) * (1.0 - p["shock_demand_cut"] * model.shock)  # the rest of the economy
    exo = model.exogenous0 * level
    induced = p["income_spending_share"] * model.sector_share * model.region_income[g_region]
    nominal = np.maximum(exo + induced, 0.0)
    real = nominal / model.price_index
    share = online_share(model)[g_region]
    model.spending = real
    model.local_pool = real * (1.0 - share)
    model.online_spending = float((real * share).sum())
    model.world_pool = EXPORT_POOL * model.spending0.sum() * level
    model.demand = float(real.sum() / model.spending0.sum())


def init_markets(model) -> None:
    """Set-up, before month 0's sales: each firm's customers (its share of its market's month-0
    capacity), its appeal (backed out so that these shares are where the choice rule puts them),
    and the month-0 spending S_g(0) = INITIAL_UTILISATION x capacity."""
    f, n, p = model.firms, model.firms.n, model.p
    g = group_of(model)
    n_groups = p["n_regions"] * 8
    cap = f.capacity[:n]
    tot = np.bincount(g, weights=cap, minlength=n_groups)
    f.customers[:n] = cap / np.maximum(tot[g], 1e-300)
    eff = efficiency(f.productivity[:n], np.asarray(model.facility_usage_firm), np.asarray(model.agglomeration_firm),
                     f.logistics[:n])
    log_app = np.log(np.maximum(cap, 1e-300)) - p["price_sensitivity"] * np.log(eff) - np.log1p(f.market_reach[:n])
    log_app -= log_app.mean()  # centred: exp(E) stays near 1
    f.appeal[:n] = log_app
    # appeal moves through its normal score (a Gaussian-copula AR(1)): each firm's rank moves, the
    # month-0 distribution of appeal (heavy-tailed, like firm sizes) stays
    order = np.argsort(log_app, kind="stable")
    ranks = np.empty(n)
    ranks[order] = (np.arange(n) + 0.5) / n
    f.appeal_z[:n] = ndtri(ranks)
    model.appeal_table = np.quantile(log_app, (np.arange(APPEAL_KNOTS) + 0.5) / APPEAL_KNOTS)
    model.market_region = np.arange(n_groups) // 8
    model.spending0 = tot * INITIAL_UTILISATION
    region_sp = np.bincount(model.market_region, weights=model.spending0, minlength=p["n_regions"])
    model.sector_share = model.spending0 / np.maximum(region_sp[model.market_region], 1e-300)
    model.price_index = np.ones(n_groups)
    # the month-0 customer-weighted unit cost (1 / efficiency) of each market: the price index's base
    bsum = np.bincount(g, weights=f.customers[:n], minlength=n_groups)
    cost = np.bincount(g, weights=f.customers[:n] / eff, minlength=n_groups)
    model.cost0 = np.where(bsum > 0, cost / np.maximum(bsum, 1e-300), 1.0)
    model.exogenous0 = model.spending0.copy()  # until the month-0 incomes are known (init_incomes)
    model.region_income = np.zeros(p["n_regions"])
    model.waiting_customers = np.zeros(n_groups)
    aggregate(model)


def release_customers(model, rows: np.ndarray) -> None:
    """Firms ``rows`` exit: their customers wait to choose again at the next choice (a month's
    search), in their market."""
    f = model.firms
    g = group_of(model)[rows] if rows.size else np.zeros(0, dtype=np.int64)
    np.add.at(model.waiting_customers, g, f.customers[rows])
    f.customers[rows] = 0.0


def region_income(model) -> np.ndarray:
    """Value added of each region's MSMEs this month (wages and owners' incomes), IDR: the
    producers' and the traders' who carry their goods (``model.trade_va_region``)."""
    f, n = model.firms, model.firms.n
    va = np.bincount(f.region[:n], weights=f.value_added[:n] * f.alive[:n], minlength=model.p["n_regions"])
    return va + model.trade_va_region


def init_incomes(model) -> None:
    """After month 0's sales: the exogenous spending X_g(0) that makes S_g(0) a fixed point."""
    model.region_income = region_income(model)
    induced = model.p["income_spending_share"] * model.sector_share * model.region_income[model.market_region]
    model.exogenous0 = np.maximum(model.spending0 - induced, 0.0)


@njit(cache=True, nogil=True, error_model="numpy")
def appeal_at(z, table):
    """Appeal at normal score ``z``: the month-0 distribution's quantile at Phi(z), linear between
    the ``table``'s knots (quantiles at probabilities (k + 0.5) / K)."""
    k = table.size
    x = 0.5 * math.erfc(-z / math.sqrt(2.0)) * k - 0.5
    if x <= 0.0:
        return table[0]
    if x >= k - 1:
        return table[k - 1]
    j = int(x)
    return table[j] + (x - j) * (table[j + 1] - table[j])


@njit(cache=True, nogil=True, error_model="numpy")
def _appeal_values(z, table, out):
    """:func:`appeal_at` of each score in ``z``, into ``out``."""
    for i in range(z.size):
        out[i] = appeal_at(z[i], table)


@njit(cache=True, nogil=True, error_model="numpy")
def appeal_move(z, u1, u2, rho, table):
    """One move of a firm's appeal: its normal score ``z`` takes an AR(1) step with persistence
    ``rho`` and a standard normal shock (Box-Muller on ``u1``, ``u2``); returns (score, appeal)."""
    eps = math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)
    z = rho * z + math.sqrt(1.0 - rho * rho) * eps
    return z, appeal_at(z, table)


@njit(cache=True, nogil=True, error_model="numpy")
def _appeal_moves(n, seed_move, seed_1, seed_2, terms, prob, rho, table, alive, appeal_z, appeal):
    """Alive rows whose appeal moves this month (a uniform below ``prob``) take :func:`appeal_move`."""
    for i in range(n):
        if alive[i] and uniform_of(seed_move, terms[i]) < prob:
            z, a = appeal_move(appeal_z[i], uniform_of(seed_1, terms[i]), uniform_of(seed_2, terms[i]), rho, table)
            appeal_z[i] = z
            appeal[i] = a


def move_persistence(p: dict) -> float:
    """Persistence of a move: ``appeal_persistence`` (a month) over the months between moves."""
    return float(p["appeal_persistence"] ** (1.0 / APPEAL_MOVES))


def appeal_shocks(model) -> None:
    """Firm-specific demand moves (on average once a year): the firm's appeal's normal score takes
    an AR(1) step (persistence ``appeal_persistence`` a month, compounded over the months between
    moves) and appeal is read from the month-0 distribution at that score. Each firm's rank moves,
    the distribution of appeal (heavy-tailed, like firm sizes) stays: a Gaussian copula."""
    f, n, p, t = model.firms, model.firms.n, model.p, model.month
    if p["appeal_persistence"] >= 1.0:
        return
    seed, terms = model.streams.compiled_keys(t, DEMAND, n)
    s1, _ = model.streams.compiled_keys(t, DEMAND + 1, n)
    s2, _ = model.streams.compiled_keys(t, DEMAND + 2, n)
    _appeal_moves(n, seed, s1, s2, terms, APPEAL_MOVES, move_persistence(p), model.appeal_table, f.alive,
                  f.appeal_z, f.appeal)


def update_customers(model) -> None:
    """End of the month's sales: customers leave (churn and unserved demand) and choose again in
    their market; the markets' price indices and the regions' incomes for next month's demand."""
    f, n, p = model.firms, model.firms.n, model.p
    g = group_of(model)
    n_groups = model.spending0.size
    fac_t, fac_i = as_table(model.facility_usage_firm)
    agg_t, agg_i = as_table(model.agglomeration_firm)
    check_rows(n, "demand.update_customers", facility=fac_i, agglomeration=agg_i)
    eff = np.empty(n)
    _efficiency(n, f.productivity, fac_t, fac_i, agg_t, agg_i, f.logistics, eff)
    logw = np.log(eff)
    logw *= p["price_sensitivity"]
    logw += f.appeal[:n]
    logw += np.log1p(f.market_reach[:n])
    w = np.exp(logw)
    pool = model.waiting_customers  # customers looking: those of firms that exited since the last choice, ...
    model.waiting_customers = np.zeros(n_groups)
    wsum = np.zeros(n_groups)
    cost = np.zeros(n_groups)
    bsum = np.zeros(n_groups)
    # ... and those leaving their firm now (churn, unserved orders)
    _churn(n, float(p["customer_churn"]), float(p["unserved_churn"]), g, f.alive, f.demand, f.unfilled, w,
           f.customers, pool, wsum)
    _choose(n, g, f.alive, w, pool, wsum, eff, f.customers, cost, bsum)
    unit_cost = cost / np.maximum(bsum, 1e-300)
    model.price_index = np.where(bsum > 0, unit_cost / model.cost0, 1.0)
    model.region_income = region_income(model)


@njit(cache=True, nogil=True, error_model="numpy")
def _efficiency(n, productivity, fac_t, fac_i, agg_t, agg_i, logistics, out):
    """:func:`efficiency` row by row (per-cluster tables read through their indices)."""
    for i in range(n):
        out[i] = efficiency(productivity[i], fac_t[fac_i[i]], agg_t[agg_i[i]], logistics[i])


@njit(cache=True, nogil=True, error_model="numpy")
def _churn(n, churn, unserved_churn, group, alive, demand, unfilled, w, customers, pool, wsum):
    """Customers who look again this month leave their firm (all of a dead firm's); per market,
    the customers looking (``pool``) and the attractiveness of the firms they can choose (``wsum``)."""
    for i in range(n):
        b = customers[i]
        g = group[i]
        if not alive[i]:
            pool[g] += b
            customers[i] = 0.0
            continue
        u = unfilled[i] / demand[i] if demand[i] > 0 else 0.0
        lost = b * min(churn + unserved_churn * u, 1.0)
        customers[i] = b - lost
        pool[g] += lost
        wsum[g] += w[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _choose(n, group, alive, w, pool, wsum, eff, customers, cost, bsum):
    """The customers looking choose a firm of their market in proportion to attractiveness; per
    market, the customer-weighted unit cost (1 / efficiency) and the customers."""
    for i in range(n):
        if not alive[i]:
            continue
        g = group[i]
        b = customers[i] + pool[g] * w[i] / wsum[g]
        customers[i] = b
        cost[g] += b / eff[i]
        bsum[g] += b


def entrant_appeal(rng: np.random.Generator, rows: slice, model) -> None:
    """Appeal of entrants ``rows``: drawn from the incumbents' distribution at month 0. They start
    with no customers and win them through the monthly choice (customer capital takes years)."""
    z = rng.standard_normal(rows.stop - rows.start)
    model.firms.appeal_z[rows] = z
    _appeal_values(z, model.appeal_table, model.firms.appeal[rows])


__all__ = ["aggregate", "init_markets", "init_incomes", "update_customers", "appeal_shocks", "efficiency",
           "online_share"]
