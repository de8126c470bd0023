"""Experiments: paired design, interval coverage, identical results whatever runs them, the run store,
and compare / sensitivity end to end on tiny populations."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import run as cli_main
from analysis.stats import mean_ci, paired_differences
from experiments.runner import Runner, Task, run_tasks
from experiments.store import open_results
from model import MSMEEcosystem, load_scenario

TINY = {"n_firms": 300, "n_months": 18}


def _no_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["metric"] != "run_seconds"].reset_index(drop=True)


def _tasks(scenarios=("baseline", "self_governance"), seeds=(1, 2)):
    return [Task.make(load_scenario(s, TINY), seed) for s in scenarios for seed in seeds]


# -- paired design ----------------------------------------------------------------------------------
def test_same_seed_gives_every_scenario_the_same_initial_population():
    cols = ("region", "sector", "capital", "productivity", "workers", "digital_skill", "literacy", "stage", "autonomy")
    models = {s: MSMEEcosystem(load_scenario(s), seed=11, **TINY)
              for s in ("baseline", "self_governance", "collaborative_platform", "clustering", "covid_shock")}
    ref = models["baseline"].firms
    for name, m in models.items():
        assert m.firms.n == ref.n, name
        for c in cols:
            np.testing.assert_array_equal(getattr(m.firms, c)[: ref.n], getattr(ref, c)[: ref.n],
                                          err_msg=f"{name}.{c}")
    other = MSMEEcosystem(load_scenario("baseline"), seed=12, **TINY).firms
    assert not np.array_equal(other.capital[: other.n], ref.capital[: ref.n])  # another seed: another population


def test_comparison_pairs_runs_by_seed():
    from analysis.comparison import Comparison

    comp = Comparison([load_scenario(s, TINY) for s in ("baseline", "clustering")], [3, 5], withdrawal_month=None)
    tasks, _ = comp.tasks()
    by = {}
    for t in tasks:
        by.setdefault(t.label, []).append(t.seed)
    assert by["baseline"] == by["clustering"] == [3, 5]
    tidy = run_tasks(tasks, jobs=1, progress=False)
    m0 = tidy[(tidy["month"] == 0) & (tidy["metric"] == "firms_alive")].pivot(index="seed", columns="scenario",
                                                                                 values="value")
    assert (m0["baseline"] == m0["clustering"]).all()


# -- statistics -------------------------------------------------------------------------------------
def test_intervals_cover_a_known_value():
    rng = np.random.default_rng(2024)
    true_mean, true_diff, reps, n = 3.0, 0.4, 600, 6
    cover_mean = cover_diff = 0
    for _ in range(reps):
        base = true_mean + rng.normal(0, 1.0, n)          # seed effects shared by both scenarios (paired)
        treat = base + true_diff + rng.normal(0, 0.3, n)
        m, lo, hi, k = mean_ci(base)
        assert k == n
        cover_mean += lo <= true_mean <= hi
        df = pd.DataFrame({"scenario": ["b"] * n + ["t"] * n, "seed": list(range(n)) * 2,
                           "metric": "x", "value": np.r_[base, treat]})
        d = paired_differences(df, "b").iloc[0]
        cover_diff += d["ci_low"] <= true_diff <= d["ci_high"]
    assert 0.92 <= cover_mean / reps <= 0.98
    assert 0.92 <= cover_diff / reps <= 0.98


# -- identical results whatever runs them -------------------------------------------------------------
def test_results_identical_with_1_and_2_processes_and_dask(tmp_path):
    from distributed import LocalCluster

    tasks = _tasks()
    one = run_tasks(tasks, jobs=1, progress=False)
    two = run_tasks(tasks, jobs=2, progress=False)
    pd.testing.assert_frame_equal(_no_timing(one), _no_timing(two))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Runner(scheduler=cluster.scheduler_address, store=tmp_path / "dask", progress=False) as runner:
            assert "dask" in runner.backend and runner.workers == 2
            dask = runner.run(tasks)
    pd.testing.assert_frame_equal(_no_timing(one), _no_timing(dask))
    assert len(list((tmp_path / "dask" / "runs").glob("*.parquet"))) == len(tasks)


def test_store_writes_each_run_and_reuses_it(tmp_path):
    tasks = _tasks(seeds=(1, 2, 3))
    first = run_tasks(tasks, jobs=2, progress=False, store=tmp_path)
    runs = sorted((tmp_path / "runs").glob("*.json"))
    assert len(runs) == len(tasks)
    man = json.loads(runs[0].read_text())
    for key in ("params_hash", "seed", "model_version", "model_code", "git_commit", "numpy", "seconds", "params"):
        assert key in man
    # lose one run (as if killed before it finished): only that one runs again
    victim = tasks[4].run_id
    (tmp_path / "runs" / f"{victim}.parquet").unlink()
    (tmp_path / "runs" / f"{victim}.json").unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json")}
    again = run_tasks(tasks, jobs=2, progress=False, store=tmp_path)
    pd.testing.assert_frame_equal(_no_timing(first), _no_timing(again))
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*.json") if p.name in stamps} == stamps
    assert (tmp_path / "runs" / f"{victim}.json").exists()
    # query without loading everything
    res = open_results(tmp_path)
    idx = res.index()
    assert len(idx) == len(tasks) and {"run_id", "labels", "seed", "governance_mode", "seconds"} <= set(idx.columns)
    part = res.load(scenario="self_governance", metrics=["value_added"], seeds=[2])
    assert set(part["scenario"]) == {"self_governance"} and set(part["metric"]) == {"value_added"}
    assert set(part["seed"]) == {2} and len(part) == TINY["n_months"] + 1
    assert cli_main.main(["results", str(tmp_path)]) == 0


# -- compare end to end -----------------------------------------------------------------------------
EXPERIMENT = """
[experiment]
name = "tiny"
title = "Tiny comparison"
seeds = 3
population = 300
horizon = 24
withdrawal_month = 12
outcomes = ["value_added_growth", "recipient_support_share_income", "survival_rate", "budget_per_additional_upgrade_bn"]

