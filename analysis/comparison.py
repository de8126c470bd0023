"""A scenario comparison end to end: runs (with withdrawal-test twins), outcome tables with
confidence intervals, paired differences, figures and the report, written atomically to one folder.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from experiments.runner import Task, default_jobs, run_tasks
from model.scenario import Scenario

from . import figures
from .io import replace_dir, staging_dir, write_csv, write_parquet, write_text
from .metrics import NO_WITHDRAWAL_SUFFIX, WITHDRAWAL_SUFFIX, outcomes_table, transition_matrix
from .report import write_report
from .stats import paired_differences, summarise


@dataclass
class Comparison:
    """What to compare: scenarios (first = baseline), seeds, and the withdrawal-test month."""

    scenarios: list[Scenario]
    seeds: list[int]
    withdrawal_month: int | None = 48   # None: no withdrawal twins (a scenario's own phase-out is still paired)
    title: str = "Scenario comparison"
    baseline: str = field(default="")

    def __post_init__(self):
        if not self.baseline:
            self.baseline = self.scenarios[0].name

    def tasks(self) -> tuple[list[Task], dict[str, tuple[str, str, int]]]:
        """All runs, with each scenario's withdrawal-test twin; and the (with, without, month) pairs."""
        tasks: list[Task] = []
        pairs: dict[str, tuple[str, str, int]] = {}
        for sc in self.scenarios:
            own = sc.params["phase_out_month"]
            tasks += [Task.make(sc, seed) for seed in self.seeds]
            if own > 0:  # the scenario withdraws support itself: its twin runs without withdrawal
                label = sc.name + NO_WITHDRAWAL_SUFFIX
                twin = sc.with_overrides({"phase_out_month": 0})
                pairs[sc.name] = (sc.name, label, own)
            elif self.withdrawal_month:
                label = sc.name + WITHDRAWAL_SUFFIX
                m = min(self.withdrawal_month, sc.params["n_months"] - 1)
                twin = sc.with_overrides({"phase_out_month": m})
                pairs[sc.name] = (label, sc.name, m)
            else:
                continue
            tasks += [Task.make(twin, seed, label=label) for seed in self.seeds]
        return tasks, pairs


def provenance(extra: dict) -> dict:
    """Versions, commit and machine, for the report and the manifest."""
    def ver(p):
        try:
            return metadata.version(p)
        except metadata.PackageNotFoundError:
            return "n/a"

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or "n/a"
    except (OSError, subprocess.SubprocessError):
        commit = "n/a"
    from model import __version__

    return {**extra, "model_version": __version__, "git_commit": commit, "python": sys.version.split()[0],
            "mesa": ver("mesa"), "numpy": ver("numpy"), "pandas": ver("pandas"), "platform": platform.platform()}


def run_comparison(comp: Comparison, out: Path, jobs: int | None = None, progress: bool = True) -> Path:
    """Run a comparison and write everything to ``out`` (replaced only once complete)."""
    t0 = time.perf_counter()
    tasks, pairs = comp.tasks()
    tidy = run_tasks(tasks, jobs=jobs, progress=progress, desc="model runs")
    wall = time.perf_counter() - t0
    names = [s.name for s in comp.scenarios]
    outcomes = outcomes_table(tidy, pairs)
    summary = summarise(outcomes)
    diffs = paired_differences(outcomes, comp.baseline) if len(names) > 1 else pd.DataFrame()
    p0 = comp.scenarios[0].params
    meta = provenance({"title": comp.title, "scenarios": ", ".join(names), "seeds": comp.seeds,
                       "n_seeds": len(comp.seeds), "n_firms": p0["n_firms"], "n_months": p0["n_months"],
                       "runs": int(tidy["run_id"].nunique()), "jobs": jobs or default_jobs(),
                       "wall_seconds": round(wall, 1),
                       "withdrawal_tests": {k: f"{v[0]} vs {v[1]} from month {v[2]}" for k, v in pairs.items()}})
    stage = staging_dir(out)
    try:
        write_parquet(stage / "timeseries.parquet", tidy)
        write_csv(stage / "outcomes.csv", outcomes)
        write_csv(stage / "summary.csv", summary)
        if not diffs.empty:
            write_csv(stage / "differences.csv", diffs)
        main = tidy[tidy["scenario"].isin(names)]
        figs = {
            "Growth and dependence over time": figures.growth_dependence(main,
                                                                          stage / "figures/growth_dependence.png"),
            "Size-class upgrades": figures.upgrades(main, outcomes,
                                                    stage / "figures/upgrades.png", comp.baseline),
            "Digital adoption": figures.digital(main, stage / "figures/digital.png",
                                                comp.baseline),
            "Where the budget goes": figures.budget(outcomes, stage / "figures/budget.png"),
        }
        if pairs:
            figs["Withdrawal test"] = figures.withdrawal(tidy, stage / "figures/withdrawal.png", pairs)
        rel = {k: str(Path(v).relative_to(stage)) for k, v in figs.items()}
        trans = transition_matrix(tidy, comp.baseline)
        write_report(stage / "report.md", comp.title, meta, summary, diffs, comp.baseline, rel,
                     {s.name: s.description for s in comp.scenarios}, trans)
        scen_params = {s.name: {"source": s.source, "params_hash": s.content_hash(), "params": s.params}
                       for s in comp.scenarios}
        write_text(stage / "manifest.json", json.dumps({**meta, "scenarios": scen_params}, indent=2, default=str))
        return replace_dir(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
