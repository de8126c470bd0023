"""Who is served first: the targeting priority, awareness, and the ranked pool every mode selects from.

Every delivery mode selects the same way: each of its programmes serves its candidates (eligible,
aware, not already served where a registry exists) in the order of their score until its money
runs out; the score is the month's targeting priority (:func:`priority`) plus, for councils and the
platform, bonuses for matching constraints. The ranking is done once a month over all firms
(:class:`RankedPool`), and each programme reads candidates from its top: the result is exactly that
of sorting every programme's candidates (``model/reference.py`` does that), at a cost that does not
grow with the number of programmes. What differs between modes -- who is aware, the bonuses, how
the money is split -- is in ``ministries.py``, ``councils.py`` and ``platform.py``.
"""

from __future__ import annotations

import numpy as np

from .. import streams
from ..params import INSTRUMENTS
from .instruments import (
    DUR,
    UNIT,
    base_eligible,
    cheapest_units,
    constraint_all,
    eligible,
    eligible_all,
    has_own_rule,
    unit_costs,
)


def priority(model, rule: str, u: np.ndarray) -> np.ndarray:
    """Priority score over used rows for a targeting rule; ``u`` are this month's uniforms."""
    f, n = model.firms, model.firms.n
    if rule == "untargeted":
        return u.copy()
    if rule == "micro_first":
        return (2 - f.size_class[:n]).astype(float) + u
    if rule == "need":
        margin = (f.profit_ewm[:n] - f.support_ewm[:n]) / (f.capital[:n] + 1e6)
        return -np.clip(margin, -1, 1) * 3 + 0.3 * u
    if rule == "potential":
        return np.log(f.productivity[:n]) + f.effort[:n] + 0.3 * u
    raise KeyError(rule)



def awareness_national(model, rows: np.ndarray | None = None) -> np.ndarray:
    """Probability a firm knows of a national programme: falls with remoteness, rises with literacy."""
    f, n = model.firms, model.firms.n
    rows = slice(0, n) if rows is None else rows
    remote = model.region_remoteness[f.region[rows]]
    return np.clip(model.p["awareness_base"] * (1 - 0.6 * remote) * (0.5 + f.literacy[rows]), 0, 1)



