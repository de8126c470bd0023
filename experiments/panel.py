"""Per-firm snapshots at chosen months: what the causal comparisons pair across runs.

A run's initial firms (alive at month 0, after the burn-in) are the same firms, with the same ``firm_id``,
in every scenario run with the same seed: the burn-in does not depend on the levers (model/population.py).
So a firm in a scenario run can be set against itself in the run's twin (no support ever, or support
withdrawn), and the difference is the effect of the support on that firm, measured rather than guessed.

Entrants differ between a scenario and its no-support twin, but not between a run and its withdrawal
twin before the withdrawal month (the two are the same run until then). So the panel also follows every
entrant alive at a snapshot month before the horizon, from that month on (``initial`` false): the
withdrawal test reads the recipients alive just before withdrawal, entrants included; the per-firm
counterfactual against the no-support twin reads the initial firms only.

Fields per firm and snapshot month (state at the end of the month):

- ``initial``: alive at month 0 (false: an entrant, followed from the first snapshot month it was alive at).
- ``alive``: in business.
- ``recipient``: received support in at least one of the last 12 months (``support_mask & 0xFFF``, the
  project's shared definition); false for a dead firm.
- ``ever_recipient``: received support in any month from month 1 to this one (``support_cum > 0``; a
  firm can be supported in the month it exits).
- ``effort``: own effort 0..1 (NaN for a dead firm: the archive does not keep it).
- ``value_added``: value added this month, IDR (0 once dead).
- ``va_cum``: value added summed over months 1..this one, IDR (what it added while alive; an entrant's
  from the month after it joined the panel).
- ``upgrades``: upward size-class moves so far; ``workers``: persons (0 once dead).
- ``support_cum``: support received from month 1 to this one, IDR (cash and in kind, as booked to the
  firm; support received in the burn-in is not counted).

``recipient`` reads the firm's support mask, which at months 1..11 still holds support received in the
last months of the burn-in; the withdrawal test reads it at month 12 or later only when withdrawal is at
month 13 or later (the default month 48).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PANEL_FIELDS = ("initial", "alive", "recipient", "ever_recipient", "effort", "value_added", "va_cum", "upgrades",
                "workers", "support_cum")
RECIPIENT_WINDOW = 0xFFF  # bits 0..11 of support_mask: support in this month or one of the 11 before


class PanelRecorder:
    """Follows the initial firms of a model month by month and keeps snapshots at ``months``;
    entrants alive at a snapshot month before the last join from then on."""

    def __init__(self, model, months):
        f = model.firms
        n = f.n
        self.ids = f.firm_id[:n][f.alive[:n]].copy()  # the initial firms (sorted: firm_id is)
        self.months = sorted({int(m) for m in months})
        k = self.ids.size
        self.n_initial = k
        self.va_cum = np.zeros(k)
        # support received in the burn-in (its programmes ran under the old policy) is not the scenario's
        self.support0 = f.all_firms("support_total")[self.ids].copy()
        self.frames: list[pd.DataFrame] = []
        self._snap(model)

    def _join_entrants(self, model) -> None:
        """Entrants alive now and not yet followed join the panel (all their support is the run's)."""
        f = model.firms
        n = f.n
        alive_ids = f.firm_id[:n][f.alive[:n]]
        new = np.setdiff1d(alive_ids, self.ids, assume_unique=True)
        if new.size:
            self.ids = np.concatenate([self.ids, new])
            self.va_cum = np.concatenate([self.va_cum, np.zeros(new.size)])
            self.support0 = np.concatenate([self.support0, np.zeros(new.size)])

    def after_month(self, model) -> None:
        """Call at the end of every month (after ``model.step()``)."""
        f = model.firms
        rows = f.row_of(self.ids)
        has = rows >= 0
        r = rows[has]
        live = np.zeros(self.ids.size, dtype=bool)
        live[has] = f.alive[r]
        va = np.zeros(self.ids.size)
        va[has] = np.where(live[has], f.value_added[r], 0.0)
        self.va_cum += va
        self._snap(model, rows, live, va)

    def _snap(self, model, rows=None, live=None, va=None) -> None:
        month = int(model.month)
        if month not in self.months:
            return
        f = model.firms
        k = self.ids.size
        if 0 < month < self.months[-1]:
            self._join_entrants(model)
        if rows is None or self.ids.size > k:  # the rows of the firms followed now
            va = np.zeros(self.ids.size) if va is None else np.concatenate([va, np.zeros(self.ids.size - k)])
            rows = f.row_of(self.ids)
            has = rows >= 0
            live = np.zeros(self.ids.size, dtype=bool)
            live[has] = f.alive[rows[has]]
        has = rows >= 0
        r = np.where(has, rows, 0)
        effort = np.where(live, f.effort[r], np.nan)
        recipient = live & ((f.support_mask[r] & np.uint32(RECIPIENT_WINDOW)) != 0)
        workers = np.where(live, f.workers[r], 0.0)
        support = f.all_firms("support_total")[self.ids] - self.support0
        self.frames.append(pd.DataFrame({
            "month": np.full(self.ids.size, month, dtype=np.int32), "firm_id": self.ids,
            "initial": np.arange(self.ids.size) < self.n_initial, "alive": live, "recipient": recipient,
            "ever_recipient": support > 0,
            "effort": effort, "value_added": va, "va_cum": self.va_cum.copy(),
            "upgrades": f.all_firms("upgrades")[self.ids].astype(np.int16),
            "workers": workers, "support_cum": support,
        }))

    def frame(self) -> pd.DataFrame:
        if not self.frames:
            return empty_panel()
        return pd.concat(self.frames, ignore_index=True)


def empty_panel() -> pd.DataFrame:
    return pd.DataFrame({"month": pd.Series(dtype=np.int32), "firm_id": pd.Series(dtype=np.int64),
                         **{k: pd.Series(dtype=float) for k in PANEL_FIELDS}})


def run_with_panel(model, months) -> pd.DataFrame:
    """Step ``model`` to its horizon, keeping the snapshots of its firms at ``months``."""
    rec = PanelRecorder(model, months)
    while model.running and model.month < model.p["n_months"]:
        model.step()
        rec.after_month(model)
    return rec.frame()
