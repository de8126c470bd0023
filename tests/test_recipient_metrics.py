"""Dependence measured where it lives: over recipients, the firms supported in at least one of the
last 12 months (docs/ODD.md 7.10). The reported metrics equal the same quantities computed by hand
from each firm's monthly history; the exclusion of firms loss-making before their first support
works; more budget raises recipients' dependence."""

import numpy as np
from conftest import run_model

from model import MSMEEcosystem, load_scenario, reporters
from model.scan import Scan


def _history_run(months=30, n=600, seed=2, budget=1_000_000.0):
    """Run month by month (no burn-in: every firm's history starts at month 0) and keep, per firm id
    and month: supported this month, loss-making without this month's support, effort."""
    m = MSMEEcosystem(load_scenario("baseline"), seed=seed, n_firms=n, n_months=months, burn_in_months=0,
                      budget_per_firm_month=budget)
    hist = {}

    def record():
        f, k = m.firms, m.firms.n
        for r in np.flatnonzero(f.alive[:k]):
            hist.setdefault(int(f.firm_id[r]), {})[m.month] = (
                bool(f.support_month[r] > 0), bool(f.own_profit[r] < 0), float(f.effort[r]))

    record()
    snaps = {}
    while m.running and m.month < months:
        m.step()
        record()
        snaps[m.month] = dict(m.metrics)
    return m, hist, snaps


def _by_hand(m, hist, t):
    """This month's recipient metrics from the firms' histories (not from the model's flags)."""
    p = m.p
    f, k = m.firms, m.firms.n
    rows = np.flatnonzero(f.alive[:k])
    rec, dep, chronic, eff, sr, change, elig, loss_e = [], [], [], [], [], [], [], []
    non_eff, non_loss = [], []
    for r in rows:
        h = hist[int(f.firm_id[r])]
        e = float(f.effort[r])
        own_loss = bool(f.own_profit[r] < 0)
        if not any(h.get(s, (False,))[0] for s in range(t - 11, t + 1)):
            non_eff.append(e)
            non_loss.append(own_loss)
            continue
        s_ewm, i_ewm = f.support_ewm[r], f.income_ewm[r]
        dep.append(s_ewm / (max(i_ewm, 0.0) + s_ewm + 1.0))
        chronic.append(sum(h.get(s, (False,))[0] for s in range(t - 23, t + 1)) >= p["chronic_months"])
        eff.append(e)
        sr.append((f.autonomy[r] + f.competence[r] + f.relatedness[r]) / 3)
        first = min(s for s, v in h.items() if v[0])
        before = h[first - 1]  # the month before the first support (a firm is born unsupported)
        change.append(e - before[2])
        if not before[1]:
            elig.append(True)
            loss_e.append(own_loss)
        rec.append(r)
    na = len(rows)
    return {
        "recipients_share": len(rec) / na,
        "recipient_support_share_income": float(np.mean(dep)),
        "recipient_support_above_10pct_share": float(np.mean(np.asarray(dep) > 0.10)),
        "recipient_loss_without_support_share": float(np.mean(loss_e)),
        "chronic_recipient_share": float(np.mean(chronic)),
        "recipient_effort": float(np.mean(eff)),
        "non_recipient_effort": float(np.mean(non_eff)),
        "effort_gap": float(np.mean(non_eff) - np.mean(eff)),
        "recipient_effort_change": float(np.mean(change)),
        "recipient_self_reliance": float(np.mean(sr)),
        "non_recipient_loss_making_share": float(np.mean(non_loss)),
    }, len(elig), len(rec)


def test_recipient_metrics_equal_the_hand_computation():
    m, hist, _ = _history_run()
    t = m.month
    hand, n_elig, n_rec = _by_hand(m, hist, t)
    # the run must exercise every rule: recipients, some excluded, some chronic, some loss-making
    assert 50 < n_rec and n_elig < n_rec
    assert 0 < hand["chronic_recipient_share"] < 1 and hand["recipient_loss_without_support_share"] > 0
    for name, v in hand.items():
        assert np.isclose(m.metrics[name], v, rtol=1e-9, atol=1e-12), (name, m.metrics[name], v)
    # the all-firm versions are diluted by the firms that receive nothing
    assert m.metrics["support_share_income_all_firms"] < m.metrics["recipient_support_share_income"]
    assert m.metrics["chronic_recipient_share_all_firms"] < m.metrics["chronic_recipient_share"]


def test_firm_loss_making_before_its_first_support_is_not_counted():
    """Three firms first supported this month: firm 0 was loss-making the month before and is still;
    firms 1 and 2 were not, and now firm 1 is loss-making without support and firm 2 is not. Firm 0
    is left out: 1 of 2 (counting it would give 2 of 3)."""
    m = MSMEEcosystem(load_scenario("baseline"), seed=1, n_firms=50, n_months=3, burn_in_months=0,
                      budget_per_firm_month=0.0)
    f, n = m.firms, m.firms.n
    f.alive[:n] = True
    f.support_month[:n] = 0.0
    f.own_profit[:n] = 1.0
    f.own_profit[0] = -1.0  # firm 0 loses money before any support
    Scan(m)  # an end of month without support: the firms' pre-support state is recorded
    f.support_month[:3] = 1e5  # first support for firms 0, 1 and 2
    f.own_profit[:2] = -1.0
    met = reporters.compute(m, Scan(m))
    assert list(f.pre_support_loss[:3]) == [True, False, False]
    assert met["recipients_share"] == 3 / n
    assert met["recipient_loss_without_support_share"] == 0.5
    # the state before the first support stays frozen: a later month does not change it
    f.support_month[:n] = 0.0
    f.own_profit[:n] = -1.0
    met = reporters.compute(m, Scan(m))
    assert list(f.pre_support_loss[:3]) == [True, False, False]
    assert met["recipient_loss_without_support_share"] == 1.0


def test_more_budget_raises_recipients_dependence():
    """Seed 000: support that is a larger share of income. With 10x the budget the same scenario and
    seeds give recipients a larger support share of income, more chronic recipients and lower effort."""
    def means(budget):
        out = []
        for seed in (1, 2, 3):
            df = run_model("baseline", seed=seed, n_months=36, budget_per_firm_month=budget).metrics_frame()
            out.append(df[["recipient_support_share_income", "chronic_recipient_share", "effort_gap"]]
                       .iloc[13:].mean())
        return np.mean(out, axis=0)

    lo, hi = means(50_000.0), means(500_000.0)
    assert hi[0] > 1.5 * lo[0]
    assert hi[1] > lo[1]
    assert hi[2] > lo[2]
