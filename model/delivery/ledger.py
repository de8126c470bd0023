"""The month's budget and the money ledger: columns, booking (a leaf: imports only ``params``).

Money is accounted for every month and every instrument (``model.ledger``, columns ``LEDGER_FIELDS``):

* what is paid: ``spent = support + overhead + duplication + capture + services``; ``services`` are
  the delivery mode's own services (the platform's PAS services, the councils' staff and
  activities: ``councils.py``, ``platform.py``), committed and paid the same month;
* what each programme does with its money (its account, ``pipeline.open_accounts``):
  ``budget + carried (last month) + reallocated = committed + capture + returned + carried (this month)``.
  A programme's money that is short of its next unit is carried over to the next month (its
  balance, ``model.programme_balance``); money it cannot place because no candidate is left is
  returned (a council passes it to its next instrument first: ``reallocated``);
* what is approved is paid ``lag`` months later: ``committed`` (approved) = ``spent - capture`` (paid)
  + ``cancelled`` (the firm exited before payment, or programmes ended first) + what is still in
  ``model.pipeline``, ``pipeline.py``.

Together: the budget = support delivered + the modes' own services + overhead + duplication + capture
+ returned + cancelled + carried over + approved and not yet paid, every month (``tests/test_invariants.py``).

This module imports nothing else of the model, so that any module may read the month's budget
(``clusters.programme_formation`` does) without an import circle.
"""

from __future__ import annotations

import numpy as np

from ..params import INSTRUMENTS, N_INSTRUMENTS, instrument_mix

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


def book(model, col: int, ks, gross) -> None:
    """Add ``gross`` (IDR) by instrument ``ks`` to ledger column ``col`` of this month."""
    model.ledger[model.month, :, col] += np.bincount(np.asarray(ks, dtype=np.int64).ravel(),
                                                     weights=np.asarray(gross, dtype=np.float64).ravel(),
                                                     minlength=N_INSTRUMENTS)


def new_ledger(n_months: int) -> np.ndarray:
    """Zeroed ledger: month x instrument x ``LEDGER_FIELDS``."""
    return np.zeros((n_months + 1, N_INSTRUMENTS, len(LEDGER_FIELDS)))


def _mix_vector(model) -> np.ndarray:
    mix = instrument_mix(model.p)
    return np.array([mix[k] for k in INSTRUMENTS])


def book_services(model, amount: float | np.ndarray, weights: np.ndarray | None = None) -> None:
    """Book ``amount`` (IDR, gross; one number, or one per council with ``weights`` rows) of the
    mode's own services: committed and paid this month, against the instrument mix."""
    if weights is None:
        weights = _mix_vector(model)[None, :]
    amounts = np.atleast_1d(np.asarray(amount, dtype=np.float64))
    led = model.ledger[model.month]
    gross = amounts[:, None] * weights
    for col in (SERVICES, COMMITTED, SPENT):  # service by service (council by council), in order
        led[:, col] = np.cumsum(np.vstack([led[None, :, col], gross]), axis=0)[-1]

