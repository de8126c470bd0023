"""The simulation side of the teaching app, free of any web code (testable on its own).

A :class:`Session` holds the settings a class has chosen and one or two :class:`Run` objects:
``runs[0]`` is "your policy" (the starting scenario plus the lever changes), ``runs[1]`` in
side-by-side mode is the reference scenario, unchanged, on the same seed and number of firms (so
the two runs start from the same firms and draw the same random numbers where their policies do not
differ). A run records what the charts need every month: the headline metrics and a compact history
of every firm (class, stage, capital, support), so any firm's story can be told afterwards.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from model.delivery.pipeline import cancel_after
from model.model import MSMEEcosystem
from model.params import INSTRUMENTS, SIZE_CLASSES, instrument_mix
from model.scenario import available_scenarios, load_scenario, validate_params

from . import texts

# Levers shown in the app (flat parameter names). Changing them mid-run acts from the next month.
LIVE_LEVERS: tuple[str, ...] = (
    "budget_per_firm_month", "targeting", "cluster_programme", "cluster_coverage_target",
    "ecommerce_onboarding", "phase_out_month", "shock_enabled", "shock_month",
    *(f"mix_{k}" for k in INSTRUMENTS),
)
# Levers that change how the economy is built or governed from month 0: changing them restarts.
RESTART_LEVERS: tuple[str, ...] = ("governance_mode",)
LEVERS: tuple[str, ...] = RESTART_LEVERS + LIVE_LEVERS

DEFAULT_N_FIRMS = 2000
DEFAULT_SEED = 1
DEFAULT_SCENARIO = "baseline"
DEFAULT_REFERENCE = "baseline"
# Series kept for the charts (model.metrics names)
SERIES = (
    "value_added", "employment", "firms_alive", "upgrades_cumulative", "recipient_support_share_income",
    "recipient_loss_without_support_share", "effort_gap", "support_share_income_all_firms",
    "loss_without_support_share_all_firms", "self_reliance", "recipients_share", "budget_spent",
    "budget_spent_cumulative",
    "share_micro", "share_small", "share_medium", "share_large", "stage_1_share", "stage_2_share",
    "stage_3_share", "survival_rate", "chronic_recipient_share", "online_sales_share", "cluster_member_share",
)


class FirmHistory:
    """Every firm's class, stage, capital and monthly support, month by month (compact).

    Each month's arrays are indexed by that month's rows; ``ids[t]`` holds the firm id of each row
    (ascending), so a firm is found by its id whatever compactions moved its row (``model/state.py``).
    """

    def __init__(self):
        self.ids: list[np.ndarray] = []
        self.cls: list[np.ndarray] = []
        self.stage: list[np.ndarray] = []
        self.capital: list[np.ndarray] = []
        self.alive: list[np.ndarray] = []
        self.support: list[np.ndarray] = []
        self.cluster: list[np.ndarray] = []
        self.events: list[tuple[np.ndarray, np.ndarray]] = []  # per month: (firm ids, support by instrument)
        self._cum = np.zeros((0, len(INSTRUMENTS)))
        self._cum_ids = np.zeros(0, dtype=np.int64)

    def record(self, model: MSMEEcosystem) -> None:
        f, n = model.firms, model.firms.n
        ids = f.firm_id[:n].copy()
        self.ids.append(ids)
        self.cls.append(f.size_class[:n].copy())
        self.stage.append(f.stage[:n].copy())
        self.capital.append(f.capital[:n].astype(np.float32))
        self.alive.append(f.alive[:n].copy())
        self.support.append(f.support_month[:n].astype(np.float32))
        self.cluster.append(f.cluster[:n].copy())
        cum = f.support_by_instrument[:n]
        prev = np.zeros_like(cum)  # last month's cumulative support of the same firms (0 for entrants)
        m = self._cum_ids.size
        if m <= n and np.array_equal(ids[:m], self._cum_ids):  # no compaction since: rows unchanged
            prev[:m] = self._cum
        else:
            pos = np.searchsorted(self._cum_ids, ids).clip(0, max(m - 1, 0))
            had = (self._cum_ids[pos] == ids) if m else np.zeros(n, dtype=bool)
            prev[had] = self._cum[pos[had]]
        delta = cum - prev
        rows = np.flatnonzero(delta.sum(axis=1) > 0)
        self.events.append((ids[rows], delta[rows].astype(np.float32)))
        self._cum = cum.copy()
        self._cum_ids = ids

    def firm(self, firm_id: int) -> dict[str, np.ndarray]:
        """The recorded months of firm ``firm_id`` (NaN / -1 and not alive in months it had no row:
        before it started, and after it closed once its row was compacted away)."""
        T = len(self.cls)
        out = {"cls": np.full(T, -1, np.int8), "stage": np.full(T, -1, np.int8), "capital": np.full(T, np.nan),
               "alive": np.zeros(T, bool), "support": np.zeros(T), "cluster": np.full(T, -1, np.int32)}
        for t in range(T):
            ids = self.ids[t]
            r = int(np.searchsorted(ids, firm_id))
            if r < ids.size and ids[r] == firm_id:
                out["cls"][t] = self.cls[t][r]
                out["stage"][t] = self.stage[t][r]
                out["capital"][t] = self.capital[t][r]
                out["alive"][t] = self.alive[t][r]
                out["support"][t] = self.support[t][r]
                out["cluster"][t] = self.cluster[t][r]
        return out

    def support_events(self, firm_id: int) -> list[tuple[int, str, float]]:
        """(month, instrument, IDR) for each payment firm ``firm_id`` received."""
        out = []
        for t, (ids, amts) in enumerate(self.events):
            i = np.searchsorted(ids, firm_id)
            if i < ids.size and ids[i] == firm_id:
                for k in np.flatnonzero(amts[i] > 0):
                    out.append((t, INSTRUMENTS[k], float(amts[i][k])))
        return out


class Run:
    """One model run with its recorded history."""

    def __init__(self, scenario: str, role: str, overrides: dict[str, Any], seed: int, n_firms: int):
        self.scenario_name = scenario
        self.role = role  # "policy" or "reference"
        self.overrides = dict(overrides)
        scen = load_scenario(scenario)
        self.description = scen.description
        self.scenario_params = dict(scen.params)
        self.model = MSMEEcosystem(scen, seed=int(seed), n_firms=int(n_firms), **self.overrides)
        self.series: dict[str, list[float]] = {k: [] for k in SERIES}
        self.withdrawn_at: int | None = None
        self.history = FirmHistory()
        self._record()

    # --------------------------------------------------------------------------------------
    @property
    def month(self) -> int:
        return int(self.model.month)

    @property
    def running(self) -> bool:
        return bool(self.model.running) and self.model.month < self.model.p["n_months"]

    @property
    def label(self) -> str:
        name = self.scenario_name.replace("_", " ")
        edited = [k for k in self.overrides if self.overrides[k] != self.scenario_params.get(k)]
        if self.role == "reference":
            return f"Reference: {name}"
        return f"Your policy: {name}" + (" (edited)" if edited else "")

    def edited_summary(self) -> str:
        """What the lever changes are, in words (empty if none)."""
        parts = []
        for k, v in self.overrides.items():
            if self.scenario_params.get(k) == v:
                continue
            parts.append(describe_value(k, v))
        return "; ".join(parts)

    def _record(self) -> None:
        m = self.model.metrics
        for k in SERIES:
            self.series[k].append(float(m[k]))
        self.history.record(self.model)

    def step(self) -> None:
        if not self.running:
            return
        self.model.step()
        self._record()

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.series.items()}

    # --------------------------------------------------------------------------------------
    def apply(self, changes: dict[str, Any]) -> None:
        """Set live levers on the running model (they act from the next month)."""
        p = dict(self.model.p)
        p.update(changes)
        p = validate_params(p, "app controls")
        for k in changes:
            self.model.p[k] = p[k]
        self.overrides.update({k: p[k] for k in changes})
        if "phase_out_month" in changes:
            _drop_pipeline_after(self.model, self.model.p["phase_out_month"])

    def withdraw_now(self) -> int:
        """Stop all support from next month (the withdrawal test, live). Returns that month."""
        end = self.model.month + 1
        self.model.p["phase_out_month"] = end
        self.model.p["phase_out_taper_months"] = 0
        _drop_pipeline_after(self.model, end)
        self.withdrawn_at = end
        return end

    def firm_story(self, firm_id: int) -> dict[str, Any]:
        """Firm ``firm_id``'s state now (``MSME.story()``; for a firm that closed, its record at the
        end of its last month) with its history and events."""
        model = self.model
        firm_id = int(firm_id)
        story = model.firm_by_id(firm_id).story()
        hist = self.history.firm(firm_id)
        events: list[tuple[int, str]] = []
        born, died = story["born"], story["died"]
        cls, stage = hist["cls"], hist["stage"]
        for t in range(1, len(cls)):
            if cls[t - 1] >= 0 and cls[t] >= 0 and cls[t] != cls[t - 1] and hist["alive"][t]:
                word = "moved up" if cls[t] > cls[t - 1] else "fell back"
                events.append((t, f"{word}: {SIZE_CLASSES[cls[t - 1]]} → {SIZE_CLASSES[cls[t]]}"))
            if stage[t - 1] >= 1 and stage[t] > stage[t - 1] and hist["alive"][t]:
                events.append((t, f"went digital: stage {stage[t - 1]}.0 → {stage[t]}.0"))
            if hist["cluster"][t - 1] < 0 <= hist["cluster"][t] and hist["alive"][t]:
                events.append((t, "joined a cluster"))
        pays = self.history.support_events(firm_id)
        first: dict[str, int] = {}
        for t, inst, _ in pays:
            first.setdefault(inst, t)
        for inst, t in first.items():
            n_times = sum(1 for _, i, _ in pays if i == inst)
            times = f" ({n_times} payments)" if n_times > 1 else ""
            events.append((t, f"first {texts.INSTRUMENT_SHORT[inst]} support{times}"))
        if died >= 0:
            events.append((died, "closed (exit)"))
        if born > 0:
            events.append((born, "started up"))
        events.sort(key=lambda e: e[0])
        story.update({"history": hist, "events": events, "payments": pays})
        return story


def _drop_pipeline_after(model: MSMEEcosystem, end: int) -> None:
    """Drop queued deliveries due at or after ``end``, booked as cancelled (``pipeline.schedule``
    cancels new ones)."""
    cancel_after(model, end)


def describe_value(name: str, value: Any) -> str:
    """A parameter value in words with its unit."""
    if name == "budget_per_firm_month":
        return f"budget {value / 1000:,.0f} thousand IDR per firm per month"
    if name == "governance_mode":
        return texts.GOVERNANCE_LABELS[value]
    if name == "targeting":
        return texts.TARGETING_LABELS[value].lower()
    if name.startswith("mix_"):
        return f"{texts.INSTRUMENT_SHORT[name[4:]]} weight {value:g}"
    if name == "phase_out_month":
        return "support never ends" if value == 0 else f"support ends in month {value}"
    if name == "shock_enabled":
        return "crisis on" if value else "crisis off"
    if name == "shock_month":
        return f"crisis starts in month {value}"
    if name == "cluster_programme":
        return "clustering programme on" if value else "clustering programme off"
    if name == "cluster_coverage_target":
        return f"cluster coverage target {value:.0%}"
    if name == "ecommerce_onboarding":
        return "e-commerce onboarding on" if value else "e-commerce onboarding off"
    return f"{name} = {value}"


@dataclass
class Settings:
    scenario: str = DEFAULT_SCENARIO
    reference: str = DEFAULT_REFERENCE
    side_by_side: bool = False
    n_firms: int = DEFAULT_N_FIRMS
    seed: int = DEFAULT_SEED
    levers: dict[str, Any] = field(default_factory=dict)


class Session:
    """What one browser tab is looking at: settings, one or two runs, the chosen firm."""

    def __init__(self, scenario: str = DEFAULT_SCENARIO, n_firms: int = DEFAULT_N_FIRMS, seed: int = DEFAULT_SEED):
        self.lock = threading.RLock()
        self.settings = Settings(scenario=scenario, n_firms=int(n_firms), seed=int(seed))
        self.settings.levers = scenario_levers(scenario)
        self.runs: list[Run] = []
        self.twin: Run | None = None          # "your policy" with no budget, same seed and firms
        self.withdrawal: Withdrawal | None = None  # recipients at "withdraw support now" and their continuation
        self.version = 0          # bumped whenever what the charts show changes
        self.settings_version = 0  # bumped whenever a setting (what the controls show) changes
        self.firm_id = 0          # the firm followed in the story (a firm id: rows move, ids do not)
        self.last_step_seconds = 0.0
        self.last_render_seconds = 0.0
        self.message = ""
        self.reset()

    # --------------------------------------------------------------------------------------
    @property
    def policy(self) -> Run:
        return self.runs[0]

    @property
    def reference(self) -> Run | None:
        return self.runs[1] if len(self.runs) > 1 else None

    @property
    def month(self) -> int:
        return self.policy.month

    @property
    def n_months(self) -> int:
        return int(self.policy.model.p["n_months"])

    @property
    def running(self) -> bool:
        return any(r.running for r in self.runs)

    def overrides(self) -> dict[str, Any]:
        """Lever values that differ from the starting scenario's file."""
        base = scenario_levers(self.settings.scenario)
        return {k: v for k, v in self.settings.levers.items() if base.get(k) != v}

    def reset(self) -> None:
        """Rebuild the run(s) at month 0 with the current settings."""
        with self.lock:
            s = self.settings
            runs = [Run(s.scenario, "policy", self.overrides(), s.seed, s.n_firms)]
            if s.side_by_side:
                runs.append(Run(s.reference, "reference", {}, s.seed, s.n_firms))
            self.runs = runs
            self.twin = Run(s.scenario, "twin", {**self.overrides(), **NO_SUPPORT}, s.seed, s.n_firms)
            self.withdrawal = None
            if self.firm_id >= self.policy.model.firms.next_id:
                self.firm_id = 0
            if self.version == 0:
                self.firm_id = self.pick_firm("typical")
            self.message = ""
            self.version += 1
            self.settings_version += 1

    def step(self, months: int = 1) -> None:
        with self.lock:
            t0 = time.perf_counter()
            for _ in range(months):
                for r in self.runs:
                    r.step()
                if self.twin is not None:
                    self.twin.step()
                if self.withdrawal is not None:
                    self.withdrawal.step(self.policy.model)
            self.last_step_seconds = time.perf_counter() - t0
            self.version += 1

    # --------------------------------------------------------------------------------------
    def set_scenario(self, name: str) -> None:
        if name not in available_scenarios():
            raise ValueError(f"unknown scenario {name!r}")
        with self.lock:
            self.settings.scenario = name
            self.settings.levers = scenario_levers(name)
            self.reset()

    def set_reference(self, name: str) -> None:
        if name not in available_scenarios():
            raise ValueError(f"unknown scenario {name!r}")
        with self.lock:
            self.settings.reference = name
            self.reset()

    def set_side_by_side(self, on: bool) -> None:
        with self.lock:
            self.settings.side_by_side = bool(on)
            self.reset()

    def set_population(self, n_firms: int | None = None, seed: int | None = None) -> None:
        with self.lock:
            if n_firms is not None:
                self.settings.n_firms = int(n_firms)
            if seed is not None:
                self.settings.seed = int(seed)
            self.reset()

    def set_lever(self, name: str, value: Any) -> None:
        """Change one lever: restart at month 0 (or for structural levers), else act from next month."""
        if name not in LEVERS:
            raise KeyError(name)
        with self.lock:
            self.settings.levers[name] = value
            if name in RESTART_LEVERS or self.month == 0:
                self.reset()
            else:
                self.policy.apply({name: value})
                if self.twin is not None and name != "budget_per_firm_month":  # the twin never has a budget
                    self.twin.apply({name: value})
                self.version += 1
                self.settings_version += 1

    # -- export ------------------------------------------------------------------------------------
    def metrics_csv(self) -> str:
        """The monthly metrics of the run(s) on screen, one row per run and month (shares as fractions 0-1,
        as in the command line's CSV files; ``outcome_units.csv`` of a comparison names the units)."""
        import pandas as pd

        with self.lock:
            frames = [pd.DataFrame({"run": r.label, "scenario": r.scenario_name, "seed": self.settings.seed,
                                    "month": range(len(r.series[SERIES[0]])), **r.series}) for r in self.runs]
        return pd.concat(frames, ignore_index=True).to_csv(index=False)

    def export_name(self) -> str:
        """The name of a scenario saved from the app: the starting scenario's, with ``_app``."""
        return f"{self.settings.scenario}_app"

    def scenario_toml(self) -> str:
        """"Your policy" as a scenario file that ``python run.py run`` accepts: it extends the scenario the
        session started from and sets the levers changed in the app, and the number of firms."""
        from analysis.cli import toml_literal
        from model.params import FIELD_GROUP

        with self.lock:
            s = self.settings
            changes = self.overrides()
            name = self.export_name()
        groups: dict[str, list[str]] = {}
        for k, v in sorted(changes.items()):
            groups.setdefault(FIELD_GROUP[k], []).append(f"{k} = {toml_literal(v)}")
        groups.setdefault("constants", []).append(f"n_firms = {int(s.n_firms)}")
        what = "; ".join(describe_value(k, v) for k, v in sorted(changes.items())) or "no lever changed"
        lines = ["# Saved from the MSME Policy Lab (python run.py app): the levers of \"your policy\".",
                 "# A lever changed during a run acts from month 0 here. Run it with, e.g.:",
                 f"#   python run.py run {name}.toml --seeds 5", "",
                 "[scenario]", f"name = {toml_literal(name)}",
                 f"description = {toml_literal(f'{s.scenario} as set in the app: {what}.')}",
                 f"extends = {toml_literal(s.scenario)}", ""]
        for g in ("levers", "uncertainties", "constants"):
            if g in groups:
                lines += [f"[{g}]", *groups[g], ""]
        return "\n".join(lines)

    def withdraw_now(self) -> int:
        """Stop all support from next month in "your policy" (the reference keeps its programmes)."""
        with self.lock:
            # the continuation: the same model, copied before the withdrawal, keeps its programmes (same random
            # numbers from here on), so the recipients' drop is measured against themselves
            self.withdrawal = Withdrawal(self.policy.model)
            end = self.policy.withdraw_now()
            self.settings.levers["phase_out_month"] = end
            self.message = f"Support withdrawn: no programme money from month {end} on."
            self.version += 1
            self.settings_version += 1
            return end

    # --------------------------------------------------------------------------------------
    def pick_firm(self, kind: str, rng_seed: int | None = None) -> int:
        """Choose a firm to follow, by firm id: 'typical', 'random', 'upgraded', 'supported', 'exited'
        (the last three among every firm so far, closed ones included)."""
        f = self.policy.model.firms
        n = f.n
        rng = np.random.default_rng(rng_seed if rng_seed is not None else (self.settings.seed, self.version))
        alive = f.alive[:n]
        if kind == "typical":
            pool = f.firm_id[:n][alive & (f.size_class[:n] == 0) & (f.cluster[:n] >= 0)]
        elif kind == "upgraded":
            pool = np.flatnonzero(f.all_firms("upgrades") > 0)
        elif kind == "supported":
            pool = np.flatnonzero(f.all_firms("support_total") > 0)
        elif kind == "exited":
            pool = np.flatnonzero(~f.all_firms("alive"))
        else:
            pool = f.firm_id[:n][alive]
        if pool.size == 0:
            self.message = {"upgraded": "No firm has moved up a size class yet: play a few months.",
                            "supported": "No firm has received support yet: play a few months.",
                            "exited": "No firm has closed yet: play a few months."}.get(kind, "")
            return self.firm_id
        self.message = ""
        return int(pool[0] if kind == "typical" else rng.choice(pool))

    def support_effect(self) -> dict[str, float]:
        """What "your policy"'s support did, against its no-support twin (same seed, same firms, budget 0):
        additional size-class upgrades and the budget per additional upgrade (NaN when the budget has bought
        no additional upgrade)."""
        pol = self.policy.series
        spent = pol["budget_spent_cumulative"][-1]
        extra = pol["upgrades_cumulative"][-1] - (self.twin.series["upgrades_cumulative"][-1] if self.twin else 0.0)
        return {"spent_bn": spent / 1e9, "extra_upgrades": extra,
                "twin_upgrades": self.twin.series["upgrades_cumulative"][-1] if self.twin else float("nan"),
                "budget_per_extra_upgrade_bn": spent / 1e9 / extra if extra > 0 else float("nan")}

    def readout(self) -> dict[str, Any]:
        """The lever values the running "your policy" model is using (read from ``model.p``)."""
        p = self.policy.model.p
        return {k: p[k] for k in LEVERS} | {"n_firms": p["n_firms"], "seed": self.policy.model.seed_value,
                                            "n_months": p["n_months"]}


