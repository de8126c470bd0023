"""Finance: costs and profit, a cash stock, loans as records, investment, repayment and the workforce.

Profit is value added less wages, fixed costs, transaction and licensing costs, marketplace
commission, own promotion, interest and depreciation, plus cash-equivalent support. Cash (liquid
assets) takes the operating cash flow (profit + depreciation, a non-cash cost); scheduled loan
payments, investment and the owner's draws go out of it. Each firm holds at most one loan per lender
kind (``LENDERS``) with its principal, annual rate and monthly annuity payment; principal repayments
reduce debt, never capital. New loans: formal borrowers (bank if licensed, else cooperative/BPR) when
busy and profitable; moneylenders cover an informal borrower's cash shortfall; KUR arrives through
the programmes (``programmes.apply_effect``). When cash runs out the firm sells capital at a resale
discount; when that cannot meet its payments it defaults and exits (``demography.exit_firms``
liquidates it and books what it cannot repay to its lenders, ``model.loan_ledger``). The shock
rations every lender and raises the rates of new non-KUR loans (ODD 7.2, 7.8).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams
from .population import WORKER_CURVE
from .production import ALPHA, shock_exposure
from .scan import check_rows
from .state import N_LENDERS, blocks
from .streams import uniform_of

FIXED_BASE = 150_000.0     # IDR a month: rent, utilities, fees
FIXED_CAPITAL = 0.002      # monthly maintenance per IDR of capital
DEPRECIATION = 0.08 / 12
TRANSACTION_UNLICENSED = 0.03  # informal payments, no access to formal buyers
TRANSACTION_LICENSED = 0.01
RETAIN = 0.40              # share of positive profit reinvested at full effort
BORROW_PROB = 0.03         # monthly chance a busy, profitable formal borrower takes a loan
LOAN_SHARE = 0.3           # loan as a share of capital
WORKER_ADJUST = 1.0 / 12
# lenders: one loan record per firm and kind (state.LOANS columns)
KUR, BANK, COOP, MONEYLENDER = range(N_LENDERS)
LENDERS = ("kur", "bank", "coop", "moneylender")
TERM_MONTHS = np.array([24, 36, 24, 4], dtype=np.int64)  # KUR: programmes.KUR_TERM_YEARS; others [A]
# the lenders' books, model.loan_ledger[month, lender, field], IDR
DISBURSED, REPAID, INTEREST, DEFAULTS = range(4)
LEDGER_FIELDS = ("disbursed", "repaid", "interest", "defaults")
RESALE_DISCOUNT = 0.30     # capital sold fetches 70 % of its book value ([A] 20-40 %)
TARGET_UTILISATION = 0.85  # capacity a firm keeps for its demand (month-0 utilisation, ODD 5) [A]
CAPITAL_ADJUST = 1.0 / 6   # share of the gap to desired capital closed a month from own funds ([A] 1/24-1/6)
MAX_EXPANSION = 2.0        # demand above this multiple of target capacity adds no more to desired capital [A]
CASH_BUFFER_MONTHS = 1.0   # the owner keeps a month of cash outgoings in the business, draws the rest [A]
ENTRANT_CASH_MONTHS = 6.0  # an entrant's start-up savings: months of outgoings, while it wins customers [A]
OUTSIDE_MONTHS = 12        # a year of expected profit below the outside option and the owner leaves
INITIAL_LOAN_MONTHS_LEFT = 0.5  # initial loans are mid-term: half the lender's term left [A]
EWM = 1.0 / 12.0           # weight of this month in the expected profit (as model.EWM)

_TRANSACTION = np.array([TRANSACTION_UNLICENSED, TRANSACTION_LICENSED])


def real_wage(model) -> float:
    """The real monthly wage this month: ``wage_per_worker`` growing at ``wage_growth_per_year``."""
    p = model.p
    return float(p["wage_per_worker"] * (1.0 + p["wage_growth_per_year"]) ** (model.month / 12.0))


def lender_rates(p) -> np.ndarray:
    """Annual rate of each lender kind's new loans, outside the shock."""
    return np.array([p["kur_interest_rate"], p["commercial_interest_rate"], p["coop_interest_rate"],
                     p["moneylender_interest_rate"]], dtype=np.float64)


@njit(cache=True, nogil=True, error_model="numpy")
def annuity(principal, annual_rate, months):
    """Monthly payment that repays ``principal`` in ``months`` equal payments at ``annual_rate`` / 12."""
    r = annual_rate / 12.0
    if r <= 0.0:
        return principal / months
    return principal * r / (1.0 - (1.0 + r) ** (-months))


