"""Self-governance: regional councils allocate their region's budget to the constraints they observe (seed 001).

How the councils decide, each month:

* capacity is bought (:func:`council_month`, :func:`council_staff`): each council spends
  ``council_staff_share`` of its regional budget on staff and activities; the stock (less staff
  turnover) reaches the four steps (``COUNCIL_STEPS``) at ``council_step_cost`` per firm of the
  region per step, at a cost that differs by region (``model.council_speed``); capacity is 0.25 a step;
* participation (:func:`participate`): firms take part in proportion to their council's capacity
  and their own propensity;
* the allocation (:func:`allocate`): each council's budget (the region's share) pays staff first,
  loses part to local capture (less as capacity grows), and splits the rest between the national
  mix and the binding constraints it observes among its own eligible firms
  (:func:`constraint_prevalence`, costed at unit cost) in proportion to its capacity; awareness
  rises with capacity; a shared registry excludes firms already served; candidates are ranked by
  priority plus a bonus (2 x capacity) for the constraint the instrument relieves; money one
  instrument cannot place passes to the council's next instrument; support is paid
  ``local_lag_months`` later.

The councils' own services are booked in the ledger's ``services`` column (``ledger.book_services``).
"""

from __future__ import annotations

import numpy as np

from .. import streams
from ..params import INSTRUMENTS, N_INSTRUMENTS
from .instruments import base_eligible, cheapest_units, constraint, eligible
from .ledger import BUDGET, CAPTURE, REALLOCATED, RETURNED, SPENT, book, book_services
from .pipeline import Deliveries, carry_over, schedule
from .selection import (
    Candidates,
    RankedPool,
    level_constrained,
    level_eligible,
    level_served,
    nonzero2,
    pairs_of,
    reserve,
    units_needed,
)

COUNCIL_STEPS = ("awareness", "joint activities", "competency certification", "institutional change")


def council_step_cost(model) -> np.ndarray:
    """IDR of capacity stock per council step, by region: ``council_step_cost`` per firm of the
    region (its share of the initial firms), divided by the region's speed."""
    p = model.p
    return p["council_step_cost"] * model.region_budget_share * p["n_firms"] / model.council_speed


def council_capacity(model) -> np.ndarray:
    """Capacity of each regional council, 0.25 per step reached (seed 001 four-step ramp): steps
    reached by the stock of staff and activities the council has paid for."""
    steps = np.floor(model.council_stock / council_step_cost(model) + 1e-12)
    return 0.25 * np.minimum(steps, 4)


def council_month(model) -> None:
    """Start of the month: staff turnover wears the stock down; the capacity follows it."""
    model.council_stock *= 1.0 - model.p["council_staff_turnover"]
    model.council_cap = council_capacity(model)


def council_staff(model, b: np.ndarray) -> np.ndarray:
    """Each council's spending on staff and activities out of its regional budget ``b``: added to
    its capacity stock and booked. Returns it."""
    staff = b * model.p["council_staff_share"]
    model.council_stock += staff
    return staff


def participate(model) -> None:
    """Participation follows the council's capacity (zero without councils) and the firm's propensity."""
    p, f, n = model.p, model.firms, model.firms.n
    cap = model.council_cap if p["governance_mode"] == "self_governance" else np.zeros_like(model.council_cap)
    target = (model.participation_propensity[:n] < p["council_participation"] * cap[f.region[:n]]).astype(float)
    f.participant[:n] += 0.1 * (target - f.participant[:n])



def constraint_prevalence(model) -> np.ndarray:
    """Firms per region whose binding constraint each instrument relieves (and who are eligible):
    what each council observes among its own firms. Shape (regions, instruments)."""
    f, n = model.firms, model.firms.n
    nreg = len(model.council_cap)
    base = base_eligible(model)
    code = np.zeros(n, dtype=np.uint16)
    for k in range(N_INSTRUMENTS):
        m = constraint(model, k)
        m &= eligible(model, k, base=base)
        code |= np.left_shift(m.view(np.uint8), np.uint16(k), dtype=np.uint16)
    hist = np.bincount(f.region[:n].astype(np.int64) * (1 << N_INSTRUMENTS) + code,
                       minlength=nreg << N_INSTRUMENTS).reshape(nreg, 1 << N_INSTRUMENTS)
    return hist.astype(np.float64) @ _CODE_BITS  # float product: exact for counts, and fast


# bit k of each code 0 .. 2^K - 1 (constraint_prevalence)
_CODE_BITS = ((np.arange(1 << N_INSTRUMENTS)[:, None] >> np.arange(N_INSTRUMENTS)[None, :]) & 1).astype(np.float64)



