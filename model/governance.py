"""Governance: how programme money reaches firms (seed 001 synchronisation models; seed 000 platform).

* ``centralised`` -- ministries run their programmes independently under national rules: a fixed
  national instrument mix, awareness that falls with remoteness and literacy, no shared registry
  (duplicates happen), long lags and a national overhead.
* ``self_governance`` -- regional councils allocate their region's budget between the national mix
  and the binding constraints they observe in their own firms, in proportion to their capacity,
  which ramps up through four steps (awareness, joint activities, competency certification,
  institutional change) at a speed that differs by region. Councils keep a shared registry, reach
  firms locally, involve them (participation raises autonomy and relatedness), and lose part of
  the budget to local capture, less as their capacity grows.
* ``platform`` -- a collaborative platform links government, private sector, academia and
  community. Registered firms go through the seven PAS steps; the platform matches them to the
  programme that fits their step and constraint, keeps a shared registry, and removes search and
  information costs; partners deliver mentoring and financial-reporting help.

Outcomes differ between modes only through these mechanisms.
"""

from __future__ import annotations

import numpy as np

from . import programmes as pg
from . import streams
from .params import INSTRUMENTS, N_INSTRUMENTS, SIZE_CLASSES, instrument_mix

COUNCIL_STEPS = ("awareness", "joint activities", "competency certification", "institutional change")
PAS_STEPS = ("registration", "training", "mentoring", "licensing", "marketing", "financial reporting", "capital")
# Instruments run by more than one ministry in the centralised mode (overlaps, seed 001).
OVERLAPPING = ("hr_training", "market_access", "grants", "product_development", "ecommerce_promotion")


def ministry_ownership(n_ministries: int) -> list[tuple[int, int]]:
    """(ministry, instrument) pairs: each instrument has an owner; overlapping ones have two."""
    pairs = []
    for k, name in enumerate(INSTRUMENTS):
        owners = {k % n_ministries}
        if name in OVERLAPPING and n_ministries > 1:
            owners.add((k + 2) % n_ministries)
        pairs.extend((m, k) for m in sorted(owners))
    return pairs


def council_capacity(model, month: int) -> np.ndarray:
    """Capacity of each regional council, 0.25 per step reached (seed 001 four-step ramp)."""
    steps = 1 + np.floor(month * model.council_speed / model.p["council_ramp_months"])
    return 0.25 * np.minimum(steps, 4)


def awareness_national(model, rows: np.ndarray | None = None) -> np.ndarray:
    """Probability a firm knows of a national programme: falls with remoteness, rises with literacy."""
    f, n = model.firms, model.firms.n
    rows = slice(0, n) if rows is None else rows
    remote = model.region_remoteness[f.region[rows]]
    return np.clip(model.p["awareness_base"] * (1 - 0.6 * remote) * (0.5 + f.literacy[rows]), 0, 1)


def update(model) -> None:
    """Council capacity and participation; platform registration and PAS progress."""
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    mode = p["governance_mode"]
    if mode == "self_governance":
        model.councils_active = True  # participation may be non-zero from now on
        model.council_cap = council_capacity(model, t)
        cap_firm = model.council_cap[f.region[:n]]
        target = (model.participation_propensity[:n] < p["council_participation"] * cap_firm).astype(float)
        f.participant[:n] += 0.1 * (target - f.participant[:n])
    elif mode == "platform":
        model.platform_active = True  # platform steps may be non-zero from now on
        u = model.streams.uniform(t, streams.GOVERNANCE, n)
        alive = f.alive[:n]
        step = f.platform_step[:n]
        reg_p = p["platform_outreach"] * np.array([0.0, 0.4, 0.8, 1.2])[f.stage[:n]]
        new = alive & (step == 0) & (u < reg_p)
        # registered firms advance one PAS step with probability 0.2 a month (uses the upper draws)
        adv = alive & (step > 0) & (step < 7) & (u > 0.8)
        step[new] = 1
        step[adv] += 1
        # partner-delivered steps (private sector, academia, community; no budget cost)
        mentor = adv & (step == 3)
        f.competence[:n][mentor] += 0.15 * (1 - f.competence[:n][mentor])
        f.relatedness[:n][mentor] += 0.15 * (1 - f.relatedness[:n][mentor])
        f.literacy[:n][mentor] += 0.10 * (1 - f.literacy[:n][mentor])
        report = adv & (step == 6)
        f.literacy[:n][report] += 0.15 * (1 - f.literacy[:n][report])
        g = model.streams.uniform(t, streams.FINANCE, n)
        bank = report & (g > 0.7)  # bank partners read the financial reports
        f.credit_access[:n][bank] = 2


