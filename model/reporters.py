"""Headline metrics, computed once a month from the columns (vectorised) and exposed to Mesa's
``DataCollector`` as model-level reporters with stable snake_case names.

Groups (DESIGN.md "Metrics"): growth, dependence, cost-effectiveness and accounting.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from . import programmes as pg
from .learning import dependence_share

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
HEADLINE = ("value_added", "employment", "survival_rate", "upgrades_cumulative", "stage_3_share",
            "support_share_income", "loss_without_support_share", "chronic_recipient_share",
            "self_reliance", "budget_spent_cumulative")


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 equal, 1 concentrated)."""
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


def compute(model) -> dict[str, float]:
    """All metrics for the current month."""
    f, n, t = model.firms, model.firms.n, model.month
    alive = f.alive[:n]
    na = int(alive.sum())
    m: dict[str, float] = {}
    va = f.value_added[:n][alive]
    m["value_added"] = float(va.sum())
    m["revenue"] = float(f.revenue[:n][alive].sum())
    m["capital"] = float(f.capital[:n][alive].sum())
    emp = float(f.workers[:n][alive].sum())
    m["employment"] = emp
    m["productivity"] = m["value_added"] / emp if emp > 0 else 0.0
    m["firms_alive"] = float(na)
    init = f.born[:n] == 0
    m["survival_rate"] = float((alive & init).sum() / max(init.sum(), 1))
    m["exits"] = float(model.exits_month)
    m["entries"] = float(model.entries_month)
    m["exit_rate"] = float(model.exits_month / max(model.alive_start_month, 1))
    m["upgrades"] = float(model.upgrades_month)
    m["upgrades_cumulative"] = float(model.upgrades_total)
    m["downgrades"] = float(model.downgrades_month)
    cls = f.size_class[:n][alive]
    cc = np.bincount(cls, minlength=4) / max(na, 1)
    for i, name in enumerate(("micro", "small", "medium", "large")):
        m[f"share_{name}"] = float(cc[i])
    st = np.bincount(f.stage[:n][alive], minlength=4) / max(na, 1)
    for s in (1, 2, 3):
        m[f"stage_{s}_share"] = float(st[s])
    rev = max(m["revenue"], 1e-9)
    m["online_sales_share"] = float(f.online_revenue[:n][alive].sum() / rev) if na else 0.0
    m["export_sales_share"] = float(f.export_revenue[:n][alive].sum() / rev) if na else 0.0
    m["gini_value_added"] = gini(va) if t > 0 else gini(f.capital[:n][alive])
    reg = f.region[:n][alive]
    nreg = model.p["n_regions"]
    cnt = np.bincount(reg, minlength=nreg)
    rva = np.bincount(reg, weights=va if t > 0 else f.capital[:n][alive], minlength=nreg) / np.maximum(cnt, 1)
    ok = cnt > 0
    m["regional_disparity"] = float(rva[ok].std() / rva[ok].mean()) if ok.sum() > 1 and rva[ok].mean() > 0 else 0.0
    m["cluster_member_share"] = float((f.cluster[:n][alive] >= 0).mean()) if na else 0.0
    ct = model.cluster_table
    types = np.bincount(ct.ctype[ct.members > 0], minlength=4) if ct.n else np.zeros(4)
    for i, name in enumerate(("artisan", "active", "dynamic", "advanced")):
        m[f"clusters_{name}"] = float(types[i])
    m["internet_penetration"] = float(model.internet)

    # dependence
    sup = f.support_month[:n][alive]
    income = np.maximum(va, 0.0)
    m["support_share_income"] = float(sup.sum() / max(income.sum() + sup.sum(), 1e-9))
    rec = sup > 0
    m["recipients_share"] = float(rec.mean()) if na else 0.0
    m["support_share_recipients"] = float((sup[rec] / (income[rec] + sup[rec])).mean()) if rec.any() else 0.0
    prof = f.profit[:n][alive]
    own = f.own_profit[:n][alive]
    m["loss_without_support_share"] = float(((prof >= 0) & (own < 0)).mean()) if na else 0.0
    m["loss_making_share"] = float((prof < 0).mean()) if na else 0.0
    window = np.uint32((1 << 24) - 1)
    months = np.bitwise_count(f.support_mask[:n][alive] & window)
    m["chronic_recipient_share"] = float((months >= model.p["chronic_months"]).mean()) if na else 0.0
    m["never_supported_share"] = float((f.support_total[:n][alive] <= 0).mean()) if na else 0.0
    for k in ("autonomy", "competence", "relatedness", "effort"):
        m[k] = float(getattr(f, k)[:n][alive].mean()) if na else 0.0
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


def dependence(model) -> np.ndarray:
    """Per-firm dependence share (for agents and the app)."""
    return dependence_share(model.firms, model.firms.n)
