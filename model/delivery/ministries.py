"""Centralised delivery: ministries run their programmes independently under national rules (seed 001).

How the ministries decide, each month (:func:`allocate`):

* every (ministry, instrument) programme gets its share of the budget: the national instrument mix
  (``params.instrument_mix``), split evenly between the ministries that run the instrument
  (:func:`ministry_ownership`: overlapping instruments have two owners, seed 001);
* a national overhead (``central_overhead``) is taken off;
* a firm is a candidate if it is eligible and aware of the programme; awareness falls with
  remoteness and rises with literacy (``selection.awareness_national``), one draw per firm rotated
  per programme;
* a ministry keeps its own client list: it does not select a firm it has approved for the same
  programme whose benefit period (lag + the instrument's duration) has not ended (``client_until``);
* with ``renew_clients``, a ministry's past clients whose benefit period has ended know the programme
  and are served first (a bonus of ``RENEW_BONUS`` on the priority, above any priority's range);
* candidates are served in the order of the targeting priority (plus that bonus), until the money
  runs out; there is no shared registry, so a firm may be selected by two ministries (the second
  payment is duplication, ``pipeline.deliver``);
* what is short of a unit is carried over; money to spare is returned (a ministry cannot move it
  to another instrument); support is paid ``central_lag_months`` later.
"""

from __future__ import annotations

import numpy as np

from ..params import INSTRUMENTS, N_INSTRUMENTS
from .instruments import DUR
from .ledger import BUDGET, RETURNED, book
from .pipeline import Deliveries, carry_over, schedule
from .selection import RankedPool, awareness_national, level_eligible_of, level_u_aware

# Instruments run by more than one ministry in the centralised mode (overlaps, seed 001).
OVERLAPPING = ("hr_training", "market_access", "grants", "product_development", "ecommerce_promotion")


def ministry_ownership(n_ministries: int) -> list[tuple[int, int]]:
    """(ministry, instrument) pairs: each instrument has an owner; overlapping ones have two."""
    pairs = []
    for k, name in enumerate(INSTRUMENTS):
        owners = {k % n_ministries}
        if name in OVERLAPPING and n_ministries > 1:
            owners.add((k + 2) % n_ministries)
        pairs.extend((m, k) for m in sorted(owners))
    return pairs


RENEW_BONUS = 100.0  # a past client's bonus with renew_clients (priorities lie within -4..4)


def client_columns(ownership: list[tuple[int, int]]) -> np.ndarray:
    """Column of ``firms.client_until`` per programme (``ownership`` order): slot * N_INSTRUMENTS + k,
    the slot-th ministry that runs instrument k (0 or 1)."""
    seen = np.zeros(N_INSTRUMENTS, dtype=np.int64)
    cols = []
    for _, k in ownership:
        cols.append(int(seen[k]) * N_INSTRUMENTS + k)
        seen[k] += 1
    if seen.max(initial=0) > 2:
        raise ValueError("at most two ministries run one instrument (firms.client_until has two slots)")
    return np.array(cols, dtype=np.int64)


def allocate(model, budget, mix, pool: RankedPool) -> None:
    """The ministries' programmes spend this month's budget (the steps in the module docstring)."""
    p, t = model.p, model.month
    progs = model.programme_list
    plan = model.__dict__.get("_central_plan")
    if plan is None:  # fixed for the run: instrument, number of ministries running it, programme id
        ks = np.array([prog.instrument for prog in progs], dtype=np.int64)
        owners = np.bincount(ks, minlength=N_INSTRUMENTS)[ks]
        ids = np.array([prog.programme_id for prog in progs], dtype=np.int64)
        # the programmes of one instrument are paid as one group (see pipeline.Deliveries)
        groups = np.concatenate(([0], np.cumsum(ks[1:] != ks[:-1])))
        plan = model._central_plan = (ks, owners, ids, groups, client_columns(model.ownership))
    ks, owners, ids, groups, ccol = plan
    money = budget * np.array([mix[INSTRUMENTS[k]] for k in ks.tolist()]) / owners
    for prog, b in zip(progs, money.tolist(), strict=True):
        prog.budget = b
    book(model, BUDGET, ks, money)
    # each programme's money this month: its balance carried over and its new budget, net of overhead
    keep = 1 - p["central_overhead"]
    nets = model.programme_balance[ids] * keep + money * keep

    def picks(lvl, q, pos, width=None):
        """Programme j's candidates among the level's first ``width`` firms: eligible and aware of
        it (one awareness draw per firm, rotated per programme by a Weyl step: a distinct,
        marginally uniform number for each), all at once."""
        lvl = lvl.head(width)
        v = level_u_aware(lvl)[None, :] + 0.6180339887 * (q.astype(np.float64) + 1)[:, None]
        v -= np.trunc(v)  # the fractional part, exactly (== np.modf(v)[0] for v >= 0)
        aware = v < lvl.get("aware_p", lambda: awareness_national(model, lvl.rows_asc))
        until = clients(lvl)[ccol[q]]
        if renew:
            aware |= until > 0  # its past clients know it
        aware &= level_eligible_of(lvl, ks[q])
        aware &= until <= t  # not its current clients
        return aware

    def clients(lvl):
        return lvl.get("client", lambda: model.firms.client_until[lvl.rows_asc].T)

    def bonus(lvl, q, r, at):
        """Past clients first (candidates are not current clients: ``client_until`` > 0 means past)."""
        past = clients(lvl)[ccol[q[r]], at] > 0
        return RENEW_BONUS * past, past.view(np.int8)

    renew = bool(p["renew_clients"])
    req, rows, amts, used, remains = pool.serve(ks, nets, picks, bonus if renew else None,
                                                RENEW_BONUS if renew else 0.0, spent=True)
    lag = p["central_lag_months"]
    model.firms.client_until[rows, ccol[req]] = t + lag + DUR[ks[req]]
    # what is short of a unit is carried over; a ministry cannot use money to spare elsewhere: returned
    book(model, RETURNED, ks, carry_over(model, ids, nets - used, remains, keep) / keep)
    schedule(model, t + lag,
                Deliveries.from_selection(req, rows, amts, ks.size, ks, ids, groups, p["central_overhead"],
                                             registry=False))


