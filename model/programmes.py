"""Government programmes: budgets, eligibility, awareness, targeting, delivery lags and accounting.

Each instrument has a unit cost (IDR per firm served), a benefit duration (months during which a
firm counts as served) and an effect on the firm's state. How a firm comes to be selected depends
on the governance mode (``governance.py``): who is aware, which priority rule ranks applicants,
whether a shared registry excludes firms already served, the overhead, the lag and capture.

Money is accounted for every month and every instrument (``model.ledger``, columns ``LEDGER_FIELDS``):

* what is paid: ``spent = support + overhead + duplication + capture + services``; ``services`` are
  the delivery mode's own services (the platform's PAS services, the councils' staff and
  activities: ``services.py``), committed and paid the same month;
* what each programme does with its money (its account, :func:`open_accounts`):
  ``budget + carried (last month) + reallocated = committed + capture + returned + carried (this month)``.
  A programme's money that is short of its next unit is carried over to the next month (its
  balance, ``model.programme_balance``); money it cannot place because no candidate is left is
  returned (a council passes it to its next instrument first: ``reallocated``);
* what is approved is paid ``lag`` months later: ``committed`` (approved) = ``spent - capture`` (paid)
  + ``cancelled`` (the firm exited before payment, or programmes ended first) + what is still in
  ``model.pipeline``.

Together: the budget = support delivered + the modes' own services + overhead + duplication + capture
+ returned + cancelled + carried over + approved and not yet paid, every month (``tests/test_invariants.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import finance, streams
from .params import INSTRUMENT_INDEX, INSTRUMENTS, N_INSTRUMENTS, SIZE_CLASSES

# IDR per firm served, months a firm counts as served. Sources in ODD section 7.4.
UNIT_COST = {
    "market_access": 3.0e6,        # trade-fair / procurement matchmaking package
    "hr_training": 2.5e6,          # a training course (seed 001 group 2)
    "product_development": 5.0e6,  # product/process upgrading, certification
    "licensing": 0.5e6,            # NIB and permits facilitation (seed 000 PAS step 4)
    "financing": 1.5e6,            # credit-guarantee fee and bank linkage
    "logistics": 1.5e6,            # shipping subsidy package
    "kur_credit": np.nan,          # interest subsidy value, depends on the loan (see below)
    "grants": 2.4e6,               # BPUM 2020: Rp 2.4 M per micro firm
    "tax_relief": 0.3e6,           # one month of tax / utility relief
    "ecommerce_promotion": 1.5e6,  # promotion package (social media, ads, email; seed 003)
    "shared_facilities": 4.0e6,    # a member's share of a shared production facility (seed 004)
}
DURATION = {
    "market_access": 6, "hr_training": 12, "product_development": 12, "licensing": 60,
    "financing": 24, "logistics": 6, "kur_credit": 24, "grants": 12, "tax_relief": 1,
    "ecommerce_promotion": 6, "shared_facilities": 12,
}
UNIT = np.array([UNIT_COST[k] for k in INSTRUMENTS])
DUR = np.array([DURATION[k] for k in INSTRUMENTS], dtype=np.int32)
I = INSTRUMENT_INDEX
KUR_TERM_YEARS = 2.0
KUR_MIN, KUR_MAX = 10e6, 500e6  # KUR micro from Rp 10 M up to KUR small Rp 500 M
# ledger columns (gross IDR, i.e. with the overhead, unless said otherwise): paid this month (and
# captured), net support to firms, overhead, duplicates, capture; the programmes' accounts: new budget,
# approved (to be paid after the lag), passed between a council's instruments (sums to 0 over them),
# returned unplaced, approved but not paid (cancelled), and the balance carried to next month (a stock);
# the delivery mode's own services (PAS services, council staff and activities; paid when committed)
(SPENT, SUPPORT, OVERHEAD, DUPLICATION, CAPTURE, BUDGET, COMMITTED, REALLOCATED, RETURNED, CANCELLED, CARRIED,
 SERVICES) = range(12)
LEDGER_FIELDS = ("spent", "support", "overhead", "duplication", "capture", "budget", "committed", "reallocated",
                 "returned", "cancelled", "carried", "services")
# programme book columns (``model.programme_book``, one row per programme): firms served, support, spent
BOOK_SERVED, BOOK_SUPPORT, BOOK_SPENT = range(3)


@dataclass
class Delivery:
    """Support approved in one month and paid out ``lag`` months later."""

    instrument: int
    rows: np.ndarray
    amounts: np.ndarray
    overhead_rate: float
    programme: int
    registry: bool

    def remap(self, new_row: np.ndarray) -> np.ndarray | None:
        """Rows after a compaction (``new_row[old] = new``, -1 for removed rows): firms that
        exited meanwhile are dropped (:func:`deliver` would not pay them). Returns the gross money
        of the dropped firms by instrument (to book as cancelled), or None."""
        return self.as_batch().remap_into(self, new_row)

    def as_batch(self) -> Deliveries:
        """This delivery as a :class:`Deliveries` of one segment."""
        return Deliveries(np.array([self.instrument]), np.array([self.programme]), np.zeros(1, dtype=np.int64),
                          np.array([0, self.rows.size]), self.rows, self.amounts, self.overhead_rate, self.registry)


@dataclass
class Deliveries:
    """The deliveries of several programmes approved in one month, paid out together ``lag`` months
    later (what the vectorised allocation schedules: one object a month instead of one per programme).

    Segment ``s`` is programme ``programmes[s]`` paying instrument ``instruments[s]`` to the firms
    ``rows[starts[s]:starts[s + 1]]`` (ascending) the ``amounts`` beside them. Segments are paid in
    order, exactly as separate :class:`Delivery` objects would be. Consecutive segments with the
    same ``groups`` value never pay one firm twice: they reach different firms (councils of different
    regions), or they are of one instrument without a registry (a firm a second ministry selects
    again is a duplicate, not paid). Their effects may therefore be applied together, one call per
    instrument (see :func:`deliver`).
    """

    instruments: np.ndarray
    programmes: np.ndarray
    groups: np.ndarray
    starts: np.ndarray
    rows: np.ndarray
    amounts: np.ndarray
    overhead_rate: float
    registry: bool

    def remap(self, new_row: np.ndarray) -> np.ndarray | None:
        """Rows after a compaction (``new_row[old] = new``, -1 for removed rows): firms that
        exited meanwhile are dropped (:func:`deliver` would not pay them); segments keep their order
        (and may become empty). Returns the gross money of the dropped firms by instrument (to book
        as cancelled), or None."""
        return self.remap_into(self, new_row)

    def remap_into(self, d: Delivery | Deliveries, new_row: np.ndarray) -> np.ndarray | None:
        """Remap this batch's rows and write the kept rows (and amounts, and segment starts if
        ``d`` is this batch) into ``d``; the gross money dropped by instrument, or None."""
        r = new_row[self.rows]
        ok = r >= 0
        if ok.all():
            d.rows = r
            return None
        seg = np.arange(self.instruments.size).repeat(self.starts[1:] - self.starts[:-1])
        gone = ~ok
        dropped = np.bincount(self.instruments[seg[gone]], weights=self.amounts[gone] / (1.0 - self.overhead_rate),
                              minlength=N_INSTRUMENTS)
        if d is self:
            counts = np.bincount(seg[ok], minlength=self.instruments.size)
            self.starts = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        d.rows, d.amounts = r[ok], self.amounts[ok]
        return dropped

    @classmethod
    def from_selection(cls, req: np.ndarray, rows: np.ndarray, amounts: np.ndarray, n_req: int,
                       instruments, programmes, groups, overhead_rate: float, registry: bool) -> Deliveries:
        """From firms served by requests ``0..n_req-1`` (``req`` per firm, ordered by request then
        row) and each request's instrument, programme and group; requests that served nobody are left out."""
        counts = np.bincount(req, minlength=n_req)
        keep = counts > 0
        starts = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[keep], out=starts[1:])
        return cls(np.asarray(instruments)[keep], np.asarray(programmes)[keep], np.asarray(groups)[keep],
                   starts, rows, amounts, overhead_rate, registry)


