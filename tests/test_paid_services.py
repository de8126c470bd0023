"""Issue 11, point 1: the delivery modes' own services cost money and have capacity (model/delivery/platform.py,
councils.py).

A firm moves up a PAS step only when it receives that step's paid service, within the service's
monthly capacity; council capacity exists only as far as council staff were paid; participation
costs the owner time.
"""

import numpy as np
from conftest import run_model

from model import MSMEEcosystem, load_scenario
from model.delivery import ledger, platform


def _watch_pas(monkeypatch):
    """Record, month by month, the PAS steps before and after the platform's services and what it paid."""
    seen = []
    original = platform.platform_services

    def watched(model, effect=None):
        n = model.firms.n
        before = model.firms.platform_step[:n].copy()
        booked = model.ledger[model.month, :, ledger.SERVICES].sum()
        original(model, effect)
        seen.append((model, before, model.firms.platform_step[:n].copy(),
                     model.ledger[model.month, :, ledger.SERVICES].sum() - booked, model.services_month))
    monkeypatch.setattr(platform, "platform_services", watched)
    return seen


def test_pas_steps_advance_only_with_a_paid_service_within_capacity(monkeypatch):
    seen = _watch_pas(monkeypatch)
    m = MSMEEcosystem(load_scenario("collaborative_platform"), seed=2, n_firms=3000, n_months=30,
                      budget_per_firm_month=400_000.0).run()
    cap = np.floor(platform.PAS_CAPACITY * m.p["n_firms"] / 1000)
    total = 0
    for _, before, after, booked, spent in seen:
        moved = after != before
        assert (after[moved] - before[moved] == 1).all()  # one step at a time
        counts = np.bincount(before[moved], minlength=platform.N_PAS)  # service s moves step s -> s + 1
        assert (counts <= cap).all()  # the platform's staff capacity
        cost = float((counts * platform.PAS_UNIT).sum())
        assert booked == spent and abs(cost - spent) <= 1e-6 * max(cost, 1.0)  # every step paid and booked
        total += int(moved.sum())
    assert total > 0 and (np.bincount(before[moved], minlength=platform.N_PAS) == cap).any()  # capacity binds


def test_no_platform_gain_without_paid_services():
    """Outreach alone registers nobody: registration is a service the platform pays for."""
    m = run_model("collaborative_platform", seed=1, platform_service_share=0.0, platform_outreach=0.5)
    assert m.firms.platform_step[: m.firms.n].max() == 0
    assert m.ledger[:, :, ledger.SERVICES].sum() == 0


def test_platform_services_move_outcomes_they_pay_for():
    """More money for PAS services: more firms further along, more financial reports (credit access)."""
    lo = run_model("collaborative_platform", seed=3, platform_service_share=0.02)
    hi = run_model("collaborative_platform", seed=3, platform_service_share=0.5)
    step_lo, step_hi = (x.firms.platform_step[: x.firms.n] for x in (lo, hi))
    assert (step_hi >= 6).sum() > (step_lo >= 6).sum()
    assert hi.ledger[:, :, ledger.SERVICES].sum() > lo.ledger[:, :, ledger.SERVICES].sum()


def test_council_capacity_fades_when_staff_are_no_longer_paid():
    m = MSMEEcosystem(load_scenario("self_governance"), seed=1, n_firms=300, n_months=120, phase_out_month=60)
    caps = []
    while m.running:
        m.step()
        caps.append(m.council_cap.mean())
    assert max(caps[:60]) > caps[-1]  # staff turnover wears the unpaid capacity down
    assert m.ledger[61:, :, ledger.SERVICES].sum() == 0


def test_participation_costs_the_owner_time():
    kw = dict(seed=2, n_firms=600, n_months=36, council_participation=1.0)
    free = run_model("self_governance", participation_time_cost=0.0, **kw)
    costly = run_model("self_governance", participation_time_cost=0.3, **kw)
    f0 = free.firms
    part = f0.participant[: f0.n] > 0.5
    assert part.any()
    assert costly.metrics["effort"] < free.metrics["effort"]