def allocate(model, budget, mix, pool: RankedPool) -> None:
    """Every council spends its share of this month's budget (the steps in the module docstring)."""
    p, t = model.p, model.month
    cap = model.council_cap
    lag = p["local_lag_months"]
    national = np.array([mix[k] for k in INSTRUMENTS])
    nreg, K = cap.size, N_INSTRUMENTS
    lvl0 = pool.level(0)
    region = lvl0.get("region", lambda: model.firms.region[lvl0.rows_asc].astype(np.int64))
    if lvl0.complete:  # the first level holds every eligible firm: count them there
        kk, at = nonzero2(level_eligible(lvl0) & level_constrained(lvl0))
        prevalence = np.bincount(region[at] * K + kk, minlength=nreg * K).reshape(nreg, K).astype(np.float64)
    else:
        prevalence = constraint_prevalence(model)
    # costed at unit cost
    unit = np.where(np.isnan(model.unit_cost), 2.0e6, model.unit_cost)
    need = prevalence * unit
    need_mix = need / np.maximum(need.sum(axis=1, keepdims=True), 1e-12)
    # every council at once (one row each)
    b = budget * model.region_budget_share
    # staff and activities first (the council's capacity, council_staff; booked against the national mix)
    staff = council_staff(model, b)
    book_services(model, staff)
    b = b - staff
    capture = b * p["capture_rate"] * (1 - 0.5 * cap)
    booked = capture[:, None] * national  # booked against the national mix
    led = model.ledger[t]
    for col in (CAPTURE, SPENT):  # council by council (a cumulative sum adds them in that order)
        led[:, col] = np.cumsum(np.vstack([led[None, :, col], booked]), axis=0)[-1]
    for council, c, c_cap in zip(model.council_agents, capture.tolist(), cap.tolist(), strict=True):
        council.record_capture(c, c_cap)
    mix_r = (1 - cap)[:, None] * national + cap[:, None] * need_mix
    keep = 1 - p["council_overhead"]
    money = (b - capture) * keep
    bonus_w = 2.0 * cap
    ids = model.__dict__.get("_council_ids")
    if ids is None:  # fixed for the run: programme id of (council, instrument)
        ids = model._council_ids = np.array([c.programme_ids for c in model.council_agents], dtype=np.int64)
    # the budget by instrument: capture against the national mix, the rest against the council's
    book(model, BUDGET, np.tile(np.arange(K), nreg),
            (staff[:, None] * national + booked) + (b - capture)[:, None] * mix_r)
    carry = model.programme_balance[ids] * keep  # each (council, instrument)'s balance, net of overhead

    def aware(lvl):
        def calc():
            f = model.firms
            cap_f = cap[f.region[lvl.rows_asc]]
            a_p = np.clip(p["awareness_base"] + (0.9 - p["awareness_base"]) * cap_f, 0, 1) * (
                0.7 + 0.3 * f.literacy[lvl.rows_asc])
            return model.streams.uniform_rows(t, streams.AWARENESS, lvl.rows_asc) < a_p
        return lvl.get("aware", calc)

    def picks(lvl, q, pairs, ks):
        r, at = pairs
        k = ks[q][r]
        return pairs_of(level_eligible(lvl), k, at) & aware(lvl)[at] & ~pairs_of(level_served(lvl), k, at)

    def bonus(lvl, q, r, at, ks, regions):
        cons = pairs_of(level_constrained(lvl), ks[q][r], at)
        return bonus_w[regions[q][r]] * cons, cons.view(np.int8)  # classes: constrained or not

    # Every council's candidates for every instrument, ranked once on the first level of the pool:
    # request r * K + k is council r's instrument k. What the councils select below reserves only
    # firms of their own region for the instrument just served, so these rankings stay valid.
    kk, at = nonzero2(level_eligible(lvl0) & aware(lvl0) & ~level_served(lvl0))
    reg = region[at]
    req = reg * K + kk
    o = np.argsort(req.astype(np.int16 if nreg * K < 1 << 15 else np.int64), kind="stable")  # by request, then position
    req, kk, at = req[o], kk[o], at[o]
    cons = pairs_of(level_constrained(lvl0), kk, at)
    # a council's instrument never has more money than the council's new money and balances (what
    # one cannot place goes to the next): at most that many of its candidates matter (+ a margin
    # for rounding)
    enough = units_needed(np.repeat((money + carry.sum(axis=1)) * (1 + 1e-9), K), np.tile(cheapest_units(model), nreg))
    ranked = Candidates(pool, lvl0, np.arange(nreg * K), np.tile(np.arange(K), nreg), req, at,
                         (bonus_w[reg[o]] * cons, cons.view(np.int8)), enough)

    # a council's budget is flexible: what one instrument cannot place (money to spare, no candidate
    # left) goes to the next, in the order of the council's priorities (a mechanism the centralised
    # ministries lack); what is short of the next unit is carried over to next month by the
    # instrument's programme (carry_over). Councils reach different firms, so they are served
    # side by side: the j-th instrument of every council, then the next (each council's money
    # passes only to its own next instrument; after the last it is returned).
    order = np.argsort(-mix_r, axis=1, kind="stable")
    everyone = np.arange(nreg)
    part = money[:, None] * np.take_along_axis(mix_r, order, axis=1)  # council r's money for its j-th instrument
    carry = np.take_along_axis(carry, order, axis=1)  # and its balance
    request = everyone[:, None] * K + order  # and its request in ``ranked``
    cheapest = cheapest_units(model)[order]
    left = np.zeros(nreg)
    served = np.zeros((nreg, K), dtype=np.int64)  # how many of ``ranked`` each (council, instrument) serves
    late = []
    for j in range(K):
        net = carry[:, j] + part[:, j] + left
        pid = ids[everyone, order[:, j]]
        remains = np.ones(nreg, dtype=bool)
        if not (net >= cheapest[:, j]).any():  # no council can pay one unit: all of it is carried over
            left = carry_over(model, pid, net, remains, keep)  # (a council without money has net = 0)
            continue
        m, used, done = ranked.count_served(request[:, j], net, bonus_w)
        rest = net.copy()  # what is left after serving
        if done is None:  # the first level holds every eligible firm (small populations)
            has = net > 0  # councils with no money for their j-th instrument skip it
            served[has, order[has, j]] = m[has]
            rest[has] = net[has] - used[has]
            remains[has] = m[has] < ranked.count[request[has, j]]
        else:
            q = np.flatnonzero(net > 0)
            kq = order[q, j]
            done = done[q]  # (done at a level that is not complete: a candidate remains)
            served[q[done], kq[done]] = m[q[done]]
            rest[q[done]] = net[q[done]] - used[q[done]]
            if not done.all():  # served from larger levels of the pool, as RankedPool.serve does
                lq, lk = q[~done], kq[~done]
                req, rows, amts, used, remains[lq] = pool.serve(
                    lk, net[lq], lambda lvl, r, pairs, lk=lk: picks(lvl, r, pairs, lk),
                    lambda lvl, r, r2, at, lk=lk, lq=lq: bonus(lvl, r, r2, at, lk, lq), bonus_w[lq],
                    regions=lq, spent=True, first_level=1)
                rest[lq] = net[lq] - used
                late.append((lq[req] * K + lk[req], rows, amts, j))
        left = carry_over(model, pid, rest, remains, keep)
        if left.any():  # passed on to the council's next instrument (after the last: returned)
            book(model, REALLOCATED, order[:, j], -left / keep)
            book(model, REALLOCATED if j + 1 < K else RETURNED, order[:, min(j + 1, K - 1)], left / keep)
    # what each council's instrument j served, step by step; reserved in the registry
    step = np.empty((nreg, K), dtype=np.int64)
    step[everyone[:, None], order] = np.arange(K)
    sel = np.flatnonzero(served.ravel())
    m = served.ravel()[sel]
    req, rows, amts = ranked.served(sel, m)
    js = np.repeat(step.ravel()[sel], m)
    if late:
        req, rows, amts = (np.concatenate([a] + [x[i] for x in late]) for i, a in enumerate((req, rows, amts)))
        js = np.concatenate([js] + [np.full(x[0].size, x[3]) for x in late])
    if req.size == 0:
        return
    reserve(model, req % K, rows, lag)
    # one delivery, step by step, council by council within a step (a step's councils reach
    # different firms, see pipeline.Deliveries); the firms of one segment in row order
    key = (js * nreg * K + req) * (pool.ranked.size + 1) + rows
    o = np.argsort(key)
    seg, first_of = np.unique(key[o] // (pool.ranked.size + 1), return_inverse=True)
    schedule(model, t + lag, Deliveries.from_selection(
        first_of, rows[o], amts[o], seg.size, seg % K, ids.ravel()[seg % (nreg * K)], seg // (nreg * K),
        p["council_overhead"], registry=True))


