"""Issue 9, reading inputs: bad files, bad --set values, limits and honest settings give ONE clear error
naming the file, the field and what is allowed (exit 2), before any model run and with nothing written."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pandas as pd
import pytest
from conftest import cli

import run as cli_main
from model.scenario import ScenarioError, load_scenario, parse_override

GOOD_SCENARIO = '[scenario]\nname = "mine"\ndescription = "a test"\n[levers]\nbudget_per_firm_month = 60000.0\n'
GOOD_EXPERIMENT = ('[experiment]\nname = "tiny"\nseeds = 1\npopulation = 50\nhorizon = 24\n'
                   '[[scenarios]]\nuse = "baseline"\n[[scenarios]]\nuse = "clustering"\n')
GOOD_SENSITIVITY = ('[sensitivity]\nname = "tiny"\nseeds = 1\npopulation = 50\nhorizon = 2\nmethods = ["morris"]\n'
                    '[parameters]\nbudget_per_firm_month = [20000.0, 120000.0]\ncapture_rate = [0.0, 0.4]\n'
                    '[morris]\ntrajectories = 2\n')
GOOD_SWEEP = ('[sweep]\nname = "tiny"\nscenario = "baseline"\ntrials = 2\nseeds = 1\npopulation = 50\nhorizon = 2\n'
              '[levers]\nbudget_per_firm_month = [20000.0, 120000.0]\n[objectives]\nvalue_added_growth = "maximise"\n')


def main(*args) -> tuple[int, str]:
    """``python run.py ARGS`` in this process: (exit code, stderr)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli_main.main([str(a) for a in args])
        except SystemExit as exc:  # argparse refuses a bad value
            code = exc.code
    return code, err.getvalue()


def tiny(out) -> list[str]:
    return ["--firms", "50", "--months", "2", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(out)]


# -- 1. files that are not UTF-8 TOML ---------------------------------------------------------------------
ENCODINGS = {
    "utf16": (lambda t: t.encode("utf-16"), "UTF-16"),
    "utf16_no_bom": (lambda t: t.encode("utf-16-le"), "UTF-16"),
    "latin1": (lambda t: (t + 'title = "Caf\u00e9 \u00e0 Jakarta"\n').encode("latin-1"), "not UTF-8 text"),
    "binary": (lambda t: bytes(range(256)) * 4, "binary data"),
}
COMMANDS = {  # command -> (file text, extra arguments)
    "run": (GOOD_SCENARIO, []),
    "compare": (GOOD_EXPERIMENT, []),
    "sensitivity": (GOOD_SENSITIVITY, []),
    "sweep": (GOOD_SWEEP, []),
}


@pytest.mark.parametrize("enc", ENCODINGS)
@pytest.mark.parametrize("cmd", COMMANDS)
def test_file_not_utf8_is_one_clear_error(tmp_path, cmd, enc):
    text, extra = COMMANDS[cmd]
    encode, words = ENCODINGS[enc]
    f = tmp_path / "input.toml"
    f.write_bytes(encode(text))
    out = tmp_path / "out"
    code, err = main(cmd, f, *extra, "--no-progress", "--out", out)
    assert code == 2, err
    assert err.startswith("error: ") and str(f) in err and words in err, err
    assert "Traceback" not in err and "UnicodeDecodeError" not in err
    assert not out.exists()