def monthly_budget(model, month: int) -> float:
    """Total programme budget this month, IDR, after phase-out and taper."""
    p = model.p
    b = p["budget_per_firm_month"] * p["n_firms"]
    end = p["phase_out_month"]
    if end > 0:
        if month >= end:
            return 0.0
        taper = p["phase_out_taper_months"]
        if taper > 0 and month >= end - taper:
            b *= (end - month) / (taper + 1)
    return float(b)


# ----------------------------------------------------------------------------------------------
# the programmes' accounts: balances carried over, money returned
def mode_programmes(model) -> np.ndarray:
    """Ids of the programmes the governance mode runs (ministries', councils' or the platform's)."""
    mode = model.p["governance_mode"]
    if mode == "centralised":
        return np.array([prog.programme_id for prog in model.programme_list], dtype=np.int64)
    if mode == "self_governance":
        return np.array([c.programme_ids for c in model.council_agents], dtype=np.int64).ravel()
    return np.asarray(model.platform_agent.programme_ids, dtype=np.int64)


def open_accounts(model, budget: float) -> None:
    """Before the month's allocation: the balances of programmes that do not run this month are
    returned -- every programme's in a month without budget (programmes phased out or withdrawn),
    else those of programmes of another governance mode (the mode changed during the run)."""
    off = np.ones(model.programme_balance.size, dtype=bool)
    if budget > 0:
        off[mode_programmes(model)] = False
    off &= model.programme_balance != 0
    if off.any():
        book(model, RETURNED, model.programme_instrument[off], model.programme_balance[off])
        model.programme_balance[off] = 0.0