@njit(cache=True, nogil=True, error_model="numpy")
def _annuities(principal, annual_rate, months, out):
    """:func:`annuity` of each loan, into ``out``."""
    for i in range(principal.size):
        out[i] = annuity(principal[i], annual_rate[i], months[i])


@njit(cache=True, nogil=True, error_model="numpy")
def lend(principal, rate, payment, i, j, amount, new_rate, term):
    """Row ``i`` borrows ``amount`` from lender ``j`` at ``new_rate``: what it owes that lender is
    consolidated into one loan (principal-weighted rate) repaid over the lender's full ``term``."""
    old = principal[i, j]
    total = old + amount
    r = (old * rate[i, j] + amount * new_rate) / total
    principal[i, j] = total
    rate[i, j] = r
    payment[i, j] = annuity(total, r, term)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def row_totals(principal, rate, debt, debt_rate, i):
    """``debt`` and ``debt_rate`` of row ``i`` from its loan records (lender by lender)."""
    tot = 0.0
    wsum = 0.0
    for j in range(principal.shape[1]):
        tot += principal[i, j]
        wsum += principal[i, j] * rate[i, j]
    debt[i] = tot
    debt_rate[i] = wsum / tot if tot > 0 else 0.0


def totals(f, rows) -> None:
    """``debt`` and ``debt_rate`` of ``rows`` from their loan records."""
    pr = f.loan_principal[rows]
    d = pr.sum(axis=1)
    f.debt[rows] = d
    f.debt_rate[rows] = np.where(d > 0, (pr * f.loan_rate[rows]).sum(axis=1) / np.where(d > 0, d, 1.0), 0.0)


def kur_loans(model, rows: np.ndarray, loans: np.ndarray) -> None:
    """KUR loans of ``loans`` IDR to ``rows`` (all different), invested in capital at once (so not
    through cash); recorded in the KUR slot (consolidated with what the firm owes the KUR bank) and
    the KUR bank's ledger."""
    f = model.firms
    _kur(rows, loans, float(model.p["kur_interest_rate"]), int(TERM_MONTHS[KUR]), f.loan_principal, f.loan_rate,
         f.loan_payment, f.debt, f.debt_rate, f.capital, ledger(model)[model.month])


@njit(cache=True, nogil=True, error_model="numpy")
def _kur(rows, loans, kur_rate, term, principal, rate, payment, debt, debt_rate, capital, led):
    for r in range(rows.size):
        i = rows[r]
        amount = loans[r]
        if amount <= 0:
            continue
        lend(principal, rate, payment, i, KUR, amount, kur_rate, term)
        led[KUR, DISBURSED] += amount
        capital[i] += amount
        row_totals(principal, rate, debt, debt_rate, i)


def ledger(model) -> np.ndarray:
    """``model.loan_ledger``: month x lender x (disbursed, repaid, interest, defaults), IDR."""
    led = model.__dict__.get("loan_ledger")
    if led is None or led.shape[0] < model.p["n_months"] + 1:
        led = np.zeros((model.p["n_months"] + 1, N_LENDERS, len(LEDGER_FIELDS)))
        model.loan_ledger = led
    return led


def open_books(model, rows: slice, cash_months: float = CASH_BUFFER_MONTHS) -> None:
    """Loan records and cash of new firms (``rows``): an initial firm's ``debt`` (population.py) is
    one loan, from the moneylender for informal borrowers, else from a bank if licensed or a
    cooperative/BPR, mid-term (``INITIAL_LOAN_MONTHS_LEFT`` of the lender's term left) at the lender's
    rate; entrants have no loans. Cash: a month of outgoings (``CASH_BUFFER_MONTHS``), the owner's
    target (``cash_months`` of them: entrants bring start-up savings, ``ENTRANT_CASH_MONTHS``).
    Expected profit starts at the outside option (updated from the first month's profit)."""
    p, f = model.p, model.firms
    ledger(model)
    d = f.debt[rows]
    access = f.credit_access[rows]
    kind = np.where(access == 1, MONEYLENDER, np.where(f.licensed[rows], BANK, COOP))
    rates = lender_rates(p)
    idx = np.arange(rows.start, rows.stop)
    f.loan_principal[rows] = 0.0
    f.loan_rate[rows] = 0.0
    f.loan_payment[rows] = 0.0
    has = d > 0
    r = rates[kind]
    months = np.maximum(np.round(TERM_MONTHS[kind] * INITIAL_LOAN_MONTHS_LEFT), 1.0)
    f.loan_principal[idx[has], kind[has]] = d[has]
    f.loan_rate[idx[has], kind[has]] = r[has]
    pay = np.empty(int(has.sum()))
    _annuities(d[has], r[has], months[has], pay)
    f.loan_payment[idx[has], kind[has]] = pay
    totals(f, rows)
    wage = real_wage(model)
    outgo = (np.maximum(f.workers[rows] - 1.0, 0.0) * wage + FIXED_BASE + FIXED_CAPITAL * f.capital[rows]
             + f.loan_payment[rows].sum(axis=1))
    f.cash[rows] = cash_months * outgo
    f.profit_ewm[rows] = p["outside_option_share"] * wage
    # a new owner gives the business a year to win customers before judging it against the outside
    # option (Jovanovic 1982: entrants learn their profitability): the clock starts at -12
    f.below_months[rows] = -OUTSIDE_MONTHS


