"""Scenario discovery (experiments/discover.py, `run.py discover`): PRIM recovers a known box from a synthetic
sweep output folder; bad input gives one clear error and exit code 2."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _sweep_folder(tmp_path: Path, n: int = 400) -> Path:
    """trials.csv of a sweep in which growth is high iff mix_grants > 0.5 and mix_hr_training < 0.3."""
    rng = np.random.default_rng(3)
    a, b, c = rng.uniform(size=n), rng.uniform(size=n), rng.uniform(size=n)
    mode = rng.choice(["centralised", "self_governance", "platform"], size=n)
    growth = np.where((a > 0.5) & (b < 0.3), 4.0, 1.0) + rng.normal(0, 0.1, n)
    df = pd.DataFrame({"trial": range(n), "mix_grants": a, "mix_hr_training": b, "mix_kur_credit": c,
                       "governance_mode": mode, "value_added_growth": growth, "value_added_growth_se": 0.1,
                       "recipient_support_share_income": 0.01 + 0.02 * c, "feasible": True, "pareto": False,
                       "reference": False, "state": "complete"})
    folder = tmp_path / "sweep"
    folder.mkdir()
    df.to_csv(folder / "trials.csv", index=False)
    return folder


def _run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "discover", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_prim_recovers_a_known_box(tmp_path):
    pytest.importorskip("ema_workbench")
    from experiments.discover import Condition, run_discover

    out = run_discover(_sweep_folder(tmp_path), [Condition("value_added_growth", 2.5)], tmp_path / "d", log=None)
    box = pd.read_csv(out / "box.csv").set_index("lever")
    assert set(box.index) == {"mix_grants", "mix_hr_training"}  # only the two levers that matter are restricted
    # the reported box is the widest with density >= 80 %, so it may reach a little beyond the true limits
    assert box.loc["mix_grants", "box_min"] == pytest.approx(0.5, abs=0.08)
    assert box.loc["mix_hr_training", "box_max"] == pytest.approx(0.3, abs=0.08)
    traj = pd.read_csv(out / "peeling_trajectory.csv")
    assert {"coverage", "density", "mass"} <= set(traj.columns)
    for f in ("report.md", "report.html", "figures/peeling_trajectory.png", "figures/peeling_trajectory.svg",
              "figures/box_limits.svg", "resampling.csv"):
        assert (out / f).is_file(), f
    assert "Budget weight" in (out / "report.md").read_text()  # readable lever labels


def test_two_conditions_and_text_levers_encoded(tmp_path):
    pytest.importorskip("ema_workbench")
    from experiments.discover import Condition, encode, load_cases, run_discover

    folder = _sweep_folder(tmp_path)
    x, _, kind = load_cases(folder)
    assert kind == "sweep" and {"governance_mode=platform", "mix_grants"} <= set(encode(x).columns)
    out = run_discover(folder, [Condition("value_added_growth", 2.5),
                                Condition("recipient_support_share_income", 0.02, below=True)], tmp_path / "d")
    box = pd.read_csv(out / "box.csv").set_index("lever")
    assert box.loc["mix_kur_credit", "box_max"] == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize("args, says", [
    (["--outcome", "nonsense", "--threshold", "1"], "allowed: value_added_growth"),
    (["--outcome", "value_added_growth", "--threshold", "100"], "holds for no case"),
    (["--outcome", "value_added_growth", "--threshold", "-100"], "holds for every case"),
])
def test_bad_input_is_one_clear_error(tmp_path, args, says):
    pytest.importorskip("ema_workbench")
    r = _run(_sweep_folder(tmp_path), *args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "sweep" / "discover").exists()


def test_a_folder_that_is_not_a_result(tmp_path):
    r = _run(tmp_path, "--outcome", "value_added_growth", "--threshold", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert ("not a sweep or sensitivity output folder" in r.stderr) or ("pip install -e" in r.stderr)


def test_missing_extra_says_how_to_install(monkeypatch):
    from experiments.discover import import_ema
    from model.scenario import ScenarioError

    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    with pytest.raises(ScenarioError, match=r'pip install -e "\.\[ema\]"'):
        import_ema()


def test_sensitivity_samples_are_read(tmp_path):
    """A sensitivity output folder (samples_*.csv: parameters then mean outcomes) gives the same cases."""
    from experiments.discover import load_cases

    df = pd.read_csv(_sweep_folder(tmp_path) / "trials.csv")
    sens = tmp_path / "sens"
    sens.mkdir()
    df[["mix_grants", "mix_hr_training", "value_added_growth"]].iloc[:150].to_csv(sens / "samples_morris.csv",
                                                                                    index=False)
    df[["mix_grants", "mix_hr_training", "value_added_growth"]].iloc[150:].to_csv(sens / "samples_sobol.csv",
                                                                                   index=False)
    x, y, kind = load_cases(sens)
    assert kind == "sensitivity" and list(x.columns) == ["mix_grants", "mix_hr_training"] and len(y) == len(df)
