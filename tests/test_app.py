"""The teaching app without a browser: the session controller, the SVG charts and the command line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from app import assets, charts
from app.sim import LEVERS, Session
from model.delivery.ledger import monthly_budget

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def played():
    s = Session(n_firms=600)
    s.step(14)
    return s


def test_session_steps_and_records(played):
    s = played
    assert s.month == 14
    assert len(s.policy.series["value_added"]) == 15
    assert len(s.policy.history.cls) == 15
    assert set(s.readout()) >= set(LEVERS)


def test_live_lever_acts_on_running_model_and_restart_levers_restart():
    s = Session(n_firms=500)
    s.set_lever("budget_per_firm_month", 80_000.0)  # at month 0: rebuild with the new value
    assert s.policy.model.p["budget_per_firm_month"] == 80_000.0
    s.step(3)
    s.set_lever("budget_per_firm_month", 20_000.0)  # mid-run: same model, acts from next month
    assert s.month == 3
    assert s.readout()["budget_per_firm_month"] == 20_000.0
    assert monthly_budget(s.policy.model, 4) == pytest.approx(20_000.0 * 500)
    assert "budget 20 thousand IDR" in s.policy.edited_summary()
    s.set_lever("governance_mode", "platform")  # structural: restart
    assert s.month == 0
    assert s.policy.model.p["governance_mode"] == "platform"
    assert s.policy.model.p["budget_per_firm_month"] == 20_000.0


def test_withdraw_now_stops_money_and_drops_the_pipeline():
    s = Session(n_firms=500)
    s.step(5)
    assert s.policy.model.pipeline  # centralised lag: deliveries queued
    end = s.withdraw_now()
    assert end == 6
    assert s.policy.model.p["phase_out_month"] == 6
    assert all(due < end for due in s.policy.model.pipeline)
    assert monthly_budget(s.policy.model, 6) == 0.0
    s.step(2)
    assert s.policy.series["budget_spent"][-1] == 0.0
    assert s.policy.series["budget_spent"][-2] == 0.0


def test_side_by_side_same_seed_same_firms():
    s = Session(n_firms=500)
    s.set_side_by_side(True)
    assert [r.role for r in s.runs] == ["policy", "reference"]
    s.step(6)
    a, b = s.runs
    assert a.series["value_added"] == b.series["value_added"]  # same scenario, same seed
    s.set_lever("budget_per_firm_month", 200_000.0)
    s.step(6)
    assert a.series["value_added"][:7] == b.series["value_added"][:7]
    assert a.series["budget_spent"][-1] > b.series["budget_spent"][-1]


def test_firm_story_has_history_and_events(played):
    s = played
    fid = s.pick_firm("supported", rng_seed=1)  # a firm id (rows move when dead rows are compacted)
    st = s.policy.firm_story(fid)
    assert st["firm_id"] == fid and st["support_total_idr"] > 0
    assert len(st["history"]["capital"]) == 15
    assert any("support" in e for _, e in st["events"])
    assert sum(v for _, _, v in st["payments"]) == pytest.approx(st["support_total_idr"], rel=1e-5)


@pytest.mark.parametrize("side", [False, True])
def test_charts_are_valid_svg_and_fast(side):
    s = Session(n_firms=2000)
    if side:
        s.set_reference("self_governance")
        s.set_side_by_side(True)
    s.step(30)
    runs = s.runs
    t0 = time.perf_counter()
    layout = charts.MapLayout(runs[0].model)
    out = [charts.growth_svg(runs, 96), charts.dependence_svg(runs, 96), charts.composition_svg(runs, 96),
           charts.map_svg(runs[0], layout, "class", 3, compact=side), charts.map_svg(runs[0], layout, "stage", None),
           charts.story_svg([(r, r.firm_story(3)) for r in runs], 96)]
    if side:
        out.append(charts.difference_svg(runs[0], runs[1], 96))
    assert time.perf_counter() - t0 < 0.5
    for svg in out:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    assert "billion IDR per month" in out[0]


def _run(*args, timeout=60):
    return subprocess.run([sys.executable, "run.py", "app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("args, words", [
    (["--port", "0"], "invalid port 0"),
    (["--port", "http"], "invalid port 'http'"),
    (["--port", "70000"], "invalid port 70000"),
    (["--host", ""], "invalid host"),
])
def test_cli_bad_values_exit_2(args, words):
    res = _run(*args)
    assert res.returncode == 2
    assert words in res.stderr


def test_cli_port_in_use_exits_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        res = _run("--port", str(port))
    assert res.returncode == 2
    assert "already in use" in res.stderr


def test_cli_help_lists_host_and_port():
    res = _run("--help")
    assert res.returncode == 0
    assert "--host" in res.stdout and "--port" in res.stdout


def test_assets_follow_solara_template():
    specs = assets.required_packages()
    assert any(s.startswith("requirejs@") for s in specs)
    assert any("solara-vuetify" in s for s in specs)


# -- recipients' dependence, what support bought, withdrawal on recipients (issue 11) ----------------------
def test_no_support_twin_runs_alongside_with_the_same_firms_and_no_budget():
    s = Session(n_firms=500)
    twin, pol = s.twin, s.policy
    assert twin.model.p["budget_per_firm_month"] == 0.0 and pol.model.p["budget_per_firm_month"] > 0
    n = pol.model.firms.n
    assert np.array_equal(twin.model.firms.capital[:n], pol.model.firms.capital[:n])  # same firms at month 0
    s.step(8)
    assert twin.month == pol.month == 8
    assert twin.series["budget_spent_cumulative"][-1] == 0.0 < pol.series["budget_spent_cumulative"][-1]
    e = s.support_effect()
    assert e["extra_upgrades"] == pol.series["upgrades_cumulative"][-1] - twin.series["upgrades_cumulative"][-1]
    assert e["spent_bn"] == pytest.approx(pol.series["budget_spent_cumulative"][-1] / 1e9)
    if e["extra_upgrades"] > 0:
        assert e["budget_per_extra_upgrade_bn"] == pytest.approx(e["spent_bn"] / e["extra_upgrades"])
    else:
        assert np.isnan(e["budget_per_extra_upgrade_bn"])
    s.set_lever("budget_per_firm_month", 90_000.0)  # a live lever: the twin keeps no budget
    s.set_lever("targeting", "need")
    assert twin.model.p["budget_per_firm_month"] == 0.0 and twin.model.p["targeting"] == "need"


def test_withdrawal_continuation_is_a_faithful_copy():
    """Without withdrawing, the continuation follows the run exactly: the measured drop is 0, not a bias."""
    from app.sim import Withdrawal

    s = Session(n_firms=500)
    s.step(14)
    w = Withdrawal(s.policy.model)
    assert len(w.ids) > 0
    for _ in range(6):
        s.policy.step()
        w.step(s.policy.model)
    d = w.drop()
    assert d["months_since"] == 6 and d["value_added_drop_pct"] == 0.0 and d["survival_drop_pp"] == 0.0


def test_withdraw_now_follows_recipients_against_their_continuation():
    from app.page import recipients_html

    s = Session(n_firms=800)
    s.step(14)
    s.withdraw_now()
    w = s.withdrawal
    assert w.continuation.p["phase_out_month"] != s.policy.model.p["phase_out_month"]
    s.step(10)
    assert w.continuation.month == s.policy.month
    assert s.policy.series["budget_spent"][-1] == 0.0 < w.continuation.metrics["budget_spent"]
    d = w.drop()
    assert d["months_since"] == 10
    assert d["value_added_drop_pct"] == pytest.approx((sum(w.va_with) - sum(w.va_without)) / sum(w.va_with) * 100)
    assert d["value_added_drop_pct"] != 0.0  # support changed something for its recipients
    page = recipients_html(s)
    for words in ("% of firms", "% of their income", "effort, 0-1 scale", "percentage points (pp)",
                  "than the same firms with support continued", "no support"):
        assert words in page, words


def test_counts_say_1_firm_and_greyed_withdraw_says_why():
    from app.page import _kpi_rows, count, withdraw_unavailable

    s = Session(n_firms=500)
    upgrades = {label: f for label, _, f, _ in _kpi_rows(s)}["Moved up a size class"]
    assert (upgrades(1.0), upgrades(3.0), upgrades(0.0)) == ("1 firm", "3 firms", "0 firms")
    assert count(1, "month") == "1 month" and count(1204, "firm") == "1,204 firms"
    s.step(3)
    assert withdraw_unavailable(s) is None  # support is paid: the button can be pressed
    end = s.withdraw_now()
    s.step(2)
    why = withdraw_unavailable(s)
    assert why and "already withdrawn" in why and f"month {end}" in why
    s2 = Session(n_firms=500)
    s2.set_lever("phase_out_month", 2)
    s2.step(4)
    assert "programmes ended in month 2" in withdraw_unavailable(s2)


def test_export_monthly_csv_and_a_scenario_file_the_command_line_runs(tmp_path):
    import io

    import pandas as pd

    import run as cli_main
    from model.scenario import load_scenario

    s = Session(n_firms=300)
    s.set_lever("targeting", "need")
    s.set_lever("shock_enabled", True)
    s.step(3)
    s.set_lever("budget_per_firm_month", 80_000.0)  # a live change: the file sets it from month 0
    s.step(1)
    csv = pd.read_csv(io.StringIO(s.metrics_csv()))
    assert list(csv["month"]) == [0, 1, 2, 3, 4]
    assert csv["value_added"].tolist() == pytest.approx(s.policy.series["value_added"])
    path = tmp_path / f"{s.export_name()}.toml"
    path.write_text(s.scenario_toml())
    sc = load_scenario(path)
    for k in ("targeting", "shock_enabled", "budget_per_firm_month", "governance_mode"):
        assert sc.params[k] == s.policy.model.p[k], k
    assert sc.params["n_firms"] == 300 and sc.name == "baseline_app"
    out = tmp_path / "out"
    assert cli_main.main(["run", str(path), "--seeds", "1", "--months", "15", "--out", str(out), "--no-progress",
                          "--jobs", "1"]) == 0
    assert (out / "report.md").exists()
