"""The programmes' accounts and the pipeline: approved support is scheduled, paid after the lag, booked.

* accounts (:func:`open_accounts`, :func:`carry_over`, :func:`close_accounts`): each programme's
  money this month is its new budget and its balance carried over; what is short of the next unit
  is carried over again, what cannot be placed is returned (``ledger.py`` describes the columns);
* the pipeline (``model.pipeline``, month due -> deliveries): :func:`schedule` books what a mode
  approved as committed and queues it; :func:`deliver` pays what is due (firms that exited are not
  paid: cancelled; without a registry a firm already served is paid to no use: duplication) and
  applies each instrument's effect (``instruments.apply_effect``); :func:`cancel_after` drops what
  programmes ending early will not pay.

The delivery modes (``ministries.py``, ``councils.py``, ``platform.py``) decide who is served; how
the money then flows is the same for all of them and lives here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import N_INSTRUMENTS
from .instruments import DUR, apply_effect, cheapest_units
from .ledger import (
    BOOK_SERVED,
    BOOK_SPENT,
    BOOK_SUPPORT,
    CANCELLED,
    CARRIED,
    COMMITTED,
    DUPLICATION,
    OVERHEAD,
    RETURNED,
    SPENT,
    SUPPORT,
    book,
)


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


