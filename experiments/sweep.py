"""Policy sweeps for planners: Optuna tunes levers against several objectives (Pareto front).

A sweep file::

    [sweep]
    name = "budget_mix"                  # output folder results/sweeps/<name>/ and Optuna study name
    scenario = "baseline"                # the scenario the levers are set on (bundled name or path)
    trials = 40                          # complete trials wanted (an interrupted sweep resumes to this)
    seeds = 3                            # seeds per trial (1..N, the same for every trial: paired)
    population = 2000                    # n_firms
    horizon = 60                         # n_months
    sampler = "nsga2"                    # nsga2 (default with 2+ objectives) | tpe (default with one) | random
    population_size = 12                 # NSGA-II generation size
    batch = 6                            # trials evaluated together (fixed: results do not depend on --jobs)
    sampler_seed = 1
    reference = true                     # first trial = the scenario's own lever values (if inside the ranges)

    [sweep.set]                          # fixed overrides
    capture_rate = 0.2

    [levers]                             # what is tuned
    budget_per_firm_month = [20000.0, 120000.0]             # float range
    phase_out_month = [0, 60]                               # integer range
    governance_mode = ["centralised", "self_governance", "platform"]   # categorical
    cluster_programme = [false, true]
    targeting = { choices = ["need", "potential"] }
    council_participation = { low = 0.1, high = 0.8 }       # also: log = true, step = 0.05
    [levers.mix]                                            # budget shares across instruments (mix_* fields)
    grants = [0.0, 1.0]
    hr_training = [0.0, 1.0]

    [objectives]
    value_added_growth = "maximise"
    recipient_support_share_income = "minimise"
    budget_spent_bn = "minimise"

    [constraints]                        # outcomes or levers; a trial outside them is infeasible
    budget_spent_bn = { max = 60.0 }

Each trial's objective values are means over its seeds; their standard errors, the seeds and every
headline outcome are stored as trial user attributes. The study lives in ``study.db`` (SQLite)
beside the results unless ``--storage`` gives an RDB URL or a JournalStorage file, so several
processes or machines can work on one study and an interrupted sweep resumes with ``--resume``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.causal import (
    CAUSAL_OUTCOMES,
    NO_SUPPORT_SUFFIX,
    causal_outcomes,
    cost_per_additional_upgrade,
    no_support_twin,
    per_seed_cost,
)
from analysis.io import pid_alive
from analysis.metrics import HEADLINE_OUTCOMES, OUTCOMES, outcomes_table
from model.params import FIELD_GROUP, INSTRUMENTS
from model.scenario import MAX_TEXT_CHARS, Scenario

from .runner import Runner, Task, interrupts_deferred
from .spec import Spec, SpecError, _suggest, check_param_value, param_choices, param_kind

SWEEP_KEYS = {
    "name": "study and output folder name", "description": "what the sweep asks", "scenario": "base scenario",
    "trials": "complete trials wanted", "seeds": "seeds per trial (count or list)", "population": "n_firms",
    "horizon": "n_months", "sampler": "nsga2 | tpe | random", "population_size": "NSGA-II generation size",
    "batch": "trials evaluated together", "sampler_seed": "seed of the sampler",
    "reference": "evaluate the base scenario's own levers first", "set": "fixed parameter overrides",
}
SAMPLERS = ("nsga2", "tpe", "random")
DIRECTIONS = {"maximise": "maximize", "maximize": "maximize", "minimise": "minimize", "minimize": "minimize"}
RANGE_KEYS = {"low": "lower bound", "high": "upper bound", "log": "log scale", "step": "grid step",
              "choices": "list of values"}


@dataclass
class LeverSpace:
    name: str
    kind: str                    # float | int | choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple = ()

    def distribution(self):
        import optuna.distributions as d

        if self.kind == "choice":
            return d.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def contains(self, value) -> bool:
        if self.kind == "choice":
            return value in self.choices
        return self.low <= value <= self.high

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        return f"{self.low:g} to {self.high:g}" + (" (log)" if self.log else "")


@dataclass
class SweepSpec:
    name: str
    description: str
    base: Scenario
    levers: list[LeverSpace]
    objectives: dict[str, str]           # outcome -> maximize | minimize
    constraints: dict[str, tuple[float | None, float | None]]   # outcome or lever -> (min, max)
    trials: int
    seeds: list[int]
    sampler: str
    population_size: int
    batch: int
    sampler_seed: int
    reference: bool
    source: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepSpec:
    """Read and check a sweep file."""
    spec = Spec(path, "sweep")
    ov = overrides or {}
    spec.sections({"sweep": "name, scenario, trials, seeds, population, horizon, sampler, batch, set",
                   "levers": "levers to tune with their ranges or choices",
                   "objectives": "outcome = \"maximise\" or \"minimise\"",
                   "constraints": "outcome or lever = { max = ..., min = ... }"},
                  required=("sweep", "levers", "objectives"))
    sw = spec.table("sweep")
    spec.keys(sw, "sweep", SWEEP_KEYS)
    name = spec.name(sw, "name", "sweep")
    desc = spec.string(sw, "description", "sweep", "", max_len=MAX_TEXT_CHARS)
    trials = int(ov.get("trials") or spec.integer(sw, "trials", "sweep", 40, 1, 1_000_000))
    seeds = spec.seeds(sw, "seeds", "sweep", 3)
    if ov.get("seeds"):
        seeds = list(range(1, int(ov["seeds"]) + 1))
    sampler = spec.string(sw, "sampler", "sweep", None, SAMPLERS)  # default below: by number of objectives
    pop_size = spec.integer(sw, "population_size", "sweep", 20, 2, 100_000)
    batch = spec.integer(sw, "batch", "sweep", 8, 1, 10_000)
    sseed = spec.integer(sw, "sampler_seed", "sweep", 1, 0, 2**31)
    reference = sw.get("reference", True)
    if not isinstance(reference, bool):
        spec.problem(f"[sweep] reference = {reference!r}", "expected true or false")
    fixed = spec.common_overrides(sw, "sweep", ov.get("set"))
    base = spec.scenario(sw.get("scenario", "baseline"), "[sweep] scenario", fixed)

    # levers
    levers: list[LeverSpace] = []
    raw = dict(spec.table("levers"))
    mix = raw.pop("mix", {})
    if not isinstance(mix, dict):
        spec.problem("[levers.mix]", "must be a table of instrument = [low, high]")
        mix = {}
    items = list(raw.items())
    for inst, v in mix.items():
        if inst not in INSTRUMENTS:
            spec.problem(f"[levers.mix] {inst}", f"unknown instrument; instruments are: {', '.join(INSTRUMENTS)}")
        else:
            items.append((f"mix_{inst}", v))
    for pname, v in items:
        lever = _lever(spec, pname, v)
        if lever:
            levers.append(lever)
    if not levers and not spec.problems:
        spec.problem("[levers]", "no lever to tune; give at least one, "
                                 "e.g. budget_per_firm_month = [20000.0, 120000.0]")

    objectives: dict[str, str] = {}
    for k, v in spec.table("objectives").items():
        if k not in OUTCOMES:
            spec.problem(f"[objectives] {k}", f"unknown outcome{_suggest(k, OUTCOMES)}; allowed: {', '.join(OUTCOMES)}")
        elif not isinstance(v, str) or v.lower() not in DIRECTIONS:
            spec.problem(f"[objectives] {k} = {v!r}", "expected \"maximise\" or \"minimise\"")
        else:
            objectives[k] = DIRECTIONS[v.lower()]
    if not objectives and "objectives" in spec.data:
        spec.problem("[objectives]", "no objective; e.g. value_added_growth = \"maximise\"")

    constraints: dict[str, tuple[float | None, float | None]] = {}
    for k, v in spec.table("constraints").items():
        if k not in OUTCOMES and k not in FIELD_GROUP:
            spec.problem(f"[constraints] {k}", f"unknown outcome or parameter{_suggest(k, [*OUTCOMES, *FIELD_GROUP])}; "
                                               "outcomes: " + ", ".join(OUTCOMES))
            continue
        if not isinstance(v, dict) or not v or set(v) - {"min", "max"} or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v.values()):
            spec.problem(f"[constraints] {k} = {v!r}", "expected a table with max and/or min finite numbers, "
                                                       "e.g. { max = 60.0 }")
            continue
        if "min" in v and "max" in v and v["min"] > v["max"]:
            spec.problem(f"[constraints] {k} = {v!r}", "min is above max: no trial could be feasible")
            continue
        constraints[k] = (v.get("min"), v.get("max"))
    _check_against_horizon(spec, base, levers, objectives, constraints)
    space = _space_size(levers)
    if space is not None and not spec.problems and trials > space:
        spec.problem("[sweep] trials" if not ov.get("trials") else "--trials",
                     f"{trials} trials asked but the levers allow only {space} distinct parameter set(s); "
                     f"ask for at most {space} trials or widen the levers (no set is evaluated twice)")
    spec.raise_if_problems()
    if sampler is None:  # NSGA-II for a Pareto front; TPE for one objective (Optuna's recommendations)
        sampler = "nsga2" if len(objectives) > 1 else "tpe"
    return SweepSpec(name, desc, base, levers, objectives, constraints, trials, seeds, sampler, pop_size, batch,
                     sseed, reference, str(spec.path), fixed)


# outcomes a sweep never computes: the withdrawal test needs paired runs with and without phase-out, which
# only `compare` runs; an objective or constraint on them would be NaN in every trial
NOT_IN_SWEEP = tuple(m for m in OUTCOMES if m.startswith(("withdrawal_", "wd_")))
# outcomes against the no-support twin (analysis/causal.py): a trial with one of them as objective or
# constraint also runs its twin (budget 0, same seeds; shared by trials that differ only in budget and mix)
CAUSAL_IN_SWEEP = tuple(m for m in CAUSAL_OUTCOMES if m not in NOT_IN_SWEEP)
# outcomes per unit of budget: undefined (NaN) when nothing is spent
PER_BUDGET = tuple(m for m in CAUSAL_IN_SWEEP if m.endswith("_per_bn") or m.endswith("_bn"))


def _check_against_horizon(spec: Spec, base: Scenario | None, levers: list[LeverSpace], objectives: dict,
                           constraints: dict) -> None:
    """Refuse what would be NaN in every trial or what the horizon makes meaningless."""
    for m in NOT_IN_SWEEP:
        for where, names in (("objectives", objectives), ("constraints", constraints)):
            if m in names:
                spec.problem(f"[{where}] {m}", "a sweep does not run the withdrawal test (paired runs with and "
                                               "without phase-out), so this outcome would be undefined in every "
                                               "trial; use `python run.py compare` for it, or tune phase_out_month "
                                               "against other outcomes")
    if base is None:
        return
    tuned = {lv.name for lv in levers}
    if "budget_per_firm_month" not in tuned and not base.params.get("budget_per_firm_month"):
        for m in PER_BUDGET:
            if m in objectives:
                spec.problem(f"[objectives] {m}", "undefined in every trial: the budget is 0 and not a lever "
                                                  "(nothing is spent)")
    horizon = int(base.params["n_months"])
    for lv in levers:
        if not (lv.name.endswith("_month") and param_kind(lv.name) == "int"):
            continue
        where = "levers"
        top = max(lv.choices) if lv.kind == "choice" else lv.high
        if top is not None and top > horizon:
            spec.problem(f"[{where}] {lv.name}", f"goes up to month {top:g} but the run lasts {horizon} months "
                                                 f"(n_months = {horizon}, from horizon, --months or the scenario); "
                                                 f"a month beyond the horizon never happens: use values up to "
                                                 f"{horizon}")


def _space_size(levers: list[LeverSpace]) -> int | None:
    """Number of distinct parameter sets the levers allow (None when a lever is continuous)."""
    n = 1
    for lv in levers:
        if lv.kind == "choice":
            n *= len(lv.choices)
        elif lv.kind == "int" and not lv.log:
            n *= int(round((lv.high - lv.low) / (lv.step or 1))) + 1
        elif lv.kind == "int":
            n *= int(lv.high - lv.low) + 1
        elif lv.step:
            n *= int(round((lv.high - lv.low) / lv.step)) + 1
        else:
            return None
    return n


def _lever(spec: Spec, name: str, v: Any) -> LeverSpace | None:
    where = "levers" if not name.startswith("mix_") else "levers.mix"
    shown = name if where == "levers" else name[4:]
    if name not in FIELD_GROUP:
        spec.problem(f"[levers] {name}", "unknown parameter; see `python run.py params`")
        return None
    if FIELD_GROUP[name] == "constants":
        spec.problem(f"[levers] {name}", "is a constant (the experiment's frame); set it in [sweep.set] instead")
        return None
    kind = param_kind(name)
    if isinstance(v, dict):
        bad = set(v) - set(RANGE_KEYS)
        if bad:
            spec.problem(f"[{where}] {shown}", f"unknown key(s) {', '.join(sorted(bad))}; allowed: "
                                               + ", ".join(RANGE_KEYS))
            return None
        if "choices" in v:
            v = v["choices"]
        else:
            lo, hi, log = v.get("low"), v.get("high"), v.get("log", False)
            if not isinstance(log, bool):
                spec.problem(f"[{where}] {shown} log = {log!r}", "expected true or false (without quotes)")
                return None
            return _range(spec, name, where, shown, kind, lo, hi, log, v.get("step"))
    if not isinstance(v, list) or not v:
        spec.problem(f"[{where}] {shown} = {v!r}", "expected [low, high], a list of choices, or a table "
                                                   "{ low = ..., high = ..., log = true }")
        return None
    if kind in ("choice", "bool") or len(v) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                             for x in v):
        if not all(check_param_value(spec, name, c, where) for c in v):
            return None
        if len(set(map(repr, v))) != len(v):
            spec.problem(f"[{where}] {shown}", "choices repeat")
            return None
        return LeverSpace(name, "choice", choices=tuple(v))
    return _range(spec, name, where, shown, kind, v[0], v[1], False, None)


def _range(spec, name, where, shown, kind, lo, hi, log, step) -> LeverSpace | None:
    if kind in ("choice", "bool"):
        spec.problem(f"[{where}] {shown}", "takes a list of choices, not a range; allowed values: "
                                           + ", ".join(str(c) for c in param_choices(name)))
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in (lo, hi)) \
            or not lo < hi:
        spec.problem(f"[{where}] {shown}", f"expected finite numbers low < high, got {lo!r} and {hi!r}")
        return None
    value = int if kind == "int" else float
    if kind == "int" and (lo != int(lo) or hi != int(hi)):
        spec.problem(f"[{where}] {shown}", "is a whole-number parameter: give whole-number bounds")
        return None
    if not (check_param_value(spec, name, value(lo), where) and check_param_value(spec, name, value(hi), where)):
        return None
    if log and lo <= 0:
        spec.problem(f"[{where}] {shown}", "log scale needs low > 0")
        return None
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step) or step <= 0:
            spec.problem(f"[{where}] {shown} step = {step!r}", "expected a number > 0")
            return None
        if kind == "int" and step != int(step):
            spec.problem(f"[{where}] {shown} step = {step!r}", "is a whole-number parameter: give a whole-number step")
            return None
        if log and (kind == "float" or step != 1):
            spec.problem(f"[{where}] {shown}", "log = true cannot be combined with a step (Optuna samples a log "
                                               "scale continuously); drop one of them")
            return None
        span = (hi - lo) / step
        if step > hi - lo or abs(span - round(span)) > 1e-9 * max(1.0, span):
            spec.problem(f"[{where}] {shown} step = {step!r}", f"must divide the range {lo:g} to {hi:g} into whole "
                                                               f"steps (high - low = {hi - lo:g})")
            return None
        step = int(step) if kind == "int" else float(step)
    return LeverSpace(name, kind, float(lo), float(hi), log, step)


# -- running ---------------------------------------------------------------------------------------
def _trial_scenario(sp: SweepSpec, params: dict[str, Any]) -> Scenario:
    sc = sp.base.with_overrides({k: (float(v) if isinstance(v, float) else v) for k, v in params.items()},
                                source="sweep trial")
    return sc


def _make_sampler(sp: SweepSpec, seed: int | None = None):
    import optuna

    seed = sp.sampler_seed if seed is None else seed
    if sp.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # constraints are given per trial with Trial.set_constraint (Optuna 5), which every sampler reads
    if sp.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True)
    return optuna.samplers.NSGAIISampler(population_size=sp.population_size, seed=seed)


def continuation_seed(sampler_seed: int, n_stored: int, nonce: str) -> int:
    """Sampler seed of a process that continues or joins a study holding ``n_stored`` trials.

    A sampler restarted with the sweep's own seed replays its random sequence from the start, so a resumed
    sweep (or a second machine joining) would propose the very parameter sets already evaluated. The seed
    of a fresh study stays ``sampler_seed`` (reproducible); a continuation mixes in the number of trials
    already stored and a per-process nonce (host and process id) so that concurrent joiners differ too.
    """
    import hashlib

    blob = f"{sampler_seed}:{n_stored}:{nonce}".encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "big") % 2**31


def open_study(sp: SweepSpec, storage: str | None, out: Path, resume: bool, fresh: bool):
    """Create or load the study; refuse to silently mix with an earlier one."""
    import optuna

    url = storage_url(storage, out)
    directions = list(sp.objectives.values())
    with _storage_errors(url, storage):
        stor = make_storage(url)
        names = [s.study_name for s in optuna.study.get_all_study_summaries(stor)]
        if sp.name in names:
            n = len(optuna.load_study(study_name=sp.name, storage=stor).trials)
            if fresh or n == 0:  # an empty study (a sweep stopped before its first trial) holds nothing to keep
                optuna.delete_study(study_name=sp.name, storage=stor)
            elif not resume:
                raise SpecError(f"{url}: study '{sp.name}' already exists with {n} trial(s); pass --resume to continue "
                                "it (also to join it from another process or machine) or --fresh to start over")
        study = optuna.create_study(study_name=sp.name, storage=stor, directions=directions,
                                    sampler=_make_sampler(sp), load_if_exists=True)
    if [d.name.lower() for d in study.directions] != directions:
        raise SpecError(f"{sp.source}: [objectives] differ from the stored study '{sp.name}' "
                        f"({[d.name.lower() for d in study.directions]}); use --fresh or another [sweep] name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # set_metric_names is marked experimental
        study.set_metric_names(list(sp.objectives))
    stored = study.user_attrs.get("spec")
    mine = spec_fingerprint(sp)
    if stored is None:
        study.set_user_attr("spec", mine)
    elif stored != mine:
        raise SpecError(f"{sp.source}: the levers, objectives, seeds or base scenario differ from the stored study "
                        f"'{sp.name}'; use --fresh to start over or give the sweep another name")
    return study, url


def spec_fingerprint(sp: SweepSpec) -> str:
    """What must not change when a sweep resumes."""
    blob = {"levers": [(lv.name, lv.kind, lv.low, lv.high, lv.log, lv.step, [str(c) for c in lv.choices])
                       for lv in sp.levers],
            "objectives": sp.objectives, "constraints": sp.constraints, "seeds": sp.seeds,
            "base": sp.base.content_hash()}
    import hashlib

    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def storage_url(storage: str | None, out: Path, create: bool = True) -> str:
    if storage:
        return storage
    if create:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SpecError(f"--out {out}: cannot create the output folder for study.db: "
                            f"{err.strerror or err}") from None
    return f"sqlite:///{(out / 'study.db').resolve()}"


@contextlib.contextmanager
def _storage_errors(url: str, given: str | None):
    """Turn a storage that cannot be opened (unknown URL scheme, missing driver, unreachable server,
    damaged database, unwritable journal) into one clear error; the storage itself is left as it is."""
    from optuna.exceptions import OptunaError
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError

    where = f"--storage {given}" if given else url.removeprefix("sqlite:///")
    try:
        yield
    except SpecError:
        raise
    except NoSuchModuleError:
        kind = url.split("://", 1)[0]
        raise SpecError(f"{where}: unknown database kind '{kind}'; give an RDB URL (sqlite:///path/study.db, "
                        "postgresql://user@host/db, mysql://user@host/db) or a JournalStorage file path "
                        "(e.g. /shared/sweep.journal)") from None
    except ImportError as err:
        raise SpecError(f"{where}: the database driver is not installed ({err.name or err}); install it or use "
                        "sqlite:/// or a JournalStorage file") from None
    except (SQLAlchemyError, OSError, ValueError, OptunaError) as err:
        reason = getattr(err, "orig", None) or getattr(err, "strerror", None) or err
        raise SpecError(f"{where}: cannot open the sweep's study storage ({str(reason).splitlines()[0]}). "
                        "If it is a file it may be damaged, unwritable or not an Optuna study; it was left as it is: "
                        "move it aside and run again, or give another --storage") from None


def make_storage(url: str):
    """An Optuna storage: an RDB URL (sqlite:///, postgresql://, mysql://) or a JournalStorage file path."""
    import optuna

    if "://" in url:
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}}
                                          if url.startswith("sqlite") else {})
    from optuna.storages.journal import JournalFileBackend

    path = Path(url)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SpecError(f"--storage {url}: {parent} is a file, not a folder; give a journal file path in a "
                                "folder you can write to")
            break
    if path.is_dir():
        raise SpecError(f"--storage {url}: is a folder; give a journal file path (e.g. {path / 'sweep.journal'}) or "
                        "an RDB URL such as sqlite:///study.db")
    if path.is_file() and path.stat().st_size:  # never append to a file that is not an Optuna journal
        with open(path, "rb") as fh:
            first = fh.readline(1 << 20)
        try:
            head = json.loads(first)
            ok = isinstance(head, dict) and "op_code" in head
        except ValueError:
            ok = False
        if not ok:
            raise SpecError(f"--storage {url}: not an Optuna journal file (damaged, or another kind of file); it was "
                            "left as it is: move it aside or give another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(url)))


def recover_stale(study, stale_after: float | None, log=print) -> int:
    """Fail trials left RUNNING by a dead process and queue their parameters again.

    A trial is stale when it was started on this host by a process that no longer exists, or when it
    started more than ``stale_after`` seconds ago (for other machines). Stored runs make the retry cheap.
    """
    import optuna
    from optuna.trial import TrialState

    host = socket.gethostname()
    n = 0
    now = time.time()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        who = t.user_attrs.get("worker_host"), t.user_attrs.get("worker_pid")
        dead_local = who[0] == host and who[1] is not None and not pid_alive(int(who[1]))
        old = stale_after is not None and t.datetime_start is not None and \
            now - t.datetime_start.timestamp() > stale_after
        unclaimed = who[0] is None  # killed between ask and the first user attribute
        if dead_local or old or unclaimed:
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)
            n += 1
    if n:
        log(f"resume: {n} trial(s) interrupted earlier are queued again (their finished runs are reused)")
    del optuna
    return n


