"""Clusters (GR 7/2021, seed 004; typology of seed 003): membership, shared facilities,
knowledge spillover, joint promotion, bargaining power against middlemen, and type evolution.

Clusters group micro and small manufacturers of one region and product chain. A cluster's type
(artisan -> active -> dynamic -> advanced) sets what membership gives; the type evolves from the
members' state once a year. All per-cluster sums are ``np.bincount`` over the firm rows, so the cost
is linear in firms whatever the number of clusters.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import streams
from .population import BASE_CLUSTER_COVERAGE, MANUFACTURING

# Effects by type: artisan, active, dynamic, advanced (seed 003 cluster table; ODD 7.5).
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
        self.ctype = np.zeros(0, dtype=np.int8)
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

    def add(self, region, sector, ctype, programme: bool) -> np.ndarray:
        k = len(region)
        start = self.n
        self.region = np.concatenate([self.region, np.asarray(region, dtype=np.int16)])
        self.sector = np.concatenate([self.sector, np.asarray(sector, dtype=np.int8)])
        self.ctype = np.concatenate([self.ctype, np.asarray(ctype, dtype=np.int8)])
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


def _assign(model, rows: np.ndarray, u: np.ndarray, mean_size: int, programme: bool, ctype_u=None) -> None:
    """Put firms ``rows`` into clusters of their (region, sector), creating clusters as needed."""
    f, ct = model.firms, model.cluster_table
    if rows.size == 0:
        return
    g = _groups(f, rows)
    for grp in np.unique(g):
        sel = rows[g == grp]
        k = max(1, int(round(sel.size / mean_size)))
        region, sector = divmod(int(grp), 8)
        if ctype_u is None:
            types = np.zeros(k, dtype=np.int8)  # new programme clusters start artisanal
        else:
            types = np.searchsorted(np.cumsum(INITIAL_TYPE_SHARES), ctype_u[:k] if ctype_u.size >= k
                                    else np.resize(ctype_u, k), side="right").clip(0, 3)
        ids = ct.add([region] * k, [sector] * k, types, programme)
        f.cluster[sel] = ids[(u[g == grp] * k).astype(np.int64).clip(0, k - 1)]


def init_clusters(model, rng: np.random.Generator) -> None:
    """Initial clusters: ~30 % of manufacturing micro/small firms (FACTS, village clusters)."""
    f, n = model.firms, model.firms.n
    u = rng.random(n)
    v = rng.random(n)
    tu = rng.random(4096)
    eligible = MANUFACTURING[f.sector[:n]] & (f.size_class[:n] <= 1)
    members = np.flatnonzero(eligible & (u < BASE_CLUSTER_COVERAGE))
    _assign(model, members, v[members], model.p["cluster_mean_size"], programme=False, ctype_u=tu)


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
        model.programme_cluster_ids = model.cluster_table.add(reg, sec, np.zeros(k.sum(), np.int8), True)
    # conditional monthly probability so that share_to_join of the eligible have joined by month 18
    prob = (share_to_join / 18) / max(1e-9, 1 - share_to_join * (t - 1) / 18)
    joiners = np.flatnonzero(eligible & (u < prob))
    if joiners.size:
        v = model.streams.uniform_rows(t, streams.CLUSTER + 20, joiners)  # (the joiners' numbers only)
        join_existing(model, joiners, v, only_programme=True)


def monthly_budget_zero(model) -> bool:
    from .programmes import monthly_budget

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
    # of log productivity and skill (accumulated in row order, as np.bincount does)
    logp = np.log(f.productivity[:n])
    cl1 = np.empty(n, dtype=np.int64)
    members1 = np.zeros(nc + 1, dtype=np.int64)
    sum_logp1 = np.zeros(nc + 1)
    sum_skill1 = np.zeros(nc + 1)
    _member_sums(n, f.cluster, f.alive, logp, f.digital_skill, cl1, members1, sum_logp1, sum_skill1)
    model.cluster_index = cl1
    members = members1[1:]
    ct.members = members
    ct.facility *= 1 - FACILITY_DEPRECIATION
    usage = np.clip(ct.facility / np.maximum(members * FACILITY_NEED, 1.0), 0, 1)
    mean_logp = sum_logp1[1:] / np.maximum(members, 1)
    mean_skill = sum_skill1[1:] / np.maximum(members, 1)
    ctype = ct.ctype

    def table(values: np.ndarray, outside: float) -> np.ndarray:
        return np.concatenate(([outside], values))

    def lazy(values: np.ndarray, outside: float) -> PerFirm:
        return PerFirm(table(values, outside), cl1)

    model.facility_usage_firm = lazy(usage, 0.0)
    model.cluster_coop_firm = lazy(COOPERATION[ctype], 0.0)
    model.cluster_export_firm = lazy(EXPORT_ACCESS[ctype], 0.0)
    model.agglomeration_firm = lazy(np.maximum(members / AGGLO_REF, 1.0) ** AGGLOMERATION, 1.0)
    # spillover: catch-up towards the cluster frontier (mean + 0.15 log points); middlemen keep a
    # margin from manufacturers, less in stronger clusters
    gap = np.empty(n)
    middleman = np.empty(n)
    _spillover(n, cl1, logp, table(mean_logp + 0.15, 0.0), table(SPILLOVER_RATE[ctype], 0.0),
               table(MIDDLEMAN_FACTOR[ctype], 1.0), manuf, gap, middleman)
    model.spillover_gap = gap
    model.middleman_factor_firm = middleman
    model.cluster_promotion_firm = lazy(JOINT_PROMOTION[ctype], 0.0)
    model.cluster_skill_mean_firm = lazy(mean_skill, 0.0)
    # ties with banks (dynamic and advanced clusters)
    ties = BANK_TIES[ctype]
    if ties.any():
        p_tie = table(ties, 0.0)[cl1]
        rows = np.flatnonzero((p_tie > 0) & (f.credit_access[:n] < 2))
        u = model.streams.uniform_rows(model.month, streams.CLUSTER + 60, rows)
        f.credit_access[rows[u < p_tie[rows]]] = 2


@njit(cache=True, nogil=True, error_model="numpy")
def _member_sums(n, cluster, alive, logp, skill, cl1, members1, sum_logp1, sum_skill1):
    """``cl1``: cluster id + 1 of alive members, 0 otherwise; per-cluster (index cl1) member
    counts and sums of log productivity and skill, in row order."""
    for i in range(n):
        c = cluster[i] + 1 if alive[i] and cluster[i] >= 0 else 0
        cl1[i] = c
        if c:
            members1[c] += 1
            sum_logp1[c] += logp[i]
            sum_skill1[c] += skill[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _spillover(n, cl1, logp, frontier1, rate1, middleman1, manuf, gap, middleman):
    """Per firm: the catch-up gap ``max(frontier - log p, 0) * rate`` and the middleman factor
    (per-cluster tables indexed by ``cl1``; row 0 = outside any cluster)."""
    for i in range(n):
        c = cl1[i]
        gap[i] = max(frontier1[c] - logp[i], 0.0) * rate1[c]
        middleman[i] = middleman1[c] * (1.0 if manuf[i] else 0.0)


def evolve_types(model) -> None:
    """Once a year each cluster's type moves one step towards what its members' state supports.

    Score (0..1) from the seed 003 table's markers: digital stage and online sales (external
    networks), a lead firm (a small or medium member), exports, formal credit (ties with banks)
    and literacy (ties with universities and government, via training).
    """
    if model.month % 12 != 0:
        return
    f, n, ct = model.firms, model.firms.n, model.cluster_table
    nc = ct.n
    if nc == 0:
        return
    cl = f.cluster[:n]
    member = (cl >= 0) & f.alive[:n]
    c = cl[member]
    cnt = np.maximum(np.bincount(c, minlength=nc), 1)

    def mean(x):
        return np.bincount(c, weights=x[member].astype(float), minlength=nc) / cnt

    online = mean(f.stage[:n] == 3)
    skill = mean(f.digital_skill[:n])
    lit = mean(f.literacy[:n])
    formal = mean(f.credit_access[:n] == 2)
    exporter = mean(f.export_revenue[:n] > 0)
    lead = np.bincount(c, weights=(f.size_class[:n][member] >= 1).astype(float), minlength=nc) > 0
    score = 0.25 * online + 0.15 * skill + 0.2 * lit + 0.2 * formal + 0.1 * lead + 0.1 * np.minimum(exporter * 5, 1)
    target = np.where(score >= 0.55, 3, np.where(score >= 0.42, 2, np.where(score >= 0.30, 1, 0)))
    ct.ctype = (ct.ctype + np.sign(target - ct.ctype)).astype(np.int8)