def carry_over(model, ids: np.ndarray, rest: np.ndarray, remains: np.ndarray, keep: float) -> np.ndarray:
    """What programmes ``ids`` have left after serving (``rest``, net of overhead): carried over to
    next month (their balance, kept gross: ``rest / keep``, ``keep`` = 1 - overhead rate) if it is
    short of the next candidate's unit (``remains``: a candidate was left unserved) or of the
    instrument's cheapest unit; otherwise -- money to spare and no candidate left -- it is not the
    programme's to keep. Returns that money (net; 0 where carried), to return or pass on."""
    cheapest = cheapest_units(model)[model.programme_instrument[ids]]
    carry = remains | (rest < cheapest)
    model.programme_balance[ids] = np.where(carry, rest / keep, 0.0)
    return np.where(carry, 0.0, rest)


def book(model, col: int, ks, gross) -> None:
    """Add ``gross`` (IDR) by instrument ``ks`` to ledger column ``col`` of this month."""
    model.ledger[model.month, :, col] += np.bincount(np.asarray(ks, dtype=np.int64).ravel(),
                                                     weights=np.asarray(gross, dtype=np.float64).ravel(),
                                                     minlength=N_INSTRUMENTS)


def close_accounts(model) -> None:
    """After the month's allocation: the balances carried to next month, by instrument (a stock)."""
    model.ledger[model.month, :, CARRIED] = np.bincount(model.programme_instrument, weights=model.programme_balance,
                                                        minlength=N_INSTRUMENTS)


def cancel_after(model, end: int) -> None:
    """Drop queued deliveries due at or after ``end`` (programmes end then) and book them as
    cancelled this month (new ones are cancelled by :func:`schedule`)."""
    if end <= 0:
        return
    for due in [due for due in model.pipeline if due >= end]:
        for d in model.pipeline.pop(due):
            model.ledger[model.month, :, CANCELLED] += _gross_by_instrument(d)


def pipeline_gross(model) -> np.ndarray:
    """Approved support (gross) queued for later months, by instrument."""
    out = np.zeros(N_INSTRUMENTS)
    for batch in model.pipeline.values():
        for d in batch:
            out += _gross_by_instrument(d)
    return out


def kur_loan(capital: np.ndarray) -> np.ndarray:
    """KUR loan size for a firm: half its capital, within the KUR micro/small range."""
    return np.clip(0.5 * capital, KUR_MIN, KUR_MAX)


def unit_table(p) -> np.ndarray:
    """Unit cost per instrument for parameters ``p`` (``model.unit_cost``): the grant's is the
    ``grant_amount`` lever in whole rupiah (unit costs are whole rupiah: see governance.py)."""
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
# eligibility and constraints
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
    return INSTRUMENTS[k] in ("kur_credit", "ecommerce_promotion", "shared_facilities", "licensing", "financing")


def _own_rule(model, k: int, c) -> np.ndarray | None:
    """Instrument ``k``'s own eligibility rule beyond the shared base (None if it has none)."""
    name = INSTRUMENTS[k]
    if name == "kur_credit":  # bank screening: licensed, profitable, not over-indebted
        return c("licensed") & (c("own_profit") > 0) & (c("debt") < 0.5 * c("capital"))
    if name == "ecommerce_promotion":
        stage = c("stage")
        return (stage == 3) | ((stage == 2) & model.p["ecommerce_onboarding"])
    if name == "shared_facilities":
        return c("cluster") >= 0
    if name == "licensing":
        return ~c("licensed")
    if name == "financing":
        return c("credit_access") < 2
    return None


