"""A scenario comparison end to end: runs (with withdrawal-test twins), outcome tables with
confidence intervals, paired differences, figures and the report, written atomically to one folder.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from experiments.paramunc import ParameterSets, findings, per_draw_table, report_section, split_table
from experiments.runner import Runner, Task
from model.scenario import Scenario, ScenarioError

from . import figures
from .causal import NO_SUPPORT_SUFFIX, causal_outcomes, no_support_twin, summarise_causal, withdrawal_panel_months
from .io import output_error, publish, staging_dir, write_csv, write_parquet, write_text
from .metrics import (
    HEADLINE_OUTCOMES,
    NO_WITHDRAWAL_SUFFIX,
    WITHDRAWAL_SUFFIX,
    outcome_units,
    outcomes_table,
    transition_matrix,
)
from .report import write_report
from .stats import paired_differences, summarise

DEFAULT_WITHDRAWAL_MONTH = 48  # half the default 96-month horizon


def default_withdrawal_month(n_months: int) -> int | None:
    """Month of the withdrawal test when the user gave none: 48, or half the horizon when the horizon is
    shorter than 96 months (None: a one-month run has no room for the test)."""
    m = min(DEFAULT_WITHDRAWAL_MONTH, n_months // 2)
    return m if m >= 1 else None


def choose_withdrawal_month(scenarios: list[Scenario], given: int | None, where: str) -> tuple[int | None, list[str]]:
    """The withdrawal-test month and notes for the report.

    ``given``: the user's month (0 = no test), refused with a clear error naming ``where`` when it is not
    within the horizon of a scenario that needs a twin; ``None``: the default, chosen for the horizon and
    said in a note when it is not the usual month 48.
    """
    twins = [sc for sc in scenarios if sc.params["phase_out_month"] == 0] or scenarios
    if given is not None:
        if given == 0:
            return None, []
        for sc in twins:
            n = sc.params["n_months"]
            if given >= n:
                raise ScenarioError(f"{where} = {given}: not within the horizon of scenario '{sc.name}' (n_months = "
                                    f"{n}): the test would withdraw support after the run ends; allowed: "
                                    + (f"1 to {n - 1}, or 0 = no withdrawal test" if n > 1 else "0 = no test"))
        return given, []
    n = min(sc.params["n_months"] for sc in twins)
    m = default_withdrawal_month(n)
    if m == DEFAULT_WITHDRAWAL_MONTH:
        return m, []
    if m is None:
        return None, [f"No withdrawal test: the horizon of {n} month is too short for one."]
    return m, [f"Withdrawal test at month {m}, half the {n}-month horizon (the usual month "
               f"{DEFAULT_WITHDRAWAL_MONTH} needs a horizon of {2 * DEFAULT_WITHDRAWAL_MONTH} months or more); "
               "choose another with --withdrawal-month (compare) or withdrawal_month (experiment file)."]


@dataclass
class Comparison:
    """What to compare: scenarios (first = baseline), seeds, and the withdrawal-test month."""

    scenarios: list[Scenario]
    seeds: list[int]
    withdrawal_month: int | None = 48   # None: no withdrawal twins (a scenario's own phase-out is still paired)
    title: str = "Scenario comparison"
    baseline: str = field(default="")
    outcomes: tuple[str, ...] = HEADLINE_OUTCOMES   # outcomes in the report's tables
    description: str = ""
    notes: list[str] = field(default_factory=list)  # settings chosen for the user (shown in the report)
    # the calibration's accepted vectors (experiments/paramunc.py): seed s runs with draw s mod D everywhere
    param_sets: ParameterSets | None = None

    def __post_init__(self):
        if not self.baseline:
            self.baseline = self.scenarios[0].name

    def twins(self) -> dict[str, str]:
        """Each scenario's no-support twin (same scenario, budget 0, same seeds): label of the twin."""
        return {sc.name: sc.name + NO_SUPPORT_SUFFIX for sc in self.scenarios}

    def tasks(self, seeds: list[int] | None = None) -> tuple[list[Task], dict[str, tuple[str, str, int]]]:
        """All runs, with each scenario's withdrawal-test twin and no-support twin; and the (with, without,
        month) pairs of the withdrawal test. Every run keeps snapshots of its initial firms at the months the
        causal comparisons need (analysis/causal.py): the horizon, and around the withdrawal month."""
        tasks: list[Task] = []
        pairs: dict[str, tuple[str, str, int]] = {}
        seeds = self.seeds if seeds is None else seeds
        at = self.scenario_at
        for sc in self.scenarios:
            own = sc.params["phase_out_month"]
            n = sc.params["n_months"]
            wm = own if own > 0 else (self.withdrawal_month or 0)
            around = withdrawal_panel_months(wm, n) if 0 < wm < n else ()
            tasks += [Task.make(at(sc, seed), seed, panel=(n, *around)) for seed in seeds]
            tasks += [Task.make(no_support_twin(at(sc, seed)), seed, label=sc.name + NO_SUPPORT_SUFFIX, panel=(n,))
                      for seed in seeds]
            if own > 0:  # the scenario withdraws support itself: its twin runs without withdrawal
                label = sc.name + NO_WITHDRAWAL_SUFFIX
                overrides, source = {"phase_out_month": 0}, "command line"
                pairs[sc.name] = (sc.name, label, own)
            elif self.withdrawal_month:
                label = sc.name + WITHDRAWAL_SUFFIX
                m = self.withdrawal_month
                if m >= sc.params["n_months"]:  # never clamped: the report would name a month that did not happen
                    raise ScenarioError(f"withdrawal test month {m}: not within the horizon of scenario '{sc.name}' "
                                        f"(n_months = {sc.params['n_months']})")
                overrides, source = {"phase_out_month": m}, "the withdrawal test"
                pairs[sc.name] = (label, sc.name, m)
            else:
                continue
            tasks += [Task.make(at(sc, seed).with_overrides(overrides, source=source), seed, label=label, panel=around)
                      for seed in seeds]
        return tasks, pairs

    def scenario_at(self, sc: Scenario, seed: int) -> Scenario:
        """The scenario as seed ``seed`` runs it: with its draw of the accepted parameter vectors, if any."""
        return sc if self.param_sets is None else self.param_sets.apply(sc, seed)


