"""Ensembles and comparisons: an experiment is a TOML file naming scenarios, seeds, population,
horizon, outcomes, baseline and withdrawal month; ``python run.py compare FILE`` runs it.

An experiment file::

    [experiment]
    name = "five_scenarios"                # output folder results/<name>/ (default: the file's name)
    title = "Five governance and programme scenarios"
    seeds = 10                             # seeds 1..10, or an explicit list [1, 2, 5]
    population = 5000                      # n_firms of every scenario (default: each scenario's own)
    horizon = 96                           # n_months
    baseline = "baseline"                  # label of the scenario the others are compared with (default: first)
    withdrawal_month = 48                  # withdrawal test; 0 = none (default 48, or half a shorter horizon)
    outcomes = ["value_added_growth", "recipient_support_share_income"]   # report tables (default: headline outcomes)

    [experiment.set]                       # overrides for every scenario
    capture_rate = 0.2

    [[scenarios]]
    use = "baseline"                       # bundled name or a path (relative to this file)
    [[scenarios]]
    use = "self_governance"
    label = "councils_low_capture"         # name in the report (default: the scenario's name)
    set = { capture_rate = 0.05 }          # overrides for this scenario only

    [precision]                            # used by --until-precision
    metrics = ["value_added_growth"]
    target = 0.25                          # CI half-width / |paired difference| (or / |mean|, on = "means")
    max_seeds = 40

Common random numbers make every seed a pair: seed *k* gives every scenario the same initial
population and exogenous draws, so differences against the baseline are paired.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.comparison import Comparison, choose_withdrawal_month, write_comparison
from analysis.metrics import HEADLINE_OUTCOMES, OUTCOMES, outcomes_table, shown
from analysis.report import fmt, markdown_table
from analysis.stats import paired_differences, summarise
from model.scenario import MAX_NAME_CHARS, Scenario

from .paramunc import ParameterSets
from .runner import Runner
from .spec import MAX_SEEDS, MAX_TEXT_CHARS, Spec, SpecError

MAX_SCENARIOS = 100  # scenarios of one comparison

EXPERIMENT_KEYS = {
    "name": "output folder name", "title": "report title", "description": "what the experiment asks",
    "seeds": "count (1..N) or list of seeds", "population": "n_firms for every scenario",
    "horizon": "n_months for every scenario", "baseline": "label of the baseline scenario",
    "withdrawal_month": "month of the withdrawal test (0 = none)", "outcomes": "outcomes in the report tables",
    "set": "parameter overrides for every scenario",
}
SCENARIO_KEYS = {"use": "bundled scenario name or path", "label": "name in the report",
                 "set": "parameter overrides for this scenario"}
PRECISION_KEYS = {"metrics": "outcomes that must reach the target", "target": "relative CI half-width",
                  "absolute": "table outcome = absolute half-width that is also enough",
                  "on": "differences (paired, vs baseline) or means", "max_seeds": "cap on seeds",
                  "step": "seeds added at least per round"}


@dataclass
class Precision:
    """Stop rule of ``--until-precision``: every chosen outcome reaches the target or the cap is hit."""

    metrics: list[str] = field(default_factory=lambda: ["value_added_growth"])
    target: float = 0.25
    absolute: dict[str, float] = field(default_factory=dict)
    on: str = "differences"
    max_seeds: int = 40
    step: int = 5


@dataclass
class Experiment:
    """A parsed experiment file."""

    name: str
    title: str
    description: str
    scenarios: list[Scenario]
    seeds: list[int]
    baseline: str
    withdrawal_month: int | None
    outcomes: list[str]
    precision: Precision
    source: str = ""
    notes: list[str] = field(default_factory=list)  # settings chosen for the user, said in the report
    param_sets: ParameterSets | None = None  # --parameter-uncertainty (experiments/paramunc.py)

    def comparison(self, seeds: list[int] | None = None) -> Comparison:
        return Comparison(self.scenarios, list(seeds or self.seeds), self.withdrawal_month, title=self.title,
                          baseline=self.baseline, outcomes=tuple(self.outcomes), description=self.description,
                          notes=list(self.notes), param_sets=self.param_sets)


def is_experiment_file(path: str | Path) -> bool:
    """A TOML file with an ``[experiment]`` section (as opposed to a scenario file). A .toml file that
    cannot be read (not UTF-8, a TOML syntax error, a duplicate key) raises its real problem."""
    from model.scenario import read_toml

    p = Path(path)
    if p.suffix != ".toml" or not p.exists():
        return False
    return "experiment" in read_toml(p, "experiment or scenario")


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None) -> Experiment:
    """Read and check an experiment file; ``overrides`` (population, horizon, seeds, set) win over the file."""
    spec = Spec(path, "experiment")
    ov = overrides or {}
    spec.sections({"experiment": "name, seeds, population, horizon, baseline, withdrawal_month, outcomes, set",
                   "scenarios": "the scenarios to compare, first = baseline unless `baseline` is given",
                   "precision": "stop rule of --until-precision"}, required=("experiment", "scenarios"))
    ex = spec.table("experiment")
    spec.keys(ex, "experiment", EXPERIMENT_KEYS)
    name = spec.name(ex, "name", "experiment")
    title = spec.string(ex, "title", "experiment", f"Experiment {name}", max_len=MAX_TEXT_CHARS)
    desc = spec.string(ex, "description", "experiment", "", max_len=MAX_TEXT_CHARS)
    seeds = spec.seeds(ex, "seeds", "experiment", 5)
    if ov.get("seeds"):
        seeds = list(range(1, int(ov["seeds"]) + 1))
    common = spec.common_overrides(ex, "experiment", ov.get("set"))
    wm = spec.integer(ex, "withdrawal_month", "experiment", None, 0, 600)
    outcomes = spec.outcomes(ex, "outcomes", "experiment", list(HEADLINE_OUTCOMES), list(OUTCOMES))

    raw = spec.data.get("scenarios", [])
    scenarios: list[Scenario] = []
    if not isinstance(raw, list) or not raw:
        spec.problem("scenarios", "expected a list of scenario names (scenarios = [\"baseline\", ...]) or "
                                  "[[scenarios]] tables with use = ...")
        raw = []
    if len(raw) > MAX_SCENARIOS:
        spec.problem("scenarios", f"{len(raw):,} scenarios; at most {MAX_SCENARIOS} in one experiment")
        raw = []
    for i, item in enumerate(raw):
        where = f"[[scenarios]] #{i + 1}"
        if isinstance(item, str):
            item = {"use": item}
        if not isinstance(item, dict):
            spec.problem(where, "expected a scenario name or a table with use, label, set")
            continue
        spec.keys(item, f"scenarios #{i + 1}", SCENARIO_KEYS)
        if "use" not in item:
            spec.problem(where, "missing 'use' (a bundled scenario name or a path to a scenario file)")
            continue
        own = spec.overrides(item.get("set", {}), f"scenarios #{i + 1}.set")
        sc = spec.scenario(item["use"], f"{where} use", {**common, **own})
        if sc is None:
            continue
        label = item.get("label", sc.name)
        if not isinstance(label, str) or not label or "@" in label or "," in label or len(label) > MAX_NAME_CHARS:
            spec.problem(f"{where} label = {label!r:.60}", f"expected a non-empty name of at most {MAX_NAME_CHARS} "
                                                          "characters without '@' or ','")
            continue
        sc.name = label
        if own:
            sc.description = (sc.description + " " if sc.description else "") + "Variant: " + ", ".join(
                f"{k} = {v}" for k, v in own.items()) + "."
        scenarios.append(sc)
    labels = [s.name for s in scenarios]
    for lab in {x for x in labels if labels.count(x) > 1}:
        spec.problem("scenarios", f"label '{lab}' is used twice; give each [[scenarios]] a distinct label")
    baseline = spec.string(ex, "baseline", "experiment", labels[0] if labels else "")
    if ov.get("baseline"):
        baseline = ov["baseline"]
    if labels and baseline not in labels:
        spec.problem(f"[experiment] baseline = {baseline!r}", f"not one of the scenarios{_near(baseline, labels)}; "
                                                              f"allowed: {', '.join(labels)}")
    pr = spec.table("precision")
    spec.keys(pr, "precision", PRECISION_KEYS)
    prec = Precision()
    prec.metrics = spec.outcomes(pr, "metrics", "precision", ["value_added_growth"], list(OUTCOMES))
    prec.target = spec.number(pr, "target", "precision", 0.25, 1e-6, 100.0)
    prec.on = spec.string(pr, "on", "precision", "differences", ("differences", "means"))
    prec.max_seeds = spec.integer(pr, "max_seeds", "precision", 40, 2, MAX_SEEDS)
    prec.step = spec.integer(pr, "step", "precision", 5, 1, MAX_SEEDS)
    absolute = pr.get("absolute", {})
    if not isinstance(absolute, dict):
        spec.problem("[precision] absolute", "expected a table: outcome = half-width")
    else:
        for k, v in absolute.items():
            if k not in OUTCOMES:
                spec.problem(f"[precision.absolute] {k}", f"unknown outcome{_near(k, OUTCOMES)}; allowed: "
                                                          + ", ".join(OUTCOMES))
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                spec.problem(f"[precision.absolute] {k} = {v!r}", "expected a number >= 0 (not nan or inf)")
            else:
                prec.absolute[k] = float(v)
    spec.raise_if_problems()
    if baseline in labels:  # baseline first: tables and colours read best that way
        scenarios.sort(key=lambda s: s.name != baseline)
    if ov.get("withdrawal_month") is not None:
        wm, notes = choose_withdrawal_month(scenarios, ov["withdrawal_month"], "--withdrawal-month")
    else:
        wm, notes = choose_withdrawal_month(scenarios, wm, f"{spec.path}: [experiment] withdrawal_month")
    return Experiment(name, title, desc, scenarios, seeds, baseline, wm, outcomes, prec, str(spec.path), notes)


def _near(name, options) -> str:
    from .spec import _suggest

    return _suggest(name, options)


def quick_experiment(refs: list[str], seeds: int = 5, overrides: dict[str, Any] | None = None,
                     withdrawal_month: int | None = None, baseline: str | None = None) -> Experiment:
    """The quick case: ``compare A.toml B.toml ...`` (first = baseline unless ``baseline``).
    ``withdrawal_month``: the user's month (0 = no test), or None for the default for the horizon."""
    from model.scenario import load_scenario

    scenarios = [load_scenario(r, overrides or None) for r in refs]
    names = [s.name for s in scenarios]
    for i, s in enumerate(scenarios):  # two files with the same name: keep both
        if names.count(s.name) > 1:
            s.name = f"{s.name}_{i + 1}"
    names = [s.name for s in scenarios]
    base = baseline or names[0]
    if base not in names:
        raise SpecError(f"--baseline {base!r}: not one of the scenarios; allowed: {', '.join(names)}")
    scenarios.sort(key=lambda s: s.name != base)
    name = ("compare_" + "_vs_".join(names[:3]) + ("_etc" if len(names) > 3 else ""))[:100]  # a folder name
    wm, notes = choose_withdrawal_month(scenarios, withdrawal_month, "--withdrawal-month")
    return Experiment(name, "Scenario comparison: " + ", ".join(names), "", scenarios,
                      list(range(1, seeds + 1)), base, wm, list(HEADLINE_OUTCOMES), Precision(), notes=notes)