def start_expectations(model, rng) -> None:
    """Month 0: initial firms expect their month-0 profit; those below the outside option have been
    so for a while (0-11 months, drawn like ``loss_months``: it spreads their exits over the first year)."""
    f, n = model.firms, model.firms.n
    f.profit_ewm[:n] = f.profit[:n]
    below = f.profit[:n] < model.p["outside_option_share"] * real_wage(model)
    f.below_months[:n][below] = rng.integers(0, OUTSIDE_MONTHS, int(below.sum()))


def profit_and_loss(model) -> None:
    """Costs and profit of every alive firm (no state change but the flows; 0 for dead firms)."""
    for sl in blocks(model.firms.n):
        _profit_block(model, sl)


def _profit_block(model, sl: slice) -> None:
    p, f = model.p, model.firms
    alive = f.alive[sl]
    k = f.capital[sl]
    # the owner is not paid a wage: profit is the owner's (mixed) income
    profit = f.value_added[sl] - np.maximum(f.workers[sl] - 1.0, 0.0) * real_wage(model)                # wages
    profit -= FIXED_BASE + FIXED_CAPITAL * k                                                # fixed costs
    profit -= f.revenue[sl] * _TRANSACTION[f.licensed[sl].view(np.uint8)]                   # transaction
    profit -= f.online_revenue[sl] * model.commission_firm[sl]                                  # commission
    profit -= model.own_promotion[sl]                                                           # promotion
    principal, rate = f.loan_principal[sl], f.loan_rate[sl]
    interest = np.zeros(alive.size)
    for j in range(N_LENDERS):  # lender by lender, as _settle adds them
        interest += principal[:, j] * rate[:, j] / 12
    profit -= interest
    profit -= DEPRECIATION * k                                                              # depreciation
    cash = f.support_cash[sl]
    profit += cash
    profit *= alive
    f.profit[sl] = profit
    saving = np.maximum(p["commercial_interest_rate"] - rate[:, KUR], 0.0)   # KUR interest saving
    saving *= principal[:, KUR]
    saving /= 12
    own = np.subtract(profit, cash, out=f.own_profit[sl])
    own -= saving
    own *= alive


def settle(model) -> None:
    """Profit, cash, loans, investment and hiring for every alive firm, in one compiled pass over the
    rows (:func:`_settle`), block by block; the lenders' flows go to ``model.loan_ledger``."""
    p, f, t = model.p, model.firms, model.month
    per_row_exposure, exp_arr, exposure = shock_exposure(model, "finance.settle")
    tight_scale = float(p["shock_credit_tightening"] * model.shock)
    premium_scale = float(p["shock_rate_premium"] * model.shock)
    logk_knots, worker_knots = WORKER_CURVE
    check_rows(f.n, "finance.settle", commission=model.commission_firm, own_promotion=model.own_promotion)
    seed, terms = model.streams.compiled_keys(t, streams.FINANCE + 30, f.n)  # loan decisions, drawn in the loop
    led = ledger(model)[t]
    rates = lender_rates(p)
    wage = real_wage(model)
    outside = float(p["outside_option_share"]) * wage
    for sl in blocks(f.n):
        grow = capital_ratio(f.demand[sl], f.capacity[sl])
        _settle(grow, sl.start, sl.stop, seed, terms, wage, outside, rates, float(p["commercial_interest_rate"]),
                per_row_exposure, exp_arr, exposure, tight_scale, premium_scale,
                model.commission_firm, model.own_promotion,
                f.alive, f.licensed, f.credit_access, f.value_added, f.revenue, f.online_revenue, f.support_cash,
                f.utilisation, f.effort, f.capital, f.workers, f.debt, f.debt_rate, f.profit,
                f.own_profit,
                f.loss_months, f.cash, f.profit_ewm, f.below_months, f.defaulted, f.draws, f.investment, f.repaid,
                f.borrowed, f.asset_sales, f.loan_principal, f.loan_rate, f.loan_payment, TERM_MONTHS, led)
        # workforce follows capital and how busy the firm is (log as a NumPy pass: SIMD, not libm per row)
        logk = np.log(np.maximum(f.capital[sl], 1.0))
        _hire(sl.start, sl.stop, logk, logk_knots, worker_knots, f.alive, f.utilisation, f.workers)


