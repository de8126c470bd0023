"""Every scenario file loads and runs; bad input gets one clear error and exit code 2."""

import pytest
from conftest import cli, run_model

from model import ScenarioError, available_scenarios, load_scenario
from model.scenario import parse_override

REQUIRED = {"baseline", "self_governance", "collaborative_platform", "clustering", "ecommerce_promotion",
            "covid_shock", "phase_out", "concentrated_grants"}


def test_required_scenarios_exist():
    assert REQUIRED <= set(available_scenarios())


@pytest.mark.parametrize("name", available_scenarios())
def test_every_scenario_loads_and_runs(name):
    sc = load_scenario(name)
    assert sc.description
    m = run_model(name, seed=1, n_firms=300, n_months=14)
    assert m.month == 14 and not m.running


BAD = {
    "unknown_key": ('[levers]\nbudget_per_firm = 5\n', ["[levers] budget_per_firm", "did you mean",
                                                        "budget_per_firm_month"]),
    "wrong_type": ('[levers]\nbudget_per_firm_month = "lots"\n', ["budget_per_firm_month", "a number"]),
    "out_of_range": ('[uncertainties]\ncapture_rate = 1.5\n', ["capture_rate", "from 0 to 0.9"]),
    "unknown_instrument": ('[levers.mix]\nvouchers = 0.2\n', ["unknown instrument", "vouchers", "grants"]),
    "unknown_mode": ('[levers]\ngovernance_mode = "anarchy"\n', ["governance_mode", "'centralised'",
                                                                 "'self_governance'", "'platform'"]),
    "unknown_section": ('[policy]\nx = 1\n', ["[policy]", "allowed sections"]),
    "wrong_section": ('[levers]\nn_firms = 100\n', ["n_firms", "belongs in [constants]"]),
    "bad_toml": ('[levers\n', ["not valid TOML"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_file_clear_error_exit_2(case, tmp_path):
    text, expected = BAD[case]
    path = tmp_path / f"{case}.toml"
    path.write_text('[scenario]\nname = "x"\n' + text)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    for piece in expected:
        assert piece in str(err.value), (piece, str(err.value))
    out = tmp_path / "out"
    proc = cli("run", str(path), "--seeds", "1", "--firms", "50", "--months", "2", "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert path.name in proc.stderr
    assert not out.exists()  # nothing written


def test_missing_file_exit_2(tmp_path):
    proc = cli("run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "not found" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_scenario_name_exit_2():
    proc = cli("run", "basline")
    assert proc.returncode == 2 and "did you mean 'baseline'" in proc.stderr


@pytest.mark.parametrize("args,needle", [
    (["run", "baseline", "--firms", "-5"], "--firms"),
    (["run", "baseline", "--seeds", "two"], "--seeds"),
    (["run", "baseline", "--set", "nonsense=1"], "nonsense"),
    (["run", "baseline", "--set", "budget_per_firm_month=-1"], "budget_per_firm_month"),
    (["run", "baseline", "--set", "governance_mode=anarchy"], "governance_mode"),
    (["run", "baseline", "--set", "novalue"], "key=value"),
])
def test_bad_command_line_exit_2(args, needle, tmp_path):
    proc = cli(*args, "--out", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_overrides_parse_as_toml_literals():
    assert parse_override("budget_per_firm_month=80000") == ("budget_per_firm_month", 80000)
    assert parse_override("mix.grants=0.1") == ("mix_grants", 0.1)
    assert parse_override("governance_mode=platform") == ("governance_mode", "platform")
    assert parse_override("shock_enabled=true") == ("shock_enabled", True)


def test_extends_inherits_and_overrides():
    base = load_scenario("baseline")
    cov = load_scenario("covid_shock_collaborative")
    assert cov.params["shock_enabled"] and cov.params["governance_mode"] == "platform"
    assert cov.params["mix_grants"] == base.params["mix_grants"]
