"""Calibration by the method of simulated moments: free parameters fitted to published figures.

A calibration file (``experiments/examples/calibration.toml``; docs/CALIBRATION.md)::

    [calibration]
    name = "baseline_fit"          # output folder results/calibration/<name>/ and Optuna study name
    scenario = "baseline"          # the scenario whose parameters are fitted (bundled name or path)
    trials = 30                    # complete trials wanted (an interrupted calibration resumes to this)
    seeds = 2                      # seeds of every candidate: the same seeds for all (common random numbers)
    population = 3000              # n_firms
    horizon = 60                   # n_months (month 0 = October 2020, the online share's initial figure)
    sampler = "tpe"                # tpe | qmc (Sobol points: even coverage, for identification) | random
    batch = 6                      # candidates evaluated together (fixed: results do not depend on --jobs)
    sampler_seed = 1
    reference = true               # first candidate = the scenario's own values (the current defaults)
    accept_delta = 0               # accepted set: loss <= best + delta; 0 = chi-square(0.95, free parameters)
    data = "data/published_figures.csv"   # the data pack (default: the project's)

    [parameters]                   # free parameters with their plausible ranges (docs/ODD.md, calibration)
    exit_hazard = [0.0005, 0.006]
    outside_option_share = { low = 0.1, high = 0.8 }

    [[targets]]                    # one per published figure (ids of the data pack)
    figure = "firms_small_2019"    # a calibration_target row; its sigma is the published figure's uncertainty
    moment = "share_small"         # the simulated moment it is compared with (MOMENTS)
    per = "firms_msme_2019"        # divide figure and sigma by this row (counts -> shares)
    month = 7                      # for moments at a month (online_share; kur_*: end of the 12-month window)

Loss of a candidate = sum over targets of ((m - t) / s)^2 with m the moment's mean over the seeds,
t the figure and s^2 = sigma^2 + se^2: sigma the figure's own uncertainty (data pack, ``sigma``) and se
the standard error of m over the seeds (so a moment the seeds cannot pin down weighs less). The study
lives in ``study.db`` beside the results (or ``--storage``) and every model run in ``runs/``, so an
interrupted calibration resumes with ``--resume`` and reuses finished runs.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.params import FIELD_GROUP
from model.scenario import MAX_TEXT_CHARS, Scenario

from .datapack import FIGURES, DataPack, DataPackError, load_datapack
from .runner import TIDY_COLUMNS, Runner, Task, interrupts_deferred
from .spec import Spec, SpecError, _suggest
from .sweep import LeverSpace, SweepSpec, _ask, _evaluated, _lever, _param_key, prepare_study

CAL_KEYS = {
    "name": "study and output folder name", "description": "what the calibration fits", "scenario": "base scenario",
    "trials": "complete trials wanted", "seeds": "seeds per candidate (count or list; common to all candidates)",
    "population": "n_firms", "horizon": "n_months", "sampler": "tpe | qmc | random", "batch": "candidates evaluated "
    "together", "sampler_seed": "seed of the sampler", "reference": "evaluate the scenario's own values first",
    "accept_delta": "accepted set: loss <= best + this (0 = chi-square 95 % with as many degrees of freedom as "
    "free parameters)", "data": "data pack CSV", "set": "fixed parameter overrides",
}
TARGET_KEYS = {"figure": "data pack id", "moment": "simulated moment", "per": "data pack id to divide by",
               "month": "month of the moment (online_share; end of the 12-month window for kur_*)"}
SAMPLERS = ("tpe", "qmc", "random")
COUNT_UNITS = ("firms", "persons", "borrowers", "IDR")


@dataclass(frozen=True)
class Moment:
    """A simulated moment: what it measures, whether it needs a month, its per-month series."""

    description: str
    month: str = "optional"   # optional (default: mean over months 1..horizon) | required | window (12 months to)
    unit: str = "share"


MOMENTS: dict[str, Moment] = {
    "share_small": Moment("share of firms alive that are small (capital 1-5 bn IDR)"),
    "share_medium": Moment("share of firms alive that are medium (capital 5-10 bn IDR)"),
    "employment_share_small": Moment("share of MSME workers in small firms"),
    "employment_share_medium": Moment("share of MSME workers in medium firms"),
    "online_share": Moment("share of firms alive selling online (digital stage 3.0)", "required"),
    "formal_credit_share": Moment("share of firms alive with formal credit access"),
    "kur_borrowers_per_firm_year": Moment("firms served by KUR programmes in the 12 months to `month` (default "
                                          "12) per firm alive at the window's start", "window", "per firm a year"),
    "kur_volume_per_firm_year": Moment("KUR disbursed in the 12 months to `month` (default 12) per firm alive at "
                                       "the window's start", "window", "IDR per firm a year"),
    "exit_rate_year": Moment("yearly exit probability among firms alive, 1 - (1 - mean monthly exit rate)^12, "
                             "over months 1..horizon (or the 12 months to `month`)", "optional", "per year"),
}
# per-month series the worker records (tidy metric names); the moments are read from them
SERIES = ("cal_share_small", "cal_share_medium", "cal_emp_small", "cal_emp_medium", "cal_online", "cal_formal",
          "cal_kur_served", "cal_kur_disbursed", "cal_exit_rate", "cal_alive")


@dataclass
class Target:
    figure: str
    moment: str
    value: float          # in the moment's unit (figure / per)
    sigma: float          # the figure's own uncertainty, same unit
    month: int | None
    per: str | None
    quantity: str = ""

    @property
    def key(self) -> str:
        return self.figure

    def describe(self) -> str:
        return self.moment + (f" @ month {self.month}" if self.month is not None else "")


@dataclass
class CalibrationSpec:
    name: str
    description: str
    base: Scenario
    parameters: list[LeverSpace]
    targets: list[Target]
    trials: int
    seeds: list[int]
    sampler: str
    batch: int
    sampler_seed: int
    reference: bool
    accept_delta: float
    data: DataPack
    source: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)

    def as_sweep(self) -> SweepSpec:
        """The sweep view of this calibration (one objective, the loss): the sweep's study storage,
        resumption and duplicate checks serve it unchanged."""
        return SweepSpec(self.name, self.description, self.base, self.parameters, {"loss": "minimize"}, {},
                         self.trials, self.seeds, self.sampler, 20, self.batch, self.sampler_seed, self.reference,
                         self.source, self.fixed)

    def fingerprint(self) -> str:
        """What else must not change when a calibration resumes: targets, their values and sigmas."""
        import hashlib

        blob = [(t.figure, t.moment, t.value, t.sigma, t.month, t.per) for t in self.targets]
        return hashlib.sha256(json.dumps(blob, default=str).encode()).hexdigest()[:16]


# -- reading the file ------------------------------------------------------------------------------
def load_calibration(path: str | Path, overrides: dict[str, Any] | None = None) -> CalibrationSpec:
    """Read and check a calibration file (every problem named with file, field and allowed values)."""
    spec = Spec(path, "calibration")
    ov = overrides or {}
    spec.sections({"calibration": "name, scenario, trials, seeds, population, horizon, sampler, batch, set",
                   "parameters": "free parameters with their ranges",
                   "targets": "[[targets]] entries: figure, moment, per, month"},
                  required=("calibration", "parameters", "targets"))
    cal = spec.table("calibration")
    spec.keys(cal, "calibration", CAL_KEYS)
    name = spec.name(cal, "name", "calibration")
    desc = spec.string(cal, "description", "calibration", "", max_len=MAX_TEXT_CHARS)
    trials = int(ov.get("trials") or spec.integer(cal, "trials", "calibration", 30, 1, 100_000))
    seeds = spec.seeds(cal, "seeds", "calibration", 2)
    if ov.get("seeds"):
        seeds = list(range(1, int(ov["seeds"]) + 1))
    sampler = spec.string(cal, "sampler", "calibration", "tpe", SAMPLERS)
    batch = spec.integer(cal, "batch", "calibration", 6, 1, 10_000)
    sseed = spec.integer(cal, "sampler_seed", "calibration", 1, 0, 2**31)
    reference = cal.get("reference", True)
    if not isinstance(reference, bool):
        spec.problem(f"[calibration] reference = {reference!r}", "expected true or false")
        reference = True
    delta = spec.number(cal, "accept_delta", "calibration", 0.0, 0.0, 1e12)
    data_ref = spec.string(cal, "data", "calibration", None, max_len=4096)
    data_path = FIGURES if data_ref is None else (Path(data_ref) if Path(data_ref).is_absolute()
                                                  else _data_path(spec, data_ref))
    try:
        data = load_datapack(data_path)
    except DataPackError as err:
        spec.problems.extend(str(err).splitlines())
        spec.raise_if_problems()
        raise
    fixed = spec.common_overrides(cal, "calibration", ov.get("set"))
    base = spec.scenario(cal.get("scenario", "baseline"), "[calibration] scenario", fixed)

    params: list[LeverSpace] = []
    for pname, v in spec.table("parameters").items():
        if pname == "mix" or pname not in FIELD_GROUP:
            spec.problem(f"[parameters] {pname}", f"unknown parameter{_suggest(pname, FIELD_GROUP)}; see "
                                                  "`python run.py params` (budget mix weights are levers, not "
                                                  "calibrated)")
            continue
        lv = _lever(spec, pname, v)
        if lv is not None and lv.kind == "choice":
            spec.problem(f"[parameters] {pname}", "a calibration fits numbers: give a range [low, high] or "
                                                  "{ low = ..., high = ... }, not a list of choices")
            continue
        if lv is not None:
            params.append(lv)
    if not params and not spec.problems:
        spec.problem("[parameters]", "no free parameter; give at least one, e.g. exit_hazard = [0.0005, 0.006]")

    horizon = int(base.params["n_months"]) if base is not None else 10**9
    targets = _targets(spec, data, horizon)
    spec.raise_if_problems()
    if delta == 0.0:
        from scipy.stats import chi2

        delta = float(chi2.ppf(0.95, len(params)))
    return CalibrationSpec(name, desc, base, params, targets, trials, seeds, sampler, batch, sseed, reference,
                           float(delta), data, str(spec.path), fixed)


def _data_path(spec: Spec, ref: str) -> Path:
    """A data pack path: relative to the calibration file, else to the project (``data/...``)."""
    p = spec.base_dir / ref
    if p.exists():
        return p
    from .datapack import ROOT

    return ROOT / ref


def _targets(spec: Spec, data: DataPack, horizon: int) -> list[Target]:
    raw = spec.data.get("targets", [])
    if not isinstance(raw, list) or not raw or not all(isinstance(t, dict) for t in raw):
        spec.problem("[[targets]]", "expected one or more [[targets]] tables with figure and moment, e.g. figure = "
                                    "\"firms_small_2019\", moment = \"share_small\", per = \"firms_msme_2019\"")
        return []
    out: list[Target] = []
    seen = set()
    targets_ok = data.ids("calibration_target")
    for i, t in enumerate(raw, start=1):
        where = f"targets #{i}"
        spec.keys(t, where, TARGET_KEYS)
        fig_id = spec.string(t, "figure", where, None)
        moment = spec.string(t, "moment", where, None, tuple(MOMENTS))
        per = spec.string(t, "per", where, None)
        month = spec.integer(t, "month", where, None, 0, 600)
        if fig_id is None:
            spec.problem(f"[{where}] figure", "missing; allowed: the data pack's calibration targets: "
                                              + ", ".join(targets_ok))
            continue
        if fig_id not in data:
            spec.problem(f"[{where}] figure = {fig_id!r}", f"not in {data.path}{_suggest(fig_id, data.figures)}; "
                                                           "calibration targets: " + ", ".join(targets_ok))
            continue
        fig = data[fig_id]
        if fig.use != "calibration_target":
            spec.problem(f"[{where}] figure = {fig_id!r}", f"its use is '{fig.use}' in {data.path}, not "
                                                           "calibration_target; calibration targets: "
                                                           + ", ".join(targets_ok))
            continue
        if fig_id in seen:
            spec.problem(f"[{where}] figure = {fig_id!r}", "used twice: each figure is one target")
            continue
        seen.add(fig_id)
        if moment is None:
            spec.problem(f"[{where}] moment", "missing; allowed: " + ", ".join(MOMENTS))
            continue
        m = MOMENTS[moment]
        if m.month == "required" and month is None:
            spec.problem(f"[{where}] month", f"the moment {moment} is read at a month: give month = 0..{horizon}")
            continue
        if month is not None and month > horizon:
            spec.problem(f"[{where}] month = {month}", f"beyond the horizon (n_months = {horizon}); allowed: 0 to "
                                                       f"{horizon}")
            continue
        if m.month == "window":
            end = 12 if month is None else month
            if end < 12 or end > horizon:
                spec.problem(f"[{where}] month = {end}", f"the 12-month window of {moment} must end between month 12 "
                                                         f"and the horizon ({horizon}); allowed: 12 to {horizon}")
                continue
            month = end
        scale = 1.0
        if per is not None:
            if per not in data:
                spec.problem(f"[{where}] per = {per!r}", f"not in {data.path}{_suggest(per, data.figures)}")
                continue
            scale = data[per].value
            if scale <= 0:
                spec.problem(f"[{where}] per = {per!r}", "its value must be > 0")
                continue
        elif fig.unit in COUNT_UNITS:
            spec.problem(f"[{where}] per", f"{fig_id} is a count ({fig.unit}); give per = the data pack id to divide "
                                           "it by (e.g. firms_msme_2019) so it compares with a per-firm moment")
            continue
        out.append(Target(fig_id, moment, fig.value / scale, float(fig.sigma) / scale, month, per, fig.quantity))
    return out


# -- the worker: a run and its moment series -------------------------------------------------------
class MomentRecorder:
    """The per-month series the moments are read from (:data:`SERIES`), recorded from a model at the
    end of each month; shared by :func:`execute_moments` and ``python run.py validate``."""

    def __init__(self, model):
        self.model = model
        self.rows: list[tuple[int, str, float]] = []
        self.served_before = self._kur_served()

    def _kur_served(self) -> float:
        m = self.model
        ids = [p.programme_id for p in m.programme_agents_by_id.values() if p.instrument_name == "kur_credit"]
        return float(m.programme_book[ids, 0].sum()) if ids else 0.0

    def record(self) -> None:
        from model.finance import DISBURSED, KUR, ledger

        model = self.model
        f = model.firms
        n = f.n
        a = f.alive[:n]
        cls = f.size_class[:n][a]
        w = f.workers[:n][a]
        alive = max(int(a.sum()), 1)
        wt = max(float(w.sum()), 1e-12)
        served = self._kur_served()
        t = model.month
        self.rows.extend([
            (t, "cal_share_small", float((cls == 1).sum()) / alive),
            (t, "cal_share_medium", float((cls == 2).sum()) / alive),
            (t, "cal_emp_small", float(w[cls == 1].sum()) / wt),
            (t, "cal_emp_medium", float(w[cls == 2].sum()) / wt),
            (t, "cal_online", float((f.stage[:n][a] == 3).sum()) / alive),
            (t, "cal_formal", float((f.credit_access[:n][a] == 2).sum()) / alive),
            (t, "cal_kur_served", served - self.served_before if t > 0 else 0.0),
            (t, "cal_kur_disbursed", float(ledger(model)[t, KUR, DISBURSED]) if t > 0 else 0.0),
            (t, "cal_exit_rate", float(model.metrics["exit_rate"]) if t > 0 else 0.0),
            (t, "cal_alive", float(alive)),
        ])
        self.served_before = served

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["month", "metric", "value"])


def tidy_frame(df: pd.DataFrame, task: Task) -> pd.DataFrame:
    """``month, metric, value`` rows of a task as the runner's tidy table (:data:`TIDY_COLUMNS`)."""
    df = df.copy()
    df.insert(0, "run_id", task.run_id)
    df.insert(1, "scenario", task.label)
    df.insert(2, "seed", task.seed)
    df["month"] = df["month"].astype("int32")
    df["value"] = df["value"].astype("float64")
    return df[TIDY_COLUMNS]


