"""The command line end to end on a small population."""

import pandas as pd
import pytest
from conftest import cli

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


def test_default_comparison_small(tmp_path):
    out = tmp_path / "default"
    proc = cli("default", "--seeds", "2", "--firms", "200", "--months", "52", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    summary = pd.read_csv(out / "summary.csv")
    assert len(set(summary["scenario"])) == 8
    diffs = pd.read_csv(out / "differences.csv")
    assert {"diff", "ci_low", "ci_high", "effect_size_dz", "seeds_needed"} <= set(diffs.columns)
    report = (out / "report.md").read_text()
    assert "Withdrawal test" in report and "Provenance" in report


@pytest.mark.parametrize("cmd", [[], ["run"], ["default"], ["params"], ["scenarios"]])
def test_help(cmd):
    proc = cli(*cmd, "--help")
    assert proc.returncode == 0 and "usage" in proc.stdout.lower()


def test_params_lists_every_field():
    proc = cli("params")
    assert proc.returncode == 0
    assert "[levers]" in proc.stdout and "budget_per_firm_month" in proc.stdout and "capture_rate" in proc.stdout