def test_scenario_in_quick_compare_not_utf8(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_bytes(GOOD_SCENARIO.encode("utf-16"))
    code, err = main("compare", "baseline", f, *tiny(tmp_path / "out"))
    assert code == 2 and "mine.toml" in err and "save it as UTF-8" in err, err


@pytest.mark.parametrize("bad, words", [
    ('[experiment]\nseeds = 2\nseeds = 3\n[[scenarios]]\nuse = "baseline"\n', "(at line 3"),   # duplicate key
    ('[experiment\nseeds = 2\n', "(at line 1"),                                               # syntax error
])
def test_experiment_file_parse_error_is_reported_not_hidden(tmp_path, bad, words):
    f = tmp_path / "exp.toml"
    f.write_text(bad)
    code, err = main("compare", f, *tiny(tmp_path / "out"))
    assert code == 2
    assert "not valid TOML" in err and words in err and "not an experiment file" not in err, err


def test_experiment_file_in_utf16_is_not_called_not_an_experiment(tmp_path):
    f = tmp_path / "exp.toml"
    f.write_bytes(GOOD_EXPERIMENT.encode("utf-16"))
    code, err = main("compare", f, *tiny(tmp_path / "out"))
    assert code == 2 and "UTF-16" in err and "not an experiment file" not in err, err


def test_utf8_byte_order_mark_is_accepted_by_every_reader(tmp_path):
    from experiments.compare import is_experiment_file, load_experiment
    from experiments.sensitivity import load_sensitivity
    from experiments.spec import Spec

    bom = b"\xef\xbb\xbf"
    scen, exp, sens, sweep = (tmp_path / n for n in ("s.toml", "e.toml", "x.toml", "w.toml"))
    scen.write_bytes(bom + GOOD_SCENARIO.encode())
    exp.write_bytes(bom + GOOD_EXPERIMENT.encode())
    sens.write_bytes(bom + GOOD_SENSITIVITY.encode())
    sweep.write_bytes(bom + GOOD_SWEEP.encode())
    assert load_scenario(scen).params["budget_per_firm_month"] == 60000.0
    assert is_experiment_file(exp) and len(load_experiment(exp).scenarios) == 2
    assert load_sensitivity(sens).parameters["capture_rate"] == (0.0, 0.4)
    assert Spec(sweep, "sweep").data["sweep"]["trials"] == 2


# -- 2. values accepted today that are mistakes --------------------------------------------------------
def test_set_with_wrong_section_prefix_is_refused(tmp_path):
    out = tmp_path / "out"
    code, err = main("run", "baseline", "--set", "constants.capture_rate=0.3", *tiny(out))
    assert code == 2 and "capture_rate belongs in [uncertainties], not [constants]" in err, err
    assert not out.exists()
    # the same mistake in a file is refused too, and the right prefix is accepted
    assert parse_override("uncertainties.capture_rate=0.3") == ("capture_rate", 0.3)
    assert parse_override("levers.mix.grants=0.2") == ("mix_grants", 0.2)
    with pytest.raises(ScenarioError, match="unknown section 'foo'"):
        parse_override("foo.capture_rate=0.3")


def test_set_value_with_a_newline_is_refused(tmp_path):
    code, err = main("run", "baseline", "--set", "capture_rate=0.3\nn_firms=5", *tiny(tmp_path / "out"))
    assert code == 2 and "--set capture_rate" in err and "several lines" in err, err


def test_all_zero_instrument_weights_with_a_budget_are_refused(tmp_path):
    from model.params import INSTRUMENTS

    zero = "".join(f"{k} = 0.0\n" for k in INSTRUMENTS)
    f = tmp_path / "nomix.toml"
    f.write_text(f'[scenario]\nname = "nomix"\n[levers]\nbudget_per_firm_month = 50000.0\n[levers.mix]\n{zero}')
    code, err = main("run", f, *tiny(tmp_path / "out"))
    assert code == 2 and "nomix.toml" in err and "[levers.mix]" in err and "never be spent" in err, err
    # no budget, no instrument: consistent, accepted
    g = tmp_path / "nobudget.toml"
    g.write_text(f'[scenario]\nname = "nobudget"\n[levers]\nbudget_per_firm_month = 0.0\n[levers.mix]\n{zero}')
    assert load_scenario(g).params["budget_per_firm_month"] == 0.0


@pytest.mark.parametrize("param, words", [
    ("central_lag_months = [0.5, 3.5]", "whole-number parameter"),
    ("mix = 5", "[parameters] mix = 5"),
    ("exit_hazard = [0.0, nan]", "not nan or inf"),
])
def test_sensitivity_bounds_are_checked(tmp_path, param, words):
    f = tmp_path / "sens.toml"
    f.write_text(GOOD_SENSITIVITY.replace("[parameters]\n", f"[parameters]\n{param}\n"))
    code, err = main("sensitivity", f, "--no-progress", "--out", tmp_path / "out")
    assert code == 2 and words in err and "sens.toml" in err, err


@pytest.mark.parametrize("line", ["absolute = {value_added_growth = nan}", "absolute = {value_added_growth = inf}",
                                  "target = nan", "target = inf"])
def test_precision_nan_or_inf_is_refused(tmp_path, line):
    f = tmp_path / "exp.toml"
    f.write_text(GOOD_EXPERIMENT + f"[precision]\n{line}\n")
    code, err = main("compare", f, *tiny(tmp_path / "out"))
    assert code == 2 and "[precision" in err and "nan or inf" in err, err


# -- 3. limits, checked before any work starts ------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["run", "baseline", "--seeds", "1000000000"], "--seeds: expected a whole number from 1 to 10,000"),
    (["compare", "baseline", "clustering", "--seeds", "1000000000"], "--seeds"),
    (["default", "--seeds", "10001"], "--seeds"),
    (["run", "baseline", "--firms", "20000001"], "--firms: expected a whole number from 1 to 20,000,000"),
    (["run", "baseline", "--months", "601"], "--months: expected a whole number from 1 to 600"),
    (["run", "baseline", "--jobs", "100000"], "--jobs"),
    (["compare", "baseline", "clustering", "--until-precision", "--max-seeds", "99999"], "--max-seeds"),
    (["sweep", "x.toml", "--trials", "1000000000"], "--trials"),
    (["compare", "baseline", "clustering", "--withdrawal-month", "-3"], "--withdrawal-month"),
])
def test_command_line_counts_have_an_upper_bound(args, words):
    proc = cli(*args, timeout=60)  # refused by the argument parser at once: no memory, no model run
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("seeds", ["1000000000", "[" + ", ".join(map(str, range(10_001))) + "]", "[1, 5000000000]"])
def test_seeds_in_an_experiment_file_have_an_upper_bound(tmp_path, seeds):
    f = tmp_path / "exp.toml"
    f.write_text(GOOD_EXPERIMENT.replace("seeds = 1", f"seeds = {seeds}"))
    code, err = main("compare", f, "--no-progress", "--out", tmp_path / "out")
    assert code == 2 and "[experiment] seeds" in err and "10,000" in err, err[:500]
    assert len(err) < 2000  # a 10,001-seed list is not echoed back


