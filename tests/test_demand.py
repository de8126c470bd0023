"""Demand (economic core v2, stage 2): firms win customers, not demand by capacity; aggregate
demand answers to MSME incomes; the online channel diverts spending, it does not add to it."""

import numpy as np

from model import MSMEEcosystem, load_scenario
from model import demand as dm


def _pair(months=12, seed=3, n_firms=3000, **kw):
    """Two identical models stepped to ``months``."""
    make = lambda: MSMEEcosystem(load_scenario("baseline"), seed=seed, n_firms=n_firms, msme_agents=False,  # noqa: E731
                                 n_months=months + 12, **kw).run(months)
    return make(), make()


def test_capacity_without_customers_gains_no_sales():
    """A firm that doubles its capital gets no more orders and no more customers: capacity only
    caps sales (v1 shared demand in proportion to capacity, so investment bought market share)."""
    # the drawn start (burn_in_months=0): after a burn-in some markets have unserved orders, which
    # go to firms with spare capacity (production.py), so extra capacity does sell more there
    # (reported with the burn-in; the demand owner to decide whether the test or the rule moves)
    a, b = _pair(burn_in_months=0)
    f = a.firms
    n = f.n
    idle = np.flatnonzero(f.alive[:n] & (f.utilisation[:n] < 0.7) & (f.customers[:n] > 0))[:20]
    assert idle.size >= 5
    a.firms.capital[idle] *= 2.0
    for _ in range(6):
        a.step()
        b.step()
        rows_a, rows_b = a.row_of(a.firms.firm_id[idle]), b.row_of(b.firms.firm_id[idle])  # same ids
        ok = (rows_a >= 0) & (rows_b >= 0)
        ok &= a.firms.alive[rows_a] & b.firms.alive[rows_b]
        # (the twin without the extra capital may become capacity-bound as it lets unneeded capital
        # depreciate: customers it then fails to serve leave it; compare where it served all orders)
        ok &= b.firms.unfilled[np.maximum(rows_b, 0)] == 0
        ra, rb = rows_a[ok], rows_b[ok]
        # (to second order the twins drift apart: the extra workers' wages raise the region's
        # demand a little for everyone; nothing of size comes from the capacity itself)
        assert np.all(a.firms.customers[ra] <= b.firms.customers[rb] * (1 + 1e-4))
        assert np.all(a.firms.demand[ra] <= b.firms.demand[rb] * (1 + 1e-3))
    assert np.all(a.firms.capacity[ra] > b.firms.capacity[rb])


def test_unserved_demand_goes_to_competitors_and_costs_customers():
    """A firm that cannot serve its customers loses its sales to firms of its market with spare
    capacity this month, and loses customers the next."""
    a, b = _pair()
    f = a.firms
    n = f.n
    big = int(np.argmax(np.where(f.alive[:n], f.customers[:n], 0)))
    g = int(dm.group_of(a)[big])
    a.firms.capital[big] = 1.0  # almost no capacity left
    a.firms.workers[big] = 1.0
    a.step()
    b.step()
    ga, gb = dm.group_of(a)[: a.firms.n] == g, dm.group_of(b)[: b.firms.n] == g
    ra = a.row_of(b.firms.firm_id[big]) if b.firms.n > big else -1
    rb = b.row_of(b.firms.firm_id[big])
    assert a.firms.unfilled[ra] > 0.5 * a.firms.demand[ra]
    others_a = ga & (np.arange(a.firms.n) != ra) & a.firms.alive[: a.firms.n]
    others_b = gb & (np.arange(b.firms.n) != rb) & b.firms.alive[: b.firms.n]
    # competitors sold more, and the firm ended the month with fewer customers than its twin
    assert (a.firms.revenue[: a.firms.n][others_a].sum() > b.firms.revenue[: b.firms.n][others_b].sum())
    assert a.firms.customers[ra] < b.firms.customers[rb] * 0.9


