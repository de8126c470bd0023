"""Clusters (GR 7/2021, seed 004; typology of seed 003): membership, shared facilities,
knowledge spillover, joint promotion, bargaining power against middlemen, and type evolution.

Clusters group micro and small manufacturers of one region and product chain. Each cluster has a
continuous capability index (0..1); the four types of seed 003 (artisan -> active -> dynamic ->
advanced) are bands of it, and what membership gives is interpolated between the types' values, so
a cluster improves gradually rather than jumping a type at a time. Capability moves each month
towards what its members' state supports (their digital stage, skill, literacy, formal credit and
a lead firm) plus the cluster's own institutional quality, a fixed effect drawn when the cluster is
founded. Knowledge spills over from a frontier member quantile, not from an ever-rising mean.
All per-cluster sums are one compiled pass over the firm rows, so the cost is linear in firms
whatever the number of clusters.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams
from .delivery.ledger import monthly_budget
from .population import BASE_CLUSTER_COVERAGE, MANUFACTURING

# Effects by type: artisan, active, dynamic, advanced (seed 003 cluster table; ODD 7.5), read at
# the types' band centres of the capability index and interpolated between them.
MIDDLEMAN_FACTOR = np.array([1.0, 0.6, 0.35, 0.15])  # share of the middleman margin still paid
SPILLOVER_RATE = np.array([0.006, 0.012, 0.02, 0.03])  # monthly catch-up towards the cluster frontier
COOPERATION = np.array([0.2, 0.45, 0.7, 0.85])       # joint action: relatedness, shock pooling
JOINT_PROMOTION = np.array([0.0, 0.05, 0.1, 0.15])   # monthly visibility from joint promotion
EXPORT_ACCESS = np.array([0.0, 0.5, 1.0, 1.0])       # external networks reaching export buyers (seed 003 table)
BANK_TIES = np.array([0.0, 0.0, 0.004, 0.008])       # monthly chance a member gains formal credit
FACILITY_NEED = 6.0e6      # IDR of shared facility per member for full use
FACILITY_TECH = 0.20       # capacity gain at full use (better machinery, seed 004)
FACILITY_COST_CUT = 0.08   # unit input-cost cut at full use (seed 004)
FACILITY_DEPRECIATION = 0.01
AGGLOMERATION = 0.045      # elasticity to members: ~3 % per doubling (Ciccone & Hall; FACTS)
AGGLO_REF = 10.0
INITIAL_TYPE_SHARES = np.array([0.65, 0.25, 0.08, 0.02])  # most Indonesian clusters are artisanal
# capability index: the types are its bands (the thresholds of v1's yearly type score), effects are
# read at the bands' centres and interpolated (assumption)
TYPE_EDGES = np.array([0.10, 0.30, 0.42, 0.55, 0.75])       # band edges, artisan .. advanced
TYPE_THRESHOLDS = TYPE_EDGES[1:-1]
TYPE_CENTRES = (TYPE_EDGES[:-1] + TYPE_EDGES[1:]) / 2
CAPABILITY_ADJUST = 1.0 / 24   # monthly share of the gap to the target closed (half-life ~16 months; assumption)
# members' markers of capability (seed 003 table: external networks, lead firm, ties with banks,
# universities and government); exporting is what capability gives (EXPORT_ACCESS), not a marker
SCORE_WEIGHTS = {"online": 0.25, "skill": 0.15, "literacy": 0.20, "formal": 0.20, "lead": 0.10}
SCORE_SCALE = 1.0 / 0.9        # the weights of v1's score less its 0.1 on exporters, rescaled to sum to 1
FRONTIER_Z = 1.2816            # frontier = 90th percentile of members' log productivity (normal approximation)
ABSORPTION = 0.25              # share of its gap to the frontier a member can absorb (assumption; ODD 7.5)


def by_capability(table: np.ndarray, capability: np.ndarray) -> np.ndarray:
    """A per-type effect (artisan .. advanced) at each capability, linear between the types' centres."""
    return np.interp(capability, TYPE_CENTRES, table)


