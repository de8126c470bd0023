"""The start (economic core v2, point 7, first part): initial firms have ages, so the young-firm
hazard applies only to the young ones."""

import numpy as np

from model import MSMEEcosystem, demography, load_scenario
from model.population import initial_ages


def test_initial_firms_have_ages_from_the_stationary_distribution():
    ages = initial_ages(np.random.default_rng(1), 200_000)
    assert abs((ages < 24).mean() - 0.16) < 0.01       # young: 1.5 x the death rate for two years
    assert abs((ages < 60).mean() - 0.35) < 0.01       # assumption 35-45 % under five years
    m = MSMEEcosystem(load_scenario("baseline"), seed=1, n_firms=2000, n_months=2, msme_agents=False)
    f = m.firms
    assert (f.age0[: f.n] > 0).mean() > 0.9 and (f.born[: f.n] == 0).all()
    assert m.firm(0).story()["age_months"] == int(f.age0[0])


def test_young_firm_hazard_follows_age_not_the_start_of_the_simulation():
    """v1 gave every initial firm age 0, so all of them had the young-firm hazard in year 1."""
    n = 4000
    alive = np.ones(n, dtype=bool)
    capital, debt, loss = np.full(n, 1e8), np.zeros(n), np.zeros(n, dtype=np.int32)
    born = np.zeros(n, dtype=np.int32)
    terms = np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    out = np.empty(n + 1, dtype=np.int64)

    def exits(age0, hazard=0.05):
        return demography._exits(0, n, 6, np.uint64(12345), terms, hazard, alive, capital, debt, loss, born,
                                 np.full(n, age0, dtype=np.int32), np.zeros(n), np.zeros(n, dtype=bool),
                                 np.zeros(n, dtype=np.int16), out)

    young, old = exits(0), exits(120)
    assert young > old * 1.3                     # 1.5 x the hazard for the young ...
    assert abs(old / n - 0.05) < 0.015           # ... the base hazard for firms in business 10 years
