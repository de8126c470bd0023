"""Invariants: money accounted for, no NaN, class consistent with capital, reproducibility."""

import numpy as np
import pytest
from conftest import run_model

from model import MSMEEcosystem, load_scenario
from model.delivery import instruments, ledger, pipeline
from model.params import CLASS_CAPITAL_LIMITS
from model.reporters import METRICS
from model.state import COLUMNS

MODES = ["baseline", "self_governance", "collaborative_platform", "clustering", "covid_shock"]


@pytest.mark.parametrize("scenario", MODES)
def test_budget_accounting_every_month(scenario):
    m = run_model(scenario, seed=2)
    led = m.ledger[: m.month + 1]
    spent, support, overhead, dup, capture = (led[:, :, j].sum(axis=1) for j in range(5))
    services = led[:, :, ledger.SERVICES].sum(axis=1)  # the modes' own services (PAS, council staff)
    assert spent.sum() > 0
    assert (services.sum() > 0) == (m.p["governance_mode"] != "centralised")
    np.testing.assert_allclose(spent, support + overhead + dup + capture + services, rtol=1e-9, atol=1e-3)
    # the firms' own records (every firm ever: exited ones from the archive) add up to the support
    # the ledger says was delivered
    f = m.firms
    assert f.compactions > 0  # some firms' rows are gone: their records come from the archive
    np.testing.assert_allclose(f.all_firms("support_total").sum(), support.sum(), rtol=1e-9)
    np.testing.assert_allclose(f.all_firms("support_by_instrument").sum(), support.sum(), rtol=1e-9)
    # never more than the budget: what is paid was approved from the budget so far (balances carried
    # over may be spent in a later month than their budget)
    assert (np.cumsum(spent) <= np.cumsum(led[:, :, ledger.BUDGET].sum(axis=1)) * (1 + 1e-9)).all()


def _books(m, t):
    """Month ``t``'s programme accounts, summed over instruments."""
    return {name: m.ledger[t, :, j].sum() for j, name in enumerate(ledger.LEDGER_FIELDS)}


MONEY_CASES = {  # scenario, extra parameters
    "centralised": ("baseline", {}),
    "councils": ("self_governance", {}),
    "platform": ("collaborative_platform", {}),
    # phase-out with a taper: balances returned, deliveries due after the end cancelled
    "councils_phase_out": ("self_governance", dict(phase_out_month=20, phase_out_taper_months=4)),
    # tiny budgets: every programme is below one unit most months and must save up
    "centralised_small_budget": ("baseline", dict(budget_per_firm_month=20_000.0)),
}


@pytest.mark.parametrize("case", list(MONEY_CASES))
def test_budget_adds_up_every_month_with_carry_over(case):
    """budget = delivered + overhead + duplication + capture + returned + cancelled + carried over
    + approved and not yet paid, every month: each programme's account, and the payments."""
    scenario, kw = MONEY_CASES[case]
    m = MSMEEcosystem(load_scenario(scenario), seed=3, n_firms=700, n_months=30, **kw)
    scale = m.p["budget_per_firm_month"] * m.p["n_firms"]
    approved = paid = cancelled = 0.0
    carried = np.zeros(len(instruments.UNIT))
    while m.running:
        m.step()
        t = m.month
        led = m.ledger[t]
        b = _books(m, t)
        # the budget booked is this month's budget
        assert b["budget"] == pytest.approx(ledger.monthly_budget(m, t), rel=1e-9, abs=1e-3)
        # each instrument's account: what came in = what went out (reallocated: between a council's
        # instruments, nothing over all of them)
        np.testing.assert_allclose(led[:, ledger.BUDGET] + carried + led[:, ledger.REALLOCATED],
                                   led[:, ledger.COMMITTED] + led[:, ledger.CAPTURE] + led[:, ledger.RETURNED]
                                   + led[:, ledger.CARRIED],
                                   rtol=1e-9, atol=1e-6 * scale)
        assert abs(b["reallocated"]) <= 1e-9 * scale
        # the balances are the programmes' own, never negative, and below what they can keep
        assert (m.programme_balance >= 0).all()
        np.testing.assert_allclose(np.bincount(m.programme_instrument, weights=m.programme_balance,
                                               minlength=len(instruments.UNIT)), led[:, ledger.CARRIED], rtol=1e-12)
        carried = led[:, ledger.CARRIED].copy()
        # what was approved is paid, cancelled, or still queued
        approved += b["committed"]
        paid += b["spent"] - b["capture"]
        cancelled += b["cancelled"]
        assert approved == pytest.approx(paid + cancelled + pipeline.pipeline_gross(m).sum(), rel=1e-9,
                                         abs=1e-6 * scale)
        # and the payments themselves
        assert b["spent"] == pytest.approx(b["support"] + b["overhead"] + b["duplication"] + b["capture"]
                                           + b["services"], rel=1e-9, abs=1e-6 * scale)
    total = m.ledger[: m.month + 1].sum(axis=(0, 1))
    tot = dict(zip(ledger.LEDGER_FIELDS, total, strict=True))
    # the whole run: the budget = spent (delivered, overhead, duplication, capture) + returned + cancelled
    # + carried over at the end + approved and not yet paid at the end
    assert tot["budget"] == pytest.approx(tot["spent"] + tot["returned"] + tot["cancelled"] + carried.sum()
                                          + pipeline.pipeline_gross(m).sum(), rel=1e-9)
    assert tot["spent"] > 0.5 * tot["budget"]
    if m.p["phase_out_month"] > 0:  # programmes ended: nothing is left in their accounts
        assert carried.sum() == 0 and not m.programme_balance.any() and pipeline.pipeline_gross(m).sum() == 0
        assert tot["returned"] > 0 and tot["cancelled"] > 0
    if case == "centralised_small_budget":
        # most programmes' monthly money is below one unit: saving up is what lets every one of them
        # buy units, and nothing is returned (the rest is carried over at the end, up to a unit each)
        assert (m.ledger[:, :, ledger.BUDGET].sum(axis=0) / len(m.ledger) < instruments.cheapest_units(m)).sum() >= 5
        assert (m.ledger[:, :, ledger.COMMITTED].sum(axis=0) > 0).all()
        assert tot["returned"] == 0 and tot["committed"] > 0.6 * tot["budget"]


