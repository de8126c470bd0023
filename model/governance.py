"""Governance: how programme money reaches firms (seed 001 synchronisation models; seed 000 platform).

* ``centralised`` -- ministries run their programmes independently under national rules: a fixed
  national instrument mix, awareness that falls with remoteness and literacy, no shared registry
  (duplicates happen), long lags and a national overhead.
* ``self_governance`` -- regional councils allocate their region's budget between the national mix
  and the binding constraints they observe in their own firms, in proportion to their capacity,
  which ramps up through four steps (awareness, joint activities, competency certification,
  institutional change) at a speed that differs by region. Councils keep a shared registry, reach
  firms locally, involve them (participation raises autonomy and relatedness), and lose part of
  the budget to local capture, less as their capacity grows.
* ``platform`` -- a collaborative platform links government, private sector, academia and
  community. Registered firms go through the seven PAS steps; the platform matches them to the
  programme that fits their step and constraint, keeps a shared registry, and removes search and
  information costs; partners deliver mentoring and financial-reporting help.

Outcomes differ between modes only through these mechanisms.
"""

from __future__ import annotations

import numpy as np

from . import programmes as pg
from . import streams
from .params import INSTRUMENTS, N_INSTRUMENTS, instrument_mix

COUNCIL_STEPS = ("awareness", "joint activities", "competency certification", "institutional change")
PAS_STEPS = ("registration", "training", "mentoring", "licensing", "marketing", "financial reporting", "capital")
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


def council_capacity(model, month: int) -> np.ndarray:
    """Capacity of each regional council, 0.25 per step reached (seed 001 four-step ramp)."""
    steps = 1 + np.floor(month * model.council_speed / model.p["council_ramp_months"])
    return 0.25 * np.minimum(steps, 4)


def awareness_national(model) -> np.ndarray:
    """Probability a firm knows of a national programme: falls with remoteness, rises with literacy."""
    f, n = model.firms, model.firms.n
    remote = model.region_remoteness[f.region[:n]]
    return np.clip(model.p["awareness_base"] * (1 - 0.6 * remote) * (0.5 + f.literacy[:n]), 0, 1)


def update(model) -> None:
    """Council capacity and participation; platform registration and PAS progress."""
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    mode = p["governance_mode"]
    if mode == "self_governance":
        model.council_cap = council_capacity(model, t)
        cap_firm = model.council_cap[f.region[:n]]
        target = (model.participation_propensity[:n] < p["council_participation"] * cap_firm).astype(float)
        f.participant[:n] += 0.1 * (target - f.participant[:n])
    elif mode == "platform":
        u = model.streams.uniform(t, streams.GOVERNANCE, n)
        alive = f.alive[:n]
        step = f.platform_step[:n]
        reg_p = p["platform_outreach"] * np.array([0.0, 0.4, 0.8, 1.2])[f.stage[:n]]
        new = alive & (step == 0) & (u < reg_p)
        # registered firms advance one PAS step with probability 0.2 a month (uses the upper draws)
        adv = alive & (step > 0) & (step < 7) & (u > 0.8)
        step[new] = 1
        step[adv] += 1
        # partner-delivered steps (private sector, academia, community; no budget cost)
        mentor = adv & (step == 3)
        f.competence[:n][mentor] += 0.15 * (1 - f.competence[:n][mentor])
        f.relatedness[:n][mentor] += 0.15 * (1 - f.relatedness[:n][mentor])
        f.literacy[:n][mentor] += 0.10 * (1 - f.literacy[:n][mentor])
        report = adv & (step == 6)
        f.literacy[:n][report] += 0.15 * (1 - f.literacy[:n][report])
        g = model.streams.uniform(t, streams.FINANCE, n)
        bank = report & (g > 0.7)  # bank partners read the financial reports
        f.credit_access[:n][bank] = 2


def allocate(model) -> None:
    """Spend this month's budget: select recipients now, deliver after the mode's lag."""
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    budget = pg.monthly_budget(model, t)
    model.budget_this_month = budget
    if budget <= 0 or n == 0:
        return
    mode = p["governance_mode"]
    mix = instrument_mix(p)
    u_aware = model.streams.uniform(t, streams.AWARENESS, n)
    u_prio = model.streams.uniform(t, streams.PRIORITY, n)
    elig = [pg.eligible(model, k) for k in range(N_INSTRUMENTS)]
    if mode == "centralised":
        _allocate_central(model, budget, mix, elig, u_aware, u_prio)
    elif mode == "self_governance":
        _allocate_councils(model, budget, mix, elig, u_aware, u_prio)
    else:
        _allocate_platform(model, budget, mix, elig, u_aware, u_prio)


def _rotated(u: np.ndarray, j: int) -> np.ndarray:
    """A distinct uniform per programme from one array (Weyl rotation; marginally uniform)."""
    return np.modf(u + 0.6180339887 * (j + 1))[0]


