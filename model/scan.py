"""The end-of-month pass over the firm rows, compiled with Numba: bookkeeping and metric sums.

At the end of a month the model updates each firm's running records (size class from capital,
upgrades, cumulative and moving-average support, the 32-month support mask, the moving average of
income, the firm's record from before its first support) and then sums the alive firms' columns
into the month's metrics, over all firms and over recipients (firms supported in the last 12
months). Written with NumPy this is some 60 passes over the rows and a fifth of a month's time at
10^6 firms; here it is one loop that reads each row once. The rules are exactly those of the NumPy
version they replace (same values; sums are accumulated in row order, so they differ from NumPy's
pairwise sums by rounding only).

The kernel is compiled on first use and cached next to this file (``cache=True``), so a fresh
installation compiles once (a few seconds) and later processes load it in milliseconds.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .params import CLASS_CAPITAL_LIMITS

# indices of the float sums in ``Scan.sums``
SUM_NAMES = ("va", "revenue", "capital", "workers", "online_revenue", "export_revenue", "autonomy",
             "competence", "relatedness", "effort", "income", "sup", "rec_dep", "rec_effort", "rec_sr",
             "rec_effort_change", "nonrec_effort")
# indices of the counts in ``Scan.counts``
COUNT_NAMES = ("alive", "init_total", "init_alive", "sup_month", "loss_without", "loss", "chronic", "never",
               "member", "ups", "downs", "rec", "rec_dep_high", "rec_chronic", "rec_eligible", "rec_loss",
               "nonrec_loss")
# a recipient: supported in at least one of the last 12 months (bit 0 of the support mask = this month)
RECIPIENT_WINDOW = np.uint32((1 << 12) - 1)
# a recipient whose support is above this share of its income counts in ``rec_dep_high``
HIGH_DEPENDENCE = 0.10
_S = {name: i for i, name in enumerate(SUM_NAMES)}
_C = {name: i for i, name in enumerate(COUNT_NAMES)}
_LIMITS = np.asarray(CLASS_CAPITAL_LIMITS, dtype=np.float64)


def check_rows(n: int, where: str, **arrays) -> None:
    """Raise if a per-firm array handed to a compiled loop has fewer than ``n`` rows (compiled loops
    do not check bounds: a stale array from before this month's entrants would be read past its end)."""
    for name, a in arrays.items():
        if np.shape(a)[0] < n:
            raise RuntimeError(f"{where}: {name} has {np.shape(a)[0]} rows, the firm table {n}; "
                               "monthly stages must run in the order of MSMEEcosystem.step")


@njit(cache=True, nogil=True, error_model="numpy")
def _scan(n, initial, ewm, chronic, limits, rec_window, high_dep,
          alive, born, capital, size_class, max_class, upgrades, support_month, support_total, support_mask,
          support_ewm, income_ewm, value_added, revenue, workers, online_revenue, export_revenue,
          autonomy, competence, relatedness, effort, profit, own_profit, cluster, stage, region,
          ever_supported, pre_support_loss, pre_support_effort,
          sums, counts, cls, stages, reg_cnt, reg_va, va_alive):
    """Bookkeeping for rows ``0..n-1`` (``initial``: month 0, class only), then the alive rows' sums.

    Writes the alive rows' value added, in row order, to ``va_alive`` and returns how many."""
    window = np.uint32((1 << 24) - 1)
    # accumulators are local variables (registers), written to the output arrays once at the end
    va_sum = rev_sum = cap_sum = workers_sum = online_sum = export_sum = 0.0
    aut_sum = comp_sum = rel_sum = effort_sum = income_sum = sup_sum = 0.0
    rec_dep = rec_effort = rec_sr = rec_effort_change = nonrec_effort = 0.0
    n_alive = init_total = init_alive = n_sup = loss_without = loss = chronic_n = never = member = 0
    ups = downs = 0
    n_rec = rec_dep_high = rec_chronic = rec_eligible = rec_loss = nonrec_loss = 0
    k = 0
    for i in range(n):
        a = alive[i]
        # size class from capital: number of limits strictly below it (GR 7/2021)
        c = capital[i]
        new = 0
        for lim in limits:
            if c > lim:
                new += 1
        old = size_class[i]
        if not initial:
            if a and new > old:
                ups += 1
                upgrades[i] += 1
            elif a and new < old:
                downs += 1
            sup = support_month[i]
            support_total[i] += sup
            support_mask[i] = (support_mask[i] << np.uint32(1)) | np.uint32(1 if sup > 0 else 0)
            support_ewm[i] += ewm * (sup - support_ewm[i])
            income_ewm[i] += ewm * (max(value_added[i], 0.0) - income_ewm[i])
        # the firm as it was before its first support: recorded at the end of every month until
        # support first arrives, then frozen
        if not ever_supported[i]:
            if support_month[i] > 0:
                ever_supported[i] = True
            else:
                pre_support_loss[i] = own_profit[i] < 0
                pre_support_effort[i] = effort[i]
        if a:
            size_class[i] = new
        if size_class[i] > max_class[i]:
            max_class[i] = size_class[i]

        # metrics: alive firms (and the initial population's survival); counts are added as 0/1
        # rather than branched on (several of these tests go either way at random)
        initial_firm = born[i] == 0
        init_total += initial_firm
        init_alive += initial_firm and a
        if not a:
            continue
        n_alive += 1
        va = value_added[i]
        va_alive[k] = va
        k += 1
        va_sum += va
        rev_sum += revenue[i]
        cap_sum += c
        workers_sum += workers[i]
        online_sum += online_revenue[i]
        export_sum += export_revenue[i]
        aut_sum += autonomy[i]
        comp_sum += competence[i]
        rel_sum += relatedness[i]
        effort_sum += effort[i]
        income = max(va, 0.0)
        income_sum += income
        sup = support_month[i]
        sup_sum += sup
        n_sup += sup > 0
        pr = profit[i]
        own_loss = own_profit[i] < 0
        loss_without += (pr >= 0) & own_loss
        loss += pr < 0
        # months with support among the last 24 (bit count, branch-free)
        m = np.uint32(support_mask[i] & window)
        m = m - ((m >> np.uint32(1)) & np.uint32(0x55555555))
        m = (m & np.uint32(0x33333333)) + ((m >> np.uint32(2)) & np.uint32(0x33333333))
        m = (m + (m >> np.uint32(4))) & np.uint32(0x0F0F0F0F)
        bits = np.uint32(m * np.uint32(0x01010101)) >> np.uint32(24)
        is_chronic = bits >= chronic
        chronic_n += is_chronic
        # recipients (supported in the last 12 months) and the other firms
        e = effort[i]
        if support_mask[i] & rec_window:
            n_rec += 1
            s = support_ewm[i]
            dep = s / (max(income_ewm[i], 0.0) + s + 1.0)  # the dependence the effort rule reads (learning.py)
            rec_dep += dep
            rec_dep_high += dep > high_dep
            rec_chronic += is_chronic
            rec_effort += e
            rec_sr += (autonomy[i] + competence[i] + relatedness[i]) / 3.0
            rec_effort_change += e - pre_support_effort[i]
            if not pre_support_loss[i]:
                rec_eligible += 1
                rec_loss += own_loss
        else:
            nonrec_effort += e
            nonrec_loss += own_loss
        never += support_total[i] <= 0
        member += cluster[i] >= 0
        cls[size_class[i]] += 1
        stages[stage[i]] += 1
        r = region[i]
        reg_cnt[r] += 1
        reg_va[r] += va
    sums[0] += va_sum
    sums[1] += rev_sum
    sums[2] += cap_sum
    sums[3] += workers_sum
    sums[4] += online_sum
    sums[5] += export_sum
    sums[6] += aut_sum
    sums[7] += comp_sum
    sums[8] += rel_sum
    sums[9] += effort_sum
    sums[10] += income_sum
    sums[11] += sup_sum
    sums[12] += rec_dep
    sums[13] += rec_effort
    sums[14] += rec_sr
    sums[15] += rec_effort_change
    sums[16] += nonrec_effort
    counts[0] += n_alive
    counts[1] += init_total
    counts[2] += init_alive
    counts[3] += n_sup
    counts[4] += loss_without
    counts[5] += loss
    counts[6] += chronic_n
    counts[7] += never
    counts[8] += member
    counts[9] += ups
    counts[10] += downs
    counts[11] += n_rec
    counts[12] += rec_dep_high
    counts[13] += rec_chronic
    counts[14] += rec_eligible
    counts[15] += rec_loss
    counts[16] += nonrec_loss
    return k


class Scan:
    """The result of one end-of-month pass: sums, counts and per-class/stage/region tallies of the
    alive firms, and their value added (for the Gini coefficient)."""

    def __init__(self, model, initial: bool = False, ewm: float = 1.0 / 12.0):
        f, n = model.firms, model.firms.n
        nreg = model.p["n_regions"]
        self.sums_ = np.zeros(len(SUM_NAMES))
        self.counts_ = np.zeros(len(COUNT_NAMES), dtype=np.int64)
        self.cls = np.zeros(4, dtype=np.int64)
        self.stage = np.zeros(4, dtype=np.int64)
        self.reg_cnt = np.zeros(nreg, dtype=np.int64)
        self.reg_va = np.zeros(nreg)
        buf = model.__dict__.get("_va_buffer")
        if buf is None or buf.size < n:
            buf = model._va_buffer = np.empty(max(n, int(n * 1.25) + 16))
        k = _scan(n, initial, ewm, int(model.p["chronic_months"]), _LIMITS, RECIPIENT_WINDOW, HIGH_DEPENDENCE,
                  f.alive, f.born, f.capital, f.size_class, f.max_class, f.upgrades, f.support_month,
                  f.support_total, f.support_mask, f.support_ewm, f.income_ewm, f.value_added, f.revenue,
                  f.workers, f.online_revenue, f.export_revenue, f.autonomy, f.competence, f.relatedness,
                  f.effort, f.profit, f.own_profit, f.cluster, f.stage, f.region,
                  f.ever_supported, f.pre_support_loss, f.pre_support_effort,
                  self.sums_, self.counts_, self.cls, self.stage, self.reg_cnt, self.reg_va, buf)
        self.va_alive = buf[:k]
        self.na = int(self.counts_[0])
        self.init_total = int(self.counts_[1])
        self.init_alive = int(self.counts_[2])

    def sum(self, name: str) -> float:
        return float(self.sums_[_S[name]])

    def count(self, name: str) -> int:
        return int(self.counts_[_C[name]])

