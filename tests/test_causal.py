"""Causal outcomes from paired twins (analysis/causal.py, experiments/panel.py): the no-support twin, the
per-firm counterfactual, the withdrawal test on recipients and cost per additional upgrade."""

import numpy as np
import pandas as pd
import pytest

from analysis.causal import (
    causal_outcomes,
    cost_per_additional_upgrade,
    firm_differences,
    no_support_twin,
    summarise_causal,
    withdrawal_rows,
)
from analysis.stats import mean_ci
from experiments.runner import Task, execute_with_panel
from model.scenario import load_scenario

SMALL = {"n_firms": 400, "n_months": 24}


def _tidy(label, seed, spent, upgrades, employment=(100.0, 100.0), firms=(50.0, 50.0), va=(1e9, 1e9)):
    """A two-month tidy table (months 0 and 1) of the totals causal_outcomes reads."""
    rows = []
    for month in (0, 1):
        for metric, v in (("budget_spent_cumulative", spent * month), ("upgrades_cumulative", upgrades * month),
                          ("employment", employment[month]), ("firms_alive", firms[month]),
                          ("value_added", va[month])):
            rows.append(("r", label, seed, month, metric, float(v)))
    return pd.DataFrame(rows, columns=["run_id", "scenario", "seed", "month", "metric", "value"])


def test_cost_per_additional_upgrade_by_hand():
    """Scenario: 5 bn IDR spent, 30 upgrades; twin: 20 upgrades -> 2 additional upgrades per bn, 0.5 bn each.
    The twin's own upgrades are not credited to the budget (budget / all upgrades would say 5/30 = 0.167)."""
    tidy = pd.concat([_tidy("s", 1, 5e9, 30), _tidy("s@no-support", 1, 0.0, 20),
                      _tidy("s", 2, 5e9, 26), _tidy("s@no-support", 2, 0.0, 20),
                      _tidy("s", 3, 5e9, 34), _tidy("s@no-support", 3, 0.0, 20)], ignore_index=True)
    out = causal_outcomes(tidy, {}, {"s": "s@no-support"})
    per_bn = out[out["metric"] == "extra_upgrades_per_bn"].sort_values("seed")["value"].to_numpy()
    np.testing.assert_allclose(per_bn, [2.0, 1.2, 2.8])
    row = summarise_causal(out).iloc[0]
    m, lo, hi, _ = mean_ci(per_bn)  # mean 2.0, t interval with 2 degrees of freedom
    assert row["metric"] == "budget_per_additional_upgrade_bn"
    assert row["mean"] == pytest.approx(0.5)
    assert lo > 0 and row["ci_low"] == pytest.approx(1 / hi) and row["ci_high"] == pytest.approx(1 / lo)
    per_1000 = out[out["metric"] == "extra_upgrades_per_1000"]["value"].to_numpy()
    np.testing.assert_allclose(sorted(per_1000), [6 / 50 * 1000, 10 / 50 * 1000, 14 / 50 * 1000])


def test_cost_per_additional_upgrade_unbounded_or_undefined():
    m, lo, hi, n, note = cost_per_additional_upgrade(np.array([0.5, -0.1, 1.0]))
    assert m == pytest.approx(1 / np.mean([0.5, -0.1, 1.0])) and hi == np.inf and "unbounded" in note
    m, lo, hi, n, note = cost_per_additional_upgrade(np.array([-0.5, -0.1, 0.2]))
    assert np.isnan(m) and "no additional upgrade" in note


def test_withdrawal_rows_by_hand():
    """Two recipients and two non-recipients at month 9 (withdrawal at 10); 12 months on (month 21) in the
    continuation each recipient added 100 more, with support withdrawn 60 and 80: drop (200-140)/200 = 30 %;
    one recipient died without support: survival drop 50 points."""
    ids = np.arange(4)

    def snap(month, alive, va_cum, recipient=(True, True, False, False), effort=(0.6, 0.6, 0.6, 0.6)):
        return pd.DataFrame({"month": month, "firm_id": ids, "alive": alive, "recipient": recipient,
                             "effort": effort, "va_cum": va_cum})

    base = snap(9, [True] * 4, [50.0, 50.0, 50.0, 50.0])
    cont = pd.concat([base, snap(21, [True] * 4, [150.0, 150.0, 150.0, 150.0])])
    withdrawn = pd.concat([base, snap(21, [True, False, True, True], [110.0, 130.0, 150.0, 160.0],
                                      effort=(0.5, np.nan, 0.6, 0.6))])
    r = withdrawal_rows(withdrawn, cont, 10, 40)
    assert r["wd_recipients_share"] == 0.5
    assert r["wd_recipient_value_added_drop_12"] == pytest.approx(30.0)
    assert r["wd_recipient_survival_drop_12"] == pytest.approx(50.0)
    assert r["wd_recipient_effort_drop_12"] == pytest.approx(0.1)  # firms alive in both only
    assert r["wd_nonrecipient_value_added_drop_12"] == pytest.approx(-5.0)  # (200 - 210) / 200
    assert "wd_recipient_value_added_drop_24" not in r  # month 33 was not recorded