def test_too_many_runs_in_one_command_are_refused(tmp_path):
    f = tmp_path / "exp.toml"
    many = "".join(f'[[scenarios]]\nuse = "baseline"\nlabel = "b{i}"\n' for i in range(11))
    f.write_text('[experiment]\nseeds = 2\npopulation = 50\nhorizon = 2\n' + many)
    code, err = main("compare", f, "--until-precision", "--max-seeds", "10000", "--no-progress",
                     "--out", tmp_path / "out")
    assert code == 2 and "220,000 model runs" in err and "at most 200,000" in err, err
    s = tmp_path / "sens.toml"
    s.write_text(GOOD_SENSITIVITY.replace('methods = ["morris"]', 'methods = ["sobol"]') +
                 "[sobol]\nbase_samples = 1048576\n")
    code, err = main("sensitivity", s, "--seeds", "10", "--no-progress", "--out", tmp_path / "out2")
    assert code == 2 and "model runs in all" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()


@pytest.mark.parametrize("field", ["name", "description"])
def test_long_scenario_strings_are_refused_quickly(tmp_path, field):
    f = tmp_path / "long.toml"
    text = "x" * 20_000
    f.write_text(f'[scenario]\n{field} = "{text}"\n')
    proc = cli("run", str(f), *tiny(tmp_path / "out"), timeout=60)
    assert proc.returncode == 2 and f"[scenario] {field}: 20,000 characters; at most" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("line", ['title = "' + "t" * 20_000 + '"', 'description = "' + "d" * 20_000 + '"'])