def provenance(extra: dict) -> dict:
    """Versions, model code hash, commit and machine, for the report and the manifest."""
    from experiments.store import provenance as base

    return {**extra, **base()}


def run_comparison(comp: Comparison, out: Path, jobs: int | None = None, progress: bool = True,
                   runner: Runner | None = None) -> Path:
    """Run a comparison and write everything to ``out``.

    Each run is stored in ``out/runs/`` as it finishes (and reused when the command is repeated); the
    tables, figures and reports are written to a staging folder and moved into ``out`` at the end.
    """
    t0 = time.perf_counter()
    tasks, pairs = comp.tasks()
    own = runner is None
    runner = runner or Runner(jobs=jobs, store=Path(out), progress=progress)
    try:
        tidy = runner.run(tasks, desc="model runs")
        backend, workers = runner.backend, runner.workers
    finally:
        if own:
            runner.close()
    return write_comparison(comp, tidy, pairs, out, wall=time.perf_counter() - t0,
                            extra_meta={"backend": backend, "jobs": workers, "runs_reused": runner.reused,
                                        "runs_computed": runner.computed}, panels=runner.panels)


def write_comparison(comp: Comparison, tidy: pd.DataFrame, pairs: dict[str, tuple[str, str, int]], out: Path,
                     wall: float, extra_meta: dict | None = None, sections: dict[str, str] | None = None,
                     panels: dict | None = None) -> Path:
    """Tables, figures, the Markdown and HTML reports and the manifest of a finished comparison.

    ``panels``: snapshots of the initial firms per (label, seed) (``Runner.panels``) for the per-firm
    counterfactual and the withdrawal test on recipients; without them only the causal totals are reported.
    """
    names = [s.name for s in comp.scenarios]
    firm_rows: list[pd.DataFrame] = []
    causal = causal_outcomes(tidy, panels or {}, comp.twins(), pairs, firm_rows)
    outcomes = pd.concat([outcomes_table(tidy, pairs), causal], ignore_index=True)
    summary = pd.concat([summarise(outcomes), summarise_causal(causal)], ignore_index=True)
    diffs = paired_differences(outcomes, comp.baseline) if len(names) > 1 else pd.DataFrame()
    p0 = comp.scenarios[0].params
    seeds = sorted(int(s) for s in tidy["seed"].unique())
    ps = comp.param_sets
    split = pd.DataFrame()
    if ps is not None:
        if len(names) > 1:
            split = split_table(outcomes, comp.baseline, ps)
            sections = {**(sections or {}), "Parameter uncertainty: seed noise and calibration":
                        report_section(split, ps, list(comp.outcomes), seeds)}
        # the parameters each run used: its seed's draw (the same in every scenario and twin)
        outcomes = outcomes.merge(ps.by_seed(seeds), on="seed", how="left")
    meta = provenance({"title": comp.title, "scenarios": ", ".join(names), "baseline": comp.baseline,
                       "seeds": seeds, "n_seeds": len(seeds), "n_firms": p0["n_firms"], "n_months": p0["n_months"],
                       "runs": int(tidy["run_id"].nunique()), "jobs": 1, "wall_seconds": round(wall, 1),
                       **(extra_meta or {}),
                       "withdrawal_tests": {k: f"{v[0]} vs {v[1]} from month {v[2]}" for k, v in pairs.items()}})
    out = Path(out)
    stage = staging_dir(out)
    try:
        write_parquet(stage / "timeseries.parquet", tidy)
        write_csv(stage / "outcomes.csv", outcomes)
        write_csv(stage / "summary.csv", summary)
        write_csv(stage / "outcome_units.csv", outcome_units())  # the CSVs' raw units and the reports' units
        if firm_rows:  # per initial firm: scenario minus its no-support twin at the horizon
            write_parquet(stage / "counterfactual_firms.parquet", pd.concat(firm_rows, ignore_index=True))
        if not diffs.empty:
            write_csv(stage / "differences.csv", diffs)
        if not split.empty:
            write_csv(stage / "parameter_uncertainty.csv", split)
        main = tidy[tidy["scenario"].isin(names)]
        figs = {
            "Growth and dependence over time": figures.growth_dependence(
                main, stage / "figures/growth_dependence.png", baseline=comp.baseline),
            "Size-class upgrades": figures.upgrades(main, outcomes,
                                                    stage / "figures/upgrades.png", comp.baseline),
            "Digital adoption": figures.digital(main, stage / "figures/digital.png",
                                                comp.baseline),
            "Where the budget goes": figures.budget(outcomes, stage / "figures/budget.png"),
        }
        if pairs:
            figs["Withdrawal test"] = figures.withdrawal(tidy, stage / "figures/withdrawal.png", pairs)
        if not diffs.empty:
            figs["Paired differences against the baseline"] = figures.differences(
                diffs, stage / "figures/differences.png", comp.outcomes, comp.baseline)
        if not split.empty:
            figs["Paired differences under each calibration draw"] = figures.parameter_uncertainty(
                per_draw_table(outcomes, comp.baseline, ps, split), split, stage / "figures/parameter_uncertainty.png",
                comp.outcomes, comp.baseline)
        rel = {k: str(Path(v).relative_to(stage)) for k, v in figs.items()}
        trans = transition_matrix(tidy, comp.baseline)
        descs = {s.name: s.description for s in comp.scenarios}
        write_report(stage / "report.md", comp.title, meta, summary, diffs, comp.baseline, rel, descs, trans,
                     outcomes=comp.outcomes, sections=sections, notes=comp.notes,
                     findings=findings(split, list(comp.outcomes)) if not split.empty else None)
        scen_params = {s.name: {"source": s.source, "params_hash": s.content_hash(), "overrides": s.overrides,
                                "params": s.params} for s in comp.scenarios}
        man = {**meta, "scenarios": scen_params}
        if ps is not None:
            man["parameter_uncertainty"] = ps.manifest(seeds)
            runs = tidy.drop_duplicates(["run_id", "scenario"])[["run_id", "scenario", "seed"]]
            man["runs"] = [{"run_id": r.run_id, "label": r.scenario, "seed": int(r.seed), "draw": ps.draw_of(r.seed),
                            "params": ps.params_of(r.seed)} for r in runs.itertuples()]
        write_text(stage / "manifest.json", json.dumps(man, indent=2, default=str))
        return publish(stage, out)
    except BaseException as err:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(err, OSError):  # disk full, permission: say what and where, not a traceback
            raise output_error(err, out) from None
        raise
