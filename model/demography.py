"""Exit and entry of firms.

A firm exits when its books say so: it defaulted on a loan payment this month, its equity (cash +
capital - debt) is negative, its capital is gone, it made losses for a year, or its expected profit
(12-month moving average) has been below the owner's outside option (a share of the real wage) for a
year; or by a small exogenous hazard, higher for young firms and not multiplied by the shock.
Together these give about 8-9 % a year (McKenzie & Paffhausen 2019). An exiting firm is liquidated:
its cash and its capital at the resale price repay its loans, lender by lender in proportion to what
it owes; what they cannot repay is booked to the lenders as defaults (``model.loan_ledger``).
Entrants arrive in proportion to the alive population and to real spending per firm (free entry:
the number of firms follows the market's size, Bresnahan & Reiss 1991); they are micro firms drawn
like the initial ones, with six months of outgoings in cash and no loans.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import clusters, demand, finance, streams
from .finance import DEFAULTS, OUTSIDE_MONTHS, REPAID, RESALE_DISCOUNT
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
    led = finance.ledger(model)[t]
    for sl in blocks(f.n):
        k = _exits(sl.start, sl.stop, t, seed, terms, float(p["exit_hazard"]), f.alive, f.capital, f.debt,
                   f.loss_months, f.born, f.age0, f.cash, f.defaulted, f.below_months, buf)
        _liquidate(buf[:k], f.cash, f.capital, f.debt, f.debt_rate, f.loan_principal, f.loan_rate, f.loan_payment,
                   led)
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
    f.debt[rows] = 0.0  # entrants start without loans (finance.open_books)
    finance.open_books(model, rows, finance.ENTRANT_CASH_MONTHS)
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
def _exits(lo, hi, t, seed, terms, exit_hazard, alive, capital, debt, loss_months, born, age0, cash, defaulted,
           below_months, out):
    """Alive rows ``lo..hi-1`` that exit this month, written to ``out`` (ascending); returns how many.
    Firms whose books fail exit (a missed loan payment, negative equity, no capital, a year of losses,
    a year of expected profit below the outside option); the others by a hazard, 1.5 times higher in
    the first two years. The shock is not a multiplier here: it acts through demand, supply and
    credit, and so through the books (issue 'economic core v2', point 6). A row's uniform is drawn
    (``seed``, ``terms``: its stream) only if its books have not failed."""
    k = 0
    for i in range(lo, hi):
        if not alive[i]:
            continue
        c = capital[i]
        insolvent = defaulted[i] or c < MIN_CAPITAL or cash[i] + c < debt[i] or loss_months[i] >= MAX_LOSS_MONTHS \
            or below_months[i] >= OUTSIDE_MONTHS
        hazard = exit_hazard * (1.5 if t - born[i] + age0[i] < 24 else 1.0)
        if insolvent or uniform_of(seed, terms[i]) < hazard:
            out[k] = i
            k += 1
    return k


@njit(cache=True, nogil=True, error_model="numpy")
def _liquidate(rows, cash, capital, debt, debt_rate, principal, rate, payment, led):
    """Exiting ``rows``: cash plus capital at the resale price repay the loans in proportion to what
    is owed to each lender; the rest of the principal is booked as the lender's default. The owner
    keeps what is left (cash 0 after exit)."""
    nl = principal.shape[1]
    for r in range(rows.size):
        i = rows[r]
        d = 0.0
        for j in range(nl):
            d += principal[i, j]
        if d > 0:
            proceeds = max(cash[i] + capital[i] * (1.0 - RESALE_DISCOUNT), 0.0)
            frac = min(proceeds / d, 1.0)
            for j in range(nl):
                pj = principal[i, j]
                if pj > 0:
                    back = pj * frac
                    led[j, REPAID] += back
                    led[j, DEFAULTS] += pj - back
                principal[i, j] = 0.0
                rate[i, j] = 0.0
                payment[i, j] = 0.0
        debt[i] = 0.0
        debt_rate[i] = 0.0
        cash[i] = 0.0
