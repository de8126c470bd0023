"""Middlemen as traders (economic core v2, stage 3): the trader's margin net of its real trading
cost is value added of trading MSMEs, not a loss; it is bargained, so a producer's outside option
(its online channel, its cluster's joint marketing) lowers it; cutting out the trader raises the
producer's income and total MSME value added only by the real cost saved."""

import numpy as np
import pytest

from model import MSMEEcosystem, load_scenario
from model import demand as dm
from model import production as pr


def _month0(**kw):
    return MSMEEcosystem(load_scenario("baseline"), seed=4, n_firms=3000, msme_agents=False, n_months=12, **kw)


def _sales_with_margins(monkeypatch, margins):
    """Month 3's sales of one model recomputed on the same state with each margin in ``margins``
    (inside the month, where production runs): per margin (producers' value added, traders' value
    added, local sales of the firms that sold through traders net of the margin)."""
    m = _month0().run(2)
    real = pr.produce_and_sell
    out = []

    def hook(model):
        f, n = model.firms, model.firms.n
        for margin in margins:
            model.p["middleman_margin"] = margin
            real(model)
            traded = f.alive[:n] & (np.asarray(model.middleman_factor_firm) > 0)
            local = (f.revenue[:n] - f.online_revenue[:n] - f.export_revenue[:n])[traded].sum()
            out.append((float(f.value_added[:n].sum()), float(model.trade_va_region.sum()), float(local)))
        model.p["middleman_margin"] = 0.28
        real(model)

    monkeypatch.setattr("model.model.production.produce_and_sell", hook)
    m.step()
    return m, out


def test_margin_is_a_transfer_between_producers_and_traders(monkeypatch):
    """Changing the bargained margin (all above the trading cost) moves income between producers
    and traders one for one: on the same state, total MSME value added is unchanged, producers'
    falls as the margin rises, and traders' value added is the margin less the trading cost."""
    _, out = _sales_with_margins(monkeypatch, (0.10, 0.2, 0.28, 0.4))
    producers = np.array([o[0] for o in out])
    traders = np.array([o[1] for o in out])
    np.testing.assert_allclose(producers + traders, producers[0] + traders[0], rtol=1e-9)
    assert np.all(np.diff(producers) < 0) and np.all(np.diff(traders) > 0)
    assert traders[0] == pytest.approx(0.0, abs=1e-6 * producers[0])  # margin = trading cost: no trade VA


def test_cutting_out_the_trader_adds_only_the_cost_saved(monkeypatch):
    """With no traders (producers sell direct at no cost) producers gain the whole margin, but
    total value added rises only by the trading cost on the goods traders carried."""
    m, out = _sales_with_margins(monkeypatch, (0.28, 0.0))
    (prod_b, trade_b, local_b), (prod_d, trade_d, _) = out
    assert trade_d == 0.0 and trade_b > 0
    gain_total = prod_d + trade_d - prod_b - trade_b
    gain_producers = prod_d - prod_b
    assert gain_producers > gain_total > 0
    # the cost saved on at most all the goods traders carried (local_b is net of margins <= 0.28)
    assert gain_total <= m.p["trade_cost"] * local_b / (1 - 0.28) * (1 + 1e-9)


def test_outside_options_lower_the_margin():
    """An online channel and a stronger cluster (joint marketing) raise the producer's outside
    option, so the bargained margin falls; non-manufacturers sell direct."""
    tau, beta, own0 = pr.trade_terms({"trade_cost": 0.1, "trader_bargaining_power": 0.6, "middleman_margin": 0.28})
    offline, _ = pr.trade_margin(tau, beta, own0, 1.0, False, 0.0, 0.0)
    assert offline == pytest.approx(0.28)
    online, _ = pr.trade_margin(tau, beta, own0, 1.0, True, 0.05, 0.0)
    clustered, _ = pr.trade_margin(tau, beta, own0, 0.35, False, 0.0, 0.0)
    assert tau <= online < offline and tau <= clustered < offline
    cheap_online = pr.trade_margin(tau, beta, own0, 1.0, True, 0.02, 1.0)
    assert cheap_online[0] == 0.0 and 0 < cheap_online[1] < tau  # sells direct, paying its own cost
    assert pr.trade_margin(tau, beta, own0, 0.0, False, 0.0, 0.0) == (0.0, 0.0)


def test_traders_incomes_feed_regional_demand():
    """Traders are MSMEs of the region: their value added is part of the incomes spent next month."""
    m = _month0().run(2)
    f, n = m.firms, m.firms.n
    prod = np.bincount(f.region[:n], weights=f.value_added[:n] * f.alive[:n], minlength=m.p["n_regions"])
    np.testing.assert_allclose(dm.region_income(m), prod + m.trade_va_region, rtol=1e-12)
    assert m.trade_va_region.sum() > 0