# -- precision -------------------------------------------------------------------------------------
def precision_table(outcomes: pd.DataFrame, exp: Experiment, prec: Precision) -> pd.DataFrame:
    """Per chosen outcome (and scenario): estimate, half-width, relative half-width, target met?"""
    rows = []
    if prec.on == "differences" and len(exp.scenarios) > 1:
        d = paired_differences(outcomes[outcomes["metric"].isin(prec.metrics)], exp.baseline)
        for _, r in d.iterrows():
            h = (r["ci_high"] - r["ci_low"]) / 2
            rows.append((r["scenario"], r["metric"], r["diff"], h, r["n_pairs"]))
    else:
        s = summarise(outcomes[outcomes["metric"].isin(prec.metrics)])
        for _, r in s.iterrows():
            rows.append((r["scenario"], r["metric"], r["mean"], (r["ci_high"] - r["ci_low"]) / 2, r["n"]))
    out = pd.DataFrame(rows, columns=["scenario", "metric", "estimate", "halfwidth", "n"])
    out["relative_halfwidth"] = [abs(h / e) if e != 0 and np.isfinite(h) else float("inf")
                                 for e, h in zip(out["estimate"], out["halfwidth"], strict=True)]
    out["met"] = [(rel <= prec.target) or (np.isfinite(h) and h <= prec.absolute.get(m, -1.0))
                  for rel, h, m in zip(out["relative_halfwidth"], out["halfwidth"], out["metric"], strict=True)]
    return out


