"""The delivery modes' own services, paid from the programme budget and limited by staff capacity.

Issue 11, point 1: no effort, adoption, credit or exposure gain exists without a service that paid
for it. Two kinds of service are the modes' own (the instruments of ``programmes.py`` are paid
the same way in every mode):

* the platform's seven PAS services (seed 000: registration, training, mentoring, licensing,
  marketing, financial reporting, capital matching). Each has a unit cost (IDR per firm) and a
  monthly capacity (firms per 1,000 initial firms: the platform's staff); a firm moves to PAS step
  ``s`` only when it receives service ``s`` (its step counts the services received). The
  services are paid first out of the month's budget (at most ``platform_service_share`` of it) and
  the rest goes to the instruments;
* the councils' staff and activities (seed 001): each council spends ``council_staff_share`` of its
  regional budget on them; the money builds the council's capacity stock (less staff turnover),
  and the council reaches its four steps (awareness, joint activities, competency certification,
  institutional change) as that stock passes ``council_step_cost`` per firm of the region per step,
  at a cost that differs by region (``model.council_speed``).

Both engines call these functions (aggregate decisions of the platform and the councils); the
per-firm effects of the PAS services are applied by :func:`apply_pas` (vectorised) or by the
reference engine's agents one by one. The money is booked as the ledger's ``services`` column
(``programmes.SERVICES``): committed and paid the same month, against the national instrument mix
(as capture is).
"""

from __future__ import annotations

import numpy as np

from . import programmes as pg
from . import streams
from .params import INSTRUMENTS, instrument_mix

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


def _mix_vector(model) -> np.ndarray:
    mix = instrument_mix(model.p)
    return np.array([mix[k] for k in INSTRUMENTS])


def book_services(model, amount: float | np.ndarray, weights: np.ndarray | None = None) -> None:
    """Book ``amount`` (IDR, gross; one number, or one per council with ``weights`` rows) of the
    mode's own services: committed and paid this month, against the instrument mix."""
    if weights is None:
        weights = _mix_vector(model)[None, :]
    amounts = np.atleast_1d(np.asarray(amount, dtype=np.float64))
    led = model.ledger[model.month]
    gross = amounts[:, None] * weights
    for col in (pg.SERVICES, pg.COMMITTED, pg.SPENT):  # service by service (council by council), in order
        led[:, col] = np.cumsum(np.vstack([led[None, :, col], gross]), axis=0)[-1]


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
    budget = pg.monthly_budget(model, t)
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
    m = rows[svc == 1]  # training: a short digital-skills course (the onboarding effect of programmes.py)
    f.digital_skill[m] += 0.15 * (1 - f.digital_skill[m])
    m = rows[svc == 2]  # mentoring by partners
    f.competence[m] += 0.15 * (1 - f.competence[m])
    f.relatedness[m] += 0.15 * (1 - f.relatedness[m])
    f.literacy[m] += 0.10 * (1 - f.literacy[m])
    f.licensed[rows[svc == 3]] = True  # licensing facilitation
    m = rows[svc == 4]  # marketing: a joint promotion package
    if m.size:
        online = f.stage[m] == 3
        from .marketplaces import promotion_visibility
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


# ----------------------------------------------------------------------------------------------
# the councils' staff and activities
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