def execute_moments(task: Task) -> tuple[pd.DataFrame, float, str, None]:
    """Worker side (``Runner(execute=...)``): run a task month by month and return the per-month series
    the moments are read from (tidy long, metric names :data:`SERIES`)."""
    from model import MSMEEcosystem

    t0 = time.perf_counter()
    model = MSMEEcosystem(task.scenario, seed=task.seed)
    rec = MomentRecorder(model)
    rec.record()
    end = int(task.scenario.params["n_months"])
    while model.running and model.month < end:
        model.step()
        rec.record()
    return tidy_frame(rec.frame(), task), time.perf_counter() - t0, f"{socket.gethostname()}:{os.getpid()}", None


def moment_value(series: pd.DataFrame, moment: str, month: int | None) -> float:
    """One run's moment from its series (``series``: month x metric, wide)."""
    if series.empty or "cal_alive" not in series.columns:
        raise SpecError("a stored run has no calibration series (it was made by another command); give the "
                        "calibration its own --out folder or use --fresh")
    last = int(series.index.max())
    body = series.loc[1:last] if last >= 1 else series
    col = {"share_small": "cal_share_small", "share_medium": "cal_share_medium",
           "employment_share_small": "cal_emp_small", "employment_share_medium": "cal_emp_medium",
           "online_share": "cal_online", "formal_credit_share": "cal_formal"}.get(moment)
    if col is not None:
        return float(series.at[month, col]) if month is not None else float(body[col].mean())
    if moment in ("kur_borrowers_per_firm_year", "kur_volume_per_firm_year"):
        c = "cal_kur_served" if moment.startswith("kur_borrowers") else "cal_kur_disbursed"
        window = series.loc[month - 11:month, c]
        start = float(series.at[month - 12, "cal_alive"])
        return float(window.sum()) / max(start, 1.0)
    if moment == "exit_rate_year":
        x = (series.loc[month - 11:month, "cal_exit_rate"] if month is not None and month >= 12
             else body["cal_exit_rate"])
        return float(1.0 - (1.0 - x.mean()) ** 12)
    raise KeyError(moment)