def _next_seed_count(n: int, table: pd.DataFrame, prec: Precision) -> int:
    """Seeds for the next round: the estimate for the worst outcome, at least +step, at most doubling."""
    bad = table[~table["met"]]
    worst = bad["relative_halfwidth"].replace([np.inf], np.nan).max()
    want = math.ceil(n * (worst / prec.target) ** 2) if np.isfinite(worst) else 2 * n
    return int(min(prec.max_seeds, max(n + prec.step, min(2 * n, want))))


def precision_text(table: pd.DataFrame, prec: Precision, rounds: list[tuple[int, int]], met: bool) -> str:
    """The report section on --until-precision."""
    what = "paired difference against the baseline" if prec.on == "differences" else "scenario mean"
    lines = [f"Seeds were added until the 95 % interval half-width of each chosen outcome's {what} was at most "
             f"{prec.target:g} of its value" + (" (or below the absolute half-width given)" if prec.absolute else "")
             + f", with a cap of {prec.max_seeds} seeds. Rounds (seeds -> outcomes meeting the target): "
             + ", ".join(f"{n} -> {k}/{len(table)}" for n, k in rounds) + ".",
             "", "**Target reached.**" if met else
             f"**Target not reached at the cap of {prec.max_seeds} seeds** for the outcomes marked 'no': their "
             "differences are too small against the run-to-run noise to be pinned down (practically zero) or need "
             "more seeds.", ""]
    t = table.copy()
    # in the report's units (shares as %; a difference of percents in pp: analysis.metrics.SHOWN)
    diff = prec.on == "differences"
    t["outcome"] = [f"{shown(m).label} ({shown(m).diff_unit if diff else shown(m).unit})" for m in t["metric"]]
    t["estimate ± half-width"] = [f"{fmt(e * shown(m).scale)} ± {fmt(h * shown(m).scale)}" for e, h, m in
                                  zip(t["estimate"], t["halfwidth"], t["metric"], strict=True)]
    t["relative half-width"] = [fmt(x) for x in t["relative_halfwidth"]]
    t["target met"] = ["yes" if m else "no" for m in t["met"]]
    t = t.set_index("scenario")[["outcome", "estimate ± half-width", "n", "relative half-width", "target met"]]
    return "\n".join(lines) + "\n" + markdown_table(t, "scenario") + "\n"


