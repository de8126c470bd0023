"""Compaction of dead rows (model/state.py): removing dead firms' rows changes no result.

Each run is compared with the same run where compaction is switched off (``COMPACT_DEAD_SHARE``
above 1: rows are never removed, every row is a firm id, as before compaction existed)."""

from __future__ import annotations

import numpy as np
import pytest

import model.state as state
from app.sim import Session
from experiments.runner import transitions
from model import MSMEEcosystem
from model.reference import ReferenceMSMEEcosystem
from model.reporters import METRICS
from model.streams import EXIT, PRODUCTIVITY, Streams

NEVER = 2.0  # a dead share no run reaches: compaction off

CASES = {
    "centralised": dict(governance_mode="centralised"),
    "platform": dict(governance_mode="platform", targeting="potential", cluster_programme=True),
    "self_governance": dict(governance_mode="self_governance", targeting="need", ecommerce_onboarding=True),
    "centralised_covid": dict(governance_mode="centralised", shock_enabled=True, cluster_programme=True),
}
FIRM_COLUMNS = ("alive", "born", "died", "region", "initial_class", "size_class", "max_class", "upgrades",
                "capital", "support_total", "autonomy", "stage", "cluster", "platform_step")


def assert_same_metrics(a, b, rtol=1e-9):
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for name in METRICS:
        x, y = a[name].to_numpy(), b[name].to_numpy()
        # the ledger's gap is a difference of sums of ~1e9 IDR: its scale is the month's spending
        scale = a["budget_spent"].to_numpy() if name == "accounting_gap" else np.maximum(np.abs(x), np.abs(y))
        bad = np.abs(x - y) > rtol * scale + 1e-12
        assert not bad.any(), f"{name} differs from month {int(np.argmax(bad))}: {x[bad][:3]} vs {y[bad][:3]}"
    for name in ("exits", "entries", "firms_alive", "upgrades"):
        assert (a[name].to_numpy() == b[name].to_numpy()).all(), name


def run_pair(monkeypatch, cls=MSMEEcosystem, **kw):
    """The same run with compaction as shipped and with compaction off."""
    on = cls(**kw).run()
    with monkeypatch.context() as mp:
        mp.setattr(state, "COMPACT_DEAD_SHARE", NEVER)
        off = cls(**kw).run()
    assert on.firms.compactions >= 3, "the test should cover several compactions"
    assert off.firms.compactions == 0 and off.firms.n == off.firms.next_id
    return on, off


@pytest.mark.parametrize("name", list(CASES))
def test_compaction_changes_no_result(monkeypatch, name):
    on, off = run_pair(monkeypatch, seed=5, n_firms=5000, n_months=120, msme_agents=False, **CASES[name])
    assert_same_metrics(on.metrics_frame(), off.metrics_frame())
    f_on, f_off = on.firms, off.firms
    assert f_on.n < 0.8 * f_off.n  # the compacted run really works on fewer rows
    assert f_on.next_id == f_off.next_id
    # the live rows are the alive firms (and those that died since the last compaction), in id order
    ids = f_on.firm_id[: f_on.n]
    assert (np.diff(ids) > 0).all()
    np.testing.assert_array_equal(f_on.alive[: f_on.n], f_off.alive[ids])
    # every firm ever, exited ones from the archive, ends in the same state
    for col in FIRM_COLUMNS:
        np.testing.assert_allclose(f_on.all_firms(col), f_off.all_firms(col), rtol=1e-9, err_msg=col)
    np.testing.assert_allclose(f_on.all_firms("support_by_instrument"), f_off.all_firms("support_by_instrument"),
                               rtol=1e-9)
    assert transitions(on) == transitions(off)
    # the books: what firms received (every firm ever) is what the ledger delivered
    delivered = on.ledger[:, :, 1].sum()
    np.testing.assert_allclose(f_on.all_firms("support_total").sum(), delivered, rtol=1e-9)


def test_compaction_changes_no_result_over_several_blocks(monkeypatch):
    """More rows than one block of the row-by-row rules (state.BLOCK): block boundaries move when
    rows are compacted."""
    # (a short burn-in: what is tested is compaction across blocks, and 120k firms x 240 months twice
    # would cost a minute; a burnt-in population exits more slowly, hence 66 months for 3 compactions)
    kw = dict(seed=6, n_firms=2 * state.BLOCK + 5000, n_months=66, msme_agents=False, governance_mode="platform",
              shock_enabled=True, shock_month=6, cluster_programme=True, burn_in_months=12)
    on, off = run_pair(monkeypatch, **kw)
    assert off.firms.n > 2 * state.BLOCK
    assert_same_metrics(on.metrics_frame(), off.metrics_frame())
    np.testing.assert_allclose(on.firms.all_firms("capital"), off.firms.all_firms("capital"), rtol=1e-9)


def test_agent_views_follow_their_firms(monkeypatch):
    """With Mesa agent views, each agent keeps its firm across compactions (its row is moved)."""
    m = MSMEEcosystem(seed=2, n_firms=1500, n_months=60, msme_agents=True)
    firm_of = {a.unique_id: a.firm_id for a in m.msme_by_row.values()}
    while m.running:
        before = m.firms.compactions
        m.step()
        for r, a in m.msme_by_row.items():
            assert a.row == r and m.firms.alive[r]
            if a.unique_id in firm_of:
                assert a.firm_id == firm_of[a.unique_id]
            firm_of[a.unique_id] = a.firm_id
        if m.firms.compactions > before:
            assert len(m.msme_by_row) == int(m.firms.alive[: m.firms.n].sum())
    assert m.firms.compactions >= 2
    _, off = run_pair(monkeypatch, seed=2, n_firms=1500, n_months=60, msme_agents=True)
    assert_same_metrics(m.metrics_frame(), off.metrics_frame())


