"""The model: ``MSMEEcosystem``, a ``mesa.Model`` of MSMEs, clusters, marketplaces, programmes and
governance actors, stepped month by month.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import mesa
import numpy as np

from . import (
    clusters,
    demand,
    demography,
    environment,
    finance,
    learning,
    marketplaces,
    production,
    reporters,
    streams,
)
from . import reporters as reporters_mod
from .agents import MSME, Cluster, CollaborativePlatform, Marketplace, Ministry, Programme, RegionalCouncil
from .clusters import ClusterTable
from .delivery import councils, instruments, ledger, ministries, modes, pipeline
from .marketplaces import MarketTable
from .params import DEFAULTS, INSTRUMENTS, Levers
from .population import fill_firms, region_layout
from .scan import Scan
from .scenario import Scenario, validate_params
from .state import FirmState, load_move_kernels

EWM = 1.0 / 12.0  # weight of the current month in 12-month moving averages
FIRM_SAMPLE = 0x5A3B  # stream purpose of collect_firms' sample (used by nothing else)
_KERNELS_LOADED = False


def load_kernels() -> None:
    """Load the compiled (Numba) monthly passes once per process, by building and stepping a tiny
    model: about 0.2 s from Numba's cache (a few seconds the first time after installing, when they
    are compiled). Called when the first model is built, so that the cost is part of a run's set-up
    rather than of its first month."""
    global _KERNELS_LOADED
    if _KERNELS_LOADED:
        return
    _KERNELS_LOADED = True
    load_move_kernels()
    for shock in (False, True):  # the shock's per-firm exposure takes other paths in some passes
        MSMEEcosystem(seed=1, n_firms=300, n_months=2, msme_agents=False, shock_enabled=shock, shock_month=1,
                      cluster_programme=True).run()


class MSMEEcosystem(mesa.Model):
    """Agent-based model of MSME ecosystem policy.

    Args:
        scenario: a :class:`~model.scenario.Scenario` (or ``None`` for the embedded defaults).
        seed: random seed (Mesa's); same scenario and seed give identical results.
        rng: alternatively, a NumPy generator or seed for ``model.rng``.
        **params: flat parameter overrides (any field of ``model.params``), e.g.
            ``governance_mode="self_governance"``, ``n_firms=5000``, ``mix_grants=0.1``.
    """

    def __init__(self, scenario: Scenario | str | None = None, *, seed: int | None = None, rng=None, **params: Any):
        if seed is not None and rng is not None:
            raise ValueError("give either seed or rng, not both")
        if isinstance(scenario, str):  # a bundled scenario's name or a .toml path (mesa.batch_run passes names)
            from .scenario import load_scenario

            scenario = load_scenario(scenario)
        if rng is None:
            # Mesa's convention: no seed means fresh entropy; the seed drawn is kept so the run can be repeated
            seed = int(np.random.SeedSequence().entropy % 2**63) if seed is None else seed
            rng = seed
        load_kernels()
        super().__init__(rng=rng)  # Mesa >= 3.4 deprecates ``seed=``; ``rng=<int>`` seeds identically
        base = dict(scenario.params) if scenario is not None else dict(DEFAULTS)
        base.update(params)
        self.p: dict[str, Any] = validate_params(base, "model parameters")
        self.unit_cost = instruments.unit_table(self.p)  # IDR per firm served, per instrument (KUR's: NaN)
        self.scenario_name = scenario.name if scenario is not None else "custom"
        self.seed_value = seed
        # every random number below comes from model.rng through keyed streams (common random numbers)
        self.streams = streams.Streams(int(self.rng.integers(2**62)))
        self.month = 0
        self.diffusion = True  # digital adoption runs (the burn-in pauses it: learning.update)
        self.burn_in_months = int(self.p["burn_in_months"])
        self.burn_in_seconds = 0.0
        if self.burn_in_months > 0:
            self._build_burnt_in()
        else:
            self._build()
        self.datacollector = reporters.MetricsCollector(
            model_reporters={name: reporters.reporter(name) for name in reporters.METRICS})
        self._bookkeeping(initial=True)

    # ------------------------------------------------------------------------------------------
    def _build(self) -> None:
        p = self.p
        init = self.streams.gen(-1, streams.INIT)
        self.regions = region_layout(p["n_regions"])
        self.region_remoteness = self.regions["remoteness"]
        self.region_internet = self.regions["internet_factor"]
        self.firms = FirmState(int(p["n_firms"] * 1.25) + 16)
        self.streams.bind(self.firms)  # firm-indexed random numbers follow the firm ids of the rows
        environment.update(self)
        rows = self.firms.add_rows(p["n_firms"])
        fill_firms(self.firms, rows, init, self.regions, 0, self.internet, entrants=False,
                   price_sensitivity=p["price_sensitivity"])
        f = self.firms
        finance.open_books(self, rows)  # loans as records, cash (core v2 stage 4)
        self.participation_propensity = init.random(p["n_firms"])
        self.council_speed = np.clip(1.0 + p["council_capacity_spread"] * (init.random(p["n_regions"]) - 0.5) * 2,
                                     0.2, None)
        counts = np.bincount(f.region[: f.n], minlength=p["n_regions"])
        self.region_budget_share = counts / counts.sum()
        self.cluster_table = ClusterTable()
        clusters.init_clusters(self, init)
        self.market_table = MarketTable(p["n_marketplaces"])
        marketplaces.init_marketplaces(self)
        self.ledger = ledger.new_ledger(p["n_months"])
        self.pipeline: dict[int, list[pipeline.Delivery]] = {}
        self.council_stock = np.zeros(p["n_regions"])  # councils' paid staff and activities (delivery/councils.py)
        self.council_cap = councils.council_capacity(self)
        self.services_month = 0.0
        self.budget_this_month = 0.0
        self.exits_month = self.entries_month = self.upgrades_month = self.downgrades_month = 0
        self.upgrades_total = 0
        self._create_agents()
        # month 0 flows (no decisions): capacity, customers and spending, sales and profit
        clusters.update(self)
        f.capacity[: f.n] = production.capacity(self)
        demand.init_markets(self)
        self._markets()
        production.produce_and_sell(self)
        finance.profit_and_loss(self)
        demand.init_incomes(self)
        f.income_ewm[: f.n] = np.maximum(f.value_added[: f.n], 0.0)
        # firms already making losses have been doing so for a while (spreads their exits out)
        lossy = f.profit[: f.n] < 0
        f.loss_months[: f.n][lossy] = init.integers(0, 12, int(lossy.sum()))
        finance.start_expectations(self, init)  # expected profit; months below the outside option (stage 4)
        self.employment0 = float(f.workers[: f.n][f.alive[: f.n]].sum())
        self.alive_start_month = int(f.alive[: f.n].sum())

    def _build_burnt_in(self) -> None:
        """Build the initial population, then run ``burn_in_months`` months before month 0
        (:func:`burn_in_params`: today's policy, trends at 0, no shock) and restart the clock.

        Nothing of the burn-in is recorded. It draws its random numbers from streams of their own
        (keyed by the run's key), so the burnt-in state is a function of the seed and the
        parameters that are not levers: every scenario with the same seed starts month 0 from the
        same firms (common random numbers), and month ``t`` after it uses the same streams as
        without a burn-in. It runs the vectorised monthly rules whatever the engine (the reference
        engine starts from the same state)."""
        import time

        t0 = time.perf_counter()
        scenario_p, run_streams = self.p, self.streams
        months = self.burn_in_months
        self.p = burn_in_params(scenario_p)
        self._build()
        self.streams = streams.Streams(streams.burn_in_key(run_streams.key))
        self.streams.bind(self.firms)
        self.diffusion = False  # digital adoption is a trend: paused before month 0 (learning.update)
        for t in range(1, months + 1):
            self.month = t
            MSMEEcosystem._month_rules(self)
            Scan(self, initial=False, ewm=EWM)  # the end-of-month bookkeeping (classes, moving averages)
            self.upgrades_month = self.downgrades_month = 0
            self._compact()
        self.p, self.streams = scenario_p, run_streams
        self.diffusion = True
        self.streams.bind(self.firms)
        self._restart_clock(months)
        self.burn_in_seconds = time.perf_counter() - t0

    def _restart_clock(self, months: int) -> None:
        """Month 0 after a burn-in of ``months`` months: the firms alive now are the initial
        population (firm ids 0..N-1, ``born`` 0, ``age0`` their age now, class at month 0 their class
        now), the dead are forgotten, month-stamped state moves back by ``months``, cumulative
        counters, the ledger and the books start from zero; the scenario's own parameters apply."""
        p, f = self.p, self.firms
        self._compact_rows(force=True)  # only the alive firms keep rows
        n = f.n
        ids = np.arange(n, dtype=np.int64)
        f.firm_id[:n] = ids
        f.id_gamma[:n] = streams.id_gamma(ids)
        f.next_id = n
        f.age0[:n] += months - f.born[:n]  # age now; the hazard reads t - born + age0
        f.born[:n] = 0
        f.died[:n] = -1
        f.initial_class[:n] = f.size_class[:n]
        f.max_class[:n] = f.size_class[:n]
        f.upgrades[:n] = 0
        f.support_total[:n] = 0.0
        f.support_by_instrument[:n] = 0.0
        np.maximum(f.served_until[:n] - months, 0, out=f.served_until[:n])
        np.maximum(f.client_until[:n] - months, 0, out=f.client_until[:n])
        f.reset_history()
        # support approved in the burn-in but not yet delivered is dropped: the ledger books only what
        # the scenario's own programmes approve (the budget accounting holds from month 1)
        self.pipeline = {}
        self.ledger = ledger.new_ledger(p["n_months"])
        self.programme_book[:] = 0.0
        self.programme_balance[:] = 0.0  # the burn-in's balances are not the scenario's money
        self.upgrades_total = self.upgrades_month = self.downgrades_month = 0
        self.exits_month = self.entries_month = 0
        self.__dict__.pop("loan_ledger", None)
        finance.ledger(self)  # the lenders' books start at 0 too, sized for the scenario's months
        for cache in ("_mix", "_central_plan", "exit_rows"):
            self.__dict__.pop(cache, None)
        self.month = 0
        environment.update(self)
        counts = np.bincount(f.region[:n], minlength=p["n_regions"])
        self.region_budget_share = counts / counts.sum()
        self.council_stock = np.zeros(p["n_regions"])  # councils' paid staff and activities (delivery/councils.py)
        self.council_cap = councils.council_capacity(self)
        self.services_month = 0.0
        self.budget_this_month = 0.0
        self.employment0 = float(f.workers[:n].sum())
        self.alive_start_month = n

    def _create_agents(self) -> None:
        p = self.p
        self.msme_by_row: dict[int, MSME] = {}
        if p["msme_agents"]:
            self.add_msme_agents(np.arange(self.firms.n))
        self.cluster_agents = [Cluster(self, c) for c in range(self.cluster_table.n)]
        self.marketplace_agents = [Marketplace(self, m) for m in range(p["n_marketplaces"])]
        self.programme_agents_by_id: dict[int, Programme] = {}
        self.ministry_agents = [Ministry(self, i) for i in range(p["n_ministries"])]
        self.ownership = ministries.ministry_ownership(p["n_ministries"])
        self.programme_list = []
        for m, k in self.ownership:
            prog = Programme(self, k, f"ministry {m}")
            self.ministry_agents[m].programmes.append(prog)
            self.programme_list.append(prog)
        self.council_agents = [RegionalCouncil(self, r) for r in range(p["n_regions"])]
        for c in self.council_agents:
            c.programme_ids = [Programme(self, k, f"council {c.region}").programme_id for k in range(len(INSTRUMENTS))]
        self.platform_agent = CollaborativePlatform(self)
        self.platform_agent.programme_ids = [Programme(self, k, "platform").programme_id
                                             for k in range(len(INSTRUMENTS))]
        # firms served, support and money spent of every programme (``ledger.BOOK_*`` columns)
        self.programme_book = np.zeros((len(self.programme_agents_by_id), 3))
        # each programme's balance carried over to next month (gross IDR; pipeline.carry_over)
        self.programme_balance = np.zeros(len(self.programme_agents_by_id))
        self.programme_instrument = np.array([a.instrument for a in self.programme_agents_by_id.values()],
                                             dtype=np.int64)

    def collect_firms(self, reporters: dict[str, Any], sample: int | None = None) -> mesa.DataCollector:
        """Firm-level data through Mesa's ``DataCollector``: ``reporters`` (name -> firm attribute
        name or a function of an MSME agent, as Mesa's agent reporters) are collected every month
        for the MSME agents, from now on (month 0 included); read them with
        ``model.datacollector.get_agenttype_vars_dataframe(MSME)``. With ``sample`` (and
        ``msme_agents=False``) only that many firms alive now are followed (a panel drawn from this
        run's seed: firms that exit leave it, entrants do not join); without it, every firm's agent
        (``msme_agents=True`` needed). Call it before the first step."""
        if self.steps > 0:
            raise RuntimeError("collect_firms: call it before the first step (month 0 is collected now)")
        f = self.firms
        if sample is not None:
            if self.p["msme_agents"]:
                raise ValueError("collect_firms(sample=...) needs msme_agents=False (with agents every firm is "
                                 "collected; drop sample to follow them all)")
            alive = np.flatnonzero(f.alive[: f.n])
            pick = self.streams.gen(0, FIRM_SAMPLE).choice(alive.size, min(int(sample), alive.size),
                                                                replace=False)
            for a in MSME.create_agents(self, pick.size, row=alive[np.sort(pick)]):
                self.msme_by_row[a.row] = a
        elif not self.p["msme_agents"]:
            raise ValueError("collect_firms: with msme_agents=False give a sample size (the firms to follow)")
        self.datacollector = reporters_mod.MetricsCollector(
            model_reporters=dict(self.datacollector.model_reporters), agenttype_reporters={MSME: dict(reporters)})
        self.datacollector.collect(self)
        return self.datacollector

    def add_msme_agents(self, rows: np.ndarray) -> None:
        """Create MSME agent views for new rows (bulk, Mesa's ``create_agents``)."""
        if not self.p["msme_agents"] or len(rows) == 0:
            return
        agents = MSME.create_agents(self, len(rows), row=np.asarray(rows))
        for a in agents:
            self.msme_by_row[a.row] = a

    def remove_msme_agents(self, rows: np.ndarray) -> None:
        """Remove the agent views of firms that exited (their rows keep the history)."""
        if not self.msme_by_row:
            return
        for r in rows.tolist():
            a = self.msme_by_row.pop(r, None)
            if a is not None:
                a.remove()

    def firm(self, row: int) -> MSME:
        """The agent view of the firm in row ``row`` now (created on demand when agents are off).
        Rows move when dead rows are compacted: to follow a firm across months use its firm id
        (:meth:`firm_by_id`, :meth:`row_of`)."""
        a = self.msme_by_row.get(int(row))
        return a if a is not None else _DetachedView(self, int(row))

    def row_of(self, firm_id):
        """The row of a firm id now (or of each of an array of ids); -1 for a firm without a row
        (it died and its row was compacted away)."""
        return self.firms.row_of(firm_id)

    def firm_by_id(self, firm_id: int):
        """A view of firm ``firm_id``: its agent (or a read-only view) while it is alive; for a firm
        that exited, a read-only view of its record at the end of its exit month (from
        ``firms.archive``, whether or not its row has been compacted away yet)."""
        f = self.firms
        if not 0 <= int(firm_id) < f.next_id:
            raise KeyError(f"no firm with id {firm_id} (ids 0..{f.next_id - 1})")
        rec = f.archived_record(firm_id)
        if rec is not None:
            return _ArchivedView(self, rec)
        return self.firm(self.row_of(firm_id))

    def _compact(self) -> None:
        """End of month: record this month's exits in the archive, then remove dead rows if they
        are more than ``state.COMPACT_DEAD_SHARE`` of the rows, moving with them everything that
        keeps rows from month to month (the per-firm participation propensities, the rows of queued
        deliveries, the MSME agents' rows). Per-firm arrays rebuilt every month before they are
        read (cluster effects, marketplace orders, exposure) are left alone."""
        f = self.firms
        known = self.__dict__.pop("exit_rows", None)  # (month, rows) from demography.exit_firms
        f.archive_exits(self.month, known[1] if known is not None and known[0] == self.month else None)
        self._compact_rows()

    def _compact_rows(self, force: bool = False) -> None:
        """Remove dead rows (``FirmState.compact``) and move what holds rows with them."""
        f = self.firms
        old_n = f.n
        kept = f.compact(force=force)
        if kept is None:
            return
        new_row = np.full(old_n, -1, dtype=np.int64)
        new_row[kept] = np.arange(f.n)
        pp = self.participation_propensity  # one per row; grown in place by demography._extend
        pp[: f.n] = pp[:old_n][kept]
        self.participation_propensity = pp[: f.n]
        for batch in self.pipeline.values():  # firms that exited are not paid (pipeline.deliver)
            for d in batch:
                dropped = d.remap(new_row)
                if dropped is not None:  # approved for them: cancelled
                    self.ledger[self.month, :, ledger.CANCELLED] += dropped
        if self.msme_by_row:  # views of alive firms (exits removed theirs), so every one keeps a row
            moved = {}
            for r, a in self.msme_by_row.items():
                a.row = int(new_row[r])
                moved[a.row] = a
            moved.pop(-1, None)
            self.msme_by_row = moved

    # ------------------------------------------------------------------------------------------
    def _markets(self) -> None:
        # joint promotion by clusters and the platform's marketing step is added in marketplaces.update
        marketplaces.update(self)

    def step(self) -> None:
        """One month, stage by stage (decisions read the state at the start of the month)."""
        self.month = self.steps
        self._month_rules()
        self._bookkeeping()
        self._compact()                    # archive this month's exits; drop dead rows when many
        if self.month >= self.p["n_months"]:
            self.running = False

    def _month_rules(self) -> None:
        """The rules of month ``self.month``, up to the end-of-month bookkeeping."""
        f = self.firms
        n = f.n
        self.alive_start_month = int(f.alive[:n].sum())
        f.support_month[:n] = 0.0
        f.support_cash[:n] = 0.0
        environment.update(self)           # internet, shock
        clusters.programme_formation(self)  # GR 7/2021 programme founds clusters
        clusters.update(self)              # facilities, spillovers, middlemen, joint promotion
        demand.aggregate(self)             # spending on MSME goods: exogenous + out of last month's incomes
        modes.update(self)                 # council ramp and participation; platform PAS steps
        pipeline.deliver(self)             # support approved earlier arrives
        modes.allocate(self)               # this month's budget: awareness, targeting, registry
        self._markets()                    # marketplace reach, promotion and ranking
        production.produce_and_sell(self)  # capacity, local/online/export sales
        demand.update_customers(self)      # customers leave and choose again; prices; incomes
        demand.appeal_shocks(self)         # firm-specific demand moves
        finance.settle(self)               # costs, profit, investment, credit, hiring
        marketplaces.after_sales(self)     # reputation
        learning.update(self)              # self-reliance, effort, skills, productivity, adoption
        self.exits_month = demography.exit_firms(self)
        self.entries_month = demography.enter_firms(self)

    def _bookkeeping(self, initial: bool = False) -> None:
        # one compiled pass: size classes, support records and moving averages, then the metric sums
        scan = Scan(self, initial=initial, ewm=EWM)
        if not initial:
            self.upgrades_month = scan.count("ups")
            self.downgrades_month = scan.count("downs")
            self.upgrades_total += self.upgrades_month
        self.metrics = reporters.compute(self, scan)
        self.datacollector.collect(self)

    # ------------------------------------------------------------------------------------------
    def run(self, months: int | None = None) -> MSMEEcosystem:
        """Step until the horizon (or ``months`` more months)."""
        end = self.p["n_months"] if months is None else min(self.month + months, self.p["n_months"])
        while self.running and self.month < end:
            self.step()
        return self

    def metrics_frame(self):
        """Collected metrics as a DataFrame indexed by month."""
        df = self.datacollector.get_model_vars_dataframe()
        df.index.name = "month"
        return df

    def budget_ledger(self):
        """Long DataFrame: month, instrument, spent, support, overhead, duplication, capture (IDR)."""
        import pandas as pd

        t = self.month
        led = self.ledger[: t + 1]
        months, inst = np.meshgrid(np.arange(t + 1), np.arange(len(INSTRUMENTS)), indexing="ij")
        df = pd.DataFrame({"month": months.ravel(), "instrument": np.array(INSTRUMENTS)[inst.ravel()]})
        for j, name in enumerate(ledger.LEDGER_FIELDS):
            df[name] = led[:, :, j].ravel()
        return df


def _explicit_signature() -> inspect.Signature:
    """``MSMEEcosystem(scenario=None, *, seed=None, rng=None, <every parameter>=<its default>)``: the
    signature tools read (Mesa's SolaraViz and batch_run, EMA Workbench); generated from the schema
    (``model.params``), so it cannot fall out of step with it."""
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
              inspect.Parameter("scenario", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None),
              inspect.Parameter("seed", kw, default=None), inspect.Parameter("rng", kw, default=None)]
    params += [inspect.Parameter(name, kw, default=value) for name, value in DEFAULTS.items()]
    return inspect.Signature(params)


MSMEEcosystem.__init__.__signature__ = _explicit_signature()


def burn_in_params(p: dict) -> dict:
    """The parameters of the burn-in: ``p`` with every lever at its default (today's policy), the
    exogenous trends at 0 (demand, internet) and no shock. What is left of ``p`` is what the
    burnt-in state depends on (besides the seed)."""
    q = dict(p)
    for name in Levers.model_fields:
        q[name] = DEFAULTS[name]
    q.update(demand_growth_per_year=0.0, internet_growth_per_year=0.0, shock_enabled=False,
             n_months=int(p["burn_in_months"]) + 120)  # deliveries due after the burn-in are kept
    return q


class _DetachedView:
    """A read-only firm view used when per-firm Mesa agents are switched off."""

    def __init__(self, model, row):
        self.model, self.row = model, row

    def __getattr__(self, name):
        return getattr(MSME, name).__get__(self) if isinstance(getattr(MSME, name, None), property) \
            else getattr(self.model.firms, name)[self.row].item()

    def story(self):
        return MSME.story(self)


class _ArchivedView(_DetachedView):
    """A read-only view of a dead firm's archived record (``FirmState.archived_record``); its
    ``row`` is -1 in ``story()``."""

    def __init__(self, model, record):
        # what MSME's properties and story read: model.firms (here the one-row record) and the month
        super().__init__(SimpleNamespace(firms=record, month=model.month, p=model.p), 0)

    def story(self):
        st = MSME.story(self)
        st["row"] = -1
        return st
