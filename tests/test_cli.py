"""The command line end to end on a small population."""

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import cli

ROOT = Path(__file__).resolve().parent.parent
TIDY = ["run_id", "scenario", "seed", "month", "metric", "value"]


def test_run_one_scenario_end_to_end(tmp_path):
    out = tmp_path / "phase"
    proc = cli("run", "phase_out", "--seeds", "2", "--firms", "300", "--months", "30",
               "--set", "phase_out_month=18", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    for name in ("timeseries.parquet", "summary.csv", "outcomes.csv", "report.md", "manifest.json",
                 "figures/growth_dependence.png", "figures/withdrawal.png"):
        assert (out / name).exists(), name
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns) == TIDY
    summary = pd.read_csv(out / "summary.csv")
    assert {"scenario", "metric", "mean", "ci_low", "ci_high", "n"} <= set(summary.columns)
    assert "withdrawal_value_added_drop" in set(summary["metric"])
    assert not list(tmp_path.glob(".*staging*"))
    # one scenario: the report compares it with nothing and shows no undefined numbers as "nan"
    report = (out / "report.md").read_text()
    assert "Against the baseline" not in report and "No scenario to compare" not in report
    assert not re.search(r"\bnan\b", report)


def test_default_comparison_small(tmp_path):
    out = tmp_path / "default"
    proc = cli("default", "--seeds", "2", "--firms", "200", "--months", "52", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert len(set(summary["scenario"])) == 9
    diffs = pd.read_csv(out / "differences.csv")
    assert {"diff", "ci_low", "ci_high", "effect_size_dz", "seeds_needed"} <= set(diffs.columns)
    report = (out / "report.md").read_text()
    assert "Withdrawal test" in report and "Provenance" in report
    # every scenario against its no-support twin: causal cost, per-firm counterfactual, recipients at withdrawal
    for section in ("Cost-effectiveness against the no-support twin", "Who gains and who loses",
                    "Per-firm counterfactual", "Withdrawal test on recipients"):
        assert section in report, section
    assert "Budget per upgrade" not in report and "Budget per additional upgrade" in report
    metrics = set(summary["metric"])
    assert {"budget_per_additional_upgrade_bn", "extra_upgrades_per_bn", "cf_recipient_value_added_diff_pct",
            "wd_recipient_value_added_drop_12", "extra_value_added_recipients_per_bn"} <= metrics
    firms = pd.read_parquet(out / "counterfactual_firms.parquet")
    assert set(firms["scenario"]) == set(summary["scenario"]) and {"d_alive", "d_effort"} <= set(firms.columns)
    runs = pd.read_parquet(out / "index.parquet")
    assert runs["labels"].str.contains("@no-support").any()


@pytest.mark.parametrize("cmd", [[], ["run"], ["default"], ["params"], ["scenarios"]])
def test_help(cmd):
    proc = cli(*cmd, "--help")
    assert proc.returncode == 0 and "usage" in proc.stdout.lower()


def test_params_lists_every_field():
    proc = cli("params")
    assert proc.returncode == 0
    assert "[levers]" in proc.stdout and "budget_per_firm_month" in proc.stdout and "capture_rate" in proc.stdout


def test_params_output_is_a_scenario_file(tmp_path):
    """`python run.py params > mine.toml` is valid TOML and loads as a scenario with every default."""
    from model.params import DEFAULTS
    from model.scenario import load_scenario

    proc = cli("params")
    assert proc.returncode == 0
    path = tmp_path / "mine.toml"
    path.write_text(proc.stdout)
    assert load_scenario(path).params == DEFAULTS


def test_params_into_a_closed_pipe_is_quiet():
    """`python run.py params | head -1`: no BrokenPipeError traceback."""
    proc = subprocess.run(f"{sys.executable} run.py params | head -1", shell=True, capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.stdout.startswith("#") and proc.stderr == ""


def test_set_accepts_python_booleans():
    from model.scenario import parse_override

    assert parse_override("cluster_programme=True") == ("cluster_programme", True)
    assert parse_override("cluster_programme=false") == ("cluster_programme", False)


def test_extends_a_bundled_scenario_from_anywhere(tmp_path):
    """A scenario file outside scenarios/ extends a bundled one by name; a file beside it wins."""
    from model.scenario import ScenarioError, load_scenario

    mine = tmp_path / "mine.toml"
    mine.write_text('[scenario]\nname = "mine"\nextends = "self_governance"\n[levers]\nbudget_per_firm_month = 80000\n')
    sc = load_scenario(mine)
    assert sc.params["governance_mode"] == "self_governance" and sc.params["budget_per_firm_month"] == 80000
    (tmp_path / "self_governance.toml").write_text('[levers]\ngovernance_mode = "platform"\n')
    assert load_scenario(mine).params["governance_mode"] == "platform"
    mine.write_text('[scenario]\nextends = "self_governanse"\n')
    with pytest.raises(ScenarioError, match="nor a bundled one"):
        load_scenario(mine)


def test_options_without_a_command_are_the_default_comparison():
    import run
    from analysis.cli import default_comparison

    args = run.build_parser().parse_args(run.with_command(["--firms", "1000", "--months", "24"]))
    assert args.func is default_comparison and args.firms == 1000 and args.months == 24
    assert run.build_parser().parse_args(run.with_command([])).func is default_comparison
    assert run.with_command(["params"]) == ["params"] and run.with_command(["--help"]) == ["--help"]


def test_bundled_example_files_load():
    """Every example the README and docs point to is a valid file (the sweep's description once ran
    over the limit for names)."""
    from experiments.compare import load_experiment
    from experiments.sensitivity import load_sensitivity
    from experiments.sweep import load_sweep

    ex = ROOT / "experiments" / "examples"
    assert load_experiment(ex / "five_scenarios.toml").name == "five_scenarios"
    assert load_sweep(ex / "sweep.toml").name == "budget_mix"
    load_sensitivity(ex / "sensitivity.toml")


@pytest.mark.parametrize("kind", ["scenario", "experiment", "sweep"])
def test_new_writes_a_template_that_loads_and_never_overwrites(tmp_path, kind):
    from experiments.compare import load_experiment
    from experiments.sweep import load_sweep
    from model.scenario import load_scenario

    path = tmp_path / "mine.toml"
    proc = cli("new", kind, "mine", "--out", str(path))
    assert proc.returncode == 0, proc.stderr
    loader = {"scenario": load_scenario, "experiment": load_experiment, "sweep": load_sweep}[kind]
    assert loader(path).name == "mine"
    if kind == "scenario":
        from model.params import DEFAULTS
        assert load_scenario(path).params == DEFAULTS  # every field commented out: the baseline's values
    before = path.read_text()
    again = cli("new", kind, "mine", "--out", str(path))
    assert again.returncode == 2 and "already exists" in again.stderr and path.read_text() == before


def test_completion_script_is_valid_bash():
    proc = cli("completion", "bash")
    assert proc.returncode == 0 and "complete -o default -F _msme_run_py" in proc.stdout
    assert "self_governance" in proc.stdout and " new " in proc.stdout
    check = subprocess.run(["bash", "-n"], input=proc.stdout, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