def type_of(capability: np.ndarray) -> np.ndarray:
    """The type (0 artisan .. 3 advanced) a capability falls in."""
    return np.searchsorted(TYPE_THRESHOLDS, capability, side="right").astype(np.int8)


class PerFirm:
    """A per-firm value that depends only on the firm's cluster: a per-cluster table (entry 0 = outside
    any cluster) read through the firm's cluster index. Index it like an array (``x[rows]``,
    ``x[block]``, ``x[row]``), which reads only the firms asked for; ``np.asarray(x)`` gives all firms."""

    __slots__ = ("table", "index")

    def __init__(self, table: np.ndarray, index: np.ndarray):
        self.table, self.index = table, index

    def __getitem__(self, key):
        return self.table[self.index[key]]

    def __array__(self, dtype=None, copy=None):
        a = self.table[self.index]
        return a if dtype is None else a.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.index.size

    @property
    def shape(self) -> tuple[int, ...]:
        return self.index.shape


def as_table(x) -> tuple[np.ndarray, np.ndarray]:
    """A per-firm value as ``(table, index)`` with ``x[i] == table[index[i]]`` (for compiled loops)."""
    if isinstance(x, PerFirm):
        return x.table, x.index
    a = np.ascontiguousarray(x, dtype=np.float64)
    return a, np.arange(a.size)


