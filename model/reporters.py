"""Headline metrics, computed once a month from the columns (vectorised) and exposed to Mesa's
``DataCollector`` as model-level reporters with stable snake_case names.

Groups (DESIGN.md "Metrics"): growth, dependence, cost-effectiveness and accounting.
"""

from __future__ import annotations

from functools import partial

import mesa
import numpy as np

from . import programmes as pg
from .state import blocks

GROWTH = (
    "value_added", "revenue", "capital", "employment", "productivity", "firms_alive", "survival_rate",
    "exits", "entries", "exit_rate", "upgrades", "upgrades_cumulative", "downgrades",
    "share_micro", "share_small", "share_medium", "share_large",
    "stage_1_share", "stage_2_share", "stage_3_share", "online_sales_share", "export_sales_share",
    "gini_value_added", "regional_disparity", "cluster_member_share",
    "clusters_artisan", "clusters_active", "clusters_dynamic", "clusters_advanced", "internet_penetration",
)
DEPENDENCE = (
    "support_share_income", "support_share_recipients", "recipients_share", "loss_without_support_share",
    "loss_making_share", "chronic_recipient_share", "never_supported_share", "self_reliance", "autonomy",
    "competence", "relatedness", "effort",
)
COST = (
    "budget_spent", "support_delivered", "overhead_cost", "duplication_cost", "capture_cost",
    "budget_spent_cumulative", "jobs_created", "accounting_gap",
)
METRICS: tuple[str, ...] = GROWTH + DEPENDENCE + COST
def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 equal, 1 concentrated).

    Above 2^17 values the sort runs on float32 copies (a third faster; the Gini moves by ~1e-8)."""
    if x.size > 1 << 17:
        x32 = np.maximum(x, 0.0).astype(np.float32)
        x32.sort()
        x = x32.astype(np.float64)
    else:
        x = np.sort(np.maximum(x, 0.0))
    n = x.size
    if n == 0 or x.sum() <= 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum.sum() / cum[-1])) / n)


def metric(model, name: str) -> float:
    """Reporter body: this month's value of metric ``name``."""
    return model.metrics[name]


def reporter(name: str):
    """A picklable DataCollector reporter for metric ``name`` (``partial`` is called with the model)."""
    return partial(metric, name=name)


class MetricsCollector(mesa.DataCollector):
    """Mesa's ``DataCollector`` that appends the month's metrics directly when its model reporters
    are exactly :func:`reporter` partials (the model's own): the same values Mesa's ``collect`` would
    store (floats; its ``deepcopy`` of a float is the float), without one call and one ``deepcopy``
    per metric. Any other reporter (added by a user) makes it fall back to Mesa's ``collect``."""

    def collect(self, model):
        reps = self.model_reporters
        fast = self.__dict__.get("_fast_names")
        if fast is None or fast[0] is not reps or len(fast[1]) != len(reps):
            names = [r.keywords.get("name") if isinstance(r, partial) and r.func is metric else None
                     for r in reps.values()]
            ok = bool(reps) and all(nm == var for nm, var in zip(names, reps))
            fast = self._fast_names = (reps, list(reps) if ok else [])
        if not fast[1] or self.agent_reporters or self.agenttype_reporters:
            return super().collect(model)
        steps = self.__dict__.get("_collection_steps")
        if steps is not None:  # Mesa >= 3.4 records when it collected; batch_run reads it
            steps.append(getattr(model, "time", model.steps))
        m, out = model.metrics, self.model_vars
        for var in fast[1]:
            out[var].append(m[var])


