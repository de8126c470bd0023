"""Initial population and entrants, drawn from the published figures in ``shared/FACTS.md``.

Every figure used here is named next to the number (see ODD section 5 "Initialisation").
"""

from __future__ import annotations

import numpy as np

from .params import CLASS_CAPITAL_LIMITS, SECTORS
from .state import FirmState, size_class

# Firms by class, 2019 (FACTS: 64.6 M micro, 798.7 k small, 65.5 k medium). Large firms are not MSMEs.
CLASS_COUNTS_2019 = np.array([64.6e6, 798.7e3, 65.5e3])
CLASS_SHARES = CLASS_COUNTS_2019 / CLASS_COUNTS_2019.sum()
# Workers per firm, 2019 (FACTS: micro 109.8 M / 64.6 M = 1.70; small 5.93 M / 798.7 k = 7.42;
# medium 3.79 M / 65.5 k = 57.9). Drawn as minimum + Poisson so the class means match.
WORKER_MIN = np.array([1.0, 5.0, 20.0])
WORKER_EXTRA_MEAN = np.array([0.70, 2.42, 37.9])
# Digital stage shares at the start (Oct 2020, FACTS: 9.4 M = 14.6 % sell online -> stage 3.0).
# Stage 2.0 (basic digital tools, seed 000) has no national figure: 25 % is an assumption.
STAGE3_SHARE = 0.146
STAGE2_SHARE = 0.25
# Credit (FACTS, BRI 2018: of 57 M needing capital, 15 M formal access, 5 M moneylenders).
FORMAL_CREDIT_SHARE = 15 / 57
MONEYLENDER_SHARE = 5 / 57
# Business licence (NIB) holders: no FACTS figure; assumption 30 % for micro, 90 % small+.
LICENSED_SHARE = np.array([0.30, 0.9, 0.95])
# Sector shares (assumption; manufacturing sectors 0-3 can cluster and sell through middlemen).
SECTOR_SHARES = np.array([0.30, 0.12, 0.08, 0.10, 0.40])
MANUFACTURING = np.array([True, True, True, True, False])
# Value added per unit of output by sector (assumption, typical input-output shares).
VA_SHARE = np.array([0.40, 0.42, 0.50, 0.38, 0.30])
# Initial cluster coverage of manufacturing micro/small firms. FACTS: 63 % of small-industry
# employment is in village clusters (Burger, Kameo & Sandee 1999) -> coverage by firms ~30 %.
BASE_CLUSTER_COVERAGE = 0.30
assert len(SECTOR_SHARES) == len(SECTORS)


def region_layout(n_regions: int) -> dict[str, np.ndarray]:
    """Regions from core (Java-like, 0) to remote (1): firm weights, remoteness, internet and demand factors."""
    remoteness = np.linspace(0.0, 1.0, n_regions) if n_regions > 1 else np.zeros(1)
    weight = np.exp(-1.6 * remoteness)
    weight /= weight.sum()
    return {
        "remoteness": remoteness,
        "weight": weight,
        "weight_cdf": _cdf(weight),  # for drawing regions (population._choice)
        # internet penetration relative to national: core above, remote below (BPS pattern, seed 003)
        "internet_factor": 1.2 - 0.6 * remoteness,
    }


def workers_for_capital(capital: np.ndarray) -> np.ndarray:
    """Target workforce for a capital stock: a log-linear curve through the class means (FACTS)."""
    logk = np.log(np.maximum(capital, 1.0))
    if np.ndim(logk) == 0 or _LOG_KNOTS.size > 100:
        return np.interp(logk, _LOG_KNOTS, _KNOT_WORKERS)
    return _WORKER_CURVE(logk)


# target workforce against log capital: a log-linear curve through the class means (FACTS)
_LOG_KNOTS = np.log([5e6, 3e7, 3e8, 1e9, 2.5e9, 5e9, 7.5e9, 1e10, 5e10])
_KNOT_WORKERS = np.array([1.3, 1.75, 3.0, 4.5, 7.5, 15.0, 50.0, 80.0, 250.0])
WORKER_CURVE = (_LOG_KNOTS, _KNOT_WORKERS)  # (log capital, workers) knots, for compiled loops


