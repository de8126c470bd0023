"""Exit and entry of firms.

A firm exits when insolvent (capital gone, debt far above capital, or a year of losses) or by an
exogenous hazard that is higher for young firms and during the shock; together these give about
8 % a year (McKenzie & Paffhausen 2017, FACTS). Entrants arrive in proportion to the alive
population and to real spending per firm (free entry: the number of firms follows the market's size,
Bresnahan & Reiss 1991); they are micro firms drawn like the initial ones.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import clusters, demand, streams
from .population import fill_firms
from .state import BLOCK, blocks
from .streams import uniform_of

MIN_CAPITAL = 1.0e6
MAX_LOSS_MONTHS = 12


def exit_firms(model) -> int:
    """Mark exiting firms dead; return how many left."""
    p, f, t = model.p, model.firms, model.month
    seed, terms = model.streams.compiled_keys(t, streams.EXIT, f.n)  # drawn in the loop, where needed
    buf = np.empty(min(f.n, BLOCK) + 1, dtype=np.int64)
    out = []
    for sl in blocks(f.n):
        k = _exits(sl.start, sl.stop, t, seed, terms, float(p["exit_hazard"]), f.alive, f.capital, f.debt,
                   f.loss_months, f.born, f.age0, buf)
        out.append(buf[:k].copy())
    rows = np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    f.alive[rows] = False
    f.died[rows] = t
    demand.release_customers(model, rows)
    model.exit_rows = (t, rows)  # archived at the end of the month (MSMEEcosystem._compact)
    model.remove_msme_agents(rows)
    return int(rows.size)


def enter_firms(model) -> int:
    """Create this month's entrants; return how many."""
    p, f, t = model.p, model.firms, model.month
    rng = model.streams.gen(t, streams.ENTRY)
    n_alive = int(f.alive[: f.n].sum())
    # potential entrants answer to real spending per incumbent against month 0 (the shock's demand
    # cut included): more firms than the market supports deter entry, a gap (exits after a shock,
    # a growing market) draws entrants, so the number of firms follows the market's size
    per_firm = model.demand * p["n_firms"] / max(n_alive, 1)
    lam = p["entry_rate"] * n_alive * min(per_firm, 3.0) ** p["entry_elasticity"]
    k = int(rng.poisson(lam))
    if k == 0:
        return 0
    rows = f.add_rows(k)
    fill_firms(f, rows, rng, model.regions, t, model.internet, entrants=True)
    demand.entrant_appeal(rng, rows, model)  # no customers yet: won month by month
    f.debt_rate[rows] = np.where(f.credit_access[rows] == 1, p["moneylender_interest_rate"],
                                 p["commercial_interest_rate"])
    model.participation_propensity = _extend(model.participation_propensity, f.n, rng)
    idx = np.arange(rows.start, rows.stop)
    from .marketplaces import join_marketplace

    online = idx[f.stage[rows] == 3]
    f.stage[idx] = np.minimum(f.stage[idx], 2)  # they list through join_marketplace below
    join_marketplace(model, online)
    clusters.entrants_join(model, idx)
    model.add_msme_agents(idx)
    return k


def _extend(arr: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``arr`` with new draws for rows ``arr.size..n-1``; grown in place when ``arr`` is a view of
    a buffer with room (no copy of every row each month)."""
    if arr.size >= n:
        return arr
    m = arr.size
    buf = arr.base if isinstance(arr.base, np.ndarray) and arr.base.ndim == 1 and arr.base.size >= n \
        and arr.base.dtype == arr.dtype and np.shares_memory(arr[:1], arr.base[:1]) else None
    if buf is None:
        buf = np.empty(max(n, int(n * 1.25) + 16))
        buf[:m] = arr
    buf[m:n] = rng.random(n - m)
    return buf[:n]


@njit(cache=True, nogil=True, error_model="numpy")
def _exits(lo, hi, t, seed, terms, exit_hazard, alive, capital, debt, loss_months, born, age0, out):
    """Alive rows ``lo..hi-1`` that exit this month, written to ``out`` (ascending); returns how many.
    Insolvent firms exit; the others by a hazard, 1.5 times higher in the first two years. The shock
    is not a multiplier here: it acts through demand, supply and credit, and so through the books
    (issue 'economic core v2', point 6). A row's uniform is drawn (``seed``, ``terms``: its stream)
    only if it is solvent."""
    k = 0
    for i in range(lo, hi):
        if not alive[i]:
            continue
        c = capital[i]
        insolvent = c < MIN_CAPITAL or debt[i] > 1.5 * c or loss_months[i] >= MAX_LOSS_MONTHS
        hazard = exit_hazard * (1.5 if t - born[i] + age0[i] < 24 else 1.0)
        if insolvent or uniform_of(seed, terms[i]) < hazard:
            out[k] = i
            k += 1
    return k