def test_withdrawal_follows_entrants_alive_before_it():
    """Firm 4 entered after month 0 and was supported before withdrawal at month 10: it is a recipient like
    the others (the run and its withdrawal twin are one run until then). Firm 5, which entered later and
    appears only in the later snapshot, is not followed."""
    def snap(month, ids, alive, va_cum, recipient, initial):
        return pd.DataFrame({"month": month, "firm_id": ids, "initial": initial, "alive": alive,
                             "recipient": recipient, "effort": 0.6, "va_cum": va_cum})

    base = snap(9, [0, 1, 2, 3, 4], [True] * 5, [50.0] * 5, [True, False, False, False, True],
                [True, True, True, False, False])
    base.loc[3, "alive"] = False  # an entrant that died before withdrawal: not a firm alive then
    later = dict(ids=[0, 1, 2, 3, 4, 5], recipient=False, initial=[True] * 3 + [False] * 3)
    cont = pd.concat([base, snap(21, alive=[True, True, True, False, True, True],
                                 va_cum=[150.0, 150.0, 150.0, 50.0, 150.0, 999.0], **later)])
    withdrawn = pd.concat([base, snap(21, alive=[True, True, True, False, False, True],
                                      va_cum=[150.0, 150.0, 150.0, 50.0, 90.0, 1.0], **later)])
    r = withdrawal_rows(withdrawn, cont, 10, 40)
    assert r["wd_recipients_share"] == pytest.approx(2 / 4)  # of the 4 firms alive at month 9
    assert r["wd_recipient_value_added_drop_12"] == pytest.approx(30.0)  # (200 - 140) / 200
    assert r["wd_recipient_survival_drop_12"] == pytest.approx(50.0)
    assert r["wd_nonrecipient_value_added_drop_12"] == pytest.approx(0.0)  # firm 5 is not counted


@pytest.fixture(scope="module")
def baseline_pair():
    sc = load_scenario("baseline", SMALL)
    months = (0, 11, SMALL["n_months"])
    s = execute_with_panel(Task.make(sc, 3, panel=months))
    t = execute_with_panel(Task.make(no_support_twin(sc), 3, panel=months))
    return sc, s, t


def test_twins_share_initial_firms(baseline_pair):
    """Scenario and no-support twin start from the same firms (ids and state): the burn-in ignores the levers."""
    _, (_, ps), (_, pt) = baseline_pair
    a, b = ps[ps["month"] == 0].reset_index(drop=True), pt[pt["month"] == 0].reset_index(drop=True)
    assert len(a) > 300
    pd.testing.assert_frame_equal(a, b)
    assert not ps[ps["month"] == 24].equals(pt[pt["month"] == 24])  # the budget does change them later


def test_panel_follows_entrants_from_a_snapshot_on(baseline_pair):
    """Entrants alive at a snapshot before the horizon join the panel (``initial`` false) and are followed
    on; the counterfactual against the no-support twin (whose entrants are other firms) reads the initial
    firms only."""
    _, (ts, ps), (tt, pt) = baseline_pair
    n = SMALL["n_months"]
    m0, m11, mn = (ps[ps["month"] == k] for k in (0, 11, n))
    assert m0["initial"].all()
    ent = m11[~m11["initial"]]
    assert len(ent) > 0 and ent["alive"].all() and not set(ent["firm_id"]) & set(m0["firm_id"])
    assert set(mn["firm_id"]) == set(m11["firm_id"])  # followed on, nobody new at the horizon
    out = causal_outcomes(pd.concat([ts, tt.assign(scenario="baseline@no-support")]),
                          {("baseline", 3): ps, ("baseline@no-support", 3): pt}, {"baseline": "baseline@no-support"})
    v = out.set_index("metric")["value"]
    assert v["cf_recipients_share"] == pytest.approx(mn.loc[mn["initial"], "ever_recipient"].sum() / len(m0))


