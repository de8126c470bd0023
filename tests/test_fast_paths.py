"""Shortcuts taken for speed give exactly what the plain NumPy / Mesa calls give."""

import mesa
import numpy as np

from model import MSMEEcosystem
from model.population import SECTOR_SHARES, _choice, region_layout
from model.reporters import _cv
from model.streams import Streams


def test_stream_seeds_equal_seed_sequence():
    rng = np.random.default_rng(0)
    keys = [0, 1, 2**32 - 1, 2**32, 2**62 - 1] + [int(k) for k in rng.integers(0, 2**62, 10)]
    for key in keys:
        s = Streams(key)
        pairs = [(-1, 0), (0, 0), (0, 61), (239, 10)] + \
            [(int(a), int(b)) for a, b in zip(rng.integers(-1, 400, 10), rng.integers(0, 70, 10))]
        for month, purpose in pairs:
            ref = np.random.SeedSequence([key, month + 1, purpose, 0x5EED]).generate_state(1, np.uint64)[0]
            assert s.stream_seed(month, purpose) == int(ref)


def test_generators_equal_seed_sequence_generators():
    rng = np.random.default_rng(3)
    for key in [0, 1, 2**32 - 1, 2**32, 2**62 - 1] + [int(k) for k in rng.integers(0, 2**62, 5)]:
        s = Streams(key)
        for month, purpose in [(-1, 0), (0, 1), (5, 1), (127, 1), (128, 1), (400, 1), (3, 61)]:
            ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence([key, month + 1, purpose])))
            got = s.gen(month, purpose)
            assert np.array_equal(got.random(20), ref.random(20))
            assert np.array_equal(got.poisson(3.0, 5), ref.poisson(3.0, 5))
        assert s.gen(7, 1).bit_generator.seed_seq.generate_state(3).tolist() == \
            np.random.SeedSequence([key, 8, 1]).generate_state(3).tolist()


def test_instruments_with_own_eligibility_rule():
    from model.delivery import instruments
    from model.params import N_INSTRUMENTS

    m = MSMEEcosystem(seed=1, n_firms=200, n_months=2, msme_agents=False)
    c = instruments._cols(m, None)
    for k in range(N_INSTRUMENTS):
        assert instruments.has_own_rule(k) == (instruments._own_rule(m, k, c) is not None)


def test_choice_equals_generator_choice():
    weights = region_layout(34)["weight"]
    for seed in range(50):
        for p in (weights, SECTOR_SHARES, np.array([0.9, 0.08, 0.02])):
            for size in (0, 1, 9, 200):
                a, b = np.random.default_rng(seed), np.random.default_rng(seed)
                assert np.array_equal(a.choice(len(p), size=size, p=p), _choice(b, p, size))
                assert a.random() == b.random()  # the same draws were consumed


def test_coefficient_of_variation_equals_numpy():
    rng = np.random.default_rng(1)
    for _ in range(500):
        v = rng.lognormal(rng.normal() * 5, rng.random() * 3, int(rng.integers(0, 60)))
        ref = float(v.std() / v.mean()) if v.size > 1 and v.mean() > 0 else 0.0
        assert _cv(v) == ref


def test_metrics_collector_matches_mesa_and_falls_back():
    m = MSMEEcosystem(seed=2, n_firms=300, n_months=3, msme_agents=False).run()
    plain = mesa.DataCollector(model_reporters=dict(m.datacollector.model_reporters))
    plain.collect(m)
    for name, values in m.datacollector.model_vars.items():
        assert values[-1] == plain.model_vars[name][-1]
    # a user's own reporter: Mesa's collect runs (and fills it)
    m.datacollector.model_reporters["my_month"] = lambda mod: mod.month
    m.datacollector.model_vars["my_month"] = []
    m.datacollector.collect(m)
    assert m.datacollector.model_vars["my_month"] == [3]


