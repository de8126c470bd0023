"""Sensitivity analysis with SALib: Morris screening and Sobol indices (bootstrap confidence intervals)
of chosen outcomes over chosen parameters (levers and uncertainties).

A sensitivity file::

    [sensitivity]
    name = "drivers"                 # output folder results/sensitivity/<name>/
    scenario = "baseline"            # bundled name or path; the parameters below vary around it
    methods = ["morris", "sobol"]
    seeds = 2                        # replications per sample (averaged; the same seeds for every sample)
    population = 1000
    horizon = 48
    outcomes = ["value_added_growth", "recipient_support_share_income", "survival_rate"]
    sampler_seed = 1

    [sensitivity.set]                # fixed overrides

    [parameters]                     # numeric levers and uncertainties with their ranges
    budget_per_firm_month = [20000.0, 120000.0]
    capture_rate = [0.0, 0.4]
    dependence_elasticity = [0.5, 2.5]

    [morris]
    trajectories = 10                # runs: trajectories x (parameters + 1) x seeds
    levels = 4

    [sobol]
    base_samples = 32                # N (a power of two); runs: N x (parameters + 2) x seeds
    resamples = 200                  # bootstrap resamples for the confidence intervals
"""

from __future__ import annotations

import json
import math
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.figures import _save, place_labels, plt, wrap
from analysis.io import output_error, publish, staging_dir, write_csv, write_text
from analysis.metrics import OUTCOMES, outcome_units, outcomes_table, param_label, shown
from analysis.report import fmt, markdown_table, reused_text
from model.params import FIELD_GROUP
from model.scenario import Scenario, ScenarioError

from .runner import Runner, Task
from .spec import MAX_RUNS, MAX_TEXT_CHARS, Spec, check_param_value, param_kind
from .store import provenance

SENS_KEYS = {"name": "output folder name", "description": "what is asked", "scenario": "base scenario",
             "methods": "morris and/or sobol", "seeds": "replications per sample", "population": "n_firms",
             "horizon": "n_months", "outcomes": "outcomes analysed", "sampler_seed": "seed of the samplers",
             "set": "fixed parameter overrides"}
METHODS = ("morris", "sobol")
DEFAULT_OUTCOMES = ["value_added_growth", "recipient_support_share_income", "survival_rate", "upgrades_per_1000"]


@dataclass
class SensitivitySpec:
    name: str
    description: str
    base: Scenario
    parameters: dict[str, tuple[float, float]]
    kinds: dict[str, str]
    methods: list[str]
    seeds: list[int]
    outcomes: list[str]
    sampler_seed: int
    trajectories: int = 10
    levels: int = 4
    base_samples: int = 32
    resamples: int = 200
    source: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)

    def problem(self) -> dict:
        names = list(self.parameters)
        return {"num_vars": len(names), "names": names, "bounds": [list(self.parameters[n]) for n in names]}