def constraint(model, k: int, rows: np.ndarray | None = None, c=None) -> np.ndarray:
    """Boolean mask: the firm's binding constraint is one that instrument ``k`` relieves.

    This is what a council observes among its own firms (seed 001, self-governance) and what the
    collaborative platform's matching uses (seed 000). Over all used rows, or over ``rows``
    (``c``: a column accessor of :func:`_cols` over the same rows, to share it between instruments).
    """
    c = _cols(model, rows) if c is None else c
    name = INSTRUMENTS[k]
    if name == "hr_training":
        return (c("digital_skill") < 0.35) | (c("literacy") < 0.35)
    if name == "ecommerce_promotion":
        stage = c("stage")
        return (stage == 2) | ((stage == 3) & (c("visibility") < 0.5))
    if name == "market_access":
        return c("utilisation") < 0.75
    if name in ("kur_credit", "financing"):
        return (c("credit_access") < 2) & (c("utilisation") > 0.9) & (c("own_profit") > 0)
    if name == "licensing":
        return ~c("licensed")
    if name == "product_development":
        return c("productivity") < 0.9
    if name == "logistics":
        return (c("stage") == 3) & (model.region_remoteness[c("region")] > 0.5)
    if name in ("grants", "tax_relief"):
        return c("own_profit") < 0
    if name == "shared_facilities":
        usage = np.asarray(model.facility_usage_firm) if rows is None else model.facility_usage_firm[rows]
        return (c("cluster") >= 0) & (usage < 0.5)
    raise KeyError(name)


def constraint_all(model, rows: np.ndarray, c=None) -> np.ndarray:
    """:func:`constraint` of every instrument over ``rows``, one row per instrument (columns read once)."""
    c = _cols(model, rows) if c is None else c
    return np.stack([constraint(model, k, rows, c) for k in range(N_INSTRUMENTS)])


PAS_INSTRUMENTS = {  # PAS step reached (services received, seed 000) -> instruments the platform matches a
    # firm to next: those of its next step (training 2, licensing 4, marketing 5, capital 7)
    1: ("hr_training",), 3: ("licensing",), 4: ("ecommerce_promotion", "market_access", "logistics"),
    6: ("kur_credit", "financing", "grants"),
}


def priority(model, rule: str, u: np.ndarray) -> np.ndarray:
    """Priority score over used rows for a targeting rule; ``u`` are this month's uniforms."""
    f, n = model.firms, model.firms.n
    if rule == "untargeted":
        return u.copy()
    if rule == "micro_first":
        return (2 - f.size_class[:n]).astype(float) + u
    if rule == "need":
        margin = f.own_profit[:n] / (f.capital[:n] + 1e6)
        return -np.clip(margin, -1, 1) * 3 + 0.3 * u
    if rule == "potential":
        return np.log(f.productivity[:n]) + f.effort[:n] + 0.3 * u
    raise KeyError(rule)


def select(rows: np.ndarray, score: np.ndarray, costs: np.ndarray, money: float) -> tuple[np.ndarray, np.ndarray]:
    """Serve candidates in order of score until the money runs out. Returns (rows, amounts)."""
    if money <= 0 or rows.size == 0:
        return rows[:0], costs[:0]
    # expected number served: enough to spend the money at the mean unit cost; partial sort only
    mean_cost = float(costs.mean())
    k = int(min(rows.size, money / max(mean_cost, 1.0) * 1.5 + 8))
    if k < rows.size:
        top = np.argpartition(-score, k - 1)[:k]
    else:
        top = np.arange(rows.size)
    top = top[np.argsort(-score[top], kind="stable")]
    c = np.cumsum(costs[top])
    take = top[c <= money]
    return rows[take], costs[take]


def _gross_by_instrument(d: Delivery | Deliveries) -> np.ndarray:
    """The gross money (support and its overhead) of a delivery, by instrument."""
    if isinstance(d, Delivery):
        out = np.zeros(N_INSTRUMENTS)
        out[d.instrument] = (d.amounts / (1.0 - d.overhead_rate)).sum()
        return out
    seg = np.arange(d.instruments.size).repeat(d.starts[1:] - d.starts[:-1])
    return np.bincount(d.instruments[seg], weights=d.amounts / (1.0 - d.overhead_rate), minlength=N_INSTRUMENTS)