def test_allocation_levels_do_not_change_selections(monkeypatch):
    """The ranked pool's levels only save work: with tiny levels (so that programmes move up
    level after level, and the ministries' search widens its prefix) every run is the same; so too
    when levels count as large (``Level.SMALL``), so that a level's first firms come from a partial
    selection and rare candidates from a scan of the unsorted level (``_sub_level``)."""
    from model.delivery import selection
    from model.delivery.selection import Candidates, Level, RankedPool

    cases = [dict(governance_mode="centralised", targeting="need"),
             dict(governance_mode="centralised", mix_kur_credit=5.0, targeting="untargeted"),
             dict(governance_mode="self_governance", targeting="potential"),
             dict(governance_mode="platform")]
    for kw in cases:
        kw = dict(n_firms=600, n_months=18, msme_agents=False, budget_per_firm_month=200_000.0, **kw)
        ref = MSMEEcosystem(seed=4, **kw).run()
        with monkeypatch.context() as mp:
            mp.setattr(RankedPool, "FIRST_MIN", 8)
            mp.setattr(RankedPool, "FIRST_SHARE", 0.002)
            mp.setattr(RankedPool, "GROWTH", 2)
            small = MSMEEcosystem(seed=4, **kw).run()
        with monkeypatch.context() as mp:
            mp.setattr(Candidates, "FIRST_WIDTH", -4)  # the ministries' search widens step by step
            narrow = MSMEEcosystem(seed=4, **kw).run()
        sub_levels = []
        with monkeypatch.context() as mp:
            mp.setattr(RankedPool, "FIRST_MIN", 8)
            mp.setattr(RankedPool, "FIRST_SHARE", 0.01)
            mp.setattr(Level, "SMALL", 16)
            mp.setattr(Candidates, "FIRST_WIDTH", -4)
            mp.setattr(selection, "_sub_level",
                       lambda *a, f=selection._sub_level, calls=sub_levels: calls.append(1) or f(*a))
            large = MSMEEcosystem(seed=4, **kw).run()
        if kw["governance_mode"] == "centralised":
            assert sub_levels, kw  # the scan of an unsorted level was exercised
        for other in (small, narrow, large):
            assert ref.metrics_frame().equals(other.metrics_frame()), kw
            n = ref.firms.n
            for col in ("capital", "support_total", "digital_skill", "served_until"):
                assert np.array_equal(getattr(ref.firms, col)[:n], getattr(other.firms, col)[:n]), (kw, col)


def test_compiled_uniforms_equal_numpy_streams():
    """``streams.uniform_of`` (drawn inside compiled loops) gives the NumPy streams' numbers, bit
    for bit, for every row and for firms whose ids are not their rows."""
    from numba import njit

    from model.state import FirmState
    from model.streams import id_gamma, uniform_of

    @njit
    def draw(seed, terms, out):
        for i in range(terms.size):
            out[i] = uniform_of(seed, terms[i])

    s = Streams(987654321)
    for month, purpose in [(0, 3), (17, 4), (239, 37)]:
        seed, terms = s.compiled_keys(month, purpose, 70_000)
        out = np.empty(70_000)
        draw(seed, terms, out)
        assert np.array_equal(out, s.uniform(month, purpose, 70_000))
        ids = np.array([0, 5, 123_456, 2**40])
        draw(seed, id_gamma(ids), out[:4])
        assert np.array_equal(out[:4], s.uniform_rows(month, purpose, ids))
    # bound to a firm table: row r draws firm firm_id[r]'s number
    f = FirmState(64)
    f.add_rows(8)
    f.firm_id[:8] = [3, 4, 9, 10, 11, 40, 41, 90]
    f.id_gamma[:8] = id_gamma(f.firm_id[:8])
    s.bind(f)
    seed, terms = s.compiled_keys(5, 3, 8)
    out = np.empty(8)
    draw(seed, terms, out)
    assert np.array_equal(out, Streams(987654321).uniform_rows(5, 3, f.firm_id[:8]))


def test_compiled_passes_refuse_stale_per_firm_arrays():
    """Compiled loops do not check bounds, so their callers check every per-firm input's length:
    running a stage out of the month's order is a clear error, not a read past an array's end."""
    import pytest

    from model import learning

    m = MSMEEcosystem(seed=1, n_firms=2000, n_months=24, msme_agents=False)
    m.run(12)
    # as if firms joined after this month's per-firm effects were computed (the arrays may still
    # hold rows that compaction dropped, so add more than that)
    longest = max(len(m.facility_usage_firm), len(m.commission_firm), len(m.cluster_coop_firm))
    m.firms.add_rows(longest - m.firms.n + 3)
    with pytest.raises(RuntimeError, match="learning.update: .* rows, the firm table"):
        learning.update(m)