def run_experiment(exp: Experiment, out: Path, runner: Runner, until_precision: bool = False,
                   log=print) -> Path:
    """Run an experiment (optionally adding seeds until the precision target) and write its report."""
    t0 = time.perf_counter()
    comp = exp.comparison()
    seeds = list(exp.seeds)
    tasks, pairs = comp.tasks(seeds)
    tidy = runner.run(tasks, desc=f"{exp.name}: runs")
    sections: dict[str, str] = {}
    if until_precision:
        prec = exp.precision
        rounds = []
        while True:
            outcomes = outcomes_table(tidy, pairs)
            table = precision_table(outcomes, exp, prec)
            met = bool(table["met"].all()) and not table.empty
            rounds.append((len(seeds), int(table["met"].sum())))
            log(f"precision: {len(seeds)} seeds, {int(table['met'].sum())}/{len(table)} outcome(s) at target "
                f"{prec.target:g}" + (" - done" if met else ""))
            if met or len(seeds) >= prec.max_seeds:
                break
            n_next = _next_seed_count(len(seeds), table, prec)
            new = list(range(max(seeds) + 1, max(seeds) + 1 + n_next - len(seeds)))
            seeds += new
            new_tasks, _ = comp.tasks(new)
            tidy = pd.concat([tidy, runner.run(new_tasks, desc=f"{exp.name}: +{len(new)} seeds")], ignore_index=True)
        sections["Precision (--until-precision)"] = precision_text(table, prec, rounds, met)
    comp = exp.comparison(seeds)
    extra = {"experiment_file": exp.source or "(command line)", "backend": runner.backend, "jobs": runner.workers,
             "runs_reused": runner.reused, "runs_computed": runner.computed}
    return write_comparison(comp, tidy, pairs, out, wall=time.perf_counter() - t0, extra_meta=extra,
                            sections=sections, panels=runner.panels)
