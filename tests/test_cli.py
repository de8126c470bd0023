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