def allocate(model) -> None:
    """Spend this month's budget: select recipients now, deliver after the mode's lag.

    Every programme serves its candidates (eligible, aware, not already served where a registry
    exists) in the order of its score until its money runs out. Scores are the month's targeting
    priority plus, for councils and the platform, bonuses for matching constraints. The ranking is
    done once a month over all firms (:class:`RankedPool`), and each programme reads candidates
    from its top: the result is exactly that of sorting every programme's candidates (see
    ``model/reference.py``), at a cost that does not grow with the number of programmes.
    """
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    budget = pg.monthly_budget(model, t)
    model.budget_this_month = budget
    if budget <= 0 or n == 0:
        return
    mode = p["governance_mode"]
    mix = instrument_mix(p)
    pool = RankedPool(model)
    if mode == "centralised":
        _allocate_central(model, budget, mix, pool)
    elif mode == "self_governance":
        _allocate_councils(model, budget, mix, pool)
    else:
        _allocate_platform(model, budget, mix, pool)


def _rotated(u: np.ndarray, j: int) -> np.ndarray:
    """A distinct uniform per programme from one array (Weyl rotation; marginally uniform)."""
    v = u + 0.6180339887 * (j + 1)
    v -= np.trunc(v)  # the fractional part, exactly (== np.modf(v)[0] for v >= 0)
    return v


def base_eligible(model, rows: np.ndarray | None = None) -> np.ndarray:
    """Alive and not above the largest eligible size class (shared by all instruments)."""
    f, n = model.firms, model.firms.n
    maxc = SIZE_CLASSES.index(model.p["max_eligible_class"])
    if rows is None:
        return f.alive[:n] & (f.size_class[:n] <= maxc)
    return f.alive[rows] & (f.size_class[rows] <= maxc)


class _Level:
    """The firms whose priority is at least ``thr``, sorted by priority (descending, then row).

    Per-firm values are read in row order (``rows_asc``, memory-friendly) and cached in priority order.
    """

    def __init__(self, model, rows_asc: np.ndarray, by_prio: np.ndarray, thr: float, complete: bool):
        self.model, self.rows_asc, self.by_prio = model, rows_asc, by_prio
        self.rows = rows_asc[by_prio]
        self.thr, self.complete = thr, complete
        self._cache: dict = {}

    def get(self, key, fn):
        """``fn()`` evaluated over ``rows_asc``, cached and returned in priority order."""
        v = self._cache.get(key)
        if v is None:
            v = self._cache[key] = fn()[self.by_prio]
        return v

    def all_true(self) -> np.ndarray:
        v = self._cache.get("all_true")
        if v is None:
            v = self._cache["all_true"] = np.ones(self.rows_asc.size, dtype=bool)
        return v

    def region_idx(self, r: int) -> np.ndarray:
        """Positions (in ``rows``) of the firms of region ``r``."""
        def split():
            reg = self.model.firms.region[self.rows_asc][self.by_prio]
            order = np.argsort(reg, kind="stable")
            bounds = np.searchsorted(reg[order], np.arange(len(self.model.council_cap) + 1))
            return [order[bounds[i]:bounds[i + 1]] for i in range(bounds.size - 1)]
        v = self._cache.get("regions")
        if v is None:
            v = self._cache["regions"] = split()
        return v[r]