def run_moments(tidy: pd.DataFrame, targets: list[Target]) -> pd.DataFrame:
    """Moments of every run in ``tidy``: one row per (scenario, seed, target figure)."""
    out = []
    for (scen, seed), g in tidy.groupby(["scenario", "seed"], sort=False):
        w = g.pivot_table(index="month", columns="metric", values="value", aggfunc="first").sort_index()
        for t in targets:
            out.append((scen, int(seed), t.figure, moment_value(w, t.moment, t.month)))
    return pd.DataFrame(out, columns=["scenario", "seed", "figure", "value"])


def loss_terms(per_seed: dict[str, list[float]], targets: list[Target]) -> dict[str, Any]:
    """Mean, standard error over seeds, combined sigma and loss term per target; the total loss."""
    terms = {}
    total = 0.0
    for t in targets:
        x = np.asarray(per_seed[t.figure], dtype=float)
        mean = float(x.mean())
        se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0
        s = math.sqrt(t.sigma ** 2 + se ** 2)
        z = (mean - t.value) / s
        terms[t.figure] = {"mean": mean, "se": se, "sigma": s, "z": z}
        total += z * z
    return {"terms": terms, "loss": total}


# -- the search ------------------------------------------------------------------------------------
def _sampler(cs: CalibrationSpec, seed: int):
    import optuna

    if cs.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if cs.sampler == "qmc":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # QMCSampler is marked experimental
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed)
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, n_startup_trials=min(10, max(cs.trials // 3, 4)))


def _scenario(cs: CalibrationSpec, params: dict[str, Any]) -> Scenario:
    return cs.base.with_overrides({k: (float(v) if isinstance(v, float) else v) for k, v in params.items()},
                                  source="calibration candidate")


def run_calibration(cs: CalibrationSpec, out: Path, runner: Runner, storage: str | None = None,
                    resume: bool = False, fresh: bool = False, stale_after: float | None = None, log=print,
                    progress: bool = True):
    """Run (or resume) the search until ``cs.trials`` candidates are complete; return the Optuna study.

    ``runner`` must execute :func:`execute_moments` (``Runner(execute=execute_moments, ...)``)."""
    import optuna
    from optuna.trial import TrialState
    from tqdm.auto import tqdm

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def same_targets(study) -> None:
        stored = study.user_attrs.get("targets")
        if stored is None:
            study.set_user_attr("targets", cs.fingerprint())
        elif stored != cs.fingerprint():
            raise SpecError(f"{cs.source}: the targets (figures, moments, months, sigmas) differ from the stored "
                            f"study '{cs.name}'; use --fresh to start over or give the calibration another name")

    study, _url, _seed, dists = prepare_study(cs.as_sweep(), Path(out), storage, resume, fresh, stale_after, log,
                                              sampler=lambda seed: _sampler(cs, seed), check=same_targets)

    def complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    bar = tqdm(total=cs.trials, initial=min(complete(), cs.trials), desc=f"{cs.name}: candidates", unit="trial",
               disable=not progress, dynamic_ncols=True)
    attempts = 0
    try:
        while True:
            # Ctrl-C waits for the storage writes (ask/tell) to finish, as in a sweep; runs stay interruptible
            with interrupts_deferred():
                running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
                remaining = cs.trials - complete() - running
                if remaining <= 0:
                    break
                attempts += 1
                if attempts > 3 * cs.trials + 10:
                    log("too many failed candidates; stopping (see trials.csv)")
                    break
                batch = []
                dups = 0
                while len(batch) < min(cs.batch, remaining) and dups < 200:
                    t = _ask(study, dists)
                    first = _evaluated(study, but=t.number).get(_param_key(t.params))
                    if first is None:
                        batch.append(t)
                    else:
                        t.set_user_attr("fail_reason", f"duplicate of trial {first}")
                        study.tell(t, state=TrialState.FAIL)
                        dups += 1
                if not batch:
                    log("the sampler keeps proposing evaluated parameter sets; stopping")
                    break
                tasks = [Task.make(_scenario(cs, t.params), s, label=f"trial_{t.number}") for t in batch
                         for s in cs.seeds]
            tidy = runner.run(tasks, desc=f"batch of {len(batch)} candidates")
            with interrupts_deferred():
                mom = run_moments(tidy, cs.targets)
                for t in batch:
                    m = mom[mom["scenario"] == f"trial_{t.number}"]
                    per_seed = {f: g.set_index("seed")["value"].reindex(cs.seeds).tolist()
                                for f, g in m.groupby("figure")}
                    t.set_user_attr("moments", per_seed)
                    t.set_user_attr("seeds", cs.seeds)
                    t.set_user_attr("evaluated", True)
                    if not all(np.isfinite(v) for vals in per_seed.values() for v in vals):
                        t.set_user_attr("fail_reason", "a moment is undefined (NaN) in a seed")
                        study.tell(t, state=TrialState.FAIL)
                        continue
                    res = loss_terms(per_seed, cs.targets)
                    study.tell(t, res["loss"])
                    bar.update()
    finally:
        bar.close()
    return study


# -- results ---------------------------------------------------------------------------------------
def trials_frame(study, cs: CalibrationSpec) -> pd.DataFrame:
    """One row per complete candidate: parameters, loss, each target's simulated mean, accepted flag."""
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        row: dict[str, Any] = {"trial": t.number, **{p.name: t.params.get(p.name) for p in cs.parameters},
                               "loss": t.value, "reference": bool(t.user_attrs.get("reference", False))}
        res = loss_terms(t.user_attrs["moments"], cs.targets)
        for tg in cs.targets:
            row[f"sim_{tg.figure}"] = res["terms"][tg.figure]["mean"]
            row[f"z_{tg.figure}"] = res["terms"][tg.figure]["z"]
        rows.append(row)
    df = pd.DataFrame(rows)
    if not df.empty:
        df["accepted"] = df["loss"] <= df["loss"].min() + cs.accept_delta
    return df


def target_table(trial, cs: CalibrationSpec) -> pd.DataFrame:
    """Target against simulated (mean and 95 % interval over seeds), error, within tolerance (2 sigma)."""
    return target_frame(trial.user_attrs["moments"], cs.targets)


def target_frame(per_seed: dict[str, list[float]], targets: list[Target]) -> pd.DataFrame:
    """:func:`target_table` from the moments per seed (``{figure: [value per seed]}``)."""
    from scipy.stats import t as student

    res = loss_terms(per_seed, targets)
    rows = []
    for tg in targets:
        r = res["terms"][tg.figure]
        x = np.asarray(per_seed[tg.figure], dtype=float)
        half = float(student.ppf(0.975, x.size - 1) * r["se"]) if x.size > 1 else float("nan")
        err = r["mean"] - tg.value
        rows.append({"figure": tg.figure, "moment": tg.describe(), "target": tg.value, "sigma": tg.sigma,
                     "simulated": r["mean"], "ci_low": r["mean"] - half, "ci_high": r["mean"] + half,
                     "error": err, "rel_error": err / tg.value if tg.value else float("nan"), "z": r["z"],
                     "within_tolerance": abs(err) <= 2 * tg.sigma})
    return pd.DataFrame(rows)


def fitted_toml(cs: CalibrationSpec, params: dict[str, Any], loss: float, trial: int) -> str:
    """The fitted parameters as a scenario file that extends the calibrated scenario."""
    from model.scenario import available_scenarios

    base = cs.base.name if cs.base.name in available_scenarios() else str(Path(cs.base.source or "").resolve())
    groups: dict[str, list[str]] = {}
    for k, v in params.items():
        groups.setdefault(FIELD_GROUP[k], []).append(f"{k} = {v!r}".replace("True", "true").replace("False", "false"))
    lines = [f"# Fitted by `python run.py calibrate {cs.source}`: trial {trial}, loss {loss:.3g} over "
             f"{len(cs.targets)} targets, {len(cs.seeds)} seeds, {cs.base.params['n_firms']:,} firms, "
             f"{cs.base.params['n_months']} months (see report.md beside this file).",
             "[scenario]", f'name = "{cs.name}_fitted"',
             f'description = "{cs.base.name} with the parameters fitted by the calibration {cs.name}."',
             f'extends = "{base}"', ""]
    for g in ("levers", "uncertainties", "constants"):
        if g in groups:
            lines += [f"[{g}]", *groups[g], ""]
    return "\n".join(lines)


def write_outputs(study, cs: CalibrationSpec, out: Path, meta: dict[str, Any]) -> Path:
    """trials.csv, accepted.csv, targets.csv, fitted.toml, figures/ and report.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    df = trials_frame(study, cs)
    if df.empty:
        (out / "report.md").write_text(f"# Calibration {cs.name}\n\nNo candidate completed.\n")
        return out
    df.to_csv(out / "trials.csv", index=False)
    acc = df[df["accepted"]]
    acc.to_csv(out / "accepted.csv", index=False)
    best = study.best_trial
    tab = target_table(best, cs)
    tab.to_csv(out / "targets.csv", index=False)
    ref = df[df["reference"]]
    ref_tab = None
    if not ref.empty:
        ref_tab = target_table(study.trials[int(ref["trial"].iloc[0])], cs)
    (out / "fitted.toml").write_text(fitted_toml(cs, best.params, best.value, best.number))
    names = [p.name for p in cs.parameters]

    # convergence
    d = df.sort_values("trial")
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(d["trial"], d["loss"], ".", color="0.6", label="candidate")
    ax.step(d["trial"], d["loss"].cummin(), where="post", color="C0", label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("loss (sum of squared z)")
    ax.set_title(f"{cs.name}: convergence")
    ax.legend()
    fig.tight_layout()
    fig.savefig(figs / "convergence.png", dpi=110)
    plt.close(fig)

    # identification: loss against each parameter
    k = len(names)
    cols = min(k, 3)
    nrows = math.ceil(k / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4 * cols, 3.2 * nrows), squeeze=False)
    for i, p in enumerate(names):
        ax = axes[i // cols][i % cols]
        ax.scatter(df[p], df["loss"], s=12, c=np.where(df["accepted"], "C3", "0.6"))
        ax.axvline(best.params[p], color="C3", lw=0.8)
        ax.set_yscale("log")
        ax.set_xlabel(p)
        ax.set_ylabel("loss")
    for j in range(k, nrows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(f"{cs.name}: loss against each parameter (red: accepted set)")
    fig.tight_layout()
    fig.savefig(figs / "identification.png", dpi=110)
    plt.close(fig)

    # trade-offs: the most correlated pair among the near-optimal candidates
    pair = None
    corr = pd.DataFrame()
    near = df.nsmallest(max(len(acc), min(len(df), max(8, len(df) // 4))), "loss")
    if k >= 2 and len(near) >= 4:
        corr = near[names].astype(float).corr(method="spearman")
        c = corr.abs().where(~np.eye(k, dtype=bool))
        if c.notna().any().any():
            i, j = np.unravel_index(np.nanargmax(c.to_numpy()), c.shape)
            pair = (names[i], names[j], float(corr.iloc[i, j]))
            fig, ax = plt.subplots(figsize=(5, 4))
            sc = ax.scatter(near[pair[0]], near[pair[1]], c=np.log10(near["loss"]), cmap="viridis_r", s=25)
            fig.colorbar(sc, ax=ax, label="log10 loss")
            ax.plot(best.params[pair[0]], best.params[pair[1]], "r*", ms=12)
            ax.set_xlabel(pair[0])
            ax.set_ylabel(pair[1])
            ax.set_title(f"near-optimal candidates: Spearman {pair[2]:+.2f}")
            fig.tight_layout()
            fig.savefig(figs / "tradeoff.png", dpi=110)
            plt.close(fig)
    _report(cs, out, df, acc, best, tab, ref_tab, corr, pair, meta, len(near))
    return out


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "–"
    a = abs(x)
    return f"{x:,.0f}" if a >= 1000 else f"{x:.4g}"


def _table_md(tab: pd.DataFrame) -> list[str]:
    lines = ["| figure | moment | target | σ | simulated | 95 % interval | error | z | within 2σ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in tab.itertuples():
        ci = f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}" if np.isfinite(r.ci_low) else "–"
        lines.append(f"| {r.figure} | {r.moment} | {_fmt(r.target)} | {_fmt(r.sigma)} | {_fmt(r.simulated)} | "
                     f"{ci} | {r.rel_error:+.0%} | {r.z:+.1f} | "
                     f"{'yes' if r.within_tolerance else '**no**'} |")
    return lines


def _df_md(df: pd.DataFrame, fmt: str) -> list[str]:
    """A small frame as a Markdown table (index as the first column)."""
    lines = ["| | " + " | ".join(map(str, df.columns)) + " |", "|---" * (len(df.columns) + 1) + "|"]
    for idx, row in df.iterrows():
        lines.append(f"| {idx} | " + " | ".join(fmt.format(v) if np.isfinite(v) else "–" for v in row) + " |")
    return lines


def _report(cs, out, df, acc, best, tab, ref_tab, corr, pair, meta, n_near: int = 0) -> None:
    names = [p.name for p in cs.parameters]
    L = [f"# Calibration {cs.name}", "", cs.description or "", "",
         f"Method of simulated moments: {len(cs.parameters)} free parameters of scenario `{cs.base.name}` fitted to "
         f"{len(cs.targets)} published figures (data pack `{cs.data.path.name}`); {len(df)} candidates "
         f"({cs.sampler} sampler), each run with the same {len(cs.seeds)} seeds {cs.seeds} (common random numbers), "
         f"{cs.base.params['n_firms']:,} firms, {cs.base.params['n_months']} months. Loss = Σ ((sim − target)/s)², "
         "s² = σ² (the figure's uncertainty, data pack) + se² (the simulated mean's standard error over seeds). "
         f"Run time {meta.get('seconds', float('nan')):.0f} s on {meta.get('backend', '?')}.", "",
         f"**Best candidate**: trial {best.number}, loss {best.value:.3g}; fitted scenario: `fitted.toml`.", "",
         "| parameter | range | fitted | scenario value | accepted set (min – max) |", "|---|---|---|---|---|"]
    for p in cs.parameters:
        lo, hi = (acc[p.name].min(), acc[p.name].max()) if len(acc) else (float("nan"),) * 2
        L.append(f"| {p.name} | {p.describe()} | {_fmt(best.params[p.name])} | {_fmt(cs.base.params[p.name])} | "
                 f"{_fmt(lo)} – {_fmt(hi)} |")
    L += ["", "## Targets against the best candidate", "",
          "Mean over seeds with its 95 % interval (Student t over seeds); error relative to the target; within "
          "tolerance = |error| ≤ 2σ of the published figure.", "", *_table_md(tab)]
    if ref_tab is not None:
        ref_loss = float(df.loc[df["reference"], "loss"].iloc[0])
        L += ["", f"## Targets at the scenario's own values (reference candidate, loss {ref_loss:.3g})", "",
              *_table_md(ref_tab)]
    L += ["", "## Accepted set", "",
          f"{len(acc)} candidates with loss ≤ best + {cs.accept_delta:.3g} (`accepted.csv`; χ²(0.95) with "
          f"{len(names)} degrees of freedom unless `accept_delta` is set): the near-optimal set, kept for parameter "
          "uncertainty.", ""]
    if len(acc) > 1:
        L += _df_md(acc[names + ["loss"]].describe().loc[["mean", "std", "min", "max"]], "{:.4g}")
    L += ["", "## Figures", "", "- `figures/convergence.png`: best loss against trial.",
          "- `figures/identification.png`: loss against each parameter (a parameter is identified where the loss "
          "has a clear minimum in it; flat = the targets do not pin it down)."]
    if pair:
        L.append(f"- `figures/tradeoff.png`: the most correlated pair among the {n_near} near-optimal candidates, "
                 f"{pair[0]} and {pair[1]} (Spearman {pair[2]:+.2f}): "
                 + ("a possible trade-off (one may stand in for the other); TPE concentrates its proposals, so "
                    "confirm with sampler = \"qmc\" and more candidates" if abs(pair[2]) >= 0.5 else
                    "no strong trade-off"))
    if not corr.empty:
        L += ["", "Spearman correlations among the near-optimal candidates:", "", *_df_md(corr, "{:+.2f}")]
    L += ["", "## Resume", "", f"`{meta.get('resume', '')}`", ""]
    (out / "report.md").write_text("\n".join(L))


__all__ = ["MOMENTS", "CalibrationSpec", "MomentRecorder", "Target", "execute_moments", "load_calibration",
           "loss_terms", "run_calibration", "run_moments", "target_frame", "target_table", "trials_frame",
           "write_outputs"]