def _in_flight(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)))


def needs_twins(sp: SweepSpec) -> bool:
    """Whether trials need their no-support twins: an objective or constraint is a causal outcome."""
    return any(m in CAUSAL_IN_SWEEP for m in (*sp.objectives, *sp.constraints))


def _evaluate(sp: SweepSpec, outcomes: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Means and standard errors over seeds of every headline outcome and objective; constraint values."""
    attrs: dict[str, Any] = {}
    wanted = list(dict.fromkeys([*sp.objectives, *HEADLINE_OUTCOMES, "budget_spent_bn",
                                 *[c for c in sp.constraints if c in OUTCOMES]]))
    for m in wanted:
        if m == "budget_per_additional_upgrade_bn":  # from the seeds' additional upgrades per bn IDR
            per_bn = outcomes[outcomes["metric"] == "extra_upgrades_per_bn"].set_index("seed")["value"]
            x = per_bn.reindex(sp.seeds).to_numpy(dtype=float)
            if m in sp.objectives:
                attrs[f"seeds_{m}"] = [None if not np.isfinite(per_seed_cost(v)) else per_seed_cost(v) for v in x]
            mean, _lo, _hi, n, _note = cost_per_additional_upgrade(x)
            x = x[np.isfinite(x)]
            se_x = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
            attrs[f"mean_{m}"] = mean
            attrs[f"se_{m}"] = se_x * mean ** 2 if np.isfinite(mean) else float("nan")  # delta method, 1/x
            continue
        per_seed = outcomes[outcomes["metric"] == m].set_index("seed")["value"].reindex(sp.seeds)
        if m in sp.objectives:  # kept per seed: trials share seeds, so their differences are paired
            attrs[f"seeds_{m}"] = [float(v) if np.isfinite(v) else None for v in per_seed.to_numpy(dtype=float)]
        x = per_seed.to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        mean = float(x.mean()) if x.size else float("nan")
        se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan")
        attrs[f"mean_{m}"] = mean
        attrs[f"se_{m}"] = se
    cons = []
    for k, (lo, hi) in sp.constraints.items():
        v = attrs.get(f"mean_{k}") if k in OUTCOMES else params.get(k, sp.base.params.get(k))
        v = float(v) if v is not None else float("nan")
        if hi is not None:
            cons.append(v - hi if np.isfinite(v) else 1.0)
        if lo is not None:
            cons.append(lo - v if np.isfinite(v) else 1.0)
    attrs["constraint_values"] = cons
    attrs["feasible"] = all(c <= 0 for c in cons)
    return attrs


def _ask(study, distributions, attempts: int = 5):
    """``study.ask`` that survives a race between processes sharing a journal file: when another
    worker finished the trial this one was handed (Optuna raises UpdateFinishedTrialError), ask again."""
    from optuna.exceptions import UpdateFinishedTrialError

    for i in range(attempts):
        try:
            t = study.ask(distributions)
            t.set_user_attr("worker_host", socket.gethostname())
            t.set_user_attr("worker_pid", os.getpid())
            return t
        except UpdateFinishedTrialError:
            if i == attempts - 1:
                raise
            time.sleep(0.05 * (i + 1))
    raise AssertionError("unreachable")


def _param_key(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in params.items()))


def _evaluated(study, but: int | None = None) -> dict[tuple, int]:
    """Parameter sets already evaluated or being evaluated (complete, running, or failed after evaluation)
    -> the first trial number that has them. Trials failed by an interruption are retried, so not counted."""
    from optuna.trial import TrialState

    seen: dict[tuple, int] = {}
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING, TrialState.FAIL)):
        if t.number == but or not t.params or (t.state == TrialState.FAIL and not t.user_attrs.get("evaluated")):
            continue
        seen.setdefault(_param_key(t.params), t.number)
    return seen


# why an objective can be undefined in a trial (recorded with the failed trial)
NAN_HINTS = {
    "budget_per_additional_upgrade_bn": "the budget bought no additional size-class upgrade on average over "
                                        "the seeds (vs the no-support twin), or nothing was spent",
    **{m: "no budget spent within the horizon" for m in PER_BUDGET if m != "budget_per_additional_upgrade_bn"},
    "value_added_growth": "value added not positive at the start or end",
    "employment_growth": "employment not positive at the start or end",
    "productivity_growth": "productivity not positive at the start or end",
}
MAX_DUPLICATES_IN_A_ROW = 200


def prepare_study(sp: SweepSpec, out: Path, storage: str | None, resume: bool, fresh: bool,
                  stale_after: float | None = None, log=print, sampler=None, check=None):
    """Open (or create) the study of a sweep or a calibration and make it ready to ask: the set-up both share.

    ``sampler(seed)`` builds the sampler (default: the sweep's :func:`_make_sampler`); ``check(study)`` may
    refuse a stored study (a calibration's targets). A study that already holds trials samples on with a
    :func:`continuation_seed`, so earlier parameter sets are not proposed again; with ``resume`` trials left
    running by a dead process are queued again (:func:`recover_stale`); a new study evaluates the base
    scenario's own values first when ``sp.reference`` and they lie inside the ranges.
    Returns (study, storage URL, sampler seed, distributions of the levers).
    """
    study, url = open_study(sp, storage, out, resume, fresh)
    if check is not None:
        check(study)
    n_stored = len(study.get_trials(deepcopy=False))
    seed = sp.sampler_seed
    if n_stored:
        seed = continuation_seed(sp.sampler_seed, n_stored, f"{socket.gethostname()}:{os.getpid()}")
        log(f"resume: {n_stored} trial(s) stored; sampling continues with seed {seed} (derived from sampler_seed "
            f"{sp.sampler_seed}) so that earlier parameter sets are not proposed again")
    if n_stored or sampler is not None:
        study.sampler = sampler(seed) if sampler is not None else _make_sampler(sp, seed)
    if resume:
        recover_stale(study, stale_after, log)
    distributions = {lv.name: lv.distribution() for lv in sp.levers}
    if sp.reference and not study.trials:
        ref = {lv.name: sp.base.params[lv.name] for lv in sp.levers}
        if all(lv.contains(ref[lv.name]) for lv in sp.levers):
            study.enqueue_trial(ref, user_attrs={"reference": True})
    return study, url, seed, distributions


def run_sweep(sp: SweepSpec, out: Path, runner: Runner, storage: str | None = None, resume: bool = False,
              fresh: bool = False, stale_after: float | None = None, log=print, progress: bool = True):
    """Run (or resume) a sweep until ``sp.trials`` trials are complete; return the study.

    No parameter set is evaluated twice: a continuing process samples with its own seed
    (:func:`continuation_seed`), and a proposal identical to a trial already evaluated or running is
    recorded as a failed trial ("duplicate of trial N", not run) and the sampler is asked again.
    A trial whose objective is undefined (NaN) in every seed fails with the reason in its ``fail_reason``
    user attribute; after many failures in a row the sweep stops.
    """
    import optuna
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study, _url, seed, distributions = prepare_study(sp, Path(out), storage, resume, fresh, stale_after, log)

    def complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    bar = tqdm(total=sp.trials, initial=min(complete(), sp.trials), desc=f"{sp.name}: trials", unit="trial",
               disable=not progress, dynamic_ncols=True)
    attempts = 0
    failed_in_row = 0
    dup_in_row = 0
    stop = ""
    try:
        while not stop:
            # Ctrl-C waits for the storage writes (ask/tell) to finish; the runs stay interruptible
            with interrupts_deferred():
                done = complete()
                running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                remaining = sp.trials - done - running
                if remaining <= 0:
                    break
                attempts += 1
                if attempts > 3 * sp.trials + 10:
                    log("too many failed trials; stopping (see trials.csv)")
                    break
                k = min(sp.batch, remaining)
                batch = []
                while len(batch) < k:
                    if batch and _in_flight(study) >= sp.trials:  # other processes took the rest
                        break
                    t = _ask(study, distributions)
                    t.set_user_attr("sampler_seed", seed)
                    first = _evaluated(study, but=t.number).get(_param_key(t.params))
                    if first is None:
                        dup_in_row = 0
                        batch.append(t)
                        continue
                    t.set_user_attr("fail_reason", f"duplicate of trial {first}: the same parameter set is not "
                                                   "evaluated twice")
                    study.tell(t, state=TrialState.FAIL)
                    dup_in_row += 1
                    if dup_in_row >= MAX_DUPLICATES_IN_A_ROW:
                        stop = (f"the sampler proposed {dup_in_row} parameter sets in a row that were already "
                                "evaluated (the lever space looks exhausted); stopping")
                        break
                k = len(batch)
                if not k:
                    break
                tasks = []
                causal = needs_twins(sp)
                for t in batch:
                    sc = _trial_scenario(sp, t.params)
                    panel = (sc.params["n_months"],) if causal else ()
                    tasks += [Task.make(sc, s, label=f"trial_{t.number}", panel=panel) for s in sp.seeds]
                    if causal:
                        tasks += [Task.make(no_support_twin(sc), s, label=f"trial_{t.number}{NO_SUPPORT_SUFFIX}",
                                            panel=panel) for s in sp.seeds]
            tidy = runner.run(tasks, desc=f"batch of {k} trials", reduce=None)
            with interrupts_deferred():
                outcomes = outcomes_table(tidy)
                if causal:
                    twins = {f"trial_{t.number}": f"trial_{t.number}{NO_SUPPORT_SUFFIX}" for t in batch}
                    outcomes = pd.concat([outcomes, causal_outcomes(tidy, runner.panels, twins)], ignore_index=True)
                    runner.panels.clear()  # the next batch brings its own
                for t in batch:
                    attrs = _evaluate(sp, outcomes[outcomes["scenario"] == f"trial_{t.number}"], t.params)
                    for key, v in attrs.items():
                        t.set_user_attr(key, v)
                    for j, c in enumerate(attrs["constraint_values"]):
                        t.set_constraint(f"c{j}", float(c))
                    t.set_user_attr("seeds", sp.seeds)
                    t.set_user_attr("evaluated", True)
                    values = [attrs[f"mean_{m}"] for m in sp.objectives]
                    if all(np.isfinite(values)):
                        study.tell(t, values)
                        bar.update()
                        failed_in_row = 0
                    else:
                        bad = [m for m in sp.objectives if not np.isfinite(attrs[f"mean_{m}"])]
                        reason = "; ".join(f"objective {m} undefined (NaN) in every seed"
                                           + (f": {NAN_HINTS[m]}" if m in NAN_HINTS else "") for m in bad)
                        t.set_user_attr("fail_reason", reason)
                        study.tell(t, state=TrialState.FAIL)
                        failed_in_row += 1
                        if failed_in_row >= max(2 * sp.batch, 8):
                            stop = f"{failed_in_row} trials in a row failed (last: {reason}); stopping"
        if stop:
            log(stop + " (see trials.csv)")
    finally:
        bar.close()
    return study


# -- results ---------------------------------------------------------------------------------------
def trials_frame(study, sp: SweepSpec, failed: bool = False) -> pd.DataFrame:
    """One row per complete trial: levers, objective means and standard errors, feasibility, Pareto flag.

    ``failed``: also the trials that were evaluated and failed (state ``failed``, reason in ``fail_reason``);
    trials stopped by an interruption (retried) and duplicate proposals (never run) are left out."""
    from optuna.trial import TrialState

    rows = []
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    # Optuna's own Pareto set: the feasible trials (constraints given with Trial.set_constraint) no other
    # feasible trial dominates; one objective: the best trial(s)
    pareto = {t.number for t in study.best_trials} if done else set()
    shown = done
    if failed:
        shown = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
                 if t.state == TrialState.COMPLETE or t.user_attrs.get("evaluated")]
    for t in shown:
        row: dict[str, Any] = {"trial": t.number}
        row.update({k: t.params.get(k) for k in [lv.name for lv in sp.levers]})
        for m in sp.objectives:
            row[m] = t.user_attrs.get(f"mean_{m}")
            row[f"{m}_se"] = t.user_attrs.get(f"se_{m}")
            row[f"{m}_by_seed"] = t.user_attrs.get(f"seeds_{m}")
        for m in HEADLINE_OUTCOMES:
            if m not in sp.objectives:
                row[m] = t.user_attrs.get(f"mean_{m}")
        row["feasible"] = t.user_attrs.get("feasible", True)
        row["pareto"] = t.number in pareto
        row["reference"] = bool(t.user_attrs.get("reference", False))
        if failed:
            row["state"] = "complete" if t.state == TrialState.COMPLETE else "failed"
            row["fail_reason"] = t.user_attrs.get("fail_reason", "")
        rows.append(row)
    return pd.DataFrame(rows)


def importances(study, sp: SweepSpec) -> pd.DataFrame:
    """Parameter importance per objective (Optuna's default evaluator, PED-ANOVA)."""
    import optuna

    rows = []
    for i, m in enumerate(sp.objectives):
        sign = -1.0 if sp.objectives[m] == "maximize" else 1.0  # PED-ANOVA looks for low target values
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                imp = optuna.importance.get_param_importances(study, target=lambda t, i=i, s=sign: s * t.values[i])
        except (ValueError, RuntimeError, ZeroDivisionError) as err:  # too few trials or no variation
            imp = {}
            print(f"note: importance for {m} not computed ({err})")
        for p, v in imp.items():
            rows.append({"objective": m, "parameter": p, "importance": float(v)})
    return pd.DataFrame(rows, columns=["objective", "parameter", "importance"])