[[scenarios]]
use = "baseline"
[[scenarios]]
use = "self_governance"
label = "councils_no_capture"
set = { capture_rate = 0.0 }
[[scenarios]]
use = "{path}"

[precision]
metrics = ["value_added_growth"]
target = 0.000001
max_seeds = 5
step = 1
"""


def test_compare_experiment_file_end_to_end(tmp_path):
    scen = tmp_path / "mine.toml"
    scen.write_text('[scenario]\nname = "mine"\nextends = "baseline"\n[levers]\ntargeting = "need"\n'.replace(
        'extends = "baseline"', f'extends = "{ROOT / "scenarios" / "baseline.toml"}"'))
    exp = tmp_path / "exp.toml"
    exp.write_text(EXPERIMENT.replace("{path}", "mine.toml"))
    out = tmp_path / "out"
    assert cli_main.main(["compare", str(exp), "--out", str(out), "--no-progress", "--jobs", "2"]) == 0
    for f in ("report.md", "report.html", "summary.csv", "differences.csv", "outcomes.csv", "timeseries.parquet",
              "manifest.json", "index.parquet", "figures/differences.png", "figures/withdrawal.png"):
        assert (out / f).exists(), f
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html
    md = (out / "report.md").read_text()
    for section in ("Paired differences", "Are the seeds enough?", "Withdrawal test", "Cost-effectiveness",
                    "Provenance"):
        assert section in md, section
    diffs = pd.read_csv(out / "differences.csv")
    assert set(diffs["scenario"]) == {"councils_no_capture", "mine"}
    assert {"diff", "ci_low", "ci_high", "effect_size_dz", "halfwidth_over_diff", "seeds_needed"} <= set(diffs.columns)
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["n"] <= 3).all()
    # --until-precision with an unreachable target stops at the cap, reusing the 3 stored seeds
    assert cli_main.main(["compare", str(exp), "--out", str(out), "--no-progress", "--jobs", "2",
                          "--until-precision"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert summary.loc[summary["metric"] == "value_added_growth", "n"].max() == 5
    assert "Target not reached at the cap of 5 seeds" in (out / "report.md").read_text()


def test_compare_quick_case_with_scenario_names(tmp_path):
    out = tmp_path / "quick"
    assert cli_main.main(["compare", "baseline", "clustering", "--seeds", "2", "--firms", "200", "--months", "14",
                          "--withdrawal-month", "0", "--out", str(out), "--no-progress", "--jobs", "1"]) == 0
    d = pd.read_csv(out / "differences.csv")
    assert set(d["scenario"]) == {"clustering"}


# -- sensitivity end to end -------------------------------------------------------------------------
def test_sensitivity_morris_and_sobol(tmp_path):
    spec = tmp_path / "sens.toml"
    spec.write_text("""