class RankedPool:
    """Firms ranked once a month by the targeting priority; programmes take candidates from the top.

    Level 0 holds the best-ranked few per cent of the (base-)eligible firms; a programme whose
    money is not exhausted inside a level, or whose last served score could be beaten by a firm
    outside it (priority below the level's threshold plus the largest bonus), moves to the next,
    larger level (the last one holds every eligible firm). Selections are therefore exact.
    """

    FIRST_SHARE = 0.06
    GROWTH = 4

    def __init__(self, model):
        p, t, f, n = model.p, model.month, model.firms, model.firms.n
        self.model = model
        u = model.streams.uniform(t, streams.PRIORITY, n)
        self.prio = pg.priority(model, p["targeting"], u)
        base = base_eligible(model)
        self.n_base = int(np.count_nonzero(base))
        self.ranked = np.where(base, self.prio, -np.inf)
        self._levels: list[_Level] = []
        self._size = max(2048, int(self.FIRST_SHARE * self.n_base))

    @property
    def first_level(self) -> _Level | None:
        return self._levels[0] if self._levels else None

    def level(self, i: int) -> _Level | None:
        while len(self._levels) <= i:
            if self._levels and self._levels[-1].complete:
                return None
            size = self._size * self.GROWTH ** len(self._levels)
            n = self.ranked.size
            if size >= self.n_base or size >= n:
                rows = np.flatnonzero(self.ranked > -np.inf)
                thr, complete = -np.inf, True
            else:
                # threshold from a strided sample (the level is "all firms at or above it": exact
                # whatever its size, so an estimate of the quantile is enough)
                step = max(1, n // 65536)
                sample = self.ranked[::step]
                k = min(sample.size - 1, max(0, sample.size - 1 - size // step))
                thr = float(np.partition(sample, k)[k])
                if thr == -np.inf:
                    thr = float(np.min(self.ranked[self.ranked > -np.inf]))
                rows = np.flatnonzero(self.ranked >= thr)
                complete = rows.size >= self.n_base
            by_prio = np.argsort(-self.ranked[rows], kind="stable")
            self._levels.append(_Level(self.model, rows, by_prio, thr, complete))
        return self._levels[i]

    def serve(self, k: int, money: float, pick, bonus=None, bonus_max: float = 0.0, region: int | None = None):
        """Candidates of instrument ``k`` chosen by ``pick(level, idx) -> mask`` in the order of
        priority (+ ``bonus(level, idx)``), served until ``money`` runs out. Returns (rows, amounts).

        ``idx`` given to ``pick`` is an index array or ``slice(None)`` (every firm of the level); the
        one given to ``bonus`` is always an index array."""
        empty = np.zeros(0, dtype=np.int64)
        if money <= 0:
            return empty, np.zeros(0)
        i = 0
        while True:
            lvl = self.level(i)
            if region is None:  # the whole level: pick reads the cached arrays as they are (no gather)
                idx = np.flatnonzero(pick(lvl, slice(None)))
            else:
                idx = lvl.region_idx(region)
                idx = idx[pick(lvl, idx)]
            cand = lvl.rows[idx]
            score = self.prio[cand]
            if bonus is not None:
                score = score + bonus(lvl, idx)
                order = np.argsort(-score, kind="stable")
                cand, score = cand[order], score[order]
            costs = pg.unit_costs(self.model, k, cand)
            rows, amts, stop = pg.serve_in_order(cand, score, costs, money)
            if lvl.complete or (stop < cand.size and score[stop] > lvl.thr + bonus_max):
                return rows, amts
            i += 1


def _elig(lvl: _Level, k: int) -> np.ndarray:
    """Instrument ``k``'s eligibility over a level's firms (cached)."""
    # every firm of a level is base-eligible (alive, small enough: that is how levels are drawn,
    # and nothing changes it during the allocation), so only the instrument's own rule is read
    return lvl.get(("elig", k), lambda: pg.eligible(lvl.model, k, lvl.rows_asc, base=lvl.all_true()))


def _cons(lvl: _Level, k: int) -> np.ndarray:
    return lvl.get(("cons", k), lambda: pg.constraint(lvl.model, k, lvl.rows_asc))


def _served(lvl: _Level, k: int) -> np.ndarray:
    m = lvl.model
    return lvl.get(("served", k), lambda: m.firms.served_until[:, k][lvl.rows_asc] > m.month)


def _u_aware(lvl: _Level) -> np.ndarray:
    m = lvl.model
    return lvl.get("u_aware", lambda: m.streams.uniform_rows(m.month, streams.AWARENESS, lvl.rows_asc))


def _allocate_central(model, budget, mix, pool: RankedPool) -> None:
    p, t = model.p, model.month
    owners = model.__dict__.get("_owners")
    if owners is None:  # fixed for the run
        owners = model._owners = np.bincount([k for _, k in model.ownership], minlength=N_INSTRUMENTS)

    def aware_p(lvl):
        return lvl.get("aware_p", lambda: awareness_national(model, lvl.rows_asc))

    progs = model.programme_list
    nets = []
    for prog in progs:
        money = budget * mix[INSTRUMENTS[prog.instrument]] / owners[prog.instrument]
        prog.budget = money
        nets.append(money * (1 - p["central_overhead"]))
    live = [j for j, net in enumerate(nets) if net > 0]

    def first_level_picks(lvl):
        """Every funded programme's candidates in the first level, in one 2-D pass: row r is
        programme live[r]'s ``pick`` (the same values, computed element by element alike)."""
        got = lvl._cache.get("central_picks")
        if got is None:
            v = _u_aware(lvl)[None, :] + 0.6180339887 * (np.asarray(live, dtype=np.float64) + 1)[:, None]
            v -= np.trunc(v)
            picks = v < aware_p(lvl)[None, :]
            for r, j in enumerate(live):
                picks[r] &= _elig(lvl, progs[j].instrument)
            got = lvl._cache["central_picks"] = (picks, {j: r for r, j in enumerate(live)})
        return got

    for j, prog in enumerate(progs):
        k = prog.instrument
        net = nets[j]

        def pick(lvl, idx, j=j, k=k):
            if isinstance(idx, slice) and lvl is pool.first_level:
                picks, pos = first_level_picks(lvl)
                return picks[pos[j]]
            return _elig(lvl, k)[idx] & (_rotated(_u_aware(lvl)[idx], j) < aware_p(lvl)[idx])

        rows, amts = pool.serve(k, net, pick)
        pg.schedule(model, t + p["central_lag_months"],
                    pg.Delivery(k, rows, amts, p["central_overhead"], prog.programme_id, registry=False))


def _reserve(model, k: int, rows: np.ndarray, lag: int) -> None:
    model.firms.served_until[rows, k] = model.month + lag + pg.DUR[k]


def constraint_prevalence(model) -> np.ndarray:
    """Firms per region whose binding constraint each instrument relieves (and who are eligible):
    what each council observes among its own firms. Shape (regions, instruments)."""
    f, n = model.firms, model.firms.n
    nreg = len(model.council_cap)
    base = base_eligible(model)
    code = np.zeros(n, dtype=np.uint16)
    for k in range(N_INSTRUMENTS):
        m = pg.constraint(model, k)
        m &= pg.eligible(model, k, base=base)
        code |= np.left_shift(m.view(np.uint8), np.uint16(k), dtype=np.uint16)
    hist = np.bincount(f.region[:n].astype(np.int64) * (1 << N_INSTRUMENTS) + code,
                       minlength=nreg << N_INSTRUMENTS).reshape(nreg, 1 << N_INSTRUMENTS)
    bits = (np.arange(1 << N_INSTRUMENTS)[:, None] >> np.arange(N_INSTRUMENTS)[None, :]) & 1
    return (hist @ bits).astype(float)


def _allocate_councils(model, budget, mix, pool: RankedPool) -> None:
    p, t = model.p, model.month
    cap = model.council_cap
    lag = p["local_lag_months"]
    national = np.array([mix[k] for k in INSTRUMENTS])
    prevalence = constraint_prevalence(model)
    # costed at unit cost
    unit = np.where(np.isnan(pg.UNIT), 2.0e6, pg.UNIT)
    need = prevalence * unit
    need_mix = need / np.maximum(need.sum(axis=1, keepdims=True), 1e-12)

    def aware(lvl):
        def calc():
            f = model.firms
            cap_f = cap[f.region[lvl.rows_asc]]
            a_p = np.clip(p["awareness_base"] + (0.9 - p["awareness_base"]) * cap_f, 0, 1) * (0.7 + 0.3 * f.literacy[lvl.rows_asc])
            return model.streams.uniform_rows(t, streams.AWARENESS, lvl.rows_asc) < a_p
        return lvl.get("aware", calc)

    for r, council in enumerate(model.council_agents):
        b_r = budget * model.region_budget_share[r]
        capture = b_r * p["capture_rate"] * (1 - 0.5 * (cap[r] - 0.25) / 0.75)
        model.ledger[t, :, pg.CAPTURE] += capture * national  # booked against the national mix
        model.ledger[t, :, pg.SPENT] += capture * national
        council.record_capture(capture, cap[r])
        mix_r = (1 - cap[r]) * national + cap[r] * need_mix[r]
        money = (b_r - capture) * (1 - p["council_overhead"])
        bonus_w = 2.0 * cap[r]
        # a council's budget is flexible: what one instrument cannot place goes to the next, in the
        # order of the council's priorities (a mechanism the centralised ministries lack)
        left = 0.0
        for k in np.argsort(-mix_r, kind="stable"):
            net = money * mix_r[k] + left
            if net <= 0:
                continue

            def pick(lvl, idx, k=k):
                return _elig(lvl, k)[idx] & aware(lvl)[idx] & ~_served(lvl, k)[idx]

            def bonus(lvl, idx, k=k):
                return bonus_w * _cons(lvl, k)[idx]

            rows, amts = pool.serve(k, net, pick, bonus, bonus_w, region=r)
            left = net - float(amts.sum())
            _reserve(model, k, rows, lag)
            pg.schedule(model, t + lag, pg.Delivery(k, rows, amts, p["council_overhead"],
                                                    council.programme_ids[k], registry=True))


def _allocate_platform(model, budget, mix, pool: RankedPool) -> None:
    p, t = model.p, model.month
    lag = p["local_lag_months"]
    f = model.firms

    def registered(lvl):
        return lvl.get("registered", lambda: f.platform_step[lvl.rows_asc] > 0)

    def aware(lvl):
        return lvl.get("aware", lambda: (f.platform_step[lvl.rows_asc] > 0) | (
            model.streams.uniform_rows(t, streams.AWARENESS, lvl.rows_asc) < awareness_national(model, lvl.rows_asc)))

    for k, name in enumerate(INSTRUMENTS):
        money = budget * mix[name]
        net = money * (1 - p["platform_overhead"])
        steps = [s for s, names in pg.PAS_INSTRUMENTS.items() if name in names]

        def pick(lvl, idx, k=k):
            return _elig(lvl, k)[idx] & aware(lvl)[idx] & ~_served(lvl, k)[idx]

        def bonus(lvl, idx, k=k, steps=steps):
            step = f.platform_step[lvl.rows[idx]]
            on_step = np.zeros(idx.size, dtype=bool)
            for s in steps:
                on_step |= step == s
            return 2.0 * _cons(lvl, k)[idx] + 1.5 * on_step + 1.0 * registered(lvl)[idx]

        rows, amts = pool.serve(k, net, pick, bonus, 2.0 + 1.5 + 1.0)
        if rows.size == 0:
            continue
        _reserve(model, k, rows, lag)
        pg.schedule(model, t + lag, pg.Delivery(k, rows, amts, p["platform_overhead"],
                                                model.platform_agent.programme_ids[k], registry=True))
