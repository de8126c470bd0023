"""The instruments as data: one table (:data:`TABLE`) and the rules it names.

Each instrument has a unit cost (IDR per firm served), a benefit duration (months a firm counts as
served: the registry's and the duplicates' window), its own eligibility rule beyond the shared base
(alive and not above ``max_eligible_class``), the binding constraint it relieves (what a council
observes and the platform matches on) and its effect on the firm. The rules are plain functions
below, one per name, in :data:`ELIGIBILITY`, :data:`CONSTRAINTS` and :data:`EFFECTS`; sources of
every number in ODD section 7.4. The delivery lag is not an instrument's: it is the delivery
mode's (``central_lag_months`` for the ministries, ``local_lag_months`` for councils and the
platform), the same for every instrument.

Adding an instrument: a row here, its name in ``params.INSTRUMENTS`` (same order) and its
``mix_<name>`` lever, and a ``receive`` branch in the reference engine (``model/reference.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import finance, streams
from ..marketplaces import join_marketplace, promotion_visibility
from ..params import INSTRUMENT_INDEX, INSTRUMENTS, N_INSTRUMENTS, SIZE_CLASSES


@dataclass(frozen=True)
class Instrument:
    """One row of the instrument table."""

    name: str
    unit_cost: float         # IDR per firm served (NaN: it depends on the firm, see unit_costs)
    duration: int            # months a firm counts as served ("mo." in the table)
    eligibility: str | None  # its own eligibility rule (ELIGIBILITY), beyond the shared base; None: the base only
    constraint: str          # the binding constraint it relieves (CONSTRAINTS)
    effect: str              # what a unit does to the firm (EFFECTS)
    unit: str                # what one unit is


TABLE = (
    #          name                   IDR     mo. own rule                constraint relieved     effect
    Instrument("market_access",       3.0e6,  6,  None,                   "spare_capacity",       "market_reach",
               "trade-fair / procurement matchmaking package"),
    Instrument("hr_training",         2.5e6,  12, None,                   "low_skill",            "training",
               "a training course (seed 001 group 2)"),
    Instrument("product_development", 5.0e6,  12, None,                   "low_productivity",     "upgrading",
               "product/process upgrading, certification"),
    Instrument("licensing",           0.5e6,  60, "unlicensed",           "unlicensed",           "licence",
               "NIB and permits facilitation (seed 000 PAS step 4)"),
    Instrument("financing",           1.5e6,  24, "no_formal_credit",     "credit_constrained",   "bank_linkage",
               "credit-guarantee fee and bank linkage"),
    Instrument("logistics",           1.5e6,  6,  None,                   "remote_online_seller", "shipping",
               "shipping subsidy package"),
    Instrument("kur_credit",          np.nan, 24, "bank_screening",       "credit_constrained",   "kur_loan",
               "interest subsidy value, depends on the loan (see unit_costs)"),
    Instrument("grants",              2.4e6,  12, None,                   "loss_making",          "cash",
               "BPUM 2020: Rp 2.4 M per micro firm"),
    Instrument("tax_relief",          0.3e6,  1,  None,                   "loss_making",          "cash",
               "one month of tax / utility relief"),
    Instrument("ecommerce_promotion", 1.5e6,  6,  "online_or_onboarding", "offline_or_invisible", "promotion",
               "promotion package (social media, ads, email; seed 003)"),
    Instrument("shared_facilities",   4.0e6,  12, "cluster_member",       "facility_underused",   "facility",
               "a member's share of a shared production facility (seed 004)"),
)
BY_NAME = {i.name: i for i in TABLE}
UNIT = np.array([i.unit_cost for i in TABLE])
DUR = np.array([i.duration for i in TABLE], dtype=np.int32)
I = INSTRUMENT_INDEX
KUR_TERM_YEARS = 2.0
KUR_MIN, KUR_MAX = 10e6, 500e6  # KUR micro from Rp 10 M up to KUR small Rp 500 M


# ----------------------------------------------------------------------------------------------
# eligibility: each instrument's own rule beyond the shared base; ``c(name)`` reads a firm column
# over the rows in question (:func:`_cols`)
def _bank_screening(model, c):
    """KUR: the bank screens -- licensed, profitable, not over-indebted."""
    return c("licensed") & (c("own_profit") > 0) & (c("debt") < 0.5 * c("capital"))


def _online_or_onboarding(model, c):
    """Selling online, or with basic digital tools if the onboarding lever is on."""
    stage = c("stage")
    return (stage == 3) | ((stage == 2) & model.p["ecommerce_onboarding"])


def _cluster_member(model, c):
    return c("cluster") >= 0


def _unlicensed(model, c):
    return ~c("licensed")


def _no_formal_credit(model, c):
    return c("credit_access") < 2


ELIGIBILITY = {"bank_screening": _bank_screening, "online_or_onboarding": _online_or_onboarding,
               "cluster_member": _cluster_member, "unlicensed": _unlicensed, "no_formal_credit": _no_formal_credit}


# ----------------------------------------------------------------------------------------------
# binding constraints: what a council observes among its own firms (seed 001, self-governance)
# and what the collaborative platform's matching uses (seed 000); ``rows``: the rows ``c`` reads
# (None: all used rows)
def _low_skill(model, c, rows):
    return (c("digital_skill") < 0.35) | (c("literacy") < 0.35)


def _offline_or_invisible(model, c, rows):
    stage = c("stage")
    return (stage == 2) | ((stage == 3) & (c("visibility") < 0.5))


def _spare_capacity(model, c, rows):
    return c("utilisation") < 0.75


def _credit_constrained(model, c, rows):
    return (c("credit_access") < 2) & (c("utilisation") > 0.9) & (c("own_profit") > 0)


def _not_licensed(model, c, rows):
    return ~c("licensed")


def _low_productivity(model, c, rows):
    return c("productivity") < 0.9


def _remote_online_seller(model, c, rows):
    return (c("stage") == 3) & (model.region_remoteness[c("region")] > 0.5)


def _loss_making(model, c, rows):
    return c("own_profit") < 0


def _facility_underused(model, c, rows):
    usage = np.asarray(model.facility_usage_firm) if rows is None else model.facility_usage_firm[rows]
    return (c("cluster") >= 0) & (usage < 0.5)


CONSTRAINTS = {"low_skill": _low_skill, "offline_or_invisible": _offline_or_invisible,
               "spare_capacity": _spare_capacity, "credit_constrained": _credit_constrained,
               "unlicensed": _not_licensed, "low_productivity": _low_productivity,
               "remote_online_seller": _remote_online_seller, "loss_making": _loss_making,
               "facility_underused": _facility_underused}


# ----------------------------------------------------------------------------------------------
# effects: what a unit does to the firms paid (``rows``, all different; ``amounts`` beside them).
# Each changes only those firms and, for shared facilities, their clusters' facility (added in
# the order of ``rows``); none reads what another firm's effect writes. This is what lets
# ``pipeline.deliver`` pay several programmes' firms in one call. Sources: ODD 7.4.
def _market_reach(model, rows, amounts):
    f = model.firms
    f.market_reach[rows] = np.minimum(f.market_reach[rows] + 0.4, 1.5)


def _training(model, rows, amounts):
    f = model.firms
    f.digital_skill[rows] += 0.25 * (1 - f.digital_skill[rows])
    f.literacy[rows] += 0.20 * (1 - f.literacy[rows])
    f.competence[rows] += 0.10 * (1 - f.competence[rows])


def _upgrading(model, rows, amounts):
    f = model.firms
    f.productivity[rows] *= np.exp(0.05 * (0.5 + f.literacy[rows]))  # absorptive capacity


def _licence(model, rows, amounts):
    model.firms.licensed[rows] = True


def _bank_linkage(model, rows, amounts):
    f = model.firms
    u = model.streams.uniform_rows(model.month, streams.FINANCE, rows)
    f.credit_access[rows] = np.where(u < 0.6, 2, f.credit_access[rows])


def _shipping(model, rows, amounts):
    f = model.firms
    f.logistics[rows] = np.minimum(f.logistics[rows] + 0.5, 1.0)


def _kur_loan(model, rows, amounts):
    f = model.firms
    # a KUR loan record (finance.LENDERS), invested in capital at once; in the shock the KUR banks
    # cut loans by the credit tightening (the subsidy booked is the approved loan's)
    loan = kur_loan(f.capital[rows]) * (1.0 - model.p["shock_credit_tightening"] * model.shock)
    finance.kur_loans(model, rows, loan)


def _cash(model, rows, amounts):
    """Grants and tax relief (the ``cash`` effect of both)."""
    f = model.firms
    f.support_cash[rows] += amounts


def _promotion(model, rows, amounts):
    f = model.firms
    online = f.stage[rows] == 3
    f.visibility[rows[online]] += promotion_visibility(amounts[online], f.reputation[rows[online]])
    onboard = rows[~online]  # stage-2 firms: onboarding training and listing
    if onboard.size:
        f.digital_skill[onboard] += 0.15 * (1 - f.digital_skill[onboard])
        u = model.streams.uniform_rows(model.month, streams.FINANCE, onboard)
        go = onboard[u < 0.5]
        join_marketplace(model, go)


def _facility(model, rows, amounts):
    np.add.at(model.cluster_table.facility, model.firms.cluster[rows], amounts)


EFFECTS = {"market_reach": _market_reach, "training": _training, "upgrading": _upgrading, "licence": _licence,
           "bank_linkage": _bank_linkage, "shipping": _shipping, "kur_loan": _kur_loan, "cash": _cash,
           "promotion": _promotion, "facility": _facility}

# the table and the model's instrument list agree, and every rule it names exists
assert tuple(i.name for i in TABLE) == INSTRUMENTS
assert all((i.eligibility is None or i.eligibility in ELIGIBILITY) and i.constraint in CONSTRAINTS
           and i.effect in EFFECTS for i in TABLE)


def apply_effect(model, k: int, rows: np.ndarray, amounts: np.ndarray) -> None:
    """What a unit of instrument ``k`` does to the firms paid (its ``effect`` in :data:`TABLE`)."""
    EFFECTS[TABLE[k].effect](model, rows, amounts)


# ----------------------------------------------------------------------------------------------
# unit costs
def kur_loan(capital: np.ndarray) -> np.ndarray:
    """KUR loan size for a firm: half its capital, within the KUR micro/small range."""
    return np.clip(0.5 * capital, KUR_MIN, KUR_MAX)


def unit_table(p) -> np.ndarray:
    """Unit cost per instrument for parameters ``p`` (``model.unit_cost``): the grant's is the
    ``grant_amount`` lever in whole rupiah (unit costs are whole rupiah: see selection.py)."""
    out = UNIT.copy()
    out[I["grants"]] = float(round(p["grant_amount"]))
    return out


def cheapest_units(model) -> np.ndarray:
    """Per instrument, a cost no firm's unit is below (KUR's: the smallest loan's)."""
    p = model.p
    spread = max(p["commercial_interest_rate"] - p["kur_interest_rate"], 0.0)
    out = model.unit_cost.copy()
    out[I["kur_credit"]] = KUR_MIN * spread * KUR_TERM_YEARS  # kur_loan >= KUR_MIN, see unit_costs
    return out