def interp_few_knots(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, fp)``, bit for bit, faster for a few knots and unsorted ``x``."""
    return _FewKnots(xp, fp)(x)


class _FewKnots:
    """``np.interp(x, xp, fp)`` for fixed knots, bit for bit, faster for a few knots and unsorted ``x``.

    The segment of each value is found by counting the knots at or below it (branch-free), then
    the value is ``slope * (x - xp[j]) + fp[j]`` with NumPy's slopes; outside the knots it is the
    end value. The per-segment tables are computed once.
    """

    def __init__(self, xp: np.ndarray, fp: np.ndarray):
        slopes = (fp[1:] - fp[:-1]) / (xp[1:] - xp[:-1])
        self.xp = xp
        self.s_ext = np.concatenate(([0.0], slopes, [0.0]))
        self.x_ext = np.concatenate(([0.0], xp[:-1], [0.0]))
        self.y_ext = np.concatenate(([fp[0]], fp[:-1], [fp[-1]]))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        j = np.zeros(x.shape, dtype=np.int8)
        for k in self.xp:
            j += x >= k
        j = j.astype(np.intp)
        out = x - self.x_ext.take(j)
        out *= self.s_ext.take(j)
        out += self.y_ext.take(j)
        return out


_WORKER_CURVE = _FewKnots(_LOG_KNOTS, _KNOT_WORKERS)


def _draw_capital(rng: np.random.Generator, cls: np.ndarray) -> np.ndarray:
    n = cls.size
    m = cls == 0
    k = int(np.count_nonzero(m))
    # micro: lognormal, median Rp 25 M, truncated to (2 M, 1 bn]
    micro = np.clip(np.exp(_LOG_MICRO_MEDIAN + 1.15 * rng.standard_normal(k)), 2e6, CLASS_CAPITAL_LIMITS[0])
    if k == n:  # all micro (entrants): the draws below would be of size 0
        return micro
    cap = np.empty(n)
    cap[m] = micro
    for c, (lo, hi) in ((1, (1e9, 5e9)), (2, (5e9, 10e9))):
        mc = cls == c
        cap[mc] = np.exp(rng.uniform(np.log(lo * 1.02), np.log(hi), mc.sum()))
    return cap


_LOG_MICRO_MEDIAN = np.log(25e6)


def _cdf(p: np.ndarray) -> np.ndarray:
    """Cumulative shares as ``rng.choice`` computes them."""
    cdf = np.cumsum(p, dtype=np.float64)
    cdf /= cdf[-1]
    return cdf


def _choice(rng: np.random.Generator, p: np.ndarray, n: int, cdf: np.ndarray | None = None) -> np.ndarray:
    """``rng.choice(len(p), size=n, p=p)``, bit for bit and with the same draws (NumPy's algorithm:
    one uniform per firm through the cumulative shares), without its per-call checks of ``p``
    (``cdf``: ``_cdf(p)`` if already known)."""
    cdf = _cdf(p) if cdf is None else cdf
    return cdf.searchsorted(rng.random(n), side="right").astype(np.int64)


_SECTOR_CDF = _cdf(SECTOR_SHARES)


TFP_SD = 0.30  # s.d. of log TFP (assumption, v1)
# Ages of the initial firms: the stationary age distribution of a population with constant entry and
# a death rate of 8 % a year (McKenzie & Paffhausen 2019; FACTS), 1.5 times higher in the first two
# years (young firms die more: Haltiwanger, Jarmin & Miranda 2013); ages up to 50 years. This gives
# ~16 % of firms under 2 years and ~35 % under 5 (assumption 35-45 %, docs/literature/core_v2_sources.md).
AGE_DEATH_RATE = 1.0 - 0.92 ** (1.0 / 12.0)   # monthly, mature firms
_AGE_MONTHS = np.arange(600)
_AGE_HAZARD = np.where(_AGE_MONTHS < 24, 1.5, 1.0) * AGE_DEATH_RATE
_AGE_CDF = np.cumsum(np.exp(-np.concatenate(([0.0], np.cumsum(_AGE_HAZARD)[:-1]))))
_AGE_CDF /= _AGE_CDF[-1]


def initial_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Months in business of ``n`` initial firms, drawn from the stationary age distribution."""
    return _AGE_CDF.searchsorted(rng.random(n), side="right").astype(np.int32)