def test_support_moves_recipients_and_only_recipients_get_it(baseline_pair):
    """The twin gives no support; the scenario's recipients are the firms its budget reached, and the
    per-firm difference in support received is theirs alone."""
    _, (ts, ps), (tt, pt) = baseline_pair
    n = SMALL["n_months"]
    s, t = ps[ps["month"] == n].set_index("firm_id"), pt[pt["month"] == n].set_index("firm_id")
    assert not t["ever_recipient"].any() and (t["support_cum"] == 0).all()
    assert s["ever_recipient"].mean() > 0.05
    d = firm_differences(s, t)
    assert (d.loc[~d["ever_recipient"], "support_cum"] == 0).all()
    out = causal_outcomes(pd.concat([ts, tt.assign(scenario="baseline@no-support")]),
                          {("baseline", 3): ps, ("baseline@no-support", 3): pt}, {"baseline": "baseline@no-support"})
    v = out.set_index("metric")["value"]
    # the parts add up to the total, whatever the split
    for o in ("upgrades", "jobs", "value_added", "firms"):
        parts = sum(v[f"extra_{o}_{p}_per_bn"] for p in ("recipients", "nonrecipients", "entrants"))
        assert parts == pytest.approx(v[f"extra_{o}_per_bn"], abs=1e-9)
    # a non-recipient's survival can only change through the market (it received nothing): recipients'
    # value added is not below the twin's by more than noise over two years
    assert v["cf_recipient_value_added_diff_pct"] > -5


def test_counterfactual_is_zero_without_budget():
    """A scenario with no budget (and another instrument mix, which then buys nothing) is its own no-support
    twin firm by firm: every per-firm difference is exactly zero, and so is every causal total."""
    sc = load_scenario("baseline", {**SMALL, "budget_per_firm_month": 0.0, "mix_grants": 5.0,
                                    "targeting": "need"})
    twin = no_support_twin(load_scenario("baseline", SMALL))  # the baseline's twin: default mix and targeting
    assert sc.content_hash() != twin.content_hash()  # two different runs
    n = SMALL["n_months"]
    ts, ps = execute_with_panel(Task.make(sc, 5, panel=(n,)))
    tt, pt = execute_with_panel(Task.make(twin, 5, panel=(n,)))
    d = firm_differences(ps.set_index("firm_id"), pt.set_index("firm_id"))
    for col in ("d_alive", "d_value_added_cum", "d_upgrades", "d_workers"):
        assert (d[col] == 0).all(), col
    assert np.nanmax(np.abs(d["d_effort"])) == 0
    out = causal_outcomes(pd.concat([ts.assign(scenario="z"), tt.assign(scenario="z@no-support")]),
                          {("z", 5): ps, ("z@no-support", 5): pt}, {"z": "z@no-support"})
    v = out.set_index("metric")["value"]
    assert v["extra_upgrades_per_1000"] == 0 and v["cf_recipients_share"] == 0
    assert np.isnan(v["extra_upgrades_per_bn"])  # nothing spent: per bn undefined, not zero or infinite


def test_comparison_pairs_every_scenario_with_its_twins():
    from analysis.comparison import Comparison

    scs = [load_scenario("baseline", SMALL), load_scenario("phase_out", {**SMALL, "phase_out_month": 12})]
    comp = Comparison(scs, [1, 2], withdrawal_month=12)
    tasks, pairs = comp.tasks()
    labels = {t.label for t in tasks}
    assert {"baseline@no-support", "phase_out@no-support", "baseline@withdrawal", "phase_out@no-withdrawal"} <= labels
    twin = next(t for t in tasks if t.label == "baseline@no-support")
    assert twin.scenario.params["budget_per_firm_month"] == 0
    assert {k: v for k, v in twin.scenario.params.items() if k != "budget_per_firm_month"} == \
        {k: v for k, v in scs[0].params.items() if k != "budget_per_firm_month"}
    # the withdrawal pair is snapshot just before withdrawal and 12 months on
    wd = next(t for t in tasks if t.label == "baseline@withdrawal")
    assert wd.panel == (11, 23)
    assert pairs["baseline"] == ("baseline@withdrawal", "baseline", 12)
