"""Random streams derived from ``model.rng`` for common random numbers.

The model draws one 63-bit key from ``model.rng`` when it is built; every random number after
that is a function of ``(key, month, purpose, firm id)``. Firms are addressed by their row in the
firm columns; the number a row gets is its firm's (``FirmState.firm_id``), so it does not change
when dead rows are compacted away and rows move up:

* ``uniform(month, purpose, n)`` -- the numbers of the firms in rows ``0..n-1`` as an array;
* ``uniform_rows(month, purpose, rows)`` -- the same numbers for some rows only (cost O(len(rows)));
* ``uniform_at(month, purpose, firm_id)`` -- the same number for one firm, as a Python float (what
  one agent of the reference engine draws for itself);
* ``normal``/``normal_rows``/``normal_at`` -- standard normals in the same three shapes;
* ``gen(month, purpose)`` -- a NumPy generator for draws that are not indexed by firm (entrants).

Firm-indexed numbers come from a counter-based generator: the 64-bit SplitMix64 output function
applied to ``stream_seed(key, month, purpose) + (firm_id + 1) * golden_gamma``. SplitMix64 passes
BigCrush; stream seeds come from NumPy's ``SeedSequence`` hash so streams do not overlap. Because a
firm's number does not depend on how many rows exist, where the firm's row is or which other firms
are drawn, every scenario run with one seed sees the same initial population and the same exogenous
draws for the same firm in the same month (paired comparisons), and the reference engine (one
Python method per agent) reproduces the vectorised engine exactly.

A :class:`Streams` bound to a ``FirmState`` (:meth:`Streams.bind`, done by the model) reads each
row's ``(firm_id + 1) * golden_gamma`` from the state's cached ``id_gamma`` column, which moves with
the rows; an unbound one treats rows as firm ids (row ``r`` is firm ``r``).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.random.bit_generator import ISeedSequence

# purposes: one independent stream each
INIT, ENTRY, PRODUCTIVITY, ADOPTION, EXIT, AWARENESS, PRIORITY, FINANCE, GOVERNANCE, CLUSTER, MARKET = range(11)

_MASK64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB
_U53 = 2.0 ** -53
_U32 = 2.0 ** -32
TWO_PI = 2.0 * np.pi
_BLOCK = 1 << 15
# the hash's shifts and multipliers as NumPy scalars (made once, not per call)
_S11, _S27, _S30, _S31 = (np.uint64(k) for k in (11, 27, 30, 31))
_UM1, _UM2 = np.uint64(_M1), np.uint64(_M2)


# NumPy's SeedSequence hash (numpy/random/bit_generator.pyx), vectorised over many entropy lists
# of the same length: the stream seeds of a run of months are computed in one pass instead of one
# SeedSequence per (month, purpose) (about 13 µs each, a dozen a month). Bit for bit the same.
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _POOL = 0xCA01F9DD, 0x4973F715, 4
_M32 = 0xFFFFFFFF


def _words(x: int) -> list[int]:
    """A non-negative int as SeedSequence sees it: 32-bit words, least significant first."""
    out = [x & _M32]
    x >>= 32
    while x > 0:
        out.append(x & _M32)
        x >>= 32
    return out


def seed_sequence_states(entropy: np.ndarray, n_words: int = 1) -> np.ndarray:
    """``SeedSequence(list(row)).generate_state(1, np.uint64)[0]`` for each row of ``entropy``
    (a 2-D array of 32-bit words, already split as ``SeedSequence`` splits its ints); with
    ``n_words`` > 1, ``generate_state(n_words, np.uint64)`` (one row each)."""
    n_out = n_words
    e = np.ascontiguousarray(entropy, dtype=np.uint32)
    m, n_words = e.shape
    hc = [_INIT_A]

    def hashmix(v):
        v = v ^ np.uint32(hc[0])
        hc[0] = (hc[0] * _MULT_A) & _M32
        v = v * np.uint32(hc[0])
        return v ^ (v >> np.uint32(16))

    def mix(x, y):
        r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return r ^ (r >> np.uint32(16))

    zero = np.zeros(m, dtype=np.uint32)
    pool = [hashmix(e[:, i] if i < n_words else zero) for i in range(_POOL)]
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    for i_src in range(_POOL, n_words):
        for i_dst in range(_POOL):
            pool[i_dst] = mix(pool[i_dst], hashmix(e[:, i_src]))
    out = []
    h = _INIT_B
    for i in range(2 * n_out):  # 32-bit words drawn from the pool in turn; two make a 64-bit one
        v = pool[i % _POOL] ^ np.uint32(h)
        h = (h * _MULT_B) & _M32
        v = v * np.uint32(h)
        out.append((v ^ (v >> np.uint32(16))).astype(np.uint64))
    words = [out[2 * i] | (out[2 * i + 1] << np.uint64(32)) for i in range(n_out)]
    return words[0] if n_out == 1 else np.stack(words, axis=1)


class _KnownState(ISeedSequence):
    """A ``SeedSequence([...])`` whose 4 x 64-bit state (what ``PCG64`` asks for) is already known;
    anything else it is asked is computed by a real ``SeedSequence`` of the same entropy."""

    def __init__(self, words: np.ndarray, entropy: list[int]):
        self.words, self.entropy = words, entropy

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words == 4 and np.dtype(dtype) == np.uint64:
            return self.words.copy()
        return np.random.SeedSequence(self.entropy).generate_state(n_words, dtype)


def id_gamma(firm_ids: np.ndarray) -> np.ndarray:
    """``(firm_id + 1) * golden_gamma`` modulo 2^64, the per-firm term of a firm-indexed number."""
    z = np.asarray(firm_ids, dtype=np.int64).astype(np.uint64)
    z += np.uint64(1)
    z *= np.uint64(_GAMMA)
    return z


@njit(cache=True, nogil=True, inline="always")
def uniform_of(seed, term) -> float:
    """One row-indexed uniform inside a compiled loop: SplitMix64's output function of
    ``seed + term`` (``term`` = the row's ``(firm id + 1) * gamma``), its top 53 bits times 2^-53.
    Unsigned 64-bit arithmetic wraps as in the NumPy version; the same bits."""
    z = np.uint64(seed) + np.uint64(term)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * _U53


def _mix_scalar(z: int) -> int:
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return z ^ (z >> 31)


BURN_IN = 0xB0B1  # the burn-in's streams: a key of their own (model.MSMEEcosystem._build_burnt_in)


def burn_in_key(key: int) -> int:
    """The key of the burn-in's streams, derived from the run's key (independent of its streams)."""
    return int(np.random.SeedSequence([int(key), BURN_IN]).generate_state(1, np.uint64)[0] >> np.uint64(1))


class Streams:
    """Factory of per-(month, purpose) random numbers indexed by firm (addressed by row)."""

    def __init__(self, key: int):
        self.key = int(key)
        self._seeds: dict[tuple[int, int], np.uint64] = {}  # (month, purpose) outside the runs below
        self._runs: dict[int, tuple[int, np.ndarray]] = {}  # purpose -> (first month, seeds of the next months)
        self._gen_runs: dict[int, tuple[int, np.ndarray]] = {}  # the same for ``gen`` (4 words a month)
        self._firms = None  # a FirmState once bound: its ``id_gamma`` column gives each row's term
        self._gamma_rows = np.zeros(0, dtype=np.uint64)  # unbound: (row + 1) * gamma mod 2^64, grown on demand
        self._buf = np.zeros(0, dtype=np.uint64)
        self._tmp = np.zeros(0, dtype=np.uint64)

    def bind(self, firms) -> None:
        """Address firms by their row in ``firms`` (a ``FirmState``): row ``r`` draws the numbers of
        firm ``firms.firm_id[r]``, read through the state's ``id_gamma`` column."""
        self._firms = firms

    # -- keys ----------------------------------------------------------------------------------
    def gen(self, month: int, purpose: int) -> np.random.Generator:
        """A fresh NumPy generator for this month and purpose (for draws not indexed by row):
        ``Generator(PCG64(SeedSequence([key, month + 1, purpose])))``. The seed state is computed
        for a run of months at once (as the stream seeds are): the same generator, without a
        ``SeedSequence`` a month."""
        month, purpose = int(month), int(purpose)
        entropy = [self.key, month + 1, purpose]
        if month < 0 or purpose < 0 or purpose >= 1 << 32 or month + 1 >= 1 << 32:  # rare: as it reads
            return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
        run = self._gen_runs.get(purpose)
        if run is None or not 0 <= month - run[0] < run[1].shape[0]:
            months = np.arange(month, month + self._SEED_MONTHS, dtype=np.int64)
            cols = [np.full(months.size, w, dtype=np.uint32) for w in _words(self.key)]
            cols += [(months + 1).astype(np.uint32), np.full(months.size, purpose, dtype=np.uint32)]
            run = self._gen_runs[purpose] = (month, seed_sequence_states(np.stack(cols, axis=1), n_words=4))
        return np.random.Generator(np.random.PCG64(_KnownState(run[1][month - run[0]], entropy)))

    def stream_seed(self, month: int, purpose: int) -> int:
        """The 64-bit seed of the row-indexed stream ``(month, purpose)``."""
        return int(self._seed(month, purpose))

    _SEED_MONTHS = 128  # stream seeds are computed for this many months of a purpose at a time

    def _seed(self, month: int, purpose: int) -> np.uint64:
        """``stream_seed`` as a NumPy scalar (what the vectorised draws add), from the seeds of the
        purpose's current run of months."""
        run = self._runs.get(purpose)
        if run is not None:
            i = month - run[0]
            if 0 <= i < run[1].size:
                return run[1][i]
        return self._fill_seeds(month, purpose)

    def _fill_seeds(self, month: int, purpose: int) -> np.uint64:
        """Seeds of ``SeedSequence([key, month + 1, purpose, 0x5EED])`` for ``month`` and the next
        months of the purpose, in one vectorised pass (same values); returns ``month``'s."""
        month, purpose = int(month), int(purpose)
        if month < 0 or purpose < 0 or purpose >= 1 << 32:  # rare: one at a time
            s = self._seeds.get((month, purpose))
            if s is None:
                ss = np.random.SeedSequence([self.key, month + 1, purpose, 0x5EED])
                s = self._seeds[(month, purpose)] = ss.generate_state(1, np.uint64)[0]
            return s
        months = np.arange(month, month + self._SEED_MONTHS, dtype=np.int64)
        cols = [np.full(months.size, w, dtype=np.uint32) for w in _words(self.key)]
        cols += [(months + 1).astype(np.uint32), np.full(months.size, purpose, dtype=np.uint32),
                 np.full(months.size, 0x5EED, dtype=np.uint32)]
        seeds = seed_sequence_states(np.stack(cols, axis=1))
        self._runs[purpose] = (month, seeds)
        return seeds[0]

    # -- vectorised ----------------------------------------------------------------------------
    def _gamma(self, n: int) -> np.ndarray:
        """The per-firm terms of rows ``0..n-1`` (a view; do not modify)."""
        if self._buf.size < n:
            cap = max(n, int(self._buf.size * 1.5) + 1024)
            self._buf = np.empty(cap, dtype=np.uint64)
            self._tmp = np.empty(cap, dtype=np.uint64)
        if self._firms is not None:
            return self._firms.id_gamma[:n]
        if self._gamma_rows.size < n:
            cap = max(n, int(self._gamma_rows.size * 1.5) + 1024)
            with np.errstate(over="ignore"):
                self._gamma_rows = np.arange(1, cap + 1, dtype=np.uint64) * np.uint64(_GAMMA)
        return self._gamma_rows[:n]

    def _bits(self, month: int, purpose: int, n: int | None = None, rows=None) -> np.ndarray:
        """Raw 64-bit outputs for the firms in rows ``0..n-1`` or in a slice of rows (in a reused
        buffer), or in ``rows`` (a new array)."""
        s = self._seed(month, purpose)
        if isinstance(rows, slice):
            g = self._gamma(rows.stop)[rows]
            k = g.size
            z = np.add(g, s, out=self._buf[:k])
            tmp = self._tmp[:k]
        elif rows is None:
            g = self._gamma(n)
            z = np.add(g, s, out=self._buf[:n])
            tmp = self._tmp[:n]
        elif self._firms is not None:
            z = self._firms.id_gamma.take(np.asarray(rows, dtype=np.intp))
            z += s
            tmp = np.empty_like(z)
        else:
            z = id_gamma(rows)
            z += s
            tmp = np.empty_like(z)
        np.right_shift(z, _S30, out=tmp)
        z ^= tmp
        z *= _UM1
        np.right_shift(z, _S27, out=tmp)
        z ^= tmp
        z *= _UM2
        np.right_shift(z, _S31, out=tmp)
        z ^= tmp
        return z

    @staticmethod
    def _to_uniform(z: np.ndarray) -> np.ndarray:
        # the top 53 bits times 2^-53 (exact: the integer converts to float64 without rounding)
        return np.multiply(np.right_shift(z, _S11, out=z), _U53)

    def uniform(self, month: int, purpose: int, n: int) -> np.ndarray:
        """``n`` uniforms in [0, 1), one per row ``0..n-1``; each row gets its firm's number, whatever ``n`` is."""
        n = int(n)
        if n <= _BLOCK:
            return self._to_uniform(self._bits(month, purpose, n=n))
        out = np.empty(n)
        for lo in range(0, n, _BLOCK):  # block by block: the hash's passes stay in the CPU cache
            sl = slice(lo, min(lo + _BLOCK, n))
            z = np.right_shift(self._bits(month, purpose, rows=sl), np.uint64(11))
            np.multiply(z, _U53, out=out[sl])
        return out

    def compiled_keys(self, month: int, purpose: int, n: int) -> tuple[np.uint64, np.ndarray]:
        """``(seed, terms)`` for drawing the uniforms of rows ``0..n-1`` inside a compiled loop with
        :func:`uniform_of` (``uniform_of(seed, terms[r])`` is ``uniform(month, purpose, n)[r]``, bit
        for bit), so that a loop draws only for the rows it needs."""
        return self._seed(month, purpose), self._gamma(n)

    def uniform_rows(self, month: int, purpose: int, rows) -> np.ndarray:
        """The uniforms of ``rows`` (an index array or a slice) only: ``uniform(month, purpose, n)[rows]``."""
        return self._to_uniform(self._bits(month, purpose, rows=rows))

    @staticmethod
    def _to_normal(z: np.ndarray) -> np.ndarray:
        # Box-Muller on the two 32-bit halves: radius from the high half, angle from the low half
        u1 = np.right_shift(z, np.uint64(32)).astype(np.float64)
        u1 *= -_U32
        u1 += 1.0                          # 1 - u in (0, 1]
        r = np.log(u1, out=u1)
        r *= -2.0
        np.sqrt(r, out=r)
        lo = np.bitwise_and(z, np.uint64(0xFFFFFFFF)).astype(np.float64)
        lo *= _U32 * TWO_PI
        r *= np.cos(lo.astype(np.float32))
        return r

    def normal(self, month: int, purpose: int, n: int) -> np.ndarray:
        """``n`` standard normals, row-indexed like :meth:`uniform`."""
        n = int(n)
        if n <= _BLOCK:
            return self._to_normal(self._bits(month, purpose, n=n))
        out = np.empty(n)
        for lo in range(0, n, _BLOCK):
            sl = slice(lo, min(lo + _BLOCK, n))
            out[sl] = self._to_normal(self._bits(month, purpose, rows=sl))
        return out

    def normal_rows(self, month: int, purpose: int, rows) -> np.ndarray:
        """The normals of ``rows`` only."""
        return self._to_normal(self._bits(month, purpose, rows=rows))

    # -- one firm at a time (reference engine, teaching) -----------------------------------------
    def _bits_at(self, month: int, purpose: int, firm_id: int) -> int:
        return _mix_scalar((self.stream_seed(month, purpose) + (int(firm_id) + 1) * _GAMMA) & _MASK64)

    def uniform_at(self, month: int, purpose: int, firm_id: int) -> float:
        """The uniform of one firm, by firm id (equal to ``uniform(month, purpose, n)[row]`` for the
        firm's row)."""
        return (self._bits_at(month, purpose, firm_id) >> 11) * _U53

    def normal_at(self, month: int, purpose: int, firm_id: int) -> float:
        """The standard normal of one firm, by firm id (equal to ``normal(month, purpose, n)[row]``
        for the firm's row)."""
        z = self._bits_at(month, purpose, firm_id)
        r = np.sqrt(-2.0 * np.log(1.0 + (z >> 32) * -_U32))
        angle = np.float32((z & 0xFFFFFFFF) * (_U32 * TWO_PI))
        return float(r * np.float64(np.cos(angle)))

    def forget(self, before_month: int) -> None:
        """Drop cached stream seeds of months before ``before_month`` (memory hygiene)."""
        for k in [k for k in self._seeds if k[0] < before_month]:
            del self._seeds[k]
        for q in [q for q, (first, seeds) in self._runs.items() if first + seeds.size <= before_month]:
            del self._runs[q]
