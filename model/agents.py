"""Mesa agents. The MSME agent is a thin view on its row of the firm columns; the other entities
are few and hold their own small state (clusters and marketplaces also read their table row).
"""

from __future__ import annotations

import numpy as np
from mesa import Agent

from .delivery.councils import COUNCIL_STEPS
from .params import CLUSTER_TYPES, DIGITAL_STAGES, INSTRUMENTS, SECTORS, SIZE_CLASSES


class MSME(Agent):
    """A micro, small or medium enterprise: a view on row ``row`` of ``model.firms``.

    Reading an attribute reads the column; the monthly rules run vectorised over all rows
    (see ``MSMEEcosystem.step``), so an MSME agent has no ``step`` of its own. The firm's identity
    is ``firm_id``; its ``row`` changes when dead rows are compacted (the model updates it).
    """

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = int(row)

    def __getattr__(self, name):
        # Only called for names not found normally: look them up as firm columns.
        if name in _COLUMN_NAMES:
            return getattr(self.model.firms, name)[self.row].item()
        raise AttributeError(name)

    @property
    def size_class_name(self) -> str:
        return SIZE_CLASSES[self.model.firms.size_class[self.row]]

    @property
    def digital_stage(self) -> str:
        return DIGITAL_STAGES[self.model.firms.stage[self.row] - 1]

    @property
    def sector_name(self) -> str:
        return SECTORS[self.model.firms.sector[self.row]]

    @property
    def self_reliance(self) -> float:
        f = self.model.firms
        return float((f.autonomy[self.row] + f.competence[self.row] + f.relatedness[self.row]) / 3)

    @property
    def support_received(self) -> dict[str, float]:
        """Cumulative support by instrument, IDR."""
        row = self.model.firms.support_by_instrument[self.row]
        return {k: float(v) for k, v in zip(INSTRUMENTS, row) if v > 0}

    def story(self) -> dict:
        """A readable summary of this firm's state (for the app and for teaching)."""
        f, r = self.model.firms, self.row
        return {
            "firm_id": int(f.firm_id[r]), "row": r, "alive": bool(f.alive[r]),
            "born": int(f.born[r]), "age0": int(f.age0[r]), "died": int(f.died[r]),
            "age_months": int(self.model.month - f.born[r] + f.age0[r]),
            "region": int(f.region[r]), "sector": self.sector_name, "size_class": self.size_class_name,
            "initial_class": SIZE_CLASSES[f.initial_class[r]], "digital_stage": self.digital_stage,
            "capital_idr": float(f.capital[r]), "workers": float(f.workers[r]),
            "revenue_idr": float(f.revenue[r]), "profit_idr": float(f.profit[r]),
            "own_profit_idr": float(f.own_profit[r]), "support_total_idr": float(f.support_total[r]),
            "support_by_instrument": self.support_received, "self_reliance": self.self_reliance,
            "cluster": int(f.cluster[r]), "marketplace": int(f.marketplace[r]),
            "platform_step": int(f.platform_step[r]), "upgrades": int(f.upgrades[r]),
        }


from .state import COLUMNS as _COLUMNS  # noqa: E402

_COLUMN_NAMES = frozenset(_COLUMNS)


class Cluster(Agent):
    """A cluster of micro and small firms (GR 7/2021, seed 004); a view on ``model.cluster_table``."""

    def __init__(self, model, cid: int):
        super().__init__(model)
        self.cid = int(cid)

    @property
    def cluster_type(self) -> str:
        return CLUSTER_TYPES[self.model.cluster_table.ctype[self.cid]]

    @property
    def capability(self) -> float:
        """Continuous capability index 0..1; the type is its band (``clusters.TYPE_THRESHOLDS``)."""
        return float(self.model.cluster_table.capability[self.cid])

    @property
    def members(self) -> int:
        return int(self.model.cluster_table.members[self.cid])

    @property
    def facility(self) -> float:
        return float(self.model.cluster_table.facility[self.cid])

    @property
    def region(self) -> int:
        return int(self.model.cluster_table.region[self.cid])


class Marketplace(Agent):
    """An e-commerce marketplace (seed 003); a view on ``model.market_table``."""

    def __init__(self, model, mid: int):
        super().__init__(model)
        self.mid = int(mid)

    @property
    def commission(self) -> float:
        return float(self.model.market_table.commission[self.mid])

    @property
    def sellers(self) -> int:
        return int(self.model.market_table.sellers[self.mid])

    @property
    def buyer_pool(self) -> float:
        return float(self.model.market_table.pool[self.mid])


class Programme(Agent):
    """One instrument run by one owner (a ministry, a council or the platform)."""

    def __init__(self, model, instrument: int, owner: str):
        super().__init__(model)
        self.instrument = int(instrument)
        self.instrument_name = INSTRUMENTS[instrument]
        self.owner = owner
        self.programme_id = len(model.programme_agents_by_id)
        model.programme_agents_by_id[self.programme_id] = self
        self.budget = 0.0

    # totals paid out, kept for all programmes at once in ``model.programme_book`` (pipeline.deliver)
    @property
    def firms_served(self) -> int:
        return int(self.model.programme_book[self.programme_id, 0])

    @property
    def support_total(self) -> float:
        return float(self.model.programme_book[self.programme_id, 1])

    @property
    def spent_total(self) -> float:
        return float(self.model.programme_book[self.programme_id, 2])

    def record(self, n_served: int, support: float, gross: float) -> None:
        self.model.programme_book[self.programme_id] += (n_served, support, gross)


class Ministry(Agent):
    """A national ministry running its programmes independently (centralised mode, seed 001)."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index
        self.programmes: list[Programme] = []


class RegionalCouncil(Agent):
    """A regional council (self-governance, seed 001) with a four-step capacity ramp."""

    def __init__(self, model, region: int):
        super().__init__(model)
        self.region = region
        self.programme_ids: list[int] = []
        self.capacity = 0.25
        self.captured_total = 0.0

    @property
    def step_name(self) -> str:
        return COUNCIL_STEPS[int(round(self.capacity * 4)) - 1]

    def record_capture(self, amount: float, capacity: float) -> None:
        self.captured_total += amount
        self.capacity = float(capacity)


class CollaborativePlatform(Agent):
    """The collaborative platform (seed 000) linking government, private sector, academia, community."""

    PARTNERS = ("government", "private sector", "academia", "community")

    def __init__(self, model):
        super().__init__(model)
        self.programme_ids: list[int] = []

    @property
    def registered(self) -> int:
        f = self.model.firms
        return int(((f.platform_step[: f.n] > 0) & f.alive[: f.n]).sum())

    def step_counts(self) -> np.ndarray:
        f = self.model.firms
        return np.bincount(f.platform_step[: f.n][f.alive[: f.n]], minlength=8)