def load_sensitivity(path: str | Path, overrides: dict[str, Any] | None = None) -> SensitivitySpec:
    """Read and check a sensitivity file."""
    spec = Spec(path, "sensitivity")
    ov = overrides or {}
    spec.sections({"sensitivity": "name, scenario, methods, seeds, population, horizon, outcomes, set",
                   "parameters": "numeric levers and uncertainties = [low, high]",
                   "morris": "trajectories, levels", "sobol": "base_samples, resamples"},
                  required=("sensitivity", "parameters"))
    s = spec.table("sensitivity")
    spec.keys(s, "sensitivity", SENS_KEYS)
    name = spec.name(s, "name", "sensitivity")
    desc = spec.string(s, "description", "sensitivity", "", max_len=MAX_TEXT_CHARS)
    methods = s.get("methods", ["morris", "sobol"])
    if isinstance(methods, str):
        methods = [methods]
    if not isinstance(methods, list) or not methods or any(m not in METHODS for m in methods):
        spec.problem(f"[sensitivity] methods = {methods!r}", "expected a list from: " + ", ".join(METHODS))
        methods = [m for m in methods if m in METHODS] if isinstance(methods, list) else []
    seeds = spec.seeds(s, "seeds", "sensitivity", 2)
    if ov.get("seeds"):
        seeds = list(range(1, int(ov["seeds"]) + 1))
    outcomes = spec.outcomes(s, "outcomes", "sensitivity", DEFAULT_OUTCOMES, list(OUTCOMES))
    sseed = spec.integer(s, "sampler_seed", "sensitivity", 1, 0, 2**31)
    fixed = spec.common_overrides(s, "sensitivity", ov.get("set"))
    base = spec.scenario(s.get("scenario", "baseline"), "[sensitivity] scenario", fixed)

    params: dict[str, tuple[float, float]] = {}
    kinds: dict[str, str] = {}
    raw = dict(spec.table("parameters"))
    mix = raw.pop("mix", {})
    if not isinstance(mix, dict):
        spec.problem(f"[parameters] mix = {mix!r}", "expected a table of instrument = [low, high], e.g. "
                                                    "[parameters.mix] grants = [0.1, 0.5]")
        mix = {}
    items = list(raw.items()) + [(f"mix_{k}", v) for k, v in mix.items()]
    for pname, v in items:
        shown = pname
        if pname not in FIELD_GROUP:
            spec.problem(f"[parameters] {shown}", "unknown parameter; see `python run.py params`")
            continue
        if FIELD_GROUP[pname] == "constants":
            spec.problem(f"[parameters] {shown}", "is a constant; only levers and uncertainties can vary "
                                                  "(set constants in [sensitivity.set])")
            continue
        kind = param_kind(pname)
        if kind in ("bool", "choice"):
            spec.problem(f"[parameters] {shown}", "is categorical: sensitivity indices need numeric parameters; "
                                                  "fix it in [sensitivity.set] and run one analysis per value")
            continue
        if (not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                              and math.isfinite(x) for x in v) or not v[0] < v[1]):
            spec.problem(f"[parameters] {shown} = {v!r}", "expected [low, high] with low < high (numbers, not nan "
                                                          "or inf)")
            continue
        if kind == "int" and not all(isinstance(x, int) for x in v):
            spec.problem(f"[parameters] {shown} = {v!r}", "is a whole-number parameter: give whole-number bounds, "
                                                          f"e.g. [{math.ceil(v[0])}, {math.floor(v[1])}]")
            continue
        cast = int if kind == "int" else float
        if all(check_param_value(spec, pname, cast(x), "parameters") for x in v):
            params[pname] = (float(v[0]), float(v[1]))
            kinds[pname] = kind
            if base is not None:  # both ends must make sense with the base scenario (e.g. a month within its horizon)
                for x in v:
                    try:
                        base.with_overrides({pname: cast(x)}, source=f"{spec.path}: [parameters] {shown}")
                    except ScenarioError as err:
                        spec.problems.extend(str(err).splitlines())
                        params.pop(pname, None)
                        break
    if len(params) < 2 and not spec.problems:
        spec.problem("[parameters]", "give at least two parameters with [low, high] ranges")
    m = spec.table("morris")
    spec.keys(m, "morris", {"trajectories": "number of trajectories", "levels": "grid levels"})
    so = spec.table("sobol")
    spec.keys(so, "sobol", {"base_samples": "N, a power of two", "resamples": "bootstrap resamples"})
    traj = spec.integer(m, "trajectories", "morris", 10, 2, 100_000)
    levels = spec.integer(m, "levels", "morris", 4, 2, 100)
    n_base = spec.integer(so, "base_samples", "sobol", 32, 2, 2**20)
    if n_base and n_base & (n_base - 1):
        spec.problem(f"[sobol] base_samples = {n_base}", "expected a power of two (8, 16, 32, 64, ...)")
    res = spec.integer(so, "resamples", "sobol", 200, 10, 100_000)
    k = len(params)
    runs = {"morris": (traj or 0) * (k + 1), "sobol": (n_base or 0) * (k + 2)}
    n_runs = sum(runs[m] for m in methods if m in runs) * len(seeds)
    if n_runs > MAX_RUNS:
        spec.problem("[morris] trajectories / [sobol] base_samples / seeds",
                     f"{n_runs:,} model runs in all; at most {MAX_RUNS:,} in one command: use fewer trajectories, "
                     "base samples or seeds")
    spec.raise_if_problems()
    return SensitivitySpec(name, desc, base, params, kinds, methods, seeds, outcomes, sseed, traj, levels, n_base,
                           res, str(spec.path), fixed)


def samples(sp: SensitivitySpec, method: str) -> np.ndarray:
    """SALib sample matrix (rows: samples, columns: parameters)."""
    prob = sp.problem()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "morris":
            from SALib.sample import morris

            return morris.sample(prob, N=sp.trajectories, num_levels=sp.levels, seed=sp.sampler_seed)
        from SALib.sample import sobol

        return sobol.sample(prob, sp.base_samples, calc_second_order=False, seed=sp.sampler_seed)