[sensitivity]
name = "tiny"
methods = ["morris", "sobol"]
seeds = 1
population = 200
horizon = 12
outcomes = ["value_added_growth", "recipient_support_share_income"]
[parameters]
budget_per_firm_month = [20000.0, 120000.0]
central_overhead = [0.1, 0.35]
council_step_cost = [20000.0, 80000.0]
[morris]
trajectories = 4
[sobol]
base_samples = 8
resamples = 30
""")
    out = tmp_path / "out"
    assert cli_main.main(["sensitivity", str(spec), "--out", str(out), "--no-progress", "--jobs", "2"]) == 0
    sob = pd.read_csv(out / "sobol.csv")
    mor = pd.read_csv(out / "morris.csv")
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(sob.columns) and len(sob) == 6
    assert {"mu_star", "mu_star_conf", "sigma"} <= set(mor.columns) and len(mor) == 6
    # more budget moves support share more than the council step cost does in a centralised scenario
    m = mor[mor["outcome"] == "recipient_support_share_income"].set_index("parameter")["mu_star"]
    assert m["budget_per_firm_month"] > m["council_step_cost"]
    assert (out / "figures/sobol.png").exists() and (out / "figures/morris.png").exists()
    assert len(list((out / "runs").glob("*.parquet"))) == 4 * 4 + 8 * 5


@pytest.mark.parametrize("cmd", [["compare"], ["sweep"], ["sensitivity"], ["results"]])
def test_help(cmd):
    with pytest.raises(SystemExit) as e:
        cli_main.main([*cmd, "--help"])
    assert e.value.code == 0


# -- EMA Workbench example (optional extra) ------------------------------------------------------------
def test_ema_example_explains_a_missing_extra(monkeypatch):
    import importlib

    monkeypatch.setitem(__import__("sys").modules, "ema_workbench", None)  # as if not installed
    ema_example = importlib.import_module("experiments.ema_example")  # imports lazily: no error here
    with pytest.raises(SystemExit) as e:
        ema_example.main(["--scenarios", "1"])
    assert "pip install" in str(e.value.code)


def test_ema_example_runs_with_replications(tmp_path):
    pytest.importorskip("ema_workbench")
    import warnings

    from experiments import ema_example

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert ema_example.main(["--scenarios", "2", "--policies", "1", "--replications", "2", "--firms", "200",
                                 "--months", "12", "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "experiments.csv")
    # 2 states of the world x 1 policy for each of the three governance modes
    assert len(df) == 6 and {"governance_mode", "capture_rate", "value_added_growth"} <= set(df.columns)
    assert set(df["governance_mode"]) == {"centralised", "self_governance", "platform"}
    assert (tmp_path / "feature_scores.csv").exists()


def test_seeds_needed_is_a_t_based_power_calculation():
    """Seeds for 80 % power of a two-sided paired t test at 5 %: for d_z = 2.43 the normal approximation
    said 2, the t test needs 4; textbook values for d = 1 and 0.5 (Cohen: 10 and 34 pairs); a difference
    that is 0 in every seed needs no seeds (NaN: "no difference"), one that is 0 only on average, all."""
    import math

    from analysis.stats import paired_t_power, seeds_needed

    assert seeds_needed(1.0, 2.43) == 4 and seeds_needed(1.0, 1.0) == 10 and seeds_needed(2.0, 1.0) == 34
    assert paired_t_power(4, 2.43) >= 0.8 > paired_t_power(3, 2.43)
    assert math.isnan(seeds_needed(0.0, 0.0)) and seeds_needed(0.5, 0.0) == math.inf
    assert seeds_needed(0.0, 0.3) == 2


def test_report_says_no_difference_when_there_is_none():
    import pandas as pd

    from analysis.report import differences_text

    row = dict(scenario="s", metric="value_added_growth", n_pairs=5, diff=0.0, ci_low=0.0, ci_high=0.0,
               effect_size_dz=float("nan"), clear=False, seeds_needed=float("nan"))
    text = differences_text(pd.DataFrame([row]), "baseline", outcomes=("value_added_growth",))
    assert "no difference in any seed" in text and "needed" not in text