def schedule(model, due: int, d: Delivery | Deliveries) -> None:
    """Queue a delivery for month ``due`` and book it as committed (if it pays nobody it is
    skipped: :func:`deliver` would skip it). If programmes have ended by then it is cancelled: booked
    as committed and cancelled this month, never paid. Deliveries due after the horizon stay queued
    (approved, paid after the run: ``model.pipeline`` holds them at the end)."""
    if d.rows.size == 0:
        return
    led = model.ledger[model.month]
    gross = _gross_by_instrument(d)
    led[:, COMMITTED] += gross
    end = model.p["phase_out_month"]
    if end > 0 and due >= end:
        led[:, CANCELLED] += gross
        return
    if isinstance(d, Delivery) and d.rows.size > 1:
        # firms in row order: memory-friendly delivery (the order has no other meaning)
        order = np.argsort(d.rows, kind="stable")
        d.rows, d.amounts = d.rows[order], d.amounts[order]
    model.pipeline.setdefault(due, []).append(d)


# ----------------------------------------------------------------------------------------------
# delivery and effects
def deliver(model, effect=None) -> None:
    """Pay out every delivery due this month, book the money and apply the effects.

    ``effect(model, k, rows, amounts)`` applies instrument ``k`` to the firms paid (default
    :func:`apply_effect`, vectorised; the reference engine passes a per-agent version).
    """
    effect = apply_effect if effect is None else effect
    paid = [_pay(model, d if isinstance(d, Deliveries) else d.as_batch(), effect)
            for d in model.pipeline.pop(model.month, ())]
    _book(model, [x for x in paid if x is not None])


def _book(model, paid: list) -> None:
    """Book the month's payments in the ledger, by instrument. Each instrument's payments are added
    up in the order of the firms (rows), so the books do not depend on how the programmes' deliveries
    were batched (one object a month here, one per programme in the reference engine)."""
    if not paid:
        return
    k, rows, gross, amounts, dup = (np.concatenate(x) for x in zip(*paid, strict=True)) if len(paid) > 1 else paid[0]
    if k.size > 1:
        order = (k * (model.firms.n + 1) + rows).argsort(kind="stable")
        k, gross, amounts, dup = k[order], gross[order], amounts[order], dup[order]
    led = model.ledger[model.month]
    led[:, SPENT] += np.bincount(k, weights=gross, minlength=N_INSTRUMENTS)
    led[:, OVERHEAD] += np.bincount(k, weights=gross - amounts, minlength=N_INSTRUMENTS)
    if dup.any():
        led[:, DUPLICATION] += np.bincount(k[dup], weights=amounts[dup], minlength=N_INSTRUMENTS)
        k, amounts = k[~dup], amounts[~dup]
    led[:, SUPPORT] += np.bincount(k, weights=amounts, minlength=N_INSTRUMENTS)


def _pay(model, d: Deliveries, effect):
    """Pay the segments of ``d`` in order (one pass over all of them; see :class:`Deliveries`).

    Per segment, as for one programme: firms that exited meanwhile are not paid; without a shared
    registry, a firm already served for the instrument (earlier, or by an earlier segment this
    month) is paid again to no use (duplication); the rest are paid and the effect applied.
    Returns (instrument, row, gross, amount, duplicate) of every firm paid, for the books.
    """
    t, f = model.month, model.firms
    seg = np.arange(d.instruments.size).repeat(d.starts[1:] - d.starts[:-1])
    rows, amounts = d.rows, d.amounts
    alive = f.alive[rows]
    if not alive.all():  # not paid: cancelled
        gone = ~alive
        model.ledger[t, :, CANCELLED] += np.bincount(d.instruments[seg[gone]], minlength=N_INSTRUMENTS,
                                                     weights=amounts[gone] / (1.0 - d.overhead_rate))
        rows, amounts, seg = rows[alive], amounts[alive], seg[alive]
        if rows.size == 0:
            return None
    k = d.instruments[seg]
    if d.registry:
        dup = np.zeros(rows.size, dtype=bool)
    else:
        dup = f.served_until[rows, k] > t
        if rows.size > 1:  # the same firm and instrument again later this month (stable sort: later ones)
            key = rows * N_INSTRUMENTS + k
            order = key.argsort(kind="stable")
            key = key[order]
            dup[order[1:][key[1:] == key[:-1]]] = True
    gross = amounts / (1.0 - d.overhead_rate)
    booked = (k, rows, gross, amounts, dup)
    # the programmes' own books (their agents)
    prog = d.programmes[seg]
    book = model.programme_book
    book[:, BOOK_SUPPORT] += np.bincount(prog, weights=amounts, minlength=len(book))
    book[:, BOOK_SPENT] += np.bincount(prog, weights=gross, minlength=len(book))
    if dup.any():
        ok = ~dup
        rows, amounts, k, seg, prog = rows[ok], amounts[ok], k[ok], seg[ok], prog[ok]
    book[:, BOOK_SERVED] += np.bincount(prog, minlength=len(book))
    if rows.size == 0:
        return booked
    f.served_until[rows, k] = t + DUR[k]
    np.add.at(f.support_month, rows, amounts)  # a firm paid by several programmes: added in order
    # (on the flat table: np.add.at's 2-D indexing is ~20x slower)
    np.add.at(f.support_by_instrument.reshape(-1), rows * N_INSTRUMENTS + k, amounts)
    # effects: group by group, one call per instrument of a group (the firms of a group are all
    # different, see Deliveries), each call over its firms in the order of the segments
    key = d.groups[seg] * N_INSTRUMENTS + k
    if rows.size > 1 and (key[1:] < key[:-1]).any():
        order = key.argsort(kind="stable")
        rows, amounts, key = rows[order], amounts[order], key[order]
    cuts = [0, *((key[1:] != key[:-1]).nonzero()[0] + 1).tolist(), rows.size]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        effect(model, int(key[a]) % N_INSTRUMENTS, rows[a:b], amounts[a:b])
    return booked