class _Alive:
    """Alive firms' columns, gathered block by block (cache-friendly) and summed deterministically."""

    def __init__(self, model):
        f, n = model.firms, model.firms.n
        self.f, self.n = f, n
        self.sums: dict[str, list] = {}
        self.parts: dict[str, list] = {}
        self.counts: dict[str, list] = {}
        nreg = model.p["n_regions"]
        self.cls = np.zeros(4, dtype=np.int64)
        self.stage = np.zeros(4, dtype=np.int64)
        self.reg_cnt = np.zeros(nreg, dtype=np.int64)
        self.reg_va = np.zeros(nreg)
        self.reg_cap = np.zeros(nreg)
        self.na = 0
        self.init_alive = 0
        self.init_total = 0
        window = np.uint32((1 << 24) - 1)
        chronic = model.p["chronic_months"]
        for sl in blocks(n):
            a = f.alive[sl]
            dead = ~a
            born = f.born[sl]
            self.init_total += int(np.count_nonzero(born == 0))
            self.init_alive += int(np.count_nonzero((born == 0) & a))
            self.na += int(np.count_nonzero(a))
            va = f.value_added[sl] * a
            self.parts.setdefault("va", []).append(va[a])
            for name in ("revenue", "capital", "workers", "online_revenue", "export_revenue", "autonomy",
                         "competence", "relatedness", "effort"):
                self._add(name, (getattr(f, name)[sl] * a).sum())
            self._add("va", va.sum())
            income = np.maximum(va, 0.0)
            self._add("income", income.sum())
            sup = f.support_month[sl] * a
            self._add("sup", sup.sum())
            rec = sup > 0
            self._count("rec", rec)
            if rec.any():
                self._add("rec_share", (sup[rec] / (income[rec] + sup[rec])).sum())
            prof, own = f.profit[sl], f.own_profit[sl]
            self._count("loss_without", (prof >= 0) & (own < 0) & a)
            self._count("loss", (prof < 0) & a)
            months = np.bitwise_count(f.support_mask[sl] & window)
            self._count("chronic", (months >= chronic) & a)
            self._count("never", (f.support_total[sl] <= 0) & a)
            self._count("member", (f.cluster[sl] >= 0) & a)
            self.cls += np.bincount(f.size_class[sl] + 4 * dead, minlength=8)[:4]
            self.stage += np.bincount(f.stage[sl] + 4 * dead, minlength=8)[:4]
            reg = f.region[sl].astype(np.int64)
            self.reg_cnt += np.bincount(reg + nreg * dead, minlength=2 * nreg)[:nreg]
            self.reg_va += np.bincount(reg, weights=va, minlength=nreg)
            self.reg_cap += np.bincount(reg, weights=f.capital[sl] * a, minlength=nreg)

    def _add(self, name, value):
        self.sums.setdefault(name, []).append(float(value))

    def _count(self, name, mask):
        self.counts.setdefault(name, []).append(int(np.count_nonzero(mask)))

    def sum(self, name) -> float:
        v = self.sums.get(name, [0.0])
        if len(v) < 8:  # what np.sum does below 8 items (a plain loop from 0.0), without its call overhead
            r = 0.0
            for x in v:
                r += x
            return float(r)
        return float(np.sum(v))

    def count(self, name) -> int:
        return sum(self.counts.get(name, [0]))

    def values(self, name) -> np.ndarray:
        parts = self.parts.get(name, [])
        return np.concatenate(parts) if parts else np.zeros(0)

    def capital_values(self) -> np.ndarray:
        f, n = self.f, self.n
        return f.capital[:n][f.alive[:n]]


def _cv(v: np.ndarray) -> float:
    """``v.std() / v.mean()`` (0 for fewer than 2 values or a non-positive mean), computed the way
    NumPy computes them (same bits) without the overhead of ``np.std`` on a few dozen values."""
    if v.size < 2:
        return 0.0
    mean = v.sum() / v.size
    if not mean > 0:
        return 0.0
    d = v - mean
    d *= d
    return float(np.sqrt(d.sum() / v.size) / mean)