def unit_costs(model, k: int, rows: np.ndarray) -> np.ndarray:
    """Support value per firm for instrument ``k``."""
    if k == I["kur_credit"]:
        p = model.p
        spread = max(p["commercial_interest_rate"] - p["kur_interest_rate"], 0.0)
        return kur_loan(model.firms.capital[rows]) * spread * KUR_TERM_YEARS
    return np.full(rows.size, model.unit_cost[k])



# ----------------------------------------------------------------------------------------------
# eligibility and constraints over many firms
def _cols(model, rows):
    """Column accessor over all used rows (``rows=None``) or over some rows; a column read twice
    (by several instruments' rules) is gathered once."""
    f, n = model.firms, model.firms.n
    got: dict[str, np.ndarray] = {}

    def c(name: str) -> np.ndarray:
        v = got.get(name)
        if v is None:
            v = got[name] = getattr(f, name)[:n] if rows is None else getattr(f, name)[rows]
        return v
    return c



def base_eligible(model, rows: np.ndarray | None = None) -> np.ndarray:
    """Alive and not above the largest eligible size class (shared by all instruments)."""
    f, n = model.firms, model.firms.n
    maxc = SIZE_CLASSES.index(model.p["max_eligible_class"])
    if rows is None:
        return f.alive[:n] & (f.size_class[:n] <= maxc)
    return f.alive[rows] & (f.size_class[rows] <= maxc)