def apply_effect(model, k: int, rows: np.ndarray, amounts: np.ndarray) -> None:
    """What a unit of each instrument does to a firm (ODD 7.4 gives each effect's source).

    Each effect changes only the firms paid (``rows``, all different) and, for shared facilities,
    their clusters' facility (added in the order of ``rows``); it reads nothing another firm's
    effect writes. This is what lets :func:`deliver` pay several programmes' firms in one call.
    """
    f = model.firms
    name = INSTRUMENTS[k]
    if name == "market_access":
        f.market_reach[rows] = np.minimum(f.market_reach[rows] + 0.4, 1.5)
    elif name == "hr_training":
        f.digital_skill[rows] += 0.25 * (1 - f.digital_skill[rows])
        f.literacy[rows] += 0.20 * (1 - f.literacy[rows])
        f.competence[rows] += 0.10 * (1 - f.competence[rows])
    elif name == "product_development":
        f.productivity[rows] *= np.exp(0.05 * (0.5 + f.literacy[rows]))  # absorptive capacity
    elif name == "licensing":
        f.licensed[rows] = True
    elif name == "financing":
        u = model.streams.uniform_rows(model.month, streams.FINANCE, rows)
        f.credit_access[rows] = np.where(u < 0.6, 2, f.credit_access[rows])
    elif name == "logistics":
        f.logistics[rows] = np.minimum(f.logistics[rows] + 0.5, 1.0)
    elif name == "kur_credit":
        # a KUR loan record (finance.LENDERS), invested in capital at once; in the shock the KUR banks
        # cut loans by the credit tightening (the subsidy booked is the approved loan's)
        loan = kur_loan(f.capital[rows]) * (1.0 - model.p["shock_credit_tightening"] * model.shock)
        finance.kur_loans(model, rows, loan)
    elif name in ("grants", "tax_relief"):
        f.support_cash[rows] += amounts
    elif name == "ecommerce_promotion":
        online = f.stage[rows] == 3
        from .marketplaces import promotion_visibility

        f.visibility[rows[online]] += promotion_visibility(amounts[online], f.reputation[rows[online]])
        onboard = rows[~online]  # stage-2 firms: onboarding training and listing
        if onboard.size:
            f.digital_skill[onboard] += 0.15 * (1 - f.digital_skill[onboard])
            u = model.streams.uniform_rows(model.month, streams.FINANCE, onboard)
            go = onboard[u < 0.5]
            from .marketplaces import join_marketplace

            join_marketplace(model, go)
    elif name == "shared_facilities":
        np.add.at(model.cluster_table.facility, f.cluster[rows], amounts)
    else:  # pragma: no cover
        raise KeyError(name)


def new_ledger(n_months: int) -> np.ndarray:
    """Zeroed ledger: month x instrument x (spent, support, overhead, duplication, capture)."""
    return np.zeros((n_months + 1, N_INSTRUMENTS, len(LEDGER_FIELDS)))
