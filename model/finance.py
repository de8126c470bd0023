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


def profit_and_loss(model) -> None:
    """Costs and profit of every alive firm (no state change but the flows)."""
    p, f, n = model.p, model.firms, model.firms.n
    alive = f.alive[:n]
    k = f.capital[:n]
    # the owner is not paid a wage: profit is the owner's (mixed) income
    wages = np.maximum(f.workers[:n] - 1.0, 0.0) * p["wage_per_worker"]
    fixed = FIXED_BASE + FIXED_CAPITAL * k
    trans = f.revenue[:n] * np.where(f.licensed[:n], TRANSACTION_LICENSED, TRANSACTION_UNLICENSED)
    commission = f.online_revenue[:n] * model.commission_firm
    promo = model.own_promotion
    interest = f.debt[:n] * f.debt_rate[:n] / 12
    saving = f.debt[:n] * np.maximum(p["commercial_interest_rate"] - f.debt_rate[:n], 0) / 12
    dep = DEPRECIATION * k
    cash = f.support_cash[:n]
    profit = f.value_added[:n] - wages - fixed - trans - commission - promo - interest - dep + cash
    profit = np.where(alive, profit, 0.0)
    f.profit[:n] = profit
    f.own_profit[:n] = np.where(alive, profit - cash - saving, 0.0)


def settle(model) -> None:
    """Profit, then investment, borrowing, repayment and hiring for every alive firm."""
    profit_and_loss(model)
    p, f, n, t = model.p, model.firms, model.firms.n, model.month
    alive = f.alive[:n]
    k = f.capital[:n]
    profit = f.profit[:n]
    f.loss_months[:n] = np.where(alive & (profit < 0), f.loss_months[:n] + 1, 0)
    # investment from retained profit; losses draw down capital
    effort = f.effort[:n]
    # firms invest when busy: demand, not cash, limits expansion
    busy = np.clip((f.utilisation[:n] - 0.8) / 0.15, 0.0, 1.0)
    retained = RETAIN * effort * busy * np.maximum(profit, 0.0)
    principal = f.debt[:n] * AMORTISATION
    # new commercial loans: busy, profitable, willing (effort = risk-taking) and not over-indebted
    u = model.streams.uniform(t, streams.FINANCE + 30, n)
    tight = 1.0 - p["shock_credit_tightening"] * model.shock * model.exposure
    want = alive & (f.credit_access[:n] == 2) & (f.utilisation[:n] > 0.9) & (profit > 0) & (f.debt[:n] < 0.6 * k)
    borrow = want & (u < BORROW_PROB * effort * tight)
    loan = np.where(borrow, LOAN_SHARE * k, 0.0)
    # moneylender: informal borrowers cover a loss with a loan at the informal rate
    ml = alive & (f.credit_access[:n] == 1) & (profit < 0) & (f.debt[:n] < 0.5 * k)
    ml_loan = np.where(ml, -profit, 0.0)
    new_debt = loan + ml_loan
    old = f.debt[:n]
    rate_new = np.where(ml, p["moneylender_interest_rate"], p["commercial_interest_rate"])
    tot = old - principal + new_debt
    f.debt_rate[:n] = np.where(tot > 0, ((old - principal) * f.debt_rate[:n] + new_debt * rate_new)
                               / np.maximum(tot, 1e-9), f.debt_rate[:n])
    f.debt[:n] = np.where(alive, np.maximum(tot, 0.0), f.debt[:n])
    delta = retained + np.minimum(profit, 0.0) + new_debt - principal
    f.capital[:n] = np.where(alive, np.maximum(k + delta, 0.0), k)
    model.new_loans = float(loan.sum())
    model.household_income = float(np.where(alive, np.maximum(profit, 0.0) - retained, 0.0).sum())

    # workforce follows capital and how busy the firm is
    target = workers_for_capital(f.capital[:n]) * (0.6 + 0.4 * np.minimum(f.utilisation[:n] / 0.85, 1.2))
    f.workers[:n] = np.where(alive, np.maximum(1.0, f.workers[:n] + WORKER_ADJUST * (target - f.workers[:n])), 0.0)