def _scenario_for(sp: SensitivitySpec, row: np.ndarray) -> Scenario:
    ov = {}
    for name, x in zip(sp.parameters, row, strict=True):
        ov[name] = int(round(x)) if sp.kinds[name] == "int" else float(x)
    return sp.base.with_overrides(ov, source="sensitivity sample")


def _sample_outcomes(sp: SensitivitySpec, X: np.ndarray, runner: Runner, method: str) -> pd.DataFrame:
    """Run every sample over the seeds; mean outcome per sample (rows in sample order)."""
    tasks = []
    for i, row in enumerate(X):
        sc = _scenario_for(sp, row)
        tasks += [Task.make(sc, s, label=f"{method}_{i}") for s in sp.seeds]

    def reduce(df: pd.DataFrame) -> pd.DataFrame:
        o = outcomes_table(df)
        return o[o["metric"].isin(sp.outcomes)]

    out = runner.run(tasks, desc=f"{method}: runs", reduce=reduce)
    mean = out.groupby(["scenario", "metric"])["value"].mean().unstack()
    mean.index = [int(s.split("_")[-1]) for s in mean.index]
    return mean.sort_index().reindex(range(len(X)))[sp.outcomes]


def analyse(sp: SensitivitySpec, method: str, X: np.ndarray, Y: pd.DataFrame) -> pd.DataFrame:
    """SALib indices per outcome and parameter, with 95 % confidence intervals."""
    prob = sp.problem()
    rows = []
    for m in sp.outcomes:
        y = Y[m].to_numpy(dtype=float)
        if not np.isfinite(y).all():
            bad = int((~np.isfinite(y)).sum())
            print(f"note: {m} undefined in {bad} sample(s); replaced by the mean of the others for {method}")
            y = np.where(np.isfinite(y), y, np.nanmean(y) if np.isfinite(y).any() else 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "morris":
                from SALib.analyze import morris

                r = morris.analyze(prob, X, y, conf_level=0.95, num_resamples=sp.resamples, num_levels=sp.levels,
                                   seed=sp.sampler_seed)
                for j, p in enumerate(prob["names"]):
                    rows.append({"outcome": m, "parameter": p, "mu": float(r["mu"][j]),
                                 "mu_star": float(r["mu_star"][j]), "mu_star_conf": float(r["mu_star_conf"][j]),
                                 "sigma": float(r["sigma"][j])})
            else:
                from SALib.analyze import sobol

                r = sobol.analyze(prob, y, calc_second_order=False, num_resamples=sp.resamples, conf_level=0.95,
                                  seed=sp.sampler_seed)
                for j, p in enumerate(prob["names"]):
                    rows.append({"outcome": m, "parameter": p, "S1": float(r["S1"][j]),
                                 "S1_conf": float(r["S1_conf"][j]), "ST": float(r["ST"][j]),
                                 "ST_conf": float(r["ST_conf"][j])})
    return pd.DataFrame(rows)


MORRIS_SCALED = ("mu", "mu_star", "mu_star_conf", "sigma")  # in the outcome's unit (a change of it)


def shown_morris(df: pd.DataFrame) -> pd.DataFrame:
    """Morris statistics in the unit a report shows the outcome in (``analysis.metrics.SHOWN``: a share's
    elementary effects in percentage points); ``morris.csv`` keeps the raw values."""
    d = df.copy()
    k = d["outcome"].map(lambda m: shown(m).scale)
    for c in MORRIS_SCALED:
        d[c] = d[c] * k
    return d


def morris_figure(df: pd.DataFrame, out: Path) -> Path:
    """μ* against σ per outcome (``df`` in shown units), each point labelled with its parameter's readable
    label, placed where it overlaps no other label."""
    outs = list(dict.fromkeys(df["outcome"]))
    fig, axes = plt.subplots(1, len(outs), figsize=(6.0 * len(outs), 5.0), squeeze=False)
    for ax, m in zip(axes.ravel(), outs, strict=True):
        d = df[df["outcome"] == m]
        sh = shown(m)
        ax.errorbar(d["mu_star"], d["sigma"], xerr=d["mu_star_conf"], fmt="o", color="#1b4965", capsize=2)
        ax.set_xlabel(f"μ* (mean |elementary effect|, {sh.diff_unit}) ± 95 % CI")
        ax.set_ylabel(f"σ (interactions / non-linearity, {sh.diff_unit})")
        ax.set_title(wrap(sh.label, 44), loc="left", fontsize=10)
        ax.set_gid(m)
        # room for the labels: to the right of the furthest interval and above the highest point
        ax.set_xlim(0, max(float((d["mu_star"] + d["mu_star_conf"].fillna(0)).max()), 1e-12) * 1.6)
        ax.set_ylim(0, max(float(d["sigma"].max()), 1e-12) * 1.25)
        place_labels(ax, d["mu_star"].to_numpy(float), d["sigma"].to_numpy(float),
                     [param_label(p) for p in d["parameter"]])
    fig.suptitle("Morris screening: parameters to the right matter; high σ means interactions",
                 x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, out)


def sobol_figure(df: pd.DataFrame, out: Path) -> Path:
    outs = list(dict.fromkeys(df["outcome"]))
    params = list(dict.fromkeys(df["parameter"]))
    fig, axes = plt.subplots(1, len(outs), figsize=(4.8 * len(outs), 0.45 * len(params) + 2.6), squeeze=False)
    y = np.arange(len(params))
    for ax, m in zip(axes.ravel(), outs, strict=True):
        d = df[df["outcome"] == m].set_index("parameter").reindex(params)
        for off, col, colour, lab in ((-0.2, "S1", "#0072B2", "first order S1"), (0.2, "ST", "#E69F00", "total ST")):
            # an index above 1 is impossible (no share of variance is above 1): estimation noise, hatched
            noise = d[col].to_numpy(float) > 1
            ax.barh(y + off, d[col], 0.4, xerr=d[f"{col}_conf"], color=colour, label=lab, capsize=2,
                    hatch=["xxx" if n else "" for n in noise], edgecolor=["#D55E00" if n else colour for n in noise])
        ax.axvline(1, color="#D55E00", lw=0.8, ls=":")
        ax.set_yticks(y, [param_label(p) for p in params] if ax is axes[0, 0] else [""] * len(params), fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="k", lw=0.6)
        ax.set_title(wrap(shown(m).label, 40), loc="left", fontsize=10)
        ax.set_gid(m)
        ax.set_xlabel("share of output variance (95 % bootstrap CI)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Sobol indices (dotted line: 1, the most an index can be; a hatched bar above it is estimation "
                 "noise: more samples needed)", x=0.01,
                 ha="left", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, out)


def _plus_minus(d: pd.DataFrame, col: str, flag_above_one: bool = False) -> list[str]:
    """Column ``col`` with its 95 % half-width (SALib's ``<col>_conf``), as "value ± half-width"; with
    ``flag_above_one`` a Sobol index above 1 (impossible: estimation noise) says so."""
    return [f"{fmt(a)} ± {fmt(b)}" + (" (above 1: estimation noise)" if flag_above_one and a > 1 else "")
            for a, b in zip(d[col], d[f"{col}_conf"], strict=True)]


def run_sensitivity(sp: SensitivitySpec, out: Path, runner: Runner, log=print) -> Path:
    """Sample, run, analyse and write tables, figures and the report."""
    t0 = time.perf_counter()
    results: dict[str, pd.DataFrame] = {}
    sample_tables: dict[str, pd.DataFrame] = {}
    for method in sp.methods:
        X = samples(sp, method)
        log(f"{method}: {len(X)} samples x {len(sp.seeds)} seeds = {len(X) * len(sp.seeds)} runs")
        Y = _sample_outcomes(sp, X, runner, method)
        results[method] = analyse(sp, method, X, Y)
        sample_tables[method] = pd.concat([pd.DataFrame(X, columns=list(sp.parameters)), Y.reset_index(drop=True)],
                                          axis=1)
    wall = time.perf_counter() - t0
    meta = {"sensitivity_file": sp.source, "base_scenario": sp.base.name, "base_params_hash": sp.base.content_hash(),
            "seeds_per_sample": sp.seeds, "n_firms": sp.base.params["n_firms"], "n_months": sp.base.params["n_months"],
            "methods": sp.methods, "sampler_seed": sp.sampler_seed, "backend": runner.backend,
            "workers": runner.workers, "wall_seconds": round(wall, 1), "runs_reused": runner.reused,
            "runs_computed": runner.computed, **provenance()}
    stage = staging_dir(out)
    try:
        figs = {}
        lines = [f"# Sensitivity analysis {sp.name}", ""]
        if sp.description:
            lines += [sp.description, ""]
        lines += [f"Base scenario **{sp.base.name}** ({sp.base.params['n_firms']:,} firms, "
                  f"{sp.base.params['n_months']} months). Each sample is the mean of seeds {sp.seeds} (the same "
                  "seeds for every sample, so differences between samples come from the parameters)."]
        if meta["runs_reused"]:
            lines += [reused_text(meta["runs_reused"], meta["runs_computed"])]
        lines += ["", "Tables and figures show outcomes in the units of `outcome_units.csv` (shares as %, their "
                  "changes in percentage points, pp); `morris.csv` and `samples_*.csv` keep the raw values (shares "
                  "as fractions 0-1).", "", "## Parameters varied", ""]
        kind = {"levers": "a lever", "uncertainties": "an uncertainty", "constants": "a constant"}
        lines += [f"- {param_label(p, with_name=True)}, {kind[FIELD_GROUP[p]]}: {lo:g} to {hi:g}"
                  for p, (lo, hi) in sp.parameters.items()]
        lines += [""]
        for method, df in results.items():
            write_csv(stage / f"{method}.csv", df)
            write_csv(stage / f"samples_{method}.csv", sample_tables[method])
            if method == "morris":
                df = shown_morris(df)  # the report shows μ*, μ, σ in the outcome's shown unit (shares: pp)
                figs["Morris screening"] = morris_figure(df, stage / "figures/morris.png")
                lines += ["## Morris screening", "",
                          f"{sp.trajectories} trajectories, {sp.levels} levels. μ* is the mean absolute change of "
                          "the outcome when the parameter moves one step across its range; σ large against μ* "
                          "means the effect depends on the other parameters.", ""]
                for m in sp.outcomes:
                    d = df[df["outcome"] == m].sort_values("mu_star", ascending=False)
                    t = pd.DataFrame({"μ* [95 % CI]": _plus_minus(d, "mu_star"),
                                      "μ": [fmt(x) for x in d["mu"]], "σ": [fmt(x) for x in d["sigma"]]},
                                     index=[param_label(p, with_name=True) for p in d["parameter"]])
                    sh = shown(m)
                    lines += [f"### {sh.label} (μ*, μ, σ in {sh.diff_unit})", "", markdown_table(t, "parameter"), ""]
            else:
                figs["Sobol indices"] = sobol_figure(df, stage / "figures/sobol.png")
                lines += ["## Sobol indices", "",
                          f"N = {sp.base_samples} base samples (Saltelli/Sobol' sequence), {sp.resamples} bootstrap "
                          "resamples. S1: share of the outcome's variance due to the parameter alone; ST: including "
                          "its interactions. Intervals that include zero, S1 > ST, or an index above 1 (which "
                          "no share of variance can be) mean the sample is too small for that index.", ""]
                for m in sp.outcomes:
                    d = df[df["outcome"] == m].sort_values("ST", ascending=False)
                    t = pd.DataFrame({"S1 [95 % CI]": _plus_minus(d, "S1", True),
                                      "ST [95 % CI]": _plus_minus(d, "ST", True)},
                                     index=[param_label(p, with_name=True) for p in d["parameter"]])
                    lines += [f"### {shown(m).label} ({shown(m).unit})", "", markdown_table(t, "parameter"), ""]
        write_csv(stage / "outcome_units.csv", outcome_units()[lambda u: u["metric"].isin(sp.outcomes)])
        lines += ["## Figures", ""]
        for k, v in figs.items():
            lines += [f"### {k}", "", f"![{k}]({Path(v).relative_to(stage)})", ""]
        lines += ["## Provenance", "", "```", *[f"{k}: {v}" for k, v in meta.items()], "```", ""]
        write_text(stage / "report.md", "\n".join(lines))
        from analysis.html import write_html_report

        write_html_report(stage / "report.md")
        write_text(stage / "manifest.json", json.dumps({**meta, "parameters": sp.parameters,
                                                        "base_params": sp.base.params}, indent=2, default=str))
        return publish(stage, out)
    except BaseException as err:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(err, OSError):  # disk full, permission: say what and where, not a traceback
            raise output_error(err, out) from None
        raise
