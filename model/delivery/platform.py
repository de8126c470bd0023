"""The collaborative platform: paid PAS services and matching firms to programmes (seed 000).

How the platform decides, each month:

* the PAS services (:func:`platform_services`, :func:`pas_selection`): seven paid services, one per
  PAS step (``PAS_SERVICES``: registration, training, mentoring, licensing, marketing, financial
  reporting, capital matching), each with a unit cost and a monthly capacity; a firm's PAS step
  counts the services it received. They are paid first out of the month's budget (at most
  ``platform_service_share`` of it) and booked in the ledger's ``services`` column;
* the matching (:func:`allocate`): the rest of the budget goes to the instruments in the national
  mix, net of ``platform_overhead``; firms registered on the platform are aware of its programmes
  (others as of a national programme); a shared registry excludes firms already served;
  candidates are ranked by priority plus bonuses for the constraint the instrument relieves (2),
  for being at the PAS step the instrument serves (1.5, ``PAS_INSTRUMENTS``) and for being
  registered (1); support is paid ``local_lag_months`` later.
"""

from __future__ import annotations

import numpy as np

from .. import streams
from ..marketplaces import promotion_visibility
from ..params import INSTRUMENTS, N_INSTRUMENTS
from .ledger import BUDGET, RETURNED, book, book_services, monthly_budget
from .pipeline import Deliveries, carry_over, schedule
from .selection import (
    RankedPool,
    awareness_national,
    level_constrained,
    level_eligible,
    level_served,
    pairs_of,
    reserve,
)

# The PAS services (seed 000), one row per step: name, unit cost (IDR per firm served), monthly
# capacity (firms per 1,000 initial firms). Sources and reasons in ODD 7.7.
PAS_SERVICES = (
    ("registration", 0.10e6, 20.0),         # onboarding: profile, NIB check (assumption)
    ("training", 1.00e6, 4.0),              # a short digital-skills course (assumption; hr_training's full
    #                                         course is Rp 2.5 M)
    ("mentoring", 1.50e6, 4.0),             # a few months of a partner mentor's time (assumption)
    ("licensing", 0.50e6, 4.0),             # NIB and permits facilitation (as the licensing instrument)
    ("marketing", 1.50e6, 4.0),             # a joint promotion package (as the e-commerce promotion instrument)
    ("financial reporting", 1.00e6, 4.0),   # bookkeeping support until reports a bank reads (assumption)
    ("capital", 0.20e6, 4.0),               # capital matching: a case officer's referral to lenders (assumption)
)
PAS_STEPS = tuple(s[0] for s in PAS_SERVICES)
PAS_UNIT = np.array([s[1] for s in PAS_SERVICES])
PAS_CAPACITY = np.array([s[2] for s in PAS_SERVICES])  # per 1,000 initial firms a month
N_PAS = len(PAS_SERVICES)
STAGE_APPLY = np.array([0.0, 0.4, 0.8, 1.2])  # registration applications by digital stage (x platform_outreach)


PAS_INSTRUMENTS = {  # PAS step reached (services received, seed 000) -> instruments the platform matches a
    # firm to next: those of its next step (training 2, licensing 4, marketing 5, capital 7)
    1: ("hr_training",), 3: ("licensing",), 4: ("ecommerce_promotion", "market_access", "logistics"),
    6: ("kur_credit", "financing", "grants"),
}



# ----------------------------------------------------------------------------------------------
# the platform's PAS services
def pas_selection(model) -> tuple[np.ndarray, np.ndarray, float]:
    """This month's PAS services: (rows, service index 0..6) of the firms served, and the money
    spent (IDR). Candidates for service ``s`` are alive firms at step ``s`` (``s`` services
    received); for registration, unregistered firms that apply (outreach, by digital stage). Each
    firm's candidacy is ranked by its governance draw of the month (lowest first, then row);
    services are delivered from the last PAS step down (firms closest to capital first), each up
    to its capacity, while the money lasts. A firm receives at most one service a month."""
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    budget = monthly_budget(model, t)
    money = budget * p["platform_service_share"]
    none = np.zeros(0, dtype=np.int64)
    if money <= 0 or n == 0:
        return none, none, 0.0
    u = model.streams.uniform(t, streams.GOVERNANCE, n)
    alive = f.alive[:n]
    step = f.platform_step[:n].astype(np.int64)
    apply = alive & ((step > 0) | (u < p["platform_outreach"] * STAGE_APPLY[f.stage[:n]]))
    scale = p["n_firms"] / 1000.0
    rows_out, svc_out = [], []
    spent = 0.0
    for s in range(N_PAS - 1, -1, -1):
        cand = np.flatnonzero(apply & (step == s))
        if cand.size == 0:
            continue
        cap = int(np.floor(PAS_CAPACITY[s] * scale + 1e-9))
        afford = int(np.floor((money - spent) / PAS_UNIT[s] + 1e-9))
        k = min(cand.size, cap, afford)
        if k <= 0:
            continue
        order = np.lexsort((cand, u[cand]))[:k]
        rows = np.sort(cand[order])
        rows_out.append(rows)
        svc_out.append(np.full(k, s, dtype=np.int64))
        spent += k * PAS_UNIT[s]
    if not rows_out:
        return none, none, 0.0
    return np.concatenate(rows_out), np.concatenate(svc_out), spent


