"""Random streams derived from ``model.rng`` for common random numbers.

The model draws one 63-bit key from ``model.rng`` when it is built; every random number after
that comes from a generator seeded by ``(key, month, purpose)``. Draws are arrays indexed by firm
row, so for one seed every scenario sees the same initial population and the same exogenous draws
for the same firm in the same month (paired comparisons), and the reference engine (one Python
method per agent) can reproduce the vectorised engine exactly by indexing the same arrays.
"""

from __future__ import annotations

import numpy as np

# purposes: one independent stream each
INIT, ENTRY, PRODUCTIVITY, ADOPTION, EXIT, AWARENESS, PRIORITY, FINANCE, GOVERNANCE, CLUSTER, MARKET = range(11)


class Streams:
    """Factory of per-(month, purpose) generators."""

    def __init__(self, key: int):
        self.key = int(key)

    def gen(self, month: int, purpose: int) -> np.random.Generator:
        """A fresh generator for this month and purpose."""
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.key, int(month) + 1, purpose])))

    def uniform(self, month: int, purpose: int, n: int) -> np.ndarray:
        """``n`` uniforms in [0, 1); row i gets the same number whatever ``n`` is (prefix property)."""
        return self.gen(month, purpose).random(n)

    def normal(self, month: int, purpose: int, n: int) -> np.ndarray:
        """``n`` standard normals, row-indexed like :meth:`uniform`."""
        return self.gen(month, purpose).standard_normal(n)
