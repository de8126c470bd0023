"""The reference engine (one Python method per MSME agent, model/reference.py) reproduces the
vectorised engine: same seed -> every headline metric equal to 1e-9 relative, month by month."""

import numpy as np
import pytest

from model import MSMEEcosystem
from model.reference import ReferenceMSME, ReferenceMSMEEcosystem
from model.reporters import METRICS

SMALL = dict(n_firms=300, n_months=36)
SCENARIOS = {
    "centralised": dict(governance_mode="centralised"),
    "self_governance": dict(governance_mode="self_governance"),
    "platform": dict(governance_mode="platform"),
    "centralised_shock_clusters": dict(governance_mode="centralised", shock_enabled=True, cluster_programme=True,
                                       targeting="need"),
    "self_governance_shock_clusters": dict(governance_mode="self_governance", shock_enabled=True,
                                           cluster_programme=True, ecommerce_onboarding=True),
    "platform_shock_clusters": dict(governance_mode="platform", shock_enabled=True, cluster_programme=True,
                                    targeting="potential"),
    "phase_out_facilities": dict(phase_out_month=20, phase_out_taper_months=4, mix_shared_facilities=1.0,
                                 cluster_programme=True, budget_per_firm_month=400_000.0, targeting="untargeted"),
    # the grant's size is a lever (model.unit_cost): ministries' and councils' costing both read it
    "large_grants_centralised": dict(grant_amount=12_000_000.0, mix_grants=3.0, budget_per_firm_month=200_000.0),
    # ministries renew their past clients first (concentrated_grants): the client lists and the bonus
    "renewed_grants_by_need": dict(grant_amount=12_000_000.0, mix_grants=3.0, budget_per_firm_month=200_000.0,
                                   targeting="need", renew_clients=True, max_eligible_class="micro"),
    "large_grants_self_governance": dict(governance_mode="self_governance", grant_amount=12_000_000.0,
                                         mix_grants=3.0, budget_per_firm_month=200_000.0),
}


def assert_same(a, b, rtol=1e-9):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for name in METRICS:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        # the ledger's gap is a difference of sums of ~1e9 IDR: its scale is the month's spending
        scale = a["budget_spent"].to_numpy() if name == "accounting_gap" else np.maximum(np.abs(x), np.abs(y))
        bad = np.abs(x - y) > rtol * scale + 1e-12
        assert not bad.any(), f"{name} differs from month {int(np.argmax(bad))}: {x[bad][:3]} vs {y[bad][:3]}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_reference_reproduces_vectorised(name):
    kw = dict(SMALL, **SCENARIOS[name])
    vec = MSMEEcosystem(seed=11, **kw).run()
    ref = ReferenceMSMEEcosystem(seed=11, **kw).run()
    assert_same(vec.metrics_frame(), ref.metrics_frame())
    # the firms themselves end in the same state
    n = vec.firms.n
    assert ref.firms.n == n
    alive = vec.firms.alive[:n]
    assert (ref.firms.alive[:n] == alive).all()
    for col in ("capital", "workers", "productivity", "debt", "cash", "profit_ewm", "autonomy", "digital_skill"):
        np.testing.assert_allclose(getattr(ref.firms, col)[:n][alive], getattr(vec.firms, col)[:n][alive], rtol=1e-9)
    np.testing.assert_array_equal(ref.firms.below_months[:n][alive], vec.firms.below_months[:n][alive])
    np.testing.assert_allclose(ref.firms.loan_principal[:n][alive], vec.firms.loan_principal[:n][alive], rtol=1e-9,
                               atol=1e-3)
    # the lenders' books (summed in another order: agents are shuffled)
    np.testing.assert_allclose(ref.loan_ledger, vec.loan_ledger, rtol=1e-9, atol=1e-3)
    # the programmes' books and balances carried over (programmes summed in another order)
    np.testing.assert_allclose(ref.ledger, vec.ledger, rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(ref.programme_balance, vec.programme_balance, rtol=1e-9, atol=1e-3)


def test_reference_runs_agent_methods():
    """Per-firm rules are methods of Mesa agents called through the AgentSet."""
    m = ReferenceMSMEEcosystem(seed=2, n_firms=200, n_months=3)
    firms = m.agents_by_type[ReferenceMSME]
    assert len(firms) == m.firms.n == int(m.firms.alive[: m.firms.n].sum())  # the firms alive at month 0
    m.run()
    assert len(m.agents_by_type[ReferenceMSME]) == int(m.firms.alive[: m.firms.n].sum())
    a = next(iter(m.agents_by_type[ReferenceMSME]))
    for method in ("plan_production", "sell", "settle_accounts", "learn_and_adopt", "consider_exit"):
        assert callable(getattr(a, method))
