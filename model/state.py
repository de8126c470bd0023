"""Columnar firm state: one NumPy array per variable, one row per firm.

A firm's identity is its ``firm_id`` (initial firms 0..N-1, entrants the next ids in order of
entry); its row is only where it is stored now. Rows are appended for entrants and, once dead firms
fill more than ``COMPACT_DEAD_SHARE`` of the rows, the dead rows are removed at the end of a month
(:meth:`FirmState.compact`): the alive rows move up, in the same order, so ``firm_id`` stays sorted
along the rows and ``row_of`` finds a firm by binary search. The model moves everything else that
holds rows from month to month with them (``MSMEEcosystem._compact``). Random numbers are keyed by
firm id (``model/streams.py``), so compaction changes no draw, and every monthly rule then runs over
the alive firms and the few that died since the last compaction.

Each firm that exits is recorded in the archive as it was at the end of its exit month (the fields
in ``ARCHIVED``), whether or not its row has been compacted away yet; :meth:`FirmState.all_firms`
gives such a field over every firm that ever existed, in firm-id order.

Arrays are allocated with head-room and doubled when entrants fill them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .params import N_INSTRUMENTS
from .streams import id_gamma

# name -> (dtype, fill value). Units in comments.
COLUMNS: dict[str, tuple[type, float]] = {
    # identity and structure
    "firm_id": (np.int64, 0),           # stable identity: initial firms 0..N-1, entrants in order of entry
    "region": (np.int16, 0),
    "sector": (np.int8, 0),
    "alive": (np.bool_, False),
    "born": (np.int32, 0),              # month of entry (0 = initial population)
    "age0": (np.int32, 0),              # months in business at entry into the simulation (initial firms' ages)
    "died": (np.int32, -1),             # month of exit, -1 while alive
    "cluster": (np.int32, -1),          # cluster id, -1 = none
    "marketplace": (np.int16, -1),      # marketplace id, -1 = none (stage < 3)
    # production
    "capital": (np.float64, 0.0),       # IDR, business capital excl. land and buildings (GR 7/2021)
    "workers": (np.float64, 0.0),       # persons
    "productivity": (np.float64, 1.0),  # TFP index (mean 1 at start)
    "absorbed": (np.float64, 0.0),      # log points of productivity absorbed from the cluster (spillover)
    # customers (demand.py)
    "customers": (np.float64, 0.0),     # share of its local market's customers
    "appeal": (np.float64, 0.0),        # log demand shifter (persistent; read from appeal_z)
    "appeal_z": (np.float64, 0.0),      # normal score of appeal (AR(1), demand.appeal_shocks)
    "demand": (np.float64, 0.0),        # IDR/month: orders from its own customers, all channels, this month
    "unfilled": (np.float64, 0.0),      # IDR/month: of which it could not serve
    "size_class": (np.int8, 0),         # 0 micro, 1 small, 2 medium, 3 large (from capital)
    "initial_class": (np.int8, 0),      # class at month 0 or at entry
    "max_class": (np.int8, 0),          # highest class reached
    # skills, stage, formality
    "digital_skill": (np.float64, 0.0),  # 0..1
    "literacy": (np.float64, 0.0),       # managerial / financial literacy 0..1
    "stage": (np.int8, 1),               # digital stage 1 (1.0), 2 (2.0), 3 (3.0)
    "licensed": (np.bool_, False),       # holds business licence (NIB)
    "credit_access": (np.int8, 0),       # 0 none, 1 moneylender, 2 formal
    "debt": (np.float64, 0.0),           # IDR, principal outstanding over all lenders (sum of loan_principal)
    "debt_rate": (np.float64, 0.0),      # principal-weighted annual rate of the loans outstanding
    "cash": (np.float64, 0.0),           # IDR, liquid assets of the business (finance.settle)
    "profit_ewm": (np.float64, 0.0),     # IDR/month, expected profit: 12-month moving average of profit
    "below_months": (np.int16, 0),       # consecutive months expected profit is below the owner's outside option
    "defaulted": (np.bool_, False),      # missed a loan payment this month (exits; finance.settle)
    # self-determination (seed 001)
    "autonomy": (np.float64, 0.5),
    "competence": (np.float64, 0.5),
    "relatedness": (np.float64, 0.5),
    "effort": (np.float64, 0.6),         # own effort / risk-taking 0..1
    # market position
    "market_reach": (np.float64, 0.0),   # from market-access support, decays
    "logistics": (np.float64, 0.0),      # from logistics support, decays
    "visibility": (np.float64, 0.0),     # marketplace visibility bought by promotion, decays
    "reputation": (np.float64, 0.3),     # marketplace reputation 0..1
    "utilisation": (np.float64, 0.8),    # sales / capacity last month
    # governance links
    "platform_step": (np.int8, 0),       # 0 unregistered, 1..7 PAS step reached (seed 000)
    "participant": (np.float64, 0.0),    # council participation intensity 0..1 (seed 001)
    # flows of the last month, IDR
    "capacity": (np.float64, 0.0),
    "revenue": (np.float64, 0.0),
    "online_revenue": (np.float64, 0.0),
    "export_revenue": (np.float64, 0.0),
    "value_added": (np.float64, 0.0),
    "profit": (np.float64, 0.0),
    "own_profit": (np.float64, 0.0),     # profit minus cash-equivalent support
    "support_cash": (np.float64, 0.0),   # cash-equivalent support this month
    "support_month": (np.float64, 0.0),  # all support received this month (cash + in kind)
    "support_total": (np.float64, 0.0),  # cumulative support received
    "support_ewm": (np.float64, 0.0),    # 12-month moving average of support
    "income_ewm": (np.float64, 0.0),     # 12-month moving average of value added
    "support_mask": (np.uint32, 0),      # bit k set = support received k months ago (last 32)
    # the firm before its first support (model/scan.py; the recipient dependence metrics, ODD 7.10):
    # frozen at the end of the last month without any support yet
    "ever_supported": (np.bool_, False),    # has received support (in its life, the burn-in included)
    "pre_support_loss": (np.bool_, False),  # loss-making (own profit < 0) in the month before its first support
    "pre_support_effort": (np.float64, 0.6),  # effort in the month before its first support
    "loss_months": (np.int16, 0),        # consecutive months with negative profit
    # cash flows of the last month (finance.settle), IDR: the firm's cash identity
    # cash change = profit + depreciation - draws - investment - repaid + borrowed + asset_sales
    "draws": (np.float64, 0.0),          # owner's draws (consumption) out of the business
    "investment": (np.float64, 0.0),     # gross investment (replacement, expansion)
    "repaid": (np.float64, 0.0),         # principal repaid on schedule
    "borrowed": (np.float64, 0.0),       # new loans this month (finance.settle; KUR is invested at delivery)
    "asset_sales": (np.float64, 0.0),    # proceeds of capital sold (at the resale discount)
    "upgrades": (np.int8, 0),            # number of upward class moves
}


_NONZERO_FILL = [(name, fill) for name, (_, fill) in COLUMNS.items() if fill != 0]
_ALLOCATOR_TUNED = False
# per firm x lender kind (finance.LENDERS: KUR bank, commercial bank, cooperative/BPR, moneylender):
# name -> dtype; one loan record per firm and lender (a new loan from a lender it owes is consolidated)
LOANS = {
    "loan_principal": np.float64,   # IDR outstanding
    "loan_rate": np.float64,        # annual rate
    "loan_payment": np.float64,     # IDR a month: the annuity (interest + principal)
}
N_LENDERS = 4
# 2-D per-firm arrays: name -> (dtype, width)
# client_until: a ministry's own client list (delivery/ministries.py), column slot * N_INSTRUMENTS + k for
# the slot-th ministry running instrument k (at most two: the overlaps of seed 001)
MATRICES = {"support_by_instrument": (np.float64, N_INSTRUMENTS), "served_until": (np.int32, N_INSTRUMENTS),
            "client_until": (np.int32, 2 * N_INSTRUMENTS),
            **{name: (dtype, N_LENDERS) for name, dtype in LOANS.items()}}
# Dead rows are compacted away at the end of a month once they are more than this share of the rows.
# A fixed share: when compaction happens depends only on the run's own state (not on the process, the
# number of processes or ``msme_agents``). Results do not depend on it (tests/test_compaction.py).
COMPACT_DEAD_SHARE = 0.10
# What the archive keeps of each firm that exits (as at the end of its exit month): identity, the
# record the accounting and the transitions need, and what a firm's story shows. About 220 bytes a
# firm, half of a row: the other columns of a dead firm are flows that are zero from the next month
# or state that no longer matters.
ARCHIVED = ("firm_id", "region", "sector", "alive", "born", "age0", "died", "initial_class", "size_class", "max_class",
            "upgrades", "capital", "workers", "productivity", "debt", "stage", "cluster", "marketplace",
            "platform_step", "revenue", "profit", "own_profit", "support_total", "autonomy", "competence",
            "relatedness", "support_by_instrument")
# Monthly rules that are row by row run over blocks of rows so that their temporaries stay in the
# CPU cache (a block of float64 is 256 KiB); results do not depend on the block size.
BLOCK = 1 << 15


def blocks(n: int, size: int = BLOCK):
    """Consecutive slices covering rows ``0..n-1``."""
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))



def tune_allocator() -> None:
    """Keep freed memory for reuse instead of returning it to the OS (glibc only).

    The monthly rules allocate temporaries the size of a column; by default glibc serves each large
    one with a fresh ``mmap`` and unmaps it when freed, so every temporary page-faults anew (about a
    quarter of a month's time at 10^6 firms). Raising the mmap and trim thresholds makes them reuse
    the heap. Called once, for large populations only; harmless elsewhere.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    try:
        import ctypes
        import sys

        if not sys.platform.startswith("linux"):
            return
        libc = ctypes.CDLL("libc.so.6")
        M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 30)
        libc.mallopt(M_TRIM_THRESHOLD, 1 << 31)
        libc.mallopt(M_TOP_PAD, 64 << 20)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _column(cap: int, dtype, fill) -> np.ndarray:
    """A column of ``cap`` rows. Zero-filled columns come from calloc, so the head-room costs no
    memory until used; rows with another fill value get it when they are added (``add_rows``)."""
    return np.zeros(cap, dtype=dtype) if fill == 0 else np.empty(cap, dtype=dtype)