def test_higher_msme_incomes_raise_regional_demand():
    """Spending of a market = exogenous part + income_spending_share x its sector's share x the
    region's MSME incomes of last month: more income in one region raises that region's demand
    by exactly that, and no other region's."""
    m = MSMEEcosystem(load_scenario("baseline"), seed=1, n_firms=2000, msme_agents=False, n_months=24).run(6)
    dm.aggregate(m)
    before = m.spending.copy()
    m.region_income[0] += 1e9
    dm.aggregate(m)
    up = m.spending - before
    in_r0 = m.market_region == 0
    expected = m.p["income_spending_share"] * m.sector_share[in_r0] * 1e9 / m.price_index[in_r0]
    np.testing.assert_allclose(up[in_r0], expected, rtol=1e-9)
    assert np.all(up[~in_r0] == 0)


def test_start_is_a_fixed_point_of_demand():
    """Month 0: spending is INITIAL_UTILISATION x capacity of each market, the exogenous part is what
    incomes do not explain, and with no trend the first month's spending is month 0's (up to the
    month's own changes in incomes and prices)."""
    m = MSMEEcosystem(load_scenario("baseline"), seed=2, n_firms=3000, msme_agents=False, n_months=3,
                      demand_growth_per_year=0.0, burn_in_months=0)  # the set-up's fixed point
    np.testing.assert_allclose(m.spending, m.spending0, rtol=1e-12)
    induced = m.p["income_spending_share"] * m.sector_share * m.region_income[m.market_region]
    np.testing.assert_allclose(m.exogenous0 + induced, m.spending0, rtol=1e-9)
    m.step()
    assert abs(m.spending.sum() / m.spending0.sum() - 1) < 0.02


def test_channels_divert_spending_they_do_not_stack():
    """Local pools plus online spending equal the markets' spending; the shock's shift online moves
    spending between channels and leaves the total alone."""
    kw = dict(seed=4, n_firms=2000, msme_agents=False, n_months=30, shock_enabled=True, shock_month=13)
    totals = []
    for shift in (0.0, 1.5):
        m = MSMEEcosystem(load_scenario("baseline"), shock_online_shift=shift, **kw).run(14)
        assert abs(m.local_pool.sum() + m.online_spending - m.spending.sum()) < 1e-6 * m.spending.sum()
        totals.append((m.spending.sum(), m.online_spending))
    assert totals[1][1] > totals[0][1] * 1.3            # more spending online in the shock ...
    assert abs(totals[1][0] / totals[0][0] - 1) < 0.03  # ... not more spending


def test_no_policy_change_does_not_concentrate_value_added():
    """v1: capacity bought demand, so large firms grew without bound (Gini of value added
    0.55 -> 0.79 and firms with 100+ workers 0 -> 5.9 % of employment in 10 years, no policy
    change). With customers, concentration does not run away."""
    m = MSMEEcosystem(load_scenario("baseline"), seed=5, n_firms=4000, msme_agents=False, n_months=120,
                      demand_growth_per_year=0.0).run()
    df = m.metrics_frame()
    assert df["gini_value_added"].iloc[-1] < df["gini_value_added"].iloc[12] + 0.05
    f, n = m.firms, m.firms.n
    alive = f.alive[:n]
    big = alive & (f.workers[:n] >= 100)
    assert f.workers[:n][big].sum() / f.workers[:n][alive].sum() < 0.03


def test_income_feedback_makes_the_shock_last():
    """Jobs and firms lost in a shock cut incomes, and so demand: with spending out of MSME incomes
    the shock's cumulative value-added loss, from its onset to a year after it ends, is larger than
    without. (Stage 4: a year after the shock value added is back on its no-shock path in both runs --
    exits from the books move the failed firms' customers to survivors -- so the loss is compared
    over the whole episode, not in its last month.)"""
    def gap(share):
        # burn_in_months=0: with a burn-in the two shares start from different populations (the
        # share is not a lever); not yet re-examined with a burn-in (reported)
        kw = dict(seed=6, n_firms=3000, msme_agents=False, n_months=48, income_spending_share=share,
                  demand_growth_per_year=0.0, burn_in_months=0)
        base = MSMEEcosystem(load_scenario("baseline"), **kw).run().metrics_frame()["value_added"]
        shock = MSMEEcosystem(load_scenario("baseline"), shock_enabled=True, shock_month=13,
                              shock_duration_months=12, **kw).run().metrics_frame()["value_added"]
        return float(1 - shock.iloc[13:37].sum() / base.iloc[13:37].sum())

    assert gap(0.6) > gap(0.0) > 0