def compute(model) -> dict[str, float]:
    """All metrics for the current month."""
    f, n, t = model.firms, model.firms.n, model.month
    A = _Alive(model)
    na = A.na
    m: dict[str, float] = {}
    m["value_added"] = A.sum("va")
    m["revenue"] = A.sum("revenue")
    m["capital"] = A.sum("capital")
    emp = A.sum("workers")
    m["employment"] = emp
    m["productivity"] = m["value_added"] / emp if emp > 0 else 0.0
    m["firms_alive"] = float(na)
    m["survival_rate"] = float(A.init_alive / max(A.init_total, 1))
    m["exits"] = float(model.exits_month)
    m["entries"] = float(model.entries_month)
    m["exit_rate"] = float(model.exits_month / max(model.alive_start_month, 1))
    m["upgrades"] = float(model.upgrades_month)
    m["upgrades_cumulative"] = float(model.upgrades_total)
    m["downgrades"] = float(model.downgrades_month)
    cc = A.cls / max(na, 1)
    for i, name in enumerate(("micro", "small", "medium", "large")):
        m[f"share_{name}"] = float(cc[i])
    st = A.stage / max(na, 1)
    for s in (1, 2, 3):
        m[f"stage_{s}_share"] = float(st[s])
    rev = max(m["revenue"], 1e-9)
    m["online_sales_share"] = float(A.sum("online_revenue") / rev) if na else 0.0
    m["export_sales_share"] = float(A.sum("export_revenue") / rev) if na else 0.0
    m["gini_value_added"] = gini(A.values("va")) if t > 0 else gini(A.capital_values())
    cnt = A.reg_cnt
    rva = (A.reg_va if t > 0 else A.reg_cap) / np.maximum(cnt, 1)
    ok = cnt > 0
    m["regional_disparity"] = _cv(rva[ok])
    m["cluster_member_share"] = float(A.count("member") / na) if na else 0.0
    ct = model.cluster_table
    types = np.bincount(ct.ctype[ct.members > 0], minlength=4) if ct.n else np.zeros(4)
    for i, name in enumerate(("artisan", "active", "dynamic", "advanced")):
        m[f"clusters_{name}"] = float(types[i])
    m["internet_penetration"] = float(model.internet)

    # dependence
    sup_sum = A.sum("sup")
    m["support_share_income"] = float(sup_sum / max(A.sum("income") + sup_sum, 1e-9))
    n_rec = A.count("rec")
    m["recipients_share"] = float(n_rec / na) if na else 0.0
    m["support_share_recipients"] = float(A.sum("rec_share") / n_rec) if n_rec else 0.0
    m["loss_without_support_share"] = float(A.count("loss_without") / na) if na else 0.0
    m["loss_making_share"] = float(A.count("loss") / na) if na else 0.0
    m["chronic_recipient_share"] = float(A.count("chronic") / na) if na else 0.0
    m["never_supported_share"] = float(A.count("never") / na) if na else 0.0
    for k in ("autonomy", "competence", "relatedness", "effort"):
        m[k] = float(A.sum(k) / na) if na else 0.0
    m["self_reliance"] = (m["autonomy"] + m["competence"] + m["relatedness"]) / 3

    # cost-effectiveness and accounting
    led = model.ledger[t].sum(axis=0)
    m["budget_spent"] = float(led[pg.SPENT])
    m["support_delivered"] = float(led[pg.SUPPORT])
    m["overhead_cost"] = float(led[pg.OVERHEAD])
    m["duplication_cost"] = float(led[pg.DUPLICATION])
    m["capture_cost"] = float(led[pg.CAPTURE])
    m["budget_spent_cumulative"] = float(model.ledger[: t + 1, :, pg.SPENT].sum())
    m["jobs_created"] = emp - model.employment0 if t > 0 else 0.0
    m["accounting_gap"] = float(led[pg.SPENT] - led[pg.SUPPORT] - led[pg.OVERHEAD] - led[pg.DUPLICATION]
                                - led[pg.CAPTURE])
    return m