NO_SUPPORT = {"budget_per_firm_month": 0.0}  # the no-support twin (analysis.causal.no_support_twin)


def recipients_now(model: MSMEEcosystem) -> np.ndarray:
    """Ids of the alive firms supported in at least one of the last 12 months (the reports' recipients)."""
    f, n = model.firms, model.firms.n
    return f.firm_id[:n][f.alive[:n] & ((f.support_mask[:n] & 0xFFF) != 0)].copy()


def _of(model: MSMEEcosystem, ids: np.ndarray) -> tuple[float, int]:
    """Value added this month (IDR) and number alive of the firms ``ids``."""
    f, n = model.firms, model.firms.n
    m = np.isin(f.firm_id[:n], ids) & f.alive[:n]
    return float(f.value_added[:n][m].sum()), int(m.sum())


class Withdrawal:
    """The withdrawal test on recipients, live: the firms that were recipients when support was withdrawn,
    followed in the run without support and in its continuation (a copy of the model taken just before,
    which keeps its programmes and draws the same random numbers)."""

    def __init__(self, model: MSMEEcosystem):
        self.month = int(model.month) + 1  # the first month without support
        self.ids = recipients_now(model)
        self.continuation = copy.deepcopy(model)
        self.va_without: list[float] = []   # recipients' value added, month by month from self.month
        self.va_with: list[float] = []
        self.alive_without = self.alive_with = len(self.ids)

    def step(self, withdrawn: MSMEEcosystem) -> None:
        c = self.continuation
        if c.running and c.month < c.p["n_months"]:
            c.step()
        if int(withdrawn.month) != int(c.month):  # (the run ended)
            return
        va_w, self.alive_without = _of(withdrawn, self.ids)
        va_c, self.alive_with = _of(c, self.ids)
        self.va_without.append(va_w)
        self.va_with.append(va_c)

    def drop(self) -> dict[str, float]:
        """Recipients' value added since the withdrawal (% below the continuation) and survival (pp below)."""
        n = len(self.ids)
        with_, without = sum(self.va_with), sum(self.va_without)
        return {"month": self.month, "recipients": n, "months_since": len(self.va_with),
                "value_added_drop_pct": (with_ - without) / with_ * 100 if with_ > 0 else float("nan"),
                "survival_drop_pp": (self.alive_with - self.alive_without) / n * 100 if n else float("nan")}


def scenario_levers(name: str) -> dict[str, Any]:
    """The lever values a scenario file sets (after ``extends``)."""
    params = load_scenario(name).params
    return {k: params[k] for k in LEVERS}


def mix_shares(levers: dict[str, Any]) -> dict[str, float]:
    """Normalised budget shares of the instruments."""
    return instrument_mix(levers)
