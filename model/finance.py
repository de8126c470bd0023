"""Finance: costs, profit, investment, borrowing, repayment and the workforce.

Profit is value added less wages, fixed costs, transaction and licensing costs, marketplace
commission, own promotion, interest and depreciation, plus cash-equivalent support. A share of
positive profit is reinvested in proportion to the firm's effort (which dependence lowers, seed
000); losses eat into capital. Formal borrowers take commercial loans when busy and profitable;
the shock tightens credit (seeds 002, 003); KUR loans arrive through the programmes.
"""

from __future__ import annotations

import numpy as np

from . import streams
from .population import workers_for_capital
from .state import blocks

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
    p, f, n = model.p, model.firms, sl
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
    """Profit, then investment, borrowing, repayment and hiring for every alive firm."""
    for sl in blocks(model.firms.n):
        _profit_block(model, sl)
        _settle_block(model, sl)


def _settle_block(model, sl: slice) -> None:
    p, f, n, t = model.p, model.firms, sl, model.month
    alive = f.alive[sl]
    k = f.capital[sl]
    profit = f.profit[sl]
    util = f.utilisation[sl]
    credit = f.credit_access[sl]
    debt = f.debt[sl]
    lossy = profit < 0
    lossy &= alive
    lm = f.loss_months[sl]
    lm += 1
    lm *= lossy
    # investment from retained profit; losses draw down capital
    effort = f.effort[sl]
    # firms invest when busy: demand, not cash, limits expansion
    busy = util - 0.8
    busy /= 0.15
    busy.clip(0.0, 1.0, out=busy)
    retained = RETAIN * effort
    retained *= busy
    retained *= np.maximum(profit, 0.0)
    principal = debt * AMORTISATION
    principal *= alive
    # new commercial loans: busy, profitable, willing (effort = risk-taking) and not over-indebted
    exposure = model.exposure if np.ndim(model.exposure) == 0 else model.exposure[sl]
    tight = 1.0 - p["shock_credit_tightening"] * model.shock * exposure
    want = (credit == 2) & (util > 0.9) & (profit > 0) & (debt < 0.6 * k) & alive
    rows = want.nonzero()[0]
    u = model.streams.uniform_rows(t, streams.FINANCE + 30, rows + sl.start)
    odds = BORROW_PROB * effort[rows]
    odds *= tight if np.ndim(tight) == 0 else tight[rows]
    borrow = rows[u < odds]
    loan = LOAN_SHARE * k[borrow]
    # moneylender: informal borrowers cover a loss with a loan at the informal rate
    ml = ((credit == 1) & lossy & (debt < 0.5 * k)).nonzero()[0]
    ml_loan = -profit[ml]
    # blended rate of the firms that borrow (a firm is never both a formal and an informal borrower)
    new_rows = np.concatenate([borrow, ml])
    new_debt = np.concatenate([loan, ml_loan])
    rate_new = np.concatenate([np.full(borrow.size, p["commercial_interest_rate"]),
                               np.full(ml.size, p["moneylender_interest_rate"])])
    pos = new_debt > 0
    new_rows, new_debt, rate_new = new_rows[pos], new_debt[pos], rate_new[pos]
    rest = debt[new_rows] - principal[new_rows]
    rates = f.debt_rate[sl]
    rates[new_rows] = (rest * rates[new_rows] + new_debt * rate_new) / np.maximum(rest + new_debt, 1e-9)
    debt -= principal
    debt[new_rows] += new_debt
    np.maximum(debt, 0.0, out=debt)
    delta = np.minimum(profit, 0.0)
    delta += retained
    delta[new_rows] += new_debt
    delta -= principal
    k += delta
    np.maximum(k, 0.0, out=k)

    # workforce follows capital and how busy the firm is
    target = workers_for_capital(k)
    busy_l = util / 0.85
    np.minimum(busy_l, 1.2, out=busy_l)
    busy_l *= 0.4
    busy_l += 0.6
    target *= busy_l
    w = f.workers[sl]
    target -= w
    target *= WORKER_ADJUST
    target += w
    np.maximum(target, 1.0, out=target)
    target *= alive
    w[:] = target