def fill_firms(state: FirmState, rows: slice, rng: np.random.Generator, regions: dict, month: int,
               internet: float, entrants: bool, price_sensitivity: float = 2.0) -> None:
    """Draw the attributes of new firms (initial population or entrants) into ``rows``.

    Initial firms' TFP is drawn correlated with their scale (capital and workers): their month-0
    customers are proportional to capacity, and with the choice rule of ``demand.py`` (customers
    ~ efficiency^price_sensitivity x appeal) the covariance that makes their appeal independent of
    TFP is ``(price_sensitivity - 1) var(log TFP)`` with log scale. Larger firms are then more
    productive on average (Hsieh & Olken 2014, Indonesia), and the month-0 joint distribution of
    TFP and appeal is one the monthly rules keep (appeal and TFP move independently).

    Entrants are all micro (class 0): the terms in ``cls`` are then 0 and left out (adding 0.0
    changes nothing), which saves a NumPy call each on a few rows a month."""
    n = rows.stop - rows.start
    if n <= 0:
        return
    if entrants:
        cls = np.zeros(n, dtype=np.int8)  # entrants are micro
    else:
        cls = _choice(rng, CLASS_SHARES, n).astype(np.int8)
    region = _choice(rng, regions["weight"], n, regions.get("weight_cdf"))
    state.region[rows] = region
    state.sector[rows] = _choice(rng, SECTOR_SHARES, n, _SECTOR_CDF)
    capital = _draw_capital(rng, cls)
    if entrants:
        capital = np.clip(capital * 0.6, 2e6, CLASS_CAPITAL_LIMITS[0])
    state.capital[rows] = capital
    if entrants:  # one mean for all: the same draws as per-firm means (NumPy draws them one by one)
        state.workers[rows] = WORKER_MIN[0] + rng.poisson(WORKER_EXTRA_MEAN[0], n)
    else:
        state.workers[rows] = WORKER_MIN[cls] + rng.poisson(WORKER_EXTRA_MEAN[cls])
    z = rng.standard_normal(n)
    if entrants:
        state.productivity[rows] = np.exp(TFP_SD * z - 0.045)
    else:
        log_scale = 0.45 * np.log(np.maximum(capital, 1.0)) + 0.55 * np.log(np.maximum(state.workers[rows], 1.0))
        v = float(log_scale.var()) if n > 1 else 0.0
        beta = (price_sensitivity - 1.0) * TFP_SD ** 2 / v if v > 0 else 0.0
        beta = min(max(beta, 0.0), TFP_SD / np.sqrt(v)) if v > 0 else 0.0  # at most a correlation of 1
        resid = np.sqrt(max(TFP_SD ** 2 - beta * beta * v, 0.0))
        state.productivity[rows] = np.exp(beta * (log_scale - log_scale.mean()) + resid * z - 0.045)
    size = cls if entrants else size_class(capital)  # entrants' capital is clipped to the micro limit
    state.size_class[rows] = size
    state.initial_class[rows] = size
    state.max_class[rows] = size
    remote = regions["remoteness"][region]
    skill = rng.beta(2.0, 3.0, n) * (1.0 - 0.3 * remote)
    if not entrants:
        skill += 0.08 * cls
    skill = np.clip(skill, 0.0, 1.0)
    state.digital_skill[rows] = skill
    literacy = rng.beta(2.0, 3.0, n)
    if not entrants:
        literacy += 0.12 * cls
    literacy = np.clip(literacy, 0.0, 1.0)
    state.literacy[rows] = literacy
    # digital stage: the most skilled firms in well-connected places are the ones online
    readiness = skill + 0.3 * (1 - remote) + 0.25 * rng.random(n)
    scale = internet / 0.537  # entrants later find a more connected country
    s3 = min(STAGE3_SHARE * scale, 0.9)
    s2 = min(STAGE2_SHARE * scale, 0.95 - s3)
    order = np.argsort(-readiness, kind="stable")
    stage = np.ones(n, dtype=np.int8)
    k3, k2 = int(round(s3 * n)), int(round(s2 * n))
    stage[order[:k3]] = 3
    stage[order[k3:k3 + k2]] = 2
    state.stage[rows] = stage
    u = rng.random(n)
    formal_p = FORMAL_CREDIT_SHARE * (0.6 + 0.8 * literacy)
    if not entrants:
        formal_p += 0.5 * cls
    formal_p = np.clip(formal_p, 0, 0.98)
    access = np.where(u < formal_p, 2, np.where(u < formal_p + MONEYLENDER_SHARE, 1, 0)).astype(np.int8)
    state.credit_access[rows] = access
    state.licensed[rows] = rng.random(n) < LICENSED_SHARE[cls]
    debt_ratio = np.where(access == 2, 0.25, np.where(access == 1, 0.05, 0.0)) * rng.random(n) * 2
    state.debt[rows] = capital * debt_ratio
    state.debt_rate[rows] = np.where(access == 1, 0.6, 0.14)
    state.autonomy[rows] = rng.beta(4.0, 3.0, n)
    state.competence[rows] = np.clip(0.5 * rng.beta(4.0, 3.0, n) + 0.5 * literacy, 0, 1)
    state.relatedness[rows] = rng.beta(3.0, 3.0, n)
    state.effort[rows] = 0.6
    state.reputation[rows] = np.where(stage == 3, 0.2 + 0.4 * rng.random(n), 0.0)
    state.utilisation[rows] = 0.8
    state.alive[rows] = True
    state.born[rows] = month
    state.died[rows] = -1
    if not entrants:  # initial firms have been in business for a while (entrants start at age 0)
        state.age0[rows] = initial_ages(rng, n)