class FirmState:
    """All firms' state as NumPy columns. ``n`` rows are in use; arrays have ``cap`` rows."""

    def __init__(self, capacity: int):
        self.cap = max(int(capacity), 16)
        if self.cap >= 50_000:
            tune_allocator()
        self.n = 0
        self.next_id = 0        # firm id of the next firm added
        self.compactions = 0    # times dead rows were removed
        self.removed_initial = 0  # initial firms (born == 0) whose rows were compacted away
        for name, (dtype, fill) in COLUMNS.items():
            setattr(self, name, _column(self.cap, dtype, fill))
        # per firm x instrument: support_by_instrument (cumulative IDR), served_until (month a benefit
        # lasts to); per firm x lender: the loans (LOANS)
        for name, (dtype, width) in MATRICES.items():
            setattr(self, name, np.zeros((self.cap, width), dtype=dtype))
        # (firm_id + 1) * golden gamma of each row: the per-firm term of its random numbers (streams.py)
        self.id_gamma = np.zeros(self.cap, dtype=np.uint64)
        # dead firms as at the end of their exit month: name -> list of arrays (joined when read)
        self._archive: dict[str, list[np.ndarray]] = {name: [] for name in ARCHIVED}
        self.n_archived = 0

    def _grow(self, need: int) -> None:
        new_cap = max(need, 2 * self.cap)
        for name, (dtype, fill) in COLUMNS.items():
            old = getattr(self, name)
            arr = _column(new_cap, dtype, fill)
            arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        for name in MATRICES:
            old = getattr(self, name)
            arr = np.zeros((new_cap, old.shape[1]), dtype=old.dtype)
            arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        g = np.zeros(new_cap, dtype=np.uint64)
        g[: self.n] = self.id_gamma[: self.n]
        self.id_gamma = g
        self.cap = new_cap

    def add_rows(self, k: int) -> slice:
        """Reserve ``k`` new rows for ``k`` new firms (the next firm ids) and return their slice."""
        if self.n + k > self.cap:
            self._grow(self.n + k)
        s = slice(self.n, self.n + k)
        for name, fill in _NONZERO_FILL:  # zero-filled columns are allocated zeroed; the others are filled on use
            getattr(self, name)[s] = fill
        ids = np.arange(self.next_id, self.next_id + k, dtype=np.int64)
        self.firm_id[s] = ids
        self.id_gamma[s] = id_gamma(ids)
        self.next_id += k
        self.n += k
        return s

    def derived(self, name: str, fn, dtype=np.float64) -> np.ndarray:
        """A per-row value fixed at entry (e.g. from region and sector), over the used rows.

        ``fn(rows: slice) -> array`` computes it for new rows; it is computed once per firm and kept
        (and moved with the rows by :meth:`compact`), so monthly rules do not gather region or
        sector tables again.
        """
        cache = self.__dict__.setdefault("_derived", {})
        arr, done = cache.get(name, (None, 0))
        if arr is None or arr.size < self.cap:
            new = np.zeros(self.cap, dtype=dtype)
            if arr is not None:
                new[:done] = arr[:done]
            arr = new
        if done < self.n:
            arr[done:self.n] = fn(slice(done, self.n))
            done = self.n
        cache[name] = (arr, done)
        return arr[: self.n]

    def col(self, name: str) -> np.ndarray:
        """The used part of a column (a view)."""
        return getattr(self, name)[: self.n]

    def nbytes_per_firm(self) -> float:
        """Memory of the state per allocated row, bytes."""
        total = sum(getattr(self, c).nbytes for c in COLUMNS)
        total += sum(getattr(self, m).nbytes for m in MATRICES) + self.id_gamma.nbytes
        return total / self.cap

    # -- identity, dead firms and compaction -----------------------------------------------------
    def row_of(self, firm_id):
        """The row of a firm id (or of each of an array of ids); -1 where the firm has no row (its
        row was compacted away after it died, or the id was never given)."""
        ids = self.firm_id[: self.n]
        q = np.asarray(firm_id, dtype=np.int64)
        i = np.searchsorted(ids, q)
        if ids.size:
            found = (i < ids.size) & (ids[np.minimum(i, ids.size - 1)] == q)
        else:
            found = np.zeros(q.shape, dtype=bool)
        out = np.where(found, i, -1)
        return int(out) if q.ndim == 0 else out

    def archive_exits(self, month: int, rows: np.ndarray | None = None) -> int:
        """Record the firms that died in ``month`` (``died == month``; their ``rows`` if the caller
        knows them, ascending) as they are now, at the end of the month; returns how many. Called
        once a month, after the month's bookkeeping."""
        n = self.n
        if rows is None:
            rows = np.flatnonzero(self.died[:n] == month)
        if rows.size:
            for name in ARCHIVED:
                self._archive[name].append(getattr(self, name)[rows])
            self.n_archived += int(rows.size)
        return int(rows.size)

    def reset_history(self) -> None:
        """Forget the dead firms and the compaction counters (the clock restarts after a burn-in;
        call once only alive rows are left)."""
        self._archive = {name: [] for name in ARCHIVED}
        self.n_archived = 0
        self.removed_initial = 0
        self.compactions = 0

    def archive(self, name: str) -> np.ndarray:
        """Field ``name`` (one of ``ARCHIVED``) of every archived dead firm, in order of archiving (by
        exit month, then firm id)."""
        if name not in self._archive:
            raise KeyError(f"{name!r} is not kept for firms that exited (state.ARCHIVED: {', '.join(ARCHIVED)})")
        parts = self._archive[name]
        if len(parts) != 1:
            dtype = COLUMNS[name][0] if name in COLUMNS else np.float64
            shape = (0,) if name in COLUMNS else (0, N_INSTRUMENTS)
            joined = np.concatenate(parts) if parts else np.zeros(shape, dtype=dtype)
            self._archive[name] = parts = [joined]
        return parts[0]

    def all_firms(self, name: str) -> np.ndarray:
        """Field ``name`` (one of ``ARCHIVED``) over every firm that ever existed, indexed by firm id:
        a dead firm's value as at the end of its exit month (from the archive), an alive firm's
        current value."""
        live = getattr(self, name)[: self.n]
        arch = self.archive(name)  # (checks the name)
        out = np.zeros((self.next_id, *live.shape[1:]), dtype=live.dtype)
        out[self.firm_id[: self.n]] = live
        if self.n_archived:
            out[self.archive("firm_id")] = arch
        return out

    def archived_record(self, firm_id: int):
        """A dead firm's archived record as an object with one-row arrays (``rec.capital[0]``), or
        ``None`` if the firm is not archived."""
        if not self.n_archived:
            return None
        hit = np.flatnonzero(self.archive("firm_id") == int(firm_id))
        if hit.size == 0:
            return None
        i = int(hit[0])
        rec = _Record()
        for name in ARCHIVED:
            setattr(rec, name, self.archive(name)[i:i + 1])
        return rec

    def compact(self, force: bool = False) -> np.ndarray | None:
        """Remove dead rows if they are more than ``COMPACT_DEAD_SHARE`` of the rows (or any, with
        ``force``). Alive rows move up in the same order; freed rows are reset so that
        :meth:`add_rows` can reuse them. Returns the old rows' alive mask (row ``r`` moved to
        ``mask[:r].sum()``) when rows were removed, else ``None``. Dead firms must already be
        archived (:meth:`archive_exits`)."""
        n = self.n
        k = int(np.count_nonzero(self.alive[:n]))
        dead = n - k
        if dead == 0 or (not force and dead <= COMPACT_DEAD_SHARE * n):
            return None
        alive = self.alive[:n].copy()
        keep = np.flatnonzero(alive)
        self.removed_initial += int(np.count_nonzero(~alive & (self.born[:n] == 0)))
        for name, (_, fill) in COLUMNS.items():
            col = getattr(self, name)
            _move_rows(col, keep)
            col[k:n] = fill
        for name in MATRICES:
            arr = getattr(self, name)
            _move_rows(arr, keep)
            arr[k:n] = 0
        _move_rows(self.id_gamma, keep)
        self.id_gamma[k:n] = 0
        for name, (arr, done) in list(self.__dict__.get("_derived", {}).items()):
            kd = int(np.count_nonzero(alive[:done]))
            _move_rows(arr, keep[:kd])
            self._derived[name] = (arr, kd)
        self.n = k
        self.compactions += 1
        return alive