def test_long_experiment_strings_are_refused(tmp_path, line):
    f = tmp_path / "exp.toml"
    f.write_text(GOOD_EXPERIMENT.replace("[experiment]\n", f"[experiment]\n{line}\n"))
    code, err = main("compare", f, *tiny(tmp_path / "out"))
    assert code == 2 and "20,000 characters; at most 5,000" in err, err
    g = tmp_path / "lab.toml"
    g.write_text(GOOD_EXPERIMENT + 'label = "' + "l" * 20_000 + '"\n')
    code, err = main("compare", g, *tiny(tmp_path / "out"))
    assert code == 2 and "label" in err and "at most 100 characters" in err and len(err) < 1000, err[:500]


def test_long_set_value_is_refused(tmp_path):
    code, err = main("run", "baseline", "--set", "governance_mode=" + "p" * 20_000, *tiny(tmp_path / "out"))
    assert code == 2 and "at most 1,000 allowed" in err and len(err) < 500, err[:500]


# -- 4. honest settings: a month beyond the horizon ---------------------------------------------------------
def test_phase_out_month_beyond_horizon_is_refused(tmp_path):
    code, err = main("run", "phase_out", "--firms", "50", "--months", "24", "--seeds", "1", "--no-progress",
                     "--out", tmp_path / "out")
    assert code == 2 and "phase_out.toml" in err and "phase_out_month = 48" in err and "n_months = 24" in err, err
    assert "allowed: 1 to 23" in err
    assert not (tmp_path / "out").exists()


def test_shock_month_beyond_horizon_is_refused(tmp_path):
    code, err = main("run", "covid_shock", "--firms", "50", "--months", "12", "--seeds", "1", "--no-progress",
                     "--out", tmp_path / "out")
    assert code == 2 and "shock_month = 13" in err and "n_months = 12" in err, err
    # a shock that is off may keep its (unused) month
    assert load_scenario("baseline", {"n_months": 12}).params["shock_month"] == 13


def test_same_mistake_in_a_scenario_file_is_refused(tmp_path):
    f = tmp_path / "late.toml"
    f.write_text('[scenario]\nname = "late"\n[levers]\nphase_out_month = 30\n[constants]\nn_months = 24\n')
    code, err = main("run", f, "--firms", "50", "--seeds", "1", "--no-progress", "--out", tmp_path / "out")
    assert code == 2 and "late.toml" in err and "phase_out_month = 30" in err, err


def test_withdrawal_month_given_beyond_horizon_is_refused(tmp_path):
    code, err = main("compare", "baseline", "clustering", "--withdrawal-month", "48", "--firms", "50", "--months",
                     "24", "--seeds", "1", "--no-progress", "--out", tmp_path / "out")
    assert code == 2 and "--withdrawal-month = 48" in err and "n_months = 24" in err and "1 to 23" in err, err
    f = tmp_path / "exp.toml"
    f.write_text(GOOD_EXPERIMENT.replace("horizon = 24", "horizon = 24\nwithdrawal_month = 48"))
    code, err = main("compare", f, "--no-progress", "--out", tmp_path / "out")
    assert code == 2 and "[experiment] withdrawal_month = 48" in err and "n_months = 24" in err, err
    assert not (tmp_path / "out").exists()


def test_default_withdrawal_month_fits_the_horizon_and_says_so(tmp_path):
    from experiments.compare import load_experiment, quick_experiment

    f = tmp_path / "exp.toml"
    f.write_text(GOOD_EXPERIMENT)  # horizon 24, no withdrawal_month
    exp = load_experiment(f)
    assert exp.withdrawal_month == 12 and "half the 24-month horizon" in exp.notes[0]
    _, pairs = exp.comparison().tasks()
    assert {m for (_a, _b, m) in pairs.values()} == {12}
    assert quick_experiment(["baseline", "clustering"], 1, {"n_months": 96}).withdrawal_month == 48
    assert quick_experiment(["baseline", "clustering"], 1, {"n_months": 1}).withdrawal_month is None


def test_comparison_never_clamps_a_withdrawal_month():
    from analysis.comparison import Comparison

    comp = Comparison([load_scenario("baseline", {"n_months": 24})], [1], withdrawal_month=48)
    with pytest.raises(ScenarioError, match="withdrawal test month 48: not within the horizon"):
        comp.tasks()