class Level:
    """The firms whose priority is at least ``thr``, sorted by priority (descending, then row).

    Per-firm values are read in row order (``rows_asc``, memory-friendly; for small levels in
    priority order) and cached in priority order.

    Built with ``key`` (the priorities of ``rows_asc``, ascending rows) instead of ``by_prio``, the
    order is found when first needed: a programme that reads only the level's first firms
    (:meth:`head`, :meth:`rows_at`) gets them from a partial selection (:meth:`top`), and the whole
    level is never sorted (a ranked pool's larger levels are mostly read that way).
    """

    # Up to this many firms, a level reads the columns in priority order directly: they fit in
    # the CPU cache, and nothing then needs reordering.
    SMALL = 1 << 16

    def __init__(self, model, rows_asc: np.ndarray, by_prio: np.ndarray | None, thr: float, complete: bool,
                 key: np.ndarray | None = None):
        self.model, self.thr, self.complete = model, thr, complete
        self.size = rows_asc.size
        self._cache: dict = {}
        self._top = None
        if by_prio is None:
            self._rows, self._asc0, self._key = None, rows_asc, key
        else:
            self._order(rows_asc, by_prio)

    def _order(self, rows_asc: np.ndarray, by_prio: np.ndarray) -> None:
        self._rows = rows_asc[by_prio]
        if self._rows.size <= self.SMALL:
            rows_asc, by_prio = self._rows, None
        self._rows_asc, self._by_prio = rows_asc, by_prio
        self._asc0 = self._key = self._top = None

    def _ordered(self) -> None:
        if self._rows is None:
            self._order(self._asc0, _argsort_desc(self._key))

    @property
    def rows(self) -> np.ndarray:
        """The level's rows in priority order."""
        self._ordered()
        return self._rows

    @property
    def rows_asc(self) -> np.ndarray:
        self._ordered()
        return self._rows_asc

    @property
    def by_prio(self) -> np.ndarray | None:
        self._ordered()
        return self._by_prio

    def top(self, width: int) -> np.ndarray:
        """``rows[:width]`` without sorting the whole level when it has not been sorted: the
        ``width`` largest priorities (ties in row order, as :func:`_argsort_desc`) by a partition,
        then only those sorted."""
        if self._rows is None and self._top is not None and self._top.size >= width:
            return self._top[:width]
        if self._rows is not None or 4 * width >= self.size:
            return self.rows[:width]
        key = self._key
        kth = key[np.argpartition(-key, width - 1)[:width]].min()
        above = np.flatnonzero(key > kth)
        idx = np.concatenate((above, np.flatnonzero(key == kth)[: width - above.size]))
        self._top = self._asc0[idx[_argsort_desc(key[idx])]]
        return self._top

    def is_sorted(self) -> bool:
        return self._rows is not None

    def unsorted(self) -> Level:
        """The level's firms in row order, as a level of their own (a view for reading per-firm
        values over the whole level without sorting it; its positions are indices into ``rows_asc``)."""
        v = self._cache.get("unsorted")
        if v is None:
            asc = self._asc0 if self._rows is None else np.sort(self._rows)
            v = self._cache["unsorted"] = Level(self.model, asc, None, self.thr, self.complete)
            v._rows, v._rows_asc, v._by_prio, v._asc0 = asc, asc, None, None
        return v

    def rows_at(self, at: np.ndarray) -> np.ndarray:
        """``rows[at]`` (level positions ``at``), read from :meth:`top` while the level is unsorted."""
        if self._rows is not None or at.size == 0:
            return self.rows[at]
        return self.top(int(at.max()) + 1)[at]

    def get(self, key, fn):
        """``fn()`` evaluated over ``rows_asc``, cached and returned in priority order."""
        v = self._cache.get(key)
        if v is None:
            v = fn()
            # (2-D values, one row per instrument, are kept C-contiguous for pairs_of: take gives that)
            v = v.take(self.by_prio, axis=-1) if self.by_prio is not None else np.ascontiguousarray(v)
            self._cache[key] = v
        return v

    def col(self, name: str) -> np.ndarray:
        """Firm column ``name`` over ``rows_asc`` (gathered once; a column accessor for the rules)."""
        v = self._cache.get(("col", name))
        if v is None:
            v = self._cache[("col", name)] = getattr(self.model.firms, name)[self.rows_asc]
        return v

    def head(self, width: int) -> Level:
        """The level's first ``width`` firms as a level of their own (for their per-firm values:
        a programme that needs only its first candidates reads no more firms than that)."""
        if width is None or width >= self.size:
            return self
        v = self._cache.get(("head", width))
        if v is None:
            rows = self.top(width)
            if width <= self.SMALL:
                order = by_prio = np.arange(width)  # read in priority order (see SMALL)
            else:
                order = rows.argsort()
                by_prio = np.empty(width, dtype=np.int64)
                by_prio[order] = np.arange(width)
            v = self._cache[("head", width)] = Level(self.model, rows[order], by_prio, self.thr, False)
        return v

    def all_true(self) -> np.ndarray:
        v = self._cache.get("all_true")
        if v is None:
            v = self._cache["all_true"] = np.ones(self.size, dtype=bool)
        return v

    def region_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The level's positions grouped by region (each region's in priority order), and where each
        region's block starts and how long it is."""
        v = self._cache.get("regions")
        if v is None:
            reg = self.model.firms.region[self.rows]
            counts = np.bincount(reg, minlength=len(self.model.council_cap))
            v = self._cache["regions"] = (np.argsort(reg, kind="stable"), np.cumsum(counts) - counts, counts)
        return v


def _argsort_desc(x: np.ndarray) -> np.ndarray:
    """``np.argsort(-x, kind="stable")``: descending, ties in index order. A quicksort is several
    times faster on random values but does not keep ties in order, so it is used only when there
    are none (checked on the result; ties are rare with continuous priorities)."""
    order = (-x).argsort()
    xs = x[order]
    if (xs[1:] == xs[:-1]).any():
        order = (-x).argsort(kind="stable")
    return order