def apply_pas(model, rows: np.ndarray, svc: np.ndarray) -> None:
    """The PAS services' effects (vectorised; the reference engine's ``ReferenceMSME.receive_pas``
    does the same firm by firm). Every firm in ``rows`` is different."""
    f, t = model.firms, model.month
    f.platform_step[rows] = (svc + 1).astype(f.platform_step.dtype)
    m = rows[svc == 1]  # training: a short digital-skills course (the onboarding effect of instruments.py)
    f.digital_skill[m] += 0.15 * (1 - f.digital_skill[m])
    m = rows[svc == 2]  # mentoring by partners
    f.competence[m] += 0.15 * (1 - f.competence[m])
    f.relatedness[m] += 0.15 * (1 - f.relatedness[m])
    f.literacy[m] += 0.10 * (1 - f.literacy[m])
    f.licensed[rows[svc == 3]] = True  # licensing facilitation
    m = rows[svc == 4]  # marketing: a joint promotion package
    if m.size:
        online = f.stage[m] == 3
        on = m[online]
        f.visibility[on] += promotion_visibility(np.full(on.size, PAS_UNIT[4]), f.reputation[on])
        off = m[~online]
        f.market_reach[off] = np.minimum(f.market_reach[off] + MARKETING_REACH, 1.5)
    m = rows[svc == 5]  # financial reporting; bank partners read the reports
    if m.size:
        f.literacy[m] += 0.15 * (1 - f.literacy[m])
        g = model.streams.uniform_rows(t, streams.FINANCE, m)
        f.credit_access[m[g > 0.7]] = 2


# market reach of an offline firm's joint promotion: the market-access instrument's +0.4 for Rp 3 M,
# pro rata to the marketing service's Rp 1.5 M
MARKETING_REACH = 0.4 * PAS_UNIT[4] / 3.0e6


def platform_services(model, effect=None) -> None:
    """Select, pay and deliver this month's PAS services (``effect(model, rows, svc)``: the
    effects, default :func:`apply_pas`)."""
    rows, svc, spent = pas_selection(model)
    model.services_month = spent
    if spent > 0:
        book_services(model, spent)
        (apply_pas if effect is None else effect)(model, rows, svc)



def allocate(model, budget, mix, pool: RankedPool) -> None:
    """The platform's programmes spend what the PAS services left of this month's budget (the
    matching in the module docstring)."""
    p, t = model.p, model.month
    lag = p["local_lag_months"]
    f = model.firms
    ks = np.arange(N_INSTRUMENTS)
    ids = np.asarray(model.platform_agent.programme_ids, dtype=np.int64)
    share = np.array([mix[name] for name in INSTRUMENTS])
    book(model, BUDGET, ks, budget * share)
    # the PAS services were paid first this month (platform_services, booked then)
    money = (budget - model.services_month) * share
    keep = 1 - p["platform_overhead"]
    nets = model.programme_balance[ids] * keep + money * keep

    def registered(lvl):
        return lvl.get("registered", lambda: f.platform_step[lvl.rows_asc] > 0)

    def aware(lvl):
        return lvl.get("aware", lambda: (f.platform_step[lvl.rows_asc] > 0) | (
            model.streams.uniform_rows(t, streams.AWARENESS, lvl.rows_asc) < awareness_national(model, lvl.rows_asc)))

    def on_step(lvl):
        """Whether the firm is at a PAS step the instrument serves (one row per instrument)."""
        def calc():
            match = np.zeros((N_INSTRUMENTS, len(PAS_STEPS) + 1), dtype=bool)
            for s, names in PAS_INSTRUMENTS.items():
                match[[INSTRUMENTS.index(name) for name in names], s] = True
            return match[:, f.platform_step[lvl.rows_asc]]
        return lvl.get("on_step", calc)

    def picks(lvl, q, pairs):
        return level_eligible(lvl)[q] & aware(lvl) & ~level_served(lvl)[q]

    def bonus(lvl, q, r, at):
        k = q[r]
        cons, step, reg = pairs_of(level_constrained(lvl), k, at), pairs_of(on_step(lvl), k, at), registered(lvl)[at]
        classes = cons.view(np.int8) * 4 + step.view(np.int8) * 2 + reg.view(np.int8)  # the bonus's 8 values
        return 2.0 * cons + 1.5 * step + 1.0 * reg, classes

    # with bonuses of up to 4.5 the platform's programmes often need the larger levels: start at
    # the level where they finished last month (the selections are the same from any level)
    req, rows, amts, used, remains = pool.serve(ks, nets, picks, bonus, 2.0 + 1.5 + 1.0, spent=True,
                                                first_level=model.__dict__.get("_platform_level", 0))
    model._platform_level = pool.last_level
    book(model, RETURNED, ks, carry_over(model, ids, nets - used, remains, keep) / keep)
    reserve(model, req, rows, lag)
    schedule(model, t + lag, Deliveries.from_selection(
        req, rows, amts, ks.size, ks, ids, ks,
        p["platform_overhead"], registry=True))