def test_default_comparison_on_a_short_horizon_says_what_it_chose(tmp_path):
    out = tmp_path / "default"
    proc = cli("default", "--months", "4", "--firms", "50", "--seeds", "1", "--jobs", "1", "--no-progress",
               "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "withdrawal test at month 2" in proc.stdout and "half the 4-month horizon" in proc.stdout
    assert "phase_out: programmes end at month 2" in proc.stdout and "covid_shock: the shock starts" in proc.stdout
    report = (out / "report.md").read_text()
    assert "Settings chosen for this run" in report and "half the 4-month horizon" in report
    meta = json.loads((out / "manifest.json").read_text())
    months = {v.rsplit(" ", 1)[-1] for v in meta["withdrawal_tests"].values()}
    assert months == {"2"}  # the month the report names is the month that was run
    assert meta["scenarios"]["phase_out"]["params"]["phase_out_month"] == 2
    assert meta["scenarios"]["covid_shock"]["params"]["shock_month"] <= 4
    # 6. summary.csv says how many seeds each mean is over, and which were left out
    summary = pd.read_csv(out / "summary.csv")
    assert {"n", "n_undefined", "note"} <= set(summary.columns)
    job = summary[summary["metric"] == "extra_jobs_per_bn"]
    assert len(job) and ((job["n"] + job["n_undefined"]) == 1).all()
    assert job.loc[job["n_undefined"] > 0, "note"].str.contains("nothing spent").all()


# -- 5. the app on the network ------------------------------------------------------------------------------
def test_app_warns_before_listening_on_the_network(monkeypatch, capsys):
    import app.assets
    import app.cli as app_cli

    assert app_cli.exposure_warning("127.0.0.1", 8765) is None
    assert app_cli.exposure_warning("localhost", 8765) is None
    assert app_cli.exposure_warning("::1", 8765) is None
    for host in ("0.0.0.0", "::"):
        w = app_cli.exposure_warning(host, 8765)
        assert "no authentication" in w and "anyone" in w and "run simulations" in w

    seen = []

    class FakeServer:  # stands in for uvicorn: records what was printed before the server would start
        def __init__(self, config):
            pass

        def run(self):
            seen.append(capsys.readouterr().err)

    monkeypatch.setitem(sys.modules, "uvicorn", types.SimpleNamespace(Config=lambda *a, **k: None,
                                                                      Server=FakeServer))
    monkeypatch.setattr(app_cli, "_port_free", lambda host, port: True)
    monkeypatch.setattr(app_cli, "configure", lambda *a: None)
    monkeypatch.setattr(app.assets, "missing", lambda: [])
    args = types.SimpleNamespace(host="0.0.0.0", port=8765, no_fetch=True)
    assert app_cli.run_app(args) == 0
    assert seen and "no authentication" in seen[0] and "anyone" in seen[0]
    args.host = "127.0.0.1"
    assert app_cli.run_app(args) == 0
    assert "no authentication" not in seen[1]


# -- 6. summary: a mean over fewer seeds says so ------------------------------------------------------------
def test_summary_reports_seeds_with_nothing_spent():
    from analysis.report import summary_wide
    from analysis.stats import summarise

    runs = pd.DataFrame({"scenario": "a", "seed": [1, 2, 3, 4], "metric": "extra_jobs_per_bn",
                         "value": [2.0, np.nan, 4.0, np.nan]})
    s = summarise(runs).iloc[0]
    assert s["mean"] == 3.0 and s["n"] == 2 and s["n_undefined"] == 2
    assert "undefined in 2 of 4 seeds" in s["note"] and "nothing spent" in s["note"]
    cell = summary_wide(summarise(runs), ["extra_jobs_per_bn"]).iloc[0, 0]
    assert cell.endswith("(n=2 of 4)")
    none = summarise(runs.assign(value=np.nan)).iloc[0]
    assert np.isnan(none["mean"]) and none["n"] == 0 and "every seed" in none["note"]