def _move_rows(arr: np.ndarray, keep: np.ndarray) -> None:
    """``arr[:keep.size] = arr[keep]`` in place for ascending ``keep`` (``keep[i] >= i``): row ``i``
    is written after every row it reads, so nothing is overwritten before it is read. One compiled
    pass, no temporary."""
    if arr.ndim == 1:
        _move_1d(arr, keep)
    else:
        _move_2d(arr, keep)


def load_move_kernels() -> None:
    """Compile or load :func:`_move_rows` for every column type (see ``model.load_kernels``)."""
    keep = np.arange(2)
    dtypes = {dtype for dtype, _ in COLUMNS.values()} | {np.float64, np.uint64, np.int64, np.bool_}
    for dtype in dtypes:
        _move_rows(np.zeros(2, dtype=dtype), keep)
    for dtype in (np.float64, np.int32):
        _move_rows(np.zeros((2, N_INSTRUMENTS), dtype=dtype), keep)


@njit(cache=True, nogil=True)
def _move_1d(arr, keep):
    for i in range(keep.size):
        arr[i] = arr[keep[i]]


@njit(cache=True, nogil=True)
def _move_2d(arr, keep):
    for i in range(keep.size):
        j = keep[i]
        if j != i:
            arr[i, :] = arr[j, :]


class _Record:
    """One archived firm's ``ARCHIVED`` fields as one-row arrays (read like a ``FirmState`` at row 0)."""


def size_class(capital: np.ndarray) -> np.ndarray:
    """Size class from capital, GR 7/2021 limits (seed 000): 0 micro, 1 small, 2 medium, 3 large."""
    from .params import CLASS_CAPITAL_LIMITS

    if np.ndim(capital) == 0:
        return np.searchsorted(np.asarray(CLASS_CAPITAL_LIMITS), capital, side="left").astype(np.int8)
    # number of limits strictly below the capital (== searchsorted side="left"), branch-free
    out = np.zeros(np.shape(capital), dtype=np.int8)
    for limit in CLASS_CAPITAL_LIMITS:
        out += capital > limit
    return out
