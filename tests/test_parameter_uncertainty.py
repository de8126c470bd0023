"""Parameter uncertainty in comparisons (issue 12, point 3): the two-level split of a paired difference into
seed noise and calibration uncertainty, the accepted set's loader and its checks, and the commands end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import cli
from scipy import stats as st

from analysis.causal import NO_SUPPORT_SUFFIX
from analysis.stats import two_level_split
from experiments.paramunc import check_scenarios, load_parameter_sets, split_table
from model.scenario import ScenarioError, load_scenario


# -- the split, by hand -------------------------------------------------------------------------------
def test_split_of_a_small_case_worked_by_hand():
    # two vectors, two seeds each: means 2 and 6; within-vector deviations +-1 -> pooled variance 4/2 = 2
    r = two_level_split([1.0, 3.0, 5.0, 7.0], ["a", "a", "b", "b"])
    assert r["diff"] == pytest.approx(4.0)
    assert r["var_seed"] == pytest.approx(2.0)
    # variance of the vector means 8, minus the seed noise of a mean of two seeds (2 / 2) = 7
    assert r["var_calibration"] == pytest.approx(7.0)
    v_cal, v_seed = 7.0 * (1 + 1 / 2), 2.0 * 0.5 / 2          # 10.5 and 0.5
    assert r["share_calibration"] == pytest.approx(v_cal / 11.0)
    assert r["share_seed"] == pytest.approx(v_seed / 11.0)
    df = 11.0 ** 2 / (v_cal ** 2 / 1 + v_seed ** 2 / 2)        # Welch-Satterthwaite
    assert r["df"] == pytest.approx(df)
    half = st.t.ppf(0.975, df) * math.sqrt(11.0)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((4.0 - half, 4.0 + half))
    seed_half = st.t.ppf(0.975, 2) * math.sqrt(0.5)
    assert (r["seed_ci_low"], r["seed_ci_high"]) == pytest.approx((4.0 - seed_half, 4.0 + seed_half))
    # vector b: 6 +- t(2) * sqrt(2 / 2) = 6 +- 4.30 lies above zero; vector a's interval holds zero
    assert (r["vectors_above_zero"], r["vectors_below_zero"]) == (1, 0)
    assert not r["sign_depends_on_calibration"]


def test_the_split_agrees_with_scipy_one_way_anova():
    rng = np.random.default_rng(3)
    # balanced: var_calibration = (MSB - MSW) / n, with MSB = F * MSW from scipy's one-way ANOVA
    g = np.repeat([0, 1, 2], 4)
    d = rng.normal(size=g.size) + 2 * g
    r = two_level_split(d, g)
    groups = [d[g == k] for k in range(3)]
    msw = sum(((x - x.mean()) ** 2).sum() for x in groups) / (d.size - 3)
    msb = st.f_oneway(*groups).statistic * msw
    assert r["var_seed"] == pytest.approx(msw)
    assert r["var_calibration"] == pytest.approx((msb - msw) / 4)
    # unbalanced: the pooled within-vector variance, and each vector weighs the same in the mean
    g = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    d = rng.normal(size=g.size) + g
    r = two_level_split(d, g)
    by = pd.Series(d).groupby(g)
    assert r["var_seed"] == pytest.approx(((by.count() - 1) * by.var()).sum() / (d.size - 3))
    assert r["diff"] == pytest.approx(by.mean().mean())
    h = np.mean([1 / 3, 1 / 2, 1 / 4])
    assert r["var_calibration"] == pytest.approx(max(0.0, by.mean().var() - h * r["var_seed"]))


def test_opposite_signs_beyond_seed_noise_are_flagged_and_equal_means_give_seed_noise_only():
    r = two_level_split([-5.0, -5.2, 5.0, 5.2], [0, 0, 1, 1])
    assert r["sign_depends_on_calibration"] and (r["vectors_above_zero"], r["vectors_below_zero"]) == (1, 1)
    assert r["share_calibration"] > 0.99
    # opposite signs within seed noise: no flag
    assert not two_level_split([-1.0, 0.5, 1.0, -0.5], [0, 0, 1, 1])["sign_depends_on_calibration"]
    # the same mean under both vectors: no calibration part, the total interval is the seed-noise one
    r = two_level_split([1.0, 3.0, 1.0, 3.0], [0, 0, 1, 1])
    assert r["var_calibration"] == 0 and r["share_calibration"] == 0
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((r["seed_ci_low"], r["seed_ci_high"]))


def test_what_cannot_be_estimated_is_nan_with_a_reason():
    one_seed = two_level_split([1.0, 2.0, 4.0], [0, 1, 2])
    assert math.isnan(one_seed["var_seed"]) and math.isnan(one_seed["ci_low"]) and "one seed" in one_seed["note"]
    one_vector = two_level_split([1.0, 2.0, 4.0], [0, 0, 0])
    assert math.isnan(one_vector["var_calibration"]) and "one parameter vector" in one_vector["note"]
    assert np.isfinite(one_vector["seed_ci_low"])  # the seed noise is still estimated
    nan = two_level_split([float("nan")] * 2, [0, 1])
    assert math.isnan(nan["diff"]) and nan["n_seeds"] == 0


# -- the accepted set ---------------------------------------------------------------------------------
ACCEPTED = """trial,exit_hazard,entry_rate,loss,reference,sim_share_small,z_share_small,accepted
4,0.002,0.005,10.5,False,0.01,0.3,True
9,0.004,0.008,11.0,False,0.012,0.5,True
"""


def _accepted(tmp_path: Path, text: str | bytes = ACCEPTED, name: str = "accepted.csv") -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def test_seed_s_runs_with_draw_s_mod_d_in_every_scenario(tmp_path):
    ps = load_parameter_sets(_accepted(tmp_path), draws=2)
    assert ps.names == ["exit_hazard", "entry_rate"] and ps.trials == [4, 9]
    assert [ps.draw_of(s) for s in (1, 2, 3, 4)] == [1, 0, 1, 0]
    base, sg = load_scenario("baseline"), load_scenario("self_governance")
    for s in (1, 2):
        a, b = ps.apply(base, s), ps.apply(sg, s)
        assert a.params["exit_hazard"] == b.params["exit_hazard"] == ps.params_of(s)["exit_hazard"]
        assert b.params["governance_mode"] == "self_governance"  # the policy stays the scenario's
    # a run's identity (content hash) includes the vector, so stored runs never mix vectors
    assert ps.apply(base, 1).content_hash() != ps.apply(base, 2).content_hash() != base.content_hash()
    # the folder works like the file; the default uses at most half the seeds as draws
    assert load_parameter_sets(tmp_path, n_seeds=2).draws == 1
    assert load_parameter_sets(tmp_path, n_seeds=10).draws == 2


def test_the_example_accepted_set_a_calibration_wrote_loads():
    """experiments/examples/accepted.csv is what `python run.py calibrate` writes (docs/CALIBRATION.md):
    its moment columns are passed over and its free parameters read."""
    ps = load_parameter_sets(Path(__file__).resolve().parent.parent / "experiments" / "examples" / "accepted.csv",
                             n_seeds=12)
    assert ps.names == ["exit_hazard", "outside_option_share", "entry_rate", "online_demand_share",
                        "internet_growth_per_year"]
    assert ps.draws == len(ps.vectors) == 3 and ps.trials == [5, 6, 10]
    check_scenarios(ps, [load_scenario("baseline"), load_scenario("self_governance")])


def test_split_table_pairs_each_seed_with_the_baseline_of_the_same_seed(tmp_path):
    ps = load_parameter_sets(_accepted(tmp_path), draws=2)
    rows = []
    for seed, base, scen in [(1, 1.0, 2.0), (2, 1.0, 4.0), (3, 1.5, 2.5), (4, 2.0, 5.0)]:
        rows += [("baseline", seed, "m", base), ("x", seed, "m", scen)]
    t = split_table(pd.DataFrame(rows, columns=["scenario", "seed", "metric", "value"]), "baseline", ps)
    direct = two_level_split([1.0, 3.0, 1.0, 3.0], [1, 0, 1, 0])
    assert t.iloc[0]["scenario"] == "x" and t.iloc[0]["diff"] == pytest.approx(direct["diff"])
    assert t.iloc[0]["var_calibration"] == pytest.approx(direct["var_calibration"])


@pytest.mark.parametrize("text,expect", [
    ("trial,exit_hazzard,loss\n1,0.002,3\n", "column 'exit_hazzard' is not a model parameter (did you mean "
                                              "'exit_hazard'?)"),
    ("trial,loss\n1,3\n", "no parameter column"),
    ("trial,n_firms,loss\n1,500,3\n", "column 'n_firms' is a constant"),
    ("trial,exit_hazard,loss\n", "no accepted parameter vector"),
    ("trial,exit_hazard,accepted\n1,0.002,False\n", "no accepted parameter vector"),
    ("trial,exit_hazard,loss\n1,-0.5,3\n", "row 1: [uncertainties] exit_hazard = -0.5"),
    ("trial,exit_hazard,loss\n1,,3\n", "row 1: exit_hazard is empty or not a finite number"),
    ("trial,exit_hazard,loss\n1,abc,3\n", "row 1: exit_hazard = 'abc' is not a number"),
    ("trial,central_lag_months,loss\n1,2.5,3\n", "row 1: central_lag_months = '2.5': expected a whole number"),
    (b"\xff\xfe\x00\x01garbage", "not a readable CSV file"),
])
def test_a_bad_accepted_set_is_one_clear_error(tmp_path, text, expect):
    with pytest.raises(ScenarioError) as err:
        load_parameter_sets(_accepted(tmp_path, text))
    assert expect in str(err.value)


def test_missing_files_and_too_many_draws_are_refused(tmp_path):
    with pytest.raises(ScenarioError, match="no such file or folder"):
        load_parameter_sets(tmp_path / "nope.csv")
    with pytest.raises(ScenarioError, match="no accepted.csv in this folder"):
        load_parameter_sets(tmp_path)
    with pytest.raises(ScenarioError, match=r"--draws 3: .* has 2 vector\(s\); allowed: 1 to 2"):
        load_parameter_sets(_accepted(tmp_path), draws=3)


def test_a_calibrated_parameter_that_the_scenarios_compare_is_refused(tmp_path):
    ps = load_parameter_sets(_accepted(tmp_path))
    base = load_scenario("baseline")
    other = load_scenario("self_governance").with_overrides({"exit_hazard": 0.003})
    with pytest.raises(ScenarioError, match="exit_hazard differs between the scenarios"):
        check_scenarios(ps, [base, other])
    with pytest.raises(ScenarioError, match="entry_rate is set with --set"):
        check_scenarios(ps, [base, load_scenario("self_governance")], {"entry_rate": 0.01})
    check_scenarios(ps, [base, load_scenario("self_governance")], {"capture_rate": 0.1})  # unrelated: fine


# -- the commands -------------------------------------------------------------------------------------
TINY = ["--firms", "100", "--months", "10", "--jobs", "1", "--no-progress"]


def test_compare_with_parameter_uncertainty_end_to_end(tmp_path):
    acc = _accepted(tmp_path)
    out = tmp_path / "out"
    cmd = ["compare", "baseline", "self_governance", "--seeds", "4", "--draws", "2",
           "--parameter-uncertainty", str(acc), "--out", str(out), *TINY]
    r = cli(*cmd)
    assert r.returncode == 0, r.stderr
    split = pd.read_csv(out / "parameter_uncertainty.csv")
    assert set(split["scenario"]) == {"self_governance"}
    assert {"diff", "ci_low", "ci_high", "share_calibration", "share_seed", "sign_depends_on_calibration"} \
        <= set(split.columns)
    report = (out / "report.md").read_text()
    assert "Parameter uncertainty: seed noise and calibration" in report
    assert "- **Parameter uncertainty**:" in report  # a key finding
    assert (out / "figures" / "parameter_uncertainty.png").stat().st_size > 0
    # the parameters of every run: outcomes.csv and manifest.json, the same in the scenario and the baseline
    vec = pd.read_csv(acc).set_index("trial")
    oc = pd.read_csv(out / "outcomes.csv")
    assert (oc["draw"] == oc["seed"] % 2).all()
    for _, row in oc.drop_duplicates(["scenario", "seed"]).iterrows():
        assert row["exit_hazard"] == vec.loc[row["calibration_trial"], "exit_hazard"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameter_uncertainty"]["draws"] == 2
    runs = man["runs"]
    assert {r["label"] for r in runs} >= {"baseline", "self_governance", "baseline" + NO_SUPPORT_SUFFIX}
    for run in runs:  # the stored run itself ran with its seed's vector
        stored = json.loads((out / "runs" / f"{run['run_id']}.json").read_text())
        assert stored["params"]["exit_hazard"] == run["params"]["exit_hazard"] \
            == vec.iloc[run["seed"] % 2]["exit_hazard"]
    n_runs = len(list((out / "runs").glob("*.parquet")))
    assert n_runs == 2 * 3 * 4  # 2 scenarios, each with its no-support and withdrawal twins, 4 seeds
    # stored runs key on the vector: with one vector changed, the runs of the other draw are reused and only
    # the 2 seeds of the changed draw run again (2 scenarios x 3 runs each)
    before = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    acc.write_text(ACCEPTED.replace("0.004,0.008", "0.005,0.008"))
    assert cli(*cmd).returncode == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*.parquet")}
    assert len(after) == n_runs + 2 * 3 * 2
    assert all(after[name] == t for name, t in before.items())  # no stored run was run again


@pytest.mark.parametrize("args,expect", [
    (["compare", "baseline", "self_governance", "--parameter-uncertainty", "missing.csv"], "no such file"),
    (["compare", "baseline", "self_governance", "--draws", "2"], "--draws needs --parameter-uncertainty"),
    (["--draws", "2"], "--draws needs --parameter-uncertainty"),
    (["--parameter-uncertainty", "BAD"], "is not a model parameter"),
])
def test_bad_parameter_uncertainty_input_exits_2_without_traceback(tmp_path, args, expect):
    bad = _accepted(tmp_path, "trial,exit_hazzard\n1,0.002\n", "bad.csv")
    args = [str(bad) if a == "BAD" else str(tmp_path / a) if a == "missing.csv" else a for a in args]
    out = tmp_path / "o"
    r = cli(*args, "--out", str(out), *TINY)
    assert r.returncode == 2 and "Traceback" not in r.stderr and expect in r.stderr, r.stderr
    assert not out.exists()  # nothing half-written


def test_default_comparison_with_parameter_uncertainty(tmp_path):
    out = tmp_path / "d"
    r = cli("--parameter-uncertainty", str(_accepted(tmp_path)), "--seeds", "2", "--draws", "1", "--out", str(out),
            "--firms", "60", "--months", "8", "--jobs", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    split = pd.read_csv(out / "parameter_uncertainty.csv")
    assert "covid_shock" in set(split["scenario"])
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameter_uncertainty"]["seed_draw"] == {"1": 0, "2": 0}