def test_reference_engine_compacts_at_the_same_months(monkeypatch):
    """The reference engine (one agent at a time, draws by firm id) compacts too, and matches the
    vectorised engine run without compaction."""
    kw = dict(seed=11, n_firms=300, n_months=48, governance_mode="platform", shock_enabled=True,
              cluster_programme=True)
    ref = ReferenceMSMEEcosystem(**kw).run()
    assert ref.firms.compactions >= 2
    with monkeypatch.context() as mp:
        mp.setattr(state, "COMPACT_DEAD_SHARE", NEVER)
        vec = MSMEEcosystem(**kw).run()
    assert_same_metrics(ref.metrics_frame(), vec.metrics_frame())
    np.testing.assert_allclose(ref.firms.all_firms("capital"), vec.firms.all_firms("capital"), rtol=1e-9)


def test_followed_firm_story_survives_compaction(monkeypatch):
    """The teaching app follows a firm by id: its story and history are those of the same firm in
    the run without compaction, for a survivor, an entrant and a firm that closed."""
    def played(share):
        with monkeypatch.context() as mp:
            mp.setattr(state, "COMPACT_DEAD_SHARE", share)
            s = Session(n_firms=1500)
            s.step(60)
        return s

    on, off = played(state.COMPACT_DEAD_SHARE), played(NEVER)
    m_on, m_off = on.policy.model, off.policy.model
    assert m_on.firms.compactions >= 2 and m_off.firms.compactions == 0
    f = m_on.firms
    survivor = int(f.firm_id[: f.n][f.alive[: f.n] & (f.born[: f.n] == 0)][-1])
    entrant = int(f.firm_id[: f.n][f.alive[: f.n] & (f.born[: f.n] > 20)][0])
    closed = [i for i in np.flatnonzero(~f.all_firms("alive")) if f.all_firms("died")[i] < 30][0]
    assert m_on.row_of(survivor) != survivor  # its row moved up
    assert m_on.row_of(closed) == -1          # its row is gone; its record is in the archive
    for fid in (survivor, entrant, int(closed)):
        a, b = on.policy.firm_story(fid), off.policy.firm_story(fid)
        assert a["firm_id"] == b["firm_id"] == fid
        assert (a["born"], a["died"], a["alive"]) == (b["born"], b["died"], b["alive"])
        for key in ("capital_idr", "workers", "support_total_idr", "upgrades", "size_class", "region"):
            assert a[key] == b[key], key
        ha, hb = a["history"], b["history"]
        alive = hb["alive"]
        np.testing.assert_array_equal(ha["alive"], alive)
        np.testing.assert_array_equal(ha["capital"][alive], hb["capital"][alive])
        np.testing.assert_array_equal(ha["cls"][alive], hb["cls"][alive])
        np.testing.assert_array_equal(ha["support"], hb["support"])
        assert a["payments"] == b["payments"]
        assert a["events"] == b["events"]
    assert on.pick_firm("exited", rng_seed=3) == off.pick_firm("exited", rng_seed=3)
    assert on.pick_firm("supported", rng_seed=3) == off.pick_firm("supported", rng_seed=3)


def test_firm_state_compact_archive_and_lookup():
    f = state.FirmState(16)
    s = f.add_rows(10)
    f.alive[s] = True
    f.capital[s] = np.arange(10) * 1.0
    f.died[[2, 3, 7]] = 4
    f.alive[[2, 3, 7]] = False
    f.born[:] = 0
    assert f.archive_exits(4) == 3
    f.capital[[2, 3, 7]] = -1.0  # dead rows drift after the exit month: the archive keeps the record
    streams = Streams(12345)
    streams.bind(f)
    u_before = streams.uniform(6, EXIT, f.n)
    z_before = streams.normal(6, PRODUCTIVITY, f.n)
    kept = f.compact(force=True)
    assert kept is not None and f.n == 7 and f.compactions == 1 and f.removed_initial == 3
    np.testing.assert_array_equal(f.firm_id[: f.n], [0, 1, 4, 5, 6, 8, 9])
    np.testing.assert_array_equal(f.capital[: f.n], [0, 1, 4, 5, 6, 8, 9])
    assert f.row_of(8) == 5 and f.row_of(3) == -1 and f.row_of(99) == -1
    np.testing.assert_array_equal(f.row_of(np.array([0, 7, 9])), [0, -1, 6])
    np.testing.assert_array_equal(f.all_firms("capital"), np.arange(10.0))
    np.testing.assert_array_equal(f.all_firms("alive"), ~np.isin(np.arange(10), [2, 3, 7]))
    # random numbers follow the firm, not the row
    np.testing.assert_array_equal(streams.uniform(6, EXIT, f.n), u_before[kept])
    np.testing.assert_array_equal(streams.uniform_rows(6, EXIT, np.array([2, 5])), u_before[[4, 8]])
    np.testing.assert_array_equal(streams.normal_rows(6, PRODUCTIVITY, slice(1, 4)), z_before[[1, 4, 5]])
    assert streams.uniform_at(6, EXIT, 8) == u_before[8]
    # freed rows are clean for entrants, who get the next ids
    s = f.add_rows(2)
    np.testing.assert_array_equal(f.firm_id[s], [10, 11])
    assert (f.capital[s] == 0).all() and (f.died[s] == -1).all() and f.support_by_instrument[s].sum() == 0
    assert f.row_of(11) == 8