def _sub_level(pool: RankedPool, lvl: Level, *parts: tuple[np.ndarray, np.ndarray]):
    """(level, r, at): the candidates ``parts`` (each (request index, row) pairs) as positions in a
    level holding just their firms, in the order of priority (ties in row order) that ``lvl`` has
    them in, with ``lvl``'s threshold and completeness; ordered by request, then position."""
    r = np.concatenate([x[0] for x in parts])
    rows = np.concatenate([x[1] for x in parts])
    uniq, inv = np.unique(rows, return_inverse=True)
    by_prio = _argsort_desc(pool.ranked[uniq])
    pos = np.empty(uniq.size, dtype=np.int64)
    pos[by_prio] = np.arange(uniq.size)
    at = pos[inv]
    o = np.lexsort((at, r))
    return Level(pool.model, uniq, by_prio, lvl.thr, lvl.complete), r[o], at[o]


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index ranges ``starts[i] .. starts[i] + lengths[i] - 1``, one after the other."""
    ends = lengths.cumsum()
    return (starts - ends + lengths).repeat(lengths) + np.arange(int(ends[-1]) if ends.size else 0)


def nonzero2(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask (row, column), the same order; much faster on small masks."""
    return np.divmod(mask.ravel().nonzero()[0], mask.shape[1])


