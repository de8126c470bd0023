"""Finance: costs, profit, investment, borrowing, repayment and the workforce.

Profit is value added less wages, fixed costs, transaction and licensing costs, marketplace
commission, own promotion, interest and depreciation, plus cash-equivalent support. A share of
positive profit is reinvested in proportion to the firm's effort (which dependence lowers, seed
000); losses eat into capital. Formal borrowers take commercial loans when busy and profitable;
the shock tightens credit (seeds 002, 003); KUR loans arrive through the programmes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams
from .population import WORKER_CURVE
from .production import shock_exposure
from .scan import check_rows
from .state import blocks
from .streams import uniform_of

FIXED_BASE = 150_000.0     # IDR a month: rent, utilities, fees
FIXED_CAPITAL = 0.002      # monthly maintenance per IDR of capital
DEPRECIATION = 0.08 / 12
TRANSACTION_UNLICENSED = 0.03  # informal payments, no access to formal buyers
TRANSACTION_LICENSED = 0.01
RETAIN = 0.40              # share of positive profit reinvested at full effort
AMORTISATION = 1.0 / 36    # monthly principal repayment
BORROW_PROB = 0.03         # monthly chance a busy, profitable formal borrower takes a loan
LOAN_SHARE = 0.3           # loan as a share of capital
WORKER_ADJUST = 1.0 / 12


_TRANSACTION = np.array([TRANSACTION_UNLICENSED, TRANSACTION_LICENSED])


def profit_and_loss(model) -> None:
    """Costs and profit of every alive firm (no state change but the flows; 0 for dead firms)."""
    for sl in blocks(model.firms.n):
        _profit_block(model, sl)


def _profit_block(model, sl: slice) -> None:
    p, f = model.p, model.firms
    alive = f.alive[sl]
    k = f.capital[sl]
    debt, rate = f.debt[sl], f.debt_rate[sl]
    # the owner is not paid a wage: profit is the owner's (mixed) income
    profit = f.value_added[sl] - np.maximum(f.workers[sl] - 1.0, 0.0) * p["wage_per_worker"]   # wages
    profit -= FIXED_BASE + FIXED_CAPITAL * k                                                # fixed costs
    profit -= f.revenue[sl] * _TRANSACTION[f.licensed[sl].view(np.uint8)]                   # transaction
    profit -= f.online_revenue[sl] * model.commission_firm[sl]                                  # commission
    profit -= model.own_promotion[sl]                                                           # promotion
    interest = debt * rate
    interest /= 12
    profit -= interest
    profit -= DEPRECIATION * k                                                              # depreciation
    cash = f.support_cash[sl]
    profit += cash
    profit *= alive
    f.profit[sl] = profit
    saving = np.subtract(p["commercial_interest_rate"], rate, out=interest)   # KUR interest saving
    np.maximum(saving, 0, out=saving)
    saving *= debt
    saving /= 12
    own = np.subtract(profit, cash, out=f.own_profit[sl])
    own -= saving
    own *= alive


def settle(model) -> None:
    """Profit, then investment, borrowing, repayment and hiring for every alive firm, in one
    compiled pass over the rows (:func:`_settle`), block by block."""
    p, f, t = model.p, model.firms, model.month
    per_row_exposure, exp_arr, exposure = shock_exposure(model, "finance.settle")
    tight_scale = float(p["shock_credit_tightening"] * model.shock)
    scalar_tight = 1.0 - tight_scale * exposure
    logk_knots, worker_knots = WORKER_CURVE
    check_rows(f.n, "finance.settle", commission=model.commission_firm, own_promotion=model.own_promotion)
    seed, terms = model.streams.compiled_keys(t, streams.FINANCE + 30, f.n)  # loan decisions, drawn in the loop
    for sl in blocks(f.n):
        _settle(sl.start, sl.stop, seed, terms, float(p["wage_per_worker"]), float(p["commercial_interest_rate"]),
                float(p["moneylender_interest_rate"]), per_row_exposure, exp_arr, tight_scale, scalar_tight,
                model.commission_firm, model.own_promotion,
                f.alive, f.licensed, f.credit_access, f.value_added, f.revenue, f.online_revenue, f.support_cash,
                f.utilisation, f.effort, f.capital, f.workers, f.debt, f.debt_rate, f.profit, f.own_profit,
                f.loss_months)
        # workforce follows capital and how busy the firm is (log as a NumPy pass: SIMD, not libm per row)
        logk = np.log(np.maximum(f.capital[sl], 1.0))
        _hire(sl.start, sl.stop, logk, logk_knots, worker_knots, f.alive, f.utilisation, f.workers)


@njit(cache=True, nogil=True, error_model="numpy")
def _settle(lo, hi, seed, terms, wage, commercial_rate, moneylender_rate, per_row_exposure, exposure, tight_scale,
            scalar_tight, commission, own_promotion,
            alive, licensed, credit, value_added, revenue, online_revenue, support_cash, utilisation, effort,
            capital, workers, debt, debt_rate, profit_out, own_out, loss_months):
    """Rows ``lo..hi-1``: the reference engine's ``ReferenceMSME.settle_accounts``, row by row
    (profit as in :func:`_profit_block`). A would-be borrower's uniform is drawn in the loop
    (``seed``, ``terms``: its stream)."""
    for i in range(lo, hi):
        if not alive[i]:
            profit_out[i] = 0.0
            own_out[i] = 0.0
            loss_months[i] = 0
            workers[i] = 0.0
            continue
        k = capital[i]
        d = debt[i]
        rate = debt_rate[i]
        # profit: value added less wages (the owner is not paid one), fixed, transaction, commission,
        # promotion, interest and depreciation costs, plus cash-equivalent support
        pr = value_added[i] - max(workers[i] - 1.0, 0.0) * wage
        pr -= FIXED_BASE + FIXED_CAPITAL * k
        pr -= revenue[i] * (TRANSACTION_LICENSED if licensed[i] else TRANSACTION_UNLICENSED)
        pr -= online_revenue[i] * commission[i]
        pr -= own_promotion[i]
        pr -= d * rate / 12
        pr -= DEPRECIATION * k
        cash = support_cash[i]
        pr += cash
        profit_out[i] = pr
        saving = max(commercial_rate - rate, 0.0) * d / 12  # KUR interest saving
        own_out[i] = pr - cash - saving
        lossy = pr < 0
        loss_months[i] = loss_months[i] + 1 if lossy else 0
        # investment from retained profit when busy (demand, not cash, limits expansion)
        util = utilisation[i]
        busy = min(max((util - 0.8) / 0.15, 0.0), 1.0)
        retained = RETAIN * effort[i] * busy * max(pr, 0.0)
        principal = d * AMORTISATION
        # new commercial loans: busy, profitable, willing and not over-indebted; the moneylender
        # covers an informal borrower's loss
        new_debt = 0.0
        rate_new = 0.0
        c = credit[i]
        if c == 2 and util > 0.9 and pr > 0 and d < 0.6 * k:
            tight = 1.0 - tight_scale * exposure[i] if per_row_exposure else scalar_tight
            if uniform_of(seed, terms[i]) < BORROW_PROB * effort[i] * tight:
                new_debt = LOAN_SHARE * k
                rate_new = commercial_rate
        elif c == 1 and lossy and d < 0.5 * k:
            new_debt = -pr
            rate_new = moneylender_rate
        if new_debt > 0:
            rest = d - principal
            debt_rate[i] = (rest * rate + new_debt * rate_new) / max(rest + new_debt, 1e-9)
        else:
            new_debt = 0.0
        debt[i] = max(d - principal + new_debt, 0.0)
        k = max(k + (min(pr, 0.0) + retained + new_debt - principal), 0.0)
        capital[i] = k


@njit(cache=True, nogil=True, error_model="numpy")
def _hire(lo, hi, logk, logk_knots, worker_knots, alive, utilisation, workers):
    """The workforce of alive rows ``lo..hi-1`` moves towards the target for their (new) capital,
    scaled by how busy they are. ``logk``: the block's log capital."""
    for i in range(lo, hi):
        if not alive[i]:
            continue
        target = _interp(logk[i - lo], logk_knots, worker_knots)
        target *= min(utilisation[i] / 0.85, 1.2) * 0.4 + 0.6
        w = workers[i]
        workers[i] = max((target - w) * WORKER_ADJUST + w, 1.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _interp(x, xp, fp):
    """``np.interp(x, xp, fp)`` for one value (NumPy's slopes)."""
    if x < xp[0]:
        return fp[0]
    last = xp.size - 1
    if x >= xp[last]:
        return fp[last]
    j = 0
    for m in range(1, last):  # the segment: interior knots at or below x (counted, not searched)
        j += x >= xp[m]
    return (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]) * (x - xp[j]) + fp[j]