def eligible(model, k: int, rows: np.ndarray | None = None, base: np.ndarray | None = None, c=None) -> np.ndarray:
    """Boolean mask over used rows (or over ``rows``): firms that may receive instrument ``k``.

    ``base`` may pass the mask shared by all instruments (alive and small enough) if already known;
    ``c`` a column accessor of :func:`_cols` over the same rows (to share it between instruments).
    """
    c = _cols(model, rows) if c is None else c
    if base is None:
        maxc = SIZE_CLASSES.index(model.p["max_eligible_class"])
        m = c("alive") & (c("size_class") <= maxc)
    else:
        m = base.copy()
    own = _own_rule(model, k, c)
    if own is not None:
        m &= own
    return m


def eligible_all(model, rows: np.ndarray, base: np.ndarray, c=None) -> np.ndarray:
    """:func:`eligible` of every instrument over ``rows``, one row per instrument (columns read once)."""
    c = _cols(model, rows) if c is None else c
    out = np.empty((N_INSTRUMENTS, base.size), dtype=bool)
    out[:] = base
    for k in range(N_INSTRUMENTS):
        own = _own_rule(model, k, c)
        if own is not None:
            out[k] &= own
    return out


def has_own_rule(k: int) -> bool:
    """Whether instrument ``k`` has an eligibility rule beyond the shared base."""
    return TABLE[k].eligibility is not None


def _own_rule(model, k: int, c) -> np.ndarray | None:
    """Instrument ``k``'s own eligibility rule beyond the shared base (None if it has none)."""
    rule = TABLE[k].eligibility
    return None if rule is None else ELIGIBILITY[rule](model, c)


def constraint(model, k: int, rows: np.ndarray | None = None, c=None) -> np.ndarray:
    """Boolean mask: the firm's binding constraint is one that instrument ``k`` relieves.

    This is what a council observes among its own firms (seed 001, self-governance) and what the
    collaborative platform's matching uses (seed 000). Over all used rows, or over ``rows``
    (``c``: a column accessor of :func:`_cols` over the same rows, to share it between instruments).
    """
    c = _cols(model, rows) if c is None else c
    return CONSTRAINTS[TABLE[k].constraint](model, c, rows)


def constraint_all(model, rows: np.ndarray, c=None) -> np.ndarray:
    """:func:`constraint` of every instrument over ``rows``, one row per instrument (columns read once)."""
    c = _cols(model, rows) if c is None else c
    return np.stack([constraint(model, k, rows, c) for k in range(N_INSTRUMENTS)])