def _allocate_central(model, budget, mix, elig, u_aware, u_prio) -> None:
    p, t = model.p, model.month
    aware_p = awareness_national(model)
    prio = pg.priority(model, p["targeting"], u_prio)
    owners = np.bincount([k for _, k in model.ownership], minlength=N_INSTRUMENTS)
    for j, prog in enumerate(model.programme_list):
        k = prog.instrument
        money = budget * mix[INSTRUMENTS[k]] / owners[k]
        prog.budget = money
        net = money * (1 - p["central_overhead"])
        cand = np.flatnonzero(elig[k] & (_rotated(u_aware, j) < aware_p))
        rows, amts = pg.select(cand, prio[cand], pg.unit_costs(model, k, cand), net)
        pg.schedule(model, t + p["central_lag_months"],
                    pg.Delivery(k, rows, amts, p["central_overhead"], prog.programme_id, registry=False))


def _reserve(model, k: int, rows: np.ndarray, lag: int) -> None:
    model.firms.served_until[rows, k] = model.month + lag + pg.DUR[k]


def _allocate_councils(model, budget, mix, elig, u_aware, u_prio) -> None:
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    cap = model.council_cap
    region = f.region[:n]
    cap_f = cap[region]
    aware_p = np.clip(p["awareness_base"] + (0.9 - p["awareness_base"]) * cap_f, 0, 1) * (0.7 + 0.3 * f.literacy[:n])
    aware = u_aware < aware_p
    base_prio = pg.priority(model, p["targeting"], u_prio)
    lag = p["local_lag_months"]
    national = np.array([mix[k] for k in INSTRUMENTS])
    cons = [pg.constraint(model, k) for k in range(N_INSTRUMENTS)]
    served = f.served_until[:n] > t
    alive = f.alive[:n]
    nreg = len(cap)
    # prevalence of each constraint by region (what the council sees), costed at unit cost
    prevalence = np.zeros((nreg, N_INSTRUMENTS))
    for k in range(N_INSTRUMENTS):
        prevalence[:, k] = np.bincount(region, weights=(cons[k] & elig[k] & alive), minlength=nreg)
    unit = np.where(np.isnan(pg.UNIT), 2.0e6, pg.UNIT)
    need = prevalence * unit
    need_mix = need / np.maximum(need.sum(axis=1, keepdims=True), 1e-12)
    for r, council in enumerate(model.council_agents):
        b_r = budget * model.region_budget_share[r]
        capture = b_r * p["capture_rate"] * (1 - 0.5 * (cap[r] - 0.25) / 0.75)
        model.ledger[t, :, pg.CAPTURE] += capture * national  # booked against the national mix
        model.ledger[t, :, pg.SPENT] += capture * national
        council.record_capture(capture, cap[r])
        mix_r = (1 - cap[r]) * national + cap[r] * need_mix[r]
        in_r = region == r
        money = (b_r - capture) * (1 - p["council_overhead"])
        # a council's budget is flexible: what one instrument cannot place goes to the next, in the
        # order of the council's priorities (a mechanism the centralised ministries lack)
        left = 0.0
        for k in np.argsort(-mix_r, kind="stable"):
            net = money * mix_r[k] + left
            if net <= 0:
                continue
            cand = np.flatnonzero(in_r & elig[k] & aware & ~served[:, k])
            score = base_prio[cand] + 2.0 * cap[r] * cons[k][cand]
            rows, amts = pg.select(cand, score, pg.unit_costs(model, k, cand), net)
            left = net - float(amts.sum())
            _reserve(model, k, rows, lag)
            pg.schedule(model, t + lag, pg.Delivery(k, rows, amts, p["council_overhead"],
                                                    council.programme_ids[k], registry=True))


def _allocate_platform(model, budget, mix, elig, u_aware, u_prio) -> None:
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    registered = f.platform_step[:n] > 0
    aware = registered | (u_aware < awareness_national(model))
    base_prio = pg.priority(model, p["targeting"], u_prio)
    served = f.served_until[:n] > t
    lag = p["local_lag_months"]
    step = f.platform_step[:n]
    for k, name in enumerate(INSTRUMENTS):
        money = budget * mix[name]
        net = money * (1 - p["platform_overhead"])
        cand = np.flatnonzero(elig[k] & aware & ~served[:, k])
        if cand.size == 0:
            continue
        on_step = np.zeros(cand.size, dtype=bool)
        for s, names in pg.PAS_INSTRUMENTS.items():
            if name in names:
                on_step |= step[cand] == s
        score = base_prio[cand] + 2.0 * pg.constraint(model, k)[cand] + 1.5 * on_step + 1.0 * registered[cand]
        rows, amts = pg.select(cand, score, pg.unit_costs(model, k, cand), net)
        _reserve(model, k, rows, lag)
        pg.schedule(model, t + lag, pg.Delivery(k, rows, amts, p["platform_overhead"],
                                                model.platform_agent.programme_ids[k], registry=True))
