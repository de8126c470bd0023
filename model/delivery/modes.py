"""One month of delivery in the mode the scenario chose: the entry points ``model.py`` calls.

:func:`update` (start of the month): the councils' capacity and participation, or the platform's
PAS services. :func:`allocate` (after ``pipeline.deliver``): this month's budget, selected now and
paid after the mode's lag, by ``ministries.allocate``, ``councils.allocate`` or ``platform.allocate``.

Outcomes differ between modes only through these mechanisms, and every one of them is paid from
the programme budget: with no budget the three modes are the same economy.
"""

from __future__ import annotations

from ..params import INSTRUMENTS, instrument_mix
from . import councils, ministries, platform
from .ledger import monthly_budget
from .pipeline import close_accounts, open_accounts
from .selection import RankedPool


def update(model) -> None:
    """Council capacity (paid staff, ``council_month``) and participation; the platform's
    PAS services (paid, with capacity: a firm's PAS step counts the services it received)."""
    mode = model.p["governance_mode"]
    model.services_month = 0.0
    if mode == "self_governance":
        model.councils_active = True  # participation may be non-zero from now on
        councils.council_month(model)
        councils.participate(model)
    elif mode == "platform":
        model.platform_active = True  # platform steps may be non-zero from now on
        platform.platform_services(model)
    if mode != "self_governance" and getattr(model, "councils_active", False):
        councils.participate(model)  # the mode changed during the run: councils no longer meet, participation fades



def allocate(model) -> None:
    """Spend this month's budget: select recipients now, deliver after the mode's lag.

    Every programme serves its candidates (eligible, aware, not already served where a registry
    exists) in the order of its score until its money runs out. Scores are the month's targeting
    priority plus, for councils and the platform, bonuses for matching constraints. The ranking is
    done once a month over all firms (:class:`RankedPool`), and each programme reads candidates
    from its top: the result is exactly that of sorting every programme's candidates (see
    ``model/reference.py``), at a cost that does not grow with the number of programmes.
    """
    p, t, n = model.p, model.month, model.firms.n
    budget = monthly_budget(model, t)
    model.budget_this_month = budget
    open_accounts(model, budget)
    if budget <= 0 or n == 0:
        close_accounts(model)
        return
    mode = p["governance_mode"]
    levers = tuple(p[name] for name in _MIX_LEVERS)
    cached = model.__dict__.get("_mix")
    if cached is None or cached[0] != levers:  # the mix levers may change during a run (the app)
        cached = model._mix = (levers, instrument_mix(p))
    mix = cached[1]
    pool = RankedPool(model)
    if mode == "centralised":
        ministries.allocate(model, budget, mix, pool)
    elif mode == "self_governance":
        councils.allocate(model, budget, mix, pool)
    else:
        platform.allocate(model, budget, mix, pool)
    close_accounts(model)


_MIX_LEVERS = tuple(f"mix_{k}" for k in INSTRUMENTS)