class ClusterTable:
    """Per-cluster columns."""

    def __init__(self):
        self.region = np.zeros(0, dtype=np.int16)
        self.sector = np.zeros(0, dtype=np.int8)
        self.ctype = np.zeros(0, dtype=np.int8)     # type read from capability (type_of)
        self.capability = np.zeros(0)               # 0..1, the continuous index the type is read from
        self.effect = np.zeros(0)                   # institutional quality: capability less the members' score
        self.expected = np.zeros(0)                 # members expected at founding (NaN: set at first update)
        self.facility = np.zeros(0)
        self.members = np.zeros(0, dtype=np.int64)
        self.programme = np.zeros(0, dtype=bool)  # formed by the GR 7/2021 programme
        self.by_group: dict[int, np.ndarray] = {}

    @property
    def n(self) -> int:
        return self.region.size

    def group_index(self, only_programme: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The clusters of every (region, sector) group as ``(start, size, flat)``: group ``g``'s
        cluster ids (those formed by the programme only, if asked) are
        ``flat[start[g]:start[g] + size[g]]``, in ``by_group`` order. Cached until clusters are added."""
        cache = self.__dict__.setdefault("_group_index", {})
        if only_programme not in cache:
            ng = max(self.by_group) + 1 if self.by_group else 0
            size = np.zeros(ng, dtype=np.int64)
            parts = []
            for grp in range(ng):
                ids = self.by_group.get(grp)
                if ids is not None and only_programme:
                    ids = ids[self.programme[ids]]
                if ids is not None and ids.size:
                    size[grp] = ids.size
                    parts.append(ids)
            start = np.zeros(ng, dtype=np.int64)
            if ng:
                np.cumsum(size[:-1], out=start[1:])
            flat = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
            cache[only_programme] = (start, size, flat)
        return cache[only_programme]

    def add(self, region, sector, capability, programme: bool, effect=None, expected=None) -> np.ndarray:
        """New clusters with their capability; ``effect`` (institutional quality) and ``expected``
        (members at founding) are NaN when not given: set from the members at the next update."""
        k = len(region)
        start = self.n
        capability = np.broadcast_to(np.asarray(capability, dtype=np.float64), (k,))
        nan = np.full(k, np.nan)
        self.region = np.concatenate([self.region, np.asarray(region, dtype=np.int16)])
        self.sector = np.concatenate([self.sector, np.asarray(sector, dtype=np.int8)])
        self.capability = np.concatenate([self.capability, capability])
        self.ctype = np.concatenate([self.ctype, type_of(capability)])
        self.effect = np.concatenate([self.effect, nan if effect is None else np.broadcast_to(effect, (k,))])
        self.expected = np.concatenate([self.expected, nan if expected is None else np.broadcast_to(expected, (k,))])
        self.facility = np.concatenate([self.facility, np.zeros(k)])
        self.members = np.concatenate([self.members, np.zeros(k, dtype=np.int64)])
        self.programme = np.concatenate([self.programme, np.full(k, programme)])
        ids = np.arange(start, start + k)
        self.__dict__.pop("_group_index", None)  # the groups' flat index is rebuilt on next use
        n_sect = 8
        for cid in ids:
            g = int(self.region[cid]) * n_sect + int(self.sector[cid])
            self.by_group[g] = np.append(self.by_group.get(g, np.zeros(0, dtype=np.int64)), cid)
        return ids


def _groups(f, rows: np.ndarray) -> np.ndarray:
    return f.region[rows].astype(np.int64) * 8 + f.sector[rows]


def initial_capability(rng: np.random.Generator, k: int) -> np.ndarray:
    """Capabilities of ``k`` clusters existing at the start: a type drawn from the initial shares
    (seed 003: most are artisanal), then a point uniform in that type's band; one draw each."""
    u = rng.random((k, 2))
    t = np.searchsorted(np.cumsum(INITIAL_TYPE_SHARES), u[:, 0], side="right").clip(0, 3)
    return TYPE_EDGES[t] + u[:, 1] * (TYPE_EDGES[t + 1] - TYPE_EDGES[t])


def _new_effects(model, k: int) -> np.ndarray:
    """Institutional quality of ``k`` clusters founded now: drawn from the initial clusters' effects
    (a founded cluster is as good an institution as existing ones, once it has grown; 0 if none)."""
    ct = model.cluster_table
    pool = ct.effect[np.isfinite(ct.effect)]
    if pool.size == 0 or k == 0:
        return np.zeros(k)
    # one number per cluster id (the ids these clusters will get), whatever else is drawn this month
    u = np.array([model.streams.uniform_at(-1, streams.CLUSTER + 80, cid) for cid in range(ct.n, ct.n + k)])
    return pool[(u * pool.size).astype(np.int64).clip(0, pool.size - 1)]


def _assign(model, rows: np.ndarray, u: np.ndarray, mean_size: int, programme: bool,
            rng: np.random.Generator | None = None) -> None:
    """Put firms ``rows`` into clusters of their (region, sector), creating clusters as needed.
    With ``rng`` (set-up) the clusters exist already and draw their capability
    (:func:`initial_capability`, one draw per cluster); without, they are new and start artisanal."""
    f, ct = model.firms, model.cluster_table
    if rows.size == 0:
        return
    g = _groups(f, rows)
    for grp in np.unique(g):
        sel = rows[g == grp]
        k = max(1, int(round(sel.size / mean_size)))
        region, sector = divmod(int(grp), 8)
        if rng is None:  # founded now: artisanal, growing into its institutional quality
            ids = ct.add([region] * k, [sector] * k, TYPE_CENTRES[0], programme, effect=_new_effects(model, k),
                         expected=sel.size / k)
        else:
            ids = ct.add([region] * k, [sector] * k, initial_capability(rng, k), programme)
        f.cluster[sel] = ids[(u[g == grp] * k).astype(np.int64).clip(0, k - 1)]


def init_clusters(model, rng: np.random.Generator) -> None:
    """Initial clusters: ~30 % of manufacturing micro/small firms (FACTS, village clusters)."""
    f, n = model.firms, model.firms.n
    u = rng.random(n)
    v = rng.random(n)
    eligible = MANUFACTURING[f.sector[:n]] & (f.size_class[:n] <= 1)
    members = np.flatnonzero(eligible & (u < BASE_CLUSTER_COVERAGE))
    _assign(model, members, v[members], model.p["cluster_mean_size"], programme=False, rng=rng)


def programme_formation(model) -> None:
    """GR 7/2021 programme: over its first 18 months, bring coverage of eligible firms to the target."""
    p, t, f, n = model.p, model.month, model.firms, model.firms.n
    if not p["cluster_programme"] or t > 18 or monthly_budget_zero(model):
        return
    target = p["cluster_coverage_target"]
    if target <= BASE_CLUSTER_COVERAGE:
        return
    u = model.streams.uniform(t, streams.CLUSTER, n)
    eligible = f.alive[:n] & MANUFACTURING[f.sector[:n]] & (f.size_class[:n] <= 1) & (f.cluster[:n] < 0)
    # each month 1/(19 - t) of the firms still to join do so
    share_to_join = (target - BASE_CLUSTER_COVERAGE) / (1 - BASE_CLUSTER_COVERAGE)
    if not hasattr(model, "programme_cluster_ids"):  # first month: found clusters sized for the target
        rows = np.flatnonzero(eligible)
        g = _groups(f, rows)
        grp, cnt = np.unique(g, return_counts=True)
        k = np.maximum(1, np.round(cnt * share_to_join / p["cluster_mean_size"])).astype(int)
        reg, sec = np.divmod(np.repeat(grp, k), 8)
        fill = np.repeat(cnt * share_to_join / k, k)  # members each is founded for
        model.programme_cluster_ids = model.cluster_table.add(reg, sec, TYPE_CENTRES[0], True,
                                                              effect=_new_effects(model, int(k.sum())), expected=fill)
    # conditional monthly probability so that share_to_join of the eligible have joined by month 18
    prob = (share_to_join / 18) / max(1e-9, 1 - share_to_join * (t - 1) / 18)
    joiners = np.flatnonzero(eligible & (u < prob))
    if joiners.size:
        v = model.streams.uniform_rows(t, streams.CLUSTER + 20, joiners)  # (the joiners' numbers only)
        join_existing(model, joiners, v, only_programme=True)


def monthly_budget_zero(model) -> bool:
    return monthly_budget(model, model.month) <= 0


def join_existing(model, rows: np.ndarray, u: np.ndarray, only_programme: bool = False) -> None:
    """Firms join a random existing cluster of their (region, sector); new ones are made if none."""
    f, ct = model.firms, model.cluster_table
    g = _groups(f, rows)
    # each firm picks from its group's clusters, all at once through the table's flat index
    start, size, flat = ct.group_index(only_programme)
    sz = np.zeros(rows.size, dtype=np.int64)
    known = g < size.size
    sz[known] = size[g[known]]
    orphan = sz == 0
    has = ~orphan
    pick = (u[has] * sz[has]).astype(np.int64).clip(0, sz[has] - 1)
    f.cluster[rows[has]] = flat[start[g[has]] + pick]
    if orphan.any():
        _assign(model, rows[orphan], u[orphan], model.p["cluster_mean_size"], programme=only_programme)


def entrants_join(model, rows: np.ndarray) -> None:
    """Manufacturing entrants join a local cluster with the prevailing coverage."""
    if rows.size == 0 or model.cluster_table.n == 0:
        return
    f, t = model.firms, model.month
    u = model.streams.uniform_rows(t, streams.CLUSTER + 40, rows)
    cov = model.p["cluster_coverage_target"] if model.p["cluster_programme"] else BASE_CLUSTER_COVERAGE
    join = rows[MANUFACTURING[f.sector[rows]] & (u < cov)]
    if join.size:
        join_existing(model, join, model.streams.uniform_rows(t, streams.CLUSTER + 41, join))


def update(model) -> None:
    """Per-firm cluster effects for this month, from the cluster table and the members' state.

    Per-cluster values are computed on the table and gathered per firm through ``cl1`` (cluster
    id + 1, 0 for firms outside clusters and dead firms), whose row 0 holds the non-member value.
    """
    f, n, ct = model.firms, model.firms.n, model.cluster_table
    nc = ct.n
    manuf = f.derived("manufacturing", lambda r: MANUFACTURING[f.sector[r]], dtype=bool)
    if nc == 0:
        z = np.zeros(n)
        model.cluster_index = np.zeros(n, dtype=np.int64)
        model.facility_usage_firm = z
        model.cluster_coop_firm = z
        model.cluster_export_firm = z
        model.agglomeration_firm = np.ones(n)
        model.spillover_gap = z
        model.middleman_factor_firm = np.where(manuf, 1.0, 0.0)
        model.cluster_promotion_firm = z
        model.cluster_skill_mean_firm = z
        return
    # one compiled pass: each firm's cluster index (cl1) and the clusters' member counts and sums
    # (accumulated in row order, as np.bincount does): log productivity (sum, squares, maximum),
    # skill, and the capability markers
    # members' own productivity (what they did not absorb from the cluster) sets the frontier
    logp = np.log(f.productivity[:n])
    logp -= f.absorbed[:n]
    cl1 = np.empty(n, dtype=np.int64)
    members1 = np.zeros(nc + 1, dtype=np.int64)
    sums1 = np.zeros((nc + 1, N_SUMS))
    max_logp1 = np.full(nc + 1, -np.inf)
    _member_sums(n, f.cluster, f.alive, logp, f.digital_skill, f.literacy, f.stage, f.credit_access, f.size_class,
                 cl1, members1, sums1, max_logp1)
    model.cluster_index = cl1
    members = members1[1:]
    ct.members = members
    ct.facility *= 1 - FACILITY_DEPRECIATION
    usage = np.clip(ct.facility / np.maximum(members * FACILITY_NEED, 1.0), 0, 1)
    cnt = np.maximum(members, 1)[:, None]
    mean = sums1[1:] / cnt
    mean_logp, mean_skill = mean[:, S_LOGP], mean[:, S_SKILL]
    _update_capability(ct, members, mean)
    cap = ct.capability

    def table(values: np.ndarray, outside: float) -> np.ndarray:
        return np.concatenate(([outside], values))

    def lazy(values: np.ndarray, outside: float) -> PerFirm:
        return PerFirm(table(values, outside), cl1)

    model.facility_usage_firm = lazy(usage, 0.0)
    model.cluster_coop_firm = lazy(by_capability(COOPERATION, cap), 0.0)
    model.cluster_export_firm = lazy(by_capability(EXPORT_ACCESS, cap), 0.0)
    model.agglomeration_firm = lazy(agglomeration(model.p["cluster_mean_size"], members, ct.expected), 1.0)
    # spillover: a member absorbs part of its gap to the cluster's frontier, the 90th percentile of
    # the members' own log productivity (normal approximation, at most its best member); what it
    # absorbed is a level, not a growth rate, and fades outside a cluster. Middlemen keep a margin
    # from manufacturers, less in stronger clusters
    var = np.maximum(mean[:, S_LOGP2] - mean_logp * mean_logp, 0.0)
    var *= members / np.maximum(members - 1, 1)  # the sample's variance (clusters are samples of members)
    frontier = np.minimum(mean_logp + FRONTIER_Z * np.sqrt(var), max_logp1[1:])
    frontier = np.where(members > 0, frontier, 0.0)
    gap = np.empty(n)
    middleman = np.empty(n)
    _spillover(n, ABSORPTION, cl1, logp, f.absorbed, f.alive, table(frontier, 0.0),
               table(by_capability(SPILLOVER_RATE, cap), SPILLOVER_RATE[0]),
               table(by_capability(MIDDLEMAN_FACTOR, cap), 1.0), manuf, gap, middleman)
    model.spillover_gap = gap
    model.middleman_factor_firm = middleman
    model.cluster_promotion_firm = lazy(by_capability(JOINT_PROMOTION, cap), 0.0)
    model.cluster_skill_mean_firm = lazy(mean_skill, 0.0)
    # ties with banks (dynamic and advanced clusters)
    ties = by_capability(BANK_TIES, cap)
    if ties.any():
        p_tie = table(ties, 0.0)[cl1]
        rows = np.flatnonzero((p_tie > 0) & (f.credit_access[:n] < 2))
        u = model.streams.uniform_rows(model.month, streams.CLUSTER + 60, rows)
        f.credit_access[rows[u < p_tie[rows]]] = 2


# columns of the per-cluster member sums (``_member_sums``)
S_LOGP, S_LOGP2, S_SKILL, S_ONLINE, S_LITERACY, S_FORMAL, S_LEAD = range(7)
N_SUMS = 7


@njit(cache=True, nogil=True, error_model="numpy")
def _member_sums(n, cluster, alive, logp, skill, literacy, stage, credit, size_class, cl1, members1, sums1,
                 max_logp1):
    """``cl1``: cluster id + 1 of alive members, 0 otherwise; per cluster (index cl1) the member
    count, the sums of the ``S_*`` columns and the maximum log productivity, in row order."""
    for i in range(n):
        c = cluster[i] + 1 if alive[i] and cluster[i] >= 0 else 0
        cl1[i] = c
        if c:
            members1[c] += 1
            x = logp[i]
            sums1[c, S_LOGP] += x
            sums1[c, S_LOGP2] += x * x
            sums1[c, S_SKILL] += skill[i]
            sums1[c, S_ONLINE] += 1.0 if stage[i] == 3 else 0.0
            sums1[c, S_LITERACY] += literacy[i]
            sums1[c, S_FORMAL] += 1.0 if credit[i] == 2 else 0.0
            sums1[c, S_LEAD] += 1.0 if size_class[i] >= 1 else 0.0
            if x > max_logp1[c]:
                max_logp1[c] = x


def member_score(mean: np.ndarray) -> np.ndarray:
    """What the members' state supports, 0..1 (seed 003 markers): the share online, mean digital
    skill and literacy, the share with formal credit, and a lead firm (a small or medium member)."""
    w = SCORE_WEIGHTS
    lead = (mean[:, S_LEAD] > 0).astype(np.float64)
    return SCORE_SCALE * (w["online"] * mean[:, S_ONLINE] + w["skill"] * mean[:, S_SKILL]
                          + w["literacy"] * mean[:, S_LITERACY] + w["formal"] * mean[:, S_FORMAL] + w["lead"] * lead)


def _update_capability(ct: ClusterTable, members: np.ndarray, mean: np.ndarray) -> None:
    """Capability moves ``CAPABILITY_ADJUST`` of the way to the members' score plus the cluster's
    institutional quality; a cluster's first month with members fixes what it has not been given
    (its quality: capability less score, so that it starts where it is; its expected members)."""
    score = member_score(mean)
    has = members > 0
    new = has & ~np.isfinite(ct.effect)
    ct.effect[new] = ct.capability[new] - score[new]
    fresh = has & ~np.isfinite(ct.expected)
    ct.expected[fresh] = members[fresh]
    target = np.clip(score + ct.effect, 0.0, 1.0)
    move = has & np.isfinite(ct.effect)
    ct.capability[move] += CAPABILITY_ADJUST * (target[move] - ct.capability[move])
    ct.ctype = type_of(ct.capability)


def agglomeration(mean_size: float, members: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Capacity multiplier from a cluster's size (~3 % per doubling, Ciccone & Hall; FACTS). The size
    is the cluster's represented members, ``mean_size`` scaled by how its membership compares with
    what it was founded with, so that it does not depend on how many firms are simulated."""
    rel = members / np.where(np.isfinite(expected) & (expected > 0), expected, np.maximum(members, 1))
    return np.maximum(mean_size * rel / AGGLO_REF, 1.0) ** AGGLOMERATION


@njit(cache=True, nogil=True, error_model="numpy")
def _spillover(n, absorption, cl1, own_logp, absorbed, alive, frontier1, rate1, middleman1, manuf, gap,
               middleman):
    """Per firm: this month's change of absorbed productivity ``gap`` (moving ``rate`` of the way to
    ``absorption`` (ABSORPTION) times the gap between the cluster frontier and the firm's own log productivity;
    to 0 outside a cluster), added to ``absorbed`` here and to productivity by the learning pass;
    and the middleman factor (per-cluster tables indexed by ``cl1``; row 0 = outside any cluster)."""
    for i in range(n):
        c = cl1[i]
        if not alive[i]:
            gap[i] = 0.0
            middleman[i] = 0.0
            continue
        target = absorption * max(frontier1[c] - own_logp[i], 0.0) if c else 0.0
        d = (target - absorbed[i]) * rate1[c]
        gap[i] = d
        absorbed[i] += d
        middleman[i] = middleman1[c] * (1.0 if manuf[i] else 0.0)