def pairs_of(table: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``table[i, j]`` for a C-contiguous 2-D table (one gather on the flat table: faster)."""
    return table.ravel().take(i * table.shape[1] + j)


# Unit costs are whole rupiah (all but KUR's, which depends on the loan): the money m firms cost is
# then m * unit exactly, as NumPy's sum of the m costs gives it (every partial sum is exact).
_KUR = INSTRUMENTS.index("kur_credit")
assert all(float(c).is_integer() for k, c in enumerate(UNIT) if k != _KUR)


class RankedPool:
    """Firms ranked once a month by the targeting priority; programmes take candidates from the top.

    Level 0 holds the best-ranked few per cent of the (base-)eligible firms; a programme whose
    money is not exhausted inside a level, or whose last served score could be beaten by a firm
    outside it (priority below the level's threshold plus the largest bonus), moves to the next,
    larger level (the last one holds every eligible firm). Selections are therefore exact.
    """

    FIRST_SHARE = 0.06
    FIRST_MIN = 2048
    GROWTH = 4

    def __init__(self, model):
        p, t, n = model.p, model.month, model.firms.n
        self.model = model
        u = model.streams.uniform(t, streams.PRIORITY, n)
        self.prio = priority(model, p["targeting"], u)
        base = base_eligible(model)
        self.n_base = int(np.count_nonzero(base))
        self.ranked = np.where(base, self.prio, -np.inf)
        self._levels: dict[int, Level] = {}
        self._complete: tuple[int, Level] | None = None  # the first complete level built
        self._size = max(self.FIRST_MIN, int(self.FIRST_SHARE * self.n_base))
        self.last_level = 0  # the level where the last ``serve`` finished

    def level(self, i: int) -> Level:
        """Level ``i``, built on first use (the levels before it need not be); a level past a
        complete one is that one."""
        lvl = self._levels.get(i)
        if lvl is not None:
            return lvl
        if self._complete is not None and self._complete[0] <= i:
            return self._complete[1]
        size = self._size * self.GROWTH ** i
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
        lvl = self._levels[i] = Level(self.model, rows, None, thr, complete, key=self.ranked[rows])
        if complete and (self._complete is None or i < self._complete[0]):
            self._complete = (i, lvl)
        return lvl

    def serve(self, ks, money, picks, bonus=None, bonus_max=0.0, regions=None, spent=False, first_level=0):
        """Serve several programmes at once; programme (request) ``q`` has instrument ``ks[q]`` and
        ``money[q]``, and takes its candidates in the order of priority (+ bonus) until its money runs
        out, exactly as if it were served alone. The requests must not depend on one another (they
        are of different instruments, or reach different firms, or have no registry).

        ``picks(lvl, q, None)`` gives the candidates of requests ``q`` (an index array) among the
        level's firms, a boolean matrix with one row per request; with ``regions``, request ``q`` is
        restricted to the firms of region ``regions[q]`` and ``picks(lvl, q, (r, at))`` says whether
        the firm at level position ``at[i]`` is a candidate of request ``q[r[i]]``.
        ``bonus(lvl, q, r, at)`` gives the score bonus of those (request, firm) pairs and their
        classes (see ``Candidates``). Serving starts at level ``first_level``: any level gives the
        same selections (each is exact), only the work differs.

        All requests are served together level by level (one pass of NumPy calls, not one per
        programme). Returns (req, rows, amounts), the firms served ordered by request then row, and
        with ``spent=True`` also the money each request spent (what ``amounts.sum()`` of that request
        would give) and whether a candidate was left unserved (its money ran short of the next unit;
        True also for requests that could not pay one unit).
        """
        ks = np.asarray(ks, dtype=np.int64)
        money = np.asarray(money, dtype=np.float64)
        if np.ndim(bonus_max) == 0:
            bonus_max = np.full(ks.size, float(bonus_max))
        used = np.zeros(ks.size)
        remains = np.ones(ks.size, dtype=bool)
        found = []
        # a programme whose money does not reach the cheapest unit serves nobody (at any level)
        cheapest = cheapest_units(self.model)[ks]
        pending = ((money > 0) & (money >= cheapest)).nonzero()[0]
        need = units_needed(money, cheapest)
        i = first_level
        while pending.size:
            lvl = self.level(i)
            cands = Candidates.of(self, lvl, pending, ks, picks, bonus, regions, need[pending])
            every = np.arange(pending.size)
            done, got, got_used, got_remains = cands.take(every, money[pending], bonus_max[pending])
            found.append(got)
            used[pending[done]] = got_used
            remains[pending[done]] = got_remains
            pending = pending[~done]
            self.last_level = i
            i += 1
        return _gather(found, self.ranked.size, (used, remains) if spent else None)


def units_needed(money: np.ndarray, cheapest: np.ndarray) -> np.ndarray:
    """More candidates than ``money`` can pay for at ``cheapest`` a unit, plus one (the first not
    served, which decides whether a larger level is needed); unbounded (2^40) when units are free."""
    need = np.where(cheapest >= 1.0, np.floor(money / np.maximum(cheapest, 1.0)) + 2, 2.0 ** 40)
    return np.minimum(need, 2.0 ** 40).astype(np.int64)


def _gather(found, n_rows: int, used=None):
    """(req, rows, amounts) of several ``Candidates.take``, ordered by request then row (+ the
    tuple ``used``)."""
    if found:
        req, rows, amounts = (np.concatenate(x) for x in zip(*found, strict=True)) if len(found) > 1 else found[0]
        order = (req * (n_rows + 1) + rows).argsort()
        req, rows, amounts = req[order], rows[order], amounts[order]
    else:
        req, rows, amounts = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return (req, rows, amounts) if used is None else (req, rows, amounts, *used)


class Candidates:
    """The candidates of requests ``q`` (see ``RankedPool.serve``) among a level's firms, each
    request's in its order of service: by score (priority + bonus) descending, ties in priority
    order. Request ``q[i]``'s are entries ``first[i] ..`` (``count[i]`` of them) of ``at`` (their
    positions in the level) and ``score``. The money is not needed yet: see :meth:`take`.

    Built from (request index ``r`` into ``q``, position ``at``) pairs ordered by request, then
    position, with the bonus of each pair (or None); :meth:`of` finds the pairs with ``picks``.

    With a bonus, only the candidates that can be among the first ``need[i]`` of request ``i`` are
    kept (``need``: more than the request can pay for). A bonus takes a few values, one per
    ``classes`` value of the pair (a class of firms, e.g. constrained or not); within a class the
    candidates are already in the order of service (priority order, the same bonus), so the first
    ``need`` of the request are among the first ``need`` of each of its classes. This keeps the
    sort small when a level holds many candidates.
    """

    FIRST_WIDTH = 256  # the first firms of a level searched for a programme's first candidates (+ 8 x need)

    def __init__(self, pool: RankedPool, lvl: Level, q: np.ndarray, ks: np.ndarray, r: np.ndarray,
                 at: np.ndarray, bonus: tuple[np.ndarray, np.ndarray] | None = None, need: np.ndarray | None = None):
        self.pool, self.lvl, self.q, self.ks = pool, lvl, q, ks
        if "prio" in lvl._cache or lvl.size <= lvl.SMALL:
            score = lvl.get("prio", lambda: pool.prio[lvl.rows_asc])[at]
        else:  # the same values, without sorting the level if it is not yet
            score = pool.prio[lvl.rows_at(at)]
        if bonus is not None:
            bonus, classes = bonus
            if need is not None and r.size:
                n_cls = int(classes.max()) + 1
                key = r * n_cls + classes
                o = np.argsort(key.astype(np.int16 if q.size * n_cls < 1 << 15 else np.int64), kind="stable")
                key = key[o]
                cnt = np.bincount(key, minlength=q.size * n_cls)
                rank = np.arange(key.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)  # within its class
                keep = np.sort(o[rank < need[r[o]]])  # back in the order of request, then position
                r, at, score, bonus = r[keep], at[keep], score[keep], bonus[keep]
            score += bonus
            # by request, then score descending: a quicksort on the score, then a (stable, radix)
            # sort on the request. Equal scores within a request (rare) must stay in priority
            # order, which a quicksort does not promise: then sort again on all three keys.
            o = (-score).argsort()
            o = o[r[o].astype(np.int16 if q.size < 1 << 15 else np.int64).argsort(kind="stable")]
            rs, ss = r[o], score[o]
            if ((rs[1:] == rs[:-1]) & (ss[1:] == ss[:-1])).any():
                o = np.lexsort((at, -score, r))
            r, at, score = r[o], at[o], score[o]
        self.at, self.score = at, score
        self.count = np.bincount(r, minlength=q.size)
        self.first = self.count.cumsum() - self.count
        # KUR's costs are per firm (its loan): those of its requests' candidates, computed at once
        self.unit = np.where(np.isnan(lvl.model.unit_cost), 1.0, lvl.model.unit_cost)[ks[q]]
        self.kur = ks[q] == _KUR
        self.kur_cost = None
        if self.kur.any():
            idx = _ranges(self.first[self.kur], self.count[self.kur])
            self.kur_cost = np.zeros(at.size)
            self.kur_cost[idx] = unit_costs(pool.model, _KUR, lvl.rows_at(at[idx]))

    @classmethod
    def of(cls, pool: RankedPool, lvl: Level, q: np.ndarray, ks: np.ndarray, picks, bonus=None, regions=None,
           need=None):
        """The candidates of requests ``q`` as ``RankedPool.serve`` describes ``picks`` and ``bonus``."""
        if regions is None and bonus is None and need is not None:
            lvl, r, at = cls._first_candidates(pool, lvl, q, picks, need)
        elif regions is None:
            r, at = nonzero2(picks(lvl, q, None))  # by request, then position
        else:
            order, start, length = lvl.region_blocks()
            reg = regions[q]
            r = np.repeat(np.arange(q.size), length[reg])
            at = order[_ranges(start[reg], length[reg])]
            keep = picks(lvl, q, (r, at))
            r, at = r[keep], at[keep]
        return cls(pool, lvl, q, ks, r, at, None if bonus is None else bonus(lvl, q, r, at), need)

    @staticmethod
    def _first_candidates(pool: RankedPool, lvl: Level, q: np.ndarray, picks, need: np.ndarray):
        """Without a bonus the order of service is the level's order: a request needs only its first
        ``need`` candidates, found among the first ``width`` firms of the level (``picks(lvl, q, None,
        width)``), the width growing for the requests that have not found them yet.

        When the width would outgrow ``Level.SMALL`` in a level not yet sorted (a request whose
        candidates are rare, e.g. licensing for the few unlicensed firms at the top), the requests left
        read the whole level in row order instead (:meth:`Level.unsorted`), and the candidates are
        returned as positions in a level of their own (:func:`_sub_level`: the same firms in the
        same order of priority), so the large level is never sorted. Returns (level, r, at)."""
        size = lvl.size
        width = min(size, Candidates.FIRST_WIDTH + 8 * int(need.max()))
        r_parts, at_parts = [], []
        todo = np.arange(q.size)
        rest = None
        while True:
            cand = picks(lvl, q[todo], None, width)
            found = cand.sum(axis=1)
            ok = (found >= need[todo]) | (width == size)
            r, at = nonzero2(cand[ok] if not ok.all() else cand)
            r_parts.append(todo[ok][r])
            at_parts.append(at)
            todo = todo[~ok]
            if todo.size == 0:
                break
            width = min(size, 4 * width)
            if width > Level.SMALL and not lvl.is_sorted():
                view = lvl.unsorted()
                r, at = nonzero2(picks(view, q[todo], None, None))
                rest = (todo[r], view.rows_asc[at])
                break
        r, at = (np.concatenate(r_parts), np.concatenate(at_parts)) if len(r_parts) > 1 else (r_parts[0], at_parts[0])
        if rest is not None:
            return _sub_level(pool, lvl, (r, lvl.rows_at(at)), rest)
        if len(r_parts) > 1:
            o = r.argsort(kind="stable")  # by request, then position
            r, at = r[o], at[o]
        return lvl, r, at

    def count_served(self, sel: np.ndarray, money: np.ndarray, bonus_max: np.ndarray | None = None):
        """How many candidates requests ``q[sel]`` serve with ``money`` each, in their order of
        service, while the money lasts; the money each spends; and whether each is done (could not
        serve better at a larger level of the pool; None: all are, the level is complete)."""
        count = self.count[sel]
        # served while the cumulative cost stays within the money. Unit costs of one instrument
        # are equal whole rupiah (asserted above), so the cumulative cost of the first m is exactly
        # m * unit: m is the largest whole number with m * unit <= money (the division is off by
        # at most one, corrected both ways)
        unit = self.unit[sel]
        m = np.floor(money / unit)
        m -= m * unit > money
        m += (m + 1) * unit <= money
        m = np.minimum(m, count).astype(np.int64)
        used = m * unit
        if self.kur_cost is not None:
            for j in self.kur[sel].nonzero()[0].tolist():
                c = self.kur_cost[self.first[sel[j]]:self.first[sel[j]] + count[j]]
                m[j] = c.cumsum().searchsorted(money[j], side="right")
                used[j] = c[:m[j]].sum()  # as the programme's amounts.sum(), in the order of service
        # done unless the first candidate not served could be outranked by a firm of a larger level
        lvl = self.lvl
        if lvl.complete:
            return m, used, None
        first = self.first[sel]
        nxt = self.score[np.minimum(first + m, self.score.size - 1)] if self.score.size else np.zeros(sel.size)
        return m, used, (m < count) & (nxt > lvl.thr + bonus_max)

    def served(self, sel: np.ndarray, m: np.ndarray):
        """The first ``m`` candidates of requests ``q[sel]``: (req, rows, amounts)."""
        idx = _ranges(self.first[sel], m)
        req = self.q[sel].repeat(m)
        amounts = self.lvl.model.unit_cost[self.ks[req]]
        if self.kur_cost is not None:
            kur = self.kur[sel].repeat(m)
            amounts[kur] = self.kur_cost[idx[kur]]
        return req, self.lvl.rows_at(self.at[idx]), amounts

    def take(self, sel: np.ndarray, money: np.ndarray, bonus_max: np.ndarray):
        """Serve requests ``q[sel]`` with ``money`` each: which are done, their firms served as
        (req, rows, amounts), the money each of the done ones spent and whether it left a candidate
        unserved."""
        m, used, done = self.count_served(sel, money, bonus_max)
        remains = m < self.count[sel]
        if done is None:
            return np.ones(sel.size, dtype=bool), self.served(sel, m), used, remains
        return done, self.served(sel[done], m[done]), used[done], remains[done]


# Per-level values of every instrument at once (rows = instruments), cached. Every firm of a level
# is base-eligible (alive, small enough: that is how levels are drawn, and nothing changes it during
# the allocation), so only each instrument's own eligibility rule is read.
def level_eligible(lvl: Level) -> np.ndarray:
    return lvl.get("elig", lambda: eligible_all(lvl.model, lvl.rows_asc, base=lvl.all_true(), c=lvl.col))


def level_eligible_of(lvl: Level, ks: np.ndarray) -> np.ndarray:
    """``level_eligible(lvl)[ks]``, evaluating only the rules of instruments ``ks``."""
    if "elig" in lvl._cache:
        return lvl._cache["elig"][ks]
    out = np.empty((ks.size, lvl.size), dtype=bool)
    for i, k in enumerate(ks.tolist()):
        if has_own_rule(k):
            out[i] = lvl.get(("elig", k), lambda k=k: eligible(lvl.model, k, lvl.rows_asc, base=lvl.all_true(),
                                                                   c=lvl.col))
        else:  # every firm of a level is base-eligible
            out[i] = True
    return out


def level_constrained(lvl: Level) -> np.ndarray:
    return lvl.get("cons", lambda: constraint_all(lvl.model, lvl.rows_asc, c=lvl.col))


def level_served(lvl: Level) -> np.ndarray:
    # read when the level is first used: later reservations of an instrument are by the programme
    # that serves it, after its own selection, so no stale value is ever read
    m = lvl.model
    return lvl.get("served", lambda: (m.firms.served_until[lvl.rows_asc] > m.month).T)


def level_u_aware(lvl: Level) -> np.ndarray:
    m = lvl.model
    return lvl.get("u_aware", lambda: m.streams.uniform_rows(m.month, streams.AWARENESS, lvl.rows_asc))



def reserve(model, ks: np.ndarray, rows: np.ndarray, lag: int) -> None:
    """The registry: firm ``rows[i]`` counts as served for instrument ``ks[i]`` from now on."""
    model.firms.served_until[rows, ks] = model.month + lag + DUR[ks]