def capital_ratio(demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """K*/K, desired capital over capital: the capital that would serve ``demand`` at
    ``TARGET_UTILISATION`` (capacity goes as K^ALPHA, so K*/K = (demand / (target x capacity))^(1/ALPHA),
    the ratio capped at ``MAX_EXPANSION``); 1 where there is no capacity. A NumPy pass (its SIMD
    ``power``; a compiled loop would call libm's pow once per row, about 40 ns): both engines call it,
    the reference engine on one-element arrays, which gives the same bits."""
    cap = np.where(capacity > 0.0, capacity, 1.0)
    ratio = np.minimum(demand / (TARGET_UTILISATION * cap), MAX_EXPANSION)
    out = np.power(ratio, 1.0 / ALPHA)
    out[capacity <= 0.0] = 1.0
    return out


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def desired_investment(k, grow):
    """(this month's wanted net investment, the whole gap) in IDR of capital: the gap between the
    desired capital ``grow`` x ``k`` (``grow`` = K*/K from :func:`capital_ratio`) and ``k``; a firm
    closes ``CAPITAL_ADJUST`` of it a month (partial adjustment: adjustment costs and time to build).
    Negative when demand no longer needs the capital it has."""
    if k <= 0.0:
        return 0.0, 0.0
    gap = k * (grow - 1.0)
    return gap * CAPITAL_ADJUST, gap


@njit(cache=True, nogil=True, error_model="numpy")
def _settle(grow, lo, hi, seed, terms, wage, outside, rates, commercial_rate, per_row_exposure, exposure,
            scalar_exposure, tight_scale, premium_scale, commission, own_promotion,
            alive, licensed, credit, value_added, revenue, online_revenue, support_cash, utilisation, effort,
            capital, workers, debt, debt_rate, profit_out, own_out, loss_months, cash, profit_ewm,
            below_months, defaulted, draws, investment, repaid, borrowed, asset_sales, principal, rate, payment, term,
            led):
    """Rows ``lo..hi-1``: the reference engine's ``ReferenceMSME.settle_accounts``, row by row
    (profit as in :func:`_profit_block`). A would-be borrower's uniform is drawn in the loop
    (``seed``, ``terms``: its stream); ``led``: this month's lenders' ledger (lender x field)."""
    nl = principal.shape[1]
    prin = np.zeros(nl)
    for i in range(lo, hi):
        defaulted[i] = False
        if not alive[i]:
            profit_out[i] = 0.0
            own_out[i] = 0.0
            loss_months[i] = 0
            workers[i] = 0.0
            draws[i] = 0.0
            investment[i] = 0.0
            repaid[i] = 0.0
            borrowed[i] = 0.0
            asset_sales[i] = 0.0
            continue
        k = capital[i]
        # profit: value added less wages (the owner is not paid one), fixed, transaction, commission,
        # promotion, interest and depreciation costs, plus cash-equivalent support
        pr = value_added[i] - max(workers[i] - 1.0, 0.0) * wage
        pr -= FIXED_BASE + FIXED_CAPITAL * k
        pr -= revenue[i] * (TRANSACTION_LICENSED if licensed[i] else TRANSACTION_UNLICENSED)
        pr -= online_revenue[i] * commission[i]
        pr -= own_promotion[i]
        interest = 0.0
        d = 0.0
        due = 0.0
        pay_total = 0.0
        for j in range(nl):
            pj = principal[i, j]
            if pj > 0:
                ij = pj * rate[i, j] / 12
                interest += ij
                d += pj
                # this month's scheduled principal: the annuity less interest (the residual at the end)
                sj = min(max(payment[i, j] - ij, 0.0), pj)
                if pj - sj < 1e-9 * payment[i, j]:
                    sj = pj
                prin[j] = sj
                due += sj
                pay_total += payment[i, j]
                led[j, INTEREST] += ij
            else:
                prin[j] = 0.0
        pr -= interest
        dep = DEPRECIATION * k
        pr -= dep
        support = support_cash[i]
        pr += support
        profit_out[i] = pr
        saving = max(commercial_rate - rate[i, 0], 0.0) * principal[i, 0] / 12  # KUR interest saving
        own_out[i] = pr - support - saving
        lossy = pr < 0
        loss_months[i] = loss_months[i] + 1 if lossy else 0
        # expected profit and the owner's outside option
        ewm = profit_ewm[i] + (pr - profit_ewm[i]) * EWM
        profit_ewm[i] = ewm
        b = below_months[i]
        below_months[i] = b + 1 if ewm < outside or b < 0 else 0  # (b < 0: an entrant's first year)
        # cash: the operating cash flow in (depreciation is not paid out), scheduled principal out
        c = cash[i] + (pr + dep) - due
        outgo = max(workers[i] - 1.0, 0.0) * wage + FIXED_BASE + FIXED_CAPITAL * k + pay_total
        # new loans: a busy, profitable, willing formal borrower that is not over-indebted borrows for
        # investment from a bank (licensed) or a cooperative/BPR; a moneylender covers an informal
        # borrower's cash shortfall. In the shock every lender refuses more and charges more.
        e = (exposure[i] if per_row_exposure else scalar_exposure) if tight_scale > 0 or premium_scale > 0 \
            else 1.0
        tight = 1.0 - tight_scale * e
        premium = 1.0 + premium_scale * e
        # desired capital: what serves this month's demand at the target utilisation (capacity goes
        # as K^ALPHA); CAPITAL_ADJUST of the gap is closed a month from retained profit, a loan closes it at once
        want, gap = desired_investment(k, grow[i - lo])
        retained = min(max(want, 0.0), RETAIN * effort[i] * max(pr, 0.0))
        new = 0.0
        c_i = credit[i]
        u = -1.0
        if c_i == 2 and gap > retained and pr > 0 and d < 0.6 * k:
            u = uniform_of(seed, terms[i])
            if u < BORROW_PROB * effort[i] * tight:
                new = min(LOAN_SHARE * k, gap)
                j = BANK if licensed[i] else COOP
                lend(principal, rate, payment, i, j, new, rates[j] * premium, term[j])
                # the new loan's payments start next month: this month's schedule is the old one's
                led[j, DISBURSED] += new
                c += new
        # investment: replacement of depreciation unless capital exceeds what demand needs (then it
        # shrinks by not replacing), retained profit and the new loan, as cash allows
        inv = min(max(dep + min(want, 0.0), 0.0) + retained + new, max(c, 0.0))
        c -= inv
        k += inv - dep
        ml = 0.0
        if c < 0 and c_i == 1 and d < 0.5 * k:
            if u < 0:
                u = uniform_of(seed, terms[i])
            if u < tight:
                ml = -c
                lend(principal, rate, payment, i, MONEYLENDER, ml, rates[MONEYLENDER] * premium,
                     term[MONEYLENDER])
                led[MONEYLENDER, DISBURSED] += ml
                c = 0.0
        sold = 0.0
        if c < 0 and k > 0:  # cash exhausted: capital is sold at the resale discount
            s = -c / (1.0 - RESALE_DISCOUNT)
            if s < k:  # enough capital: the shortfall is met exactly
                k -= s
                sold = -c
                c = 0.0
            else:  # all of it
                sold = k * (1.0 - RESALE_DISCOUNT)
                k = 0.0
                c += sold
        paid = due
        if c < 0:  # payments it cannot make: it defaults (and exits, demography.exit_firms)
            defaulted[i] = True
            if due > 0:
                short = min(-c, due)
                paid = due - short
                c += short
        # principal repaid reduces debt (never capital)
        frac = paid / due if due > 0 else 0.0
        tot = 0.0
        wsum = 0.0
        for j in range(nl):
            if prin[j] > 0:
                rj = prin[j] * frac
                led[j, REPAID] += rj
                principal[i, j] -= rj
                if principal[i, j] <= 0.0:
                    principal[i, j] = 0.0
                    rate[i, j] = 0.0
                    payment[i, j] = 0.0
            tot += principal[i, j]
            wsum += principal[i, j] * rate[i, j]
        debt[i] = tot
        debt_rate[i] = wsum / tot if tot > 0 else 0.0
        # the owner draws what is above the buffer (a month of outgoings)
        buffer = CASH_BUFFER_MONTHS * outgo
        dr = c - buffer if c > buffer else 0.0
        c -= dr
        cash[i] = c
        capital[i] = k
        draws[i] = dr
        investment[i] = inv
        repaid[i] = paid
        borrowed[i] = new + ml
        asset_sales[i] = sold


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