def test_support_by_firm_instrument_month_matches_ledger():
    m = MSMEEcosystem(load_scenario("baseline"), seed=5, n_firms=600, n_months=12)
    while m.running:
        m.step()
        f = m.firms
        assert f.support_month[: f.n].sum() == pytest.approx(m.ledger[m.month, :, 1].sum(), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("scenario", MODES)
def test_no_nan_or_inf(scenario):
    m = run_model(scenario, seed=4)
    f = m.firms
    for name, (dtype, _) in COLUMNS.items():
        col = getattr(f, name)[: f.n]
        if np.issubdtype(col.dtype, np.floating):
            assert np.isfinite(col).all(), name
    df = m.metrics_frame()
    assert set(METRICS) <= set(df.columns)
    assert np.isfinite(df.to_numpy(dtype=float)).all()


def test_size_class_consistent_with_capital(baseline_run):
    f = baseline_run.firms
    alive = f.alive[: f.n]
    k = f.capital[: f.n][alive]
    cls = f.size_class[: f.n][alive]
    expected = np.searchsorted(np.asarray(CLASS_CAPITAL_LIMITS), k, side="left")
    assert (cls == expected).all()
    assert (cls[k <= 1e9] == 0).all() and (cls[(k > 1e9) & (k <= 5e9)] == 1).all()


def test_same_seed_same_results():
    a = run_model("self_governance", seed=11).metrics_frame()
    b = run_model("self_governance", seed=11).metrics_frame()
    c = run_model("self_governance", seed=12).metrics_frame()
    assert a.equals(b)
    assert not a.equals(c)


def test_common_random_numbers_same_initial_population():
    """Paired design: one seed, different scenarios -> the same firms at month 0."""
    pops = []
    for name in ("baseline", "self_governance", "collaborative_platform", "covid_shock", "ecommerce_promotion"):
        m = MSMEEcosystem(load_scenario(name), seed=7, n_firms=500, n_months=12)
        f = m.firms
        pops.append(np.column_stack([f.capital[: f.n], f.region[: f.n], f.stage[: f.n], f.cluster[: f.n],
                                     f.digital_skill[: f.n]]))
    for p in pops[1:]:
        np.testing.assert_array_equal(p, pops[0])


def test_population_matches_facts():
    """The drawn population (before any burn-in) reproduces the published structure."""
    m = MSMEEcosystem(seed=1, n_firms=40_000, n_months=1, msme_agents=False, burn_in_months=0)
    f = m.firms
    cls = np.bincount(f.size_class[: f.n], minlength=4) / f.n
    assert cls[0] == pytest.approx(0.9868, abs=0.003)           # FACTS 2019: micro 98.7 %
    workers_micro = f.workers[: f.n][f.size_class[: f.n] == 0].mean()
    assert workers_micro == pytest.approx(1.70, abs=0.05)       # 109.8 M / 64.6 M
    assert (f.stage[: f.n] == 3).mean() == pytest.approx(0.146, abs=0.005)  # Oct 2020: 14.6 % online
    assert (f.credit_access[: f.n] == 2).mean() == pytest.approx(15 / 57, abs=0.08)


def test_burnt_in_population_stays_near_facts():
    """Month 0 after the burn-in is the population the monthly rules keep, not the drawn one: it
    stays near the published structure, within the gaps measured when investment came to follow
    demand (micro 99.4 %, i.e. the small class at half its published share; workers per micro firm,
    online share and formal credit access near the data, at 40,000 firms) -- what the calibration
    issue fits."""
    m = MSMEEcosystem(seed=1, n_firms=40_000, n_months=1, msme_agents=False)
    f = m.firms
    cls = np.bincount(f.size_class[: f.n], minlength=4) / f.n
    assert cls[0] == pytest.approx(0.9868, abs=0.01)
    assert f.workers[: f.n][f.size_class[: f.n] == 0].mean() == pytest.approx(1.70, abs=0.3)
    assert (f.stage[: f.n] == 3).mean() == pytest.approx(0.146, abs=0.06)
    assert (f.credit_access[: f.n] == 2).mean() == pytest.approx(15 / 57, abs=0.15)
    assert f.n == pytest.approx(40_000, rel=0.1)  # entry at the stationary exit rate


def test_exit_rate_near_published_figure():
    """Deaths a year among all firms alive (McKenzie & Paffhausen 2019: 8.2 % a year among small
    firms in panel surveys)."""
    df = run_model("baseline", seed=1, n_firms=3000, n_months=60).metrics_frame()
    annual_exit = df["exits"].iloc[1:].sum() / df["firms_alive"].iloc[:-1].mean() / 5
    assert 0.06 < annual_exit < 0.11


@pytest.mark.xfail(strict=True, reason="calibration gap (calibration issue): after the burn-in, firms alive at month "
                   "0 exit at ~3.7 %/yr and entrants at ~40 % in their first year; the panels of McKenzie & "
                   "Paffhausen (2019) see ~8 %/yr among existing firms")
def test_incumbents_exit_rate_near_published_figure():
    m = run_model("baseline", seed=1, n_firms=3000, n_months=60)
    annual_exit = 1 - m.metrics["survival_rate"] ** (1 / 5)
    assert 0.06 < annual_exit < 0.11
