"""Calibration (issue 12): the data pack's loader, the calibration file's checks, the identification
check (known parameters recovered from data the model made) and the command end to end."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.calibrate import (
    execute_moments,
    load_calibration,
    run_calibration,
    run_moments,
    trials_frame,
    write_outputs,
)
from experiments.datapack import COLUMNS, FIGURES, REFERENCES, DataPackError, load_datapack
from experiments.runner import Runner, Task
from experiments.spec import SpecError
from model.params import FIELD_GROUP, field_info
from model.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent


# -- the data pack -----------------------------------------------------------------------------------
def test_the_project_data_pack_loads_and_every_calibration_target_has_its_uncertainty():
    pack = load_datapack()
    targets = pack.ids("calibration_target")
    assert len(targets) >= 10
    assert all(pack[t].sigma and pack[t].sigma > 0 for t in targets)
    # the digital-adoption path of the issue: 8 M -> 9.4 M -> 13.7 M -> 17.25 M -> 20.5 M -> 21.8 M
    path = [pack[i].value for i in ("online_2019", "online_2020_10", "online_2021_05", "online_2021_12",
                                    "online_2022_11", "online_2023_03")]
    assert path == [8e6, 9.4e6, 13.7e6, 17.25e6, 20.5e6, 21.8e6]


def _copy_pack(tmp_path: Path, edit) -> Path:
    rows = list(csv.reader(open(FIGURES, newline="", encoding="utf-8")))
    rows = edit(rows)
    p = tmp_path / "figures.csv"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    shutil.copy(REFERENCES, tmp_path / REFERENCES.name)
    return p


@pytest.mark.parametrize("column,value,expect", [
    ("use", "target", "use = 'target'.*allowed: initialisation, calibration_target, validation"),
    ("value", "lots", "value = 'lots'.*allowed: a finite number"),
    ("parameter", "exit_hazzard", "unknown model parameter 'exit_hazzard'"),
    ("sigma", "", "sigma: empty, but a calibration target needs its uncertainty"),
    ("source", "somebody [NoSuchKey]", r"\[NoSuchKey\] is not defined"),
])
def test_the_loader_rejects_a_bad_row_naming_file_row_field_and_allowed_values(tmp_path, column, value, expect):
    def edit(rows):
        i = next(k for k, r in enumerate(rows) if r[0] == "exit_rate_small_firms")
        rows[i][COLUMNS.index(column)] = value
        return rows

    p = _copy_pack(tmp_path, edit)
    with pytest.raises(DataPackError) as err:
        load_datapack(p)
    msg = str(err.value)
    assert str(p) in msg and "exit_rate_small_firms" in msg and re.search(expect, msg), msg


def test_the_loader_rejects_a_repeated_id_and_a_wrong_header(tmp_path):
    p = _copy_pack(tmp_path, lambda rows: rows + [rows[1]])
    with pytest.raises(DataPackError, match="repeats an earlier row"):
        load_datapack(p)
    p = _copy_pack(tmp_path, lambda rows: [["id", "value"]] + rows[1:])
    with pytest.raises(DataPackError, match="header row: expected the columns"):
        load_datapack(p)


def test_every_parameter_documented_from_a_published_figure_names_a_data_pack_row():
    """A parameter whose description cites a published figure (FACTS, BPS, BPUM, McKenzie & Paffhausen)
    is named in the ``parameter`` column of at least one row; every named parameter exists."""
    pack = load_datapack()
    named = {p for f in pack.figures.values() for p in f.parameter}
    cites = re.compile(r"FACTS|BPS|BPUM|McKenzie|APJII")
    documented = {k for k in FIELD_GROUP if cites.search(field_info(k).description or "")}
    assert documented, "no parameter cites a published figure: the check would be empty"
    assert documented <= named, f"not in the data pack: {sorted(documented - named)}"
    assert named <= set(FIELD_GROUP)


# -- the calibration file ----------------------------------------------------------------------------
def _spec(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "cal.toml"
    p.write_text(body)
    return p


GOOD = """
[calibration]
name = "t"
population = 300
horizon = 24
[parameters]
exit_hazard = [0.0005, 0.006]
[[targets]]
figure = "exit_rate_small_firms"
moment = "exit_rate_year"
"""


@pytest.mark.parametrize("change,expect", [
    (('moment = "exit_rate_year"', 'moment = "exit_rat"'), "moment = 'exit_rat'.*allowed: share_small"),
    (('figure = "exit_rate_small_firms"', 'figure = "firms_msme_2019"'), "its use is 'initialisation'"),
    (('figure = "exit_rate_small_firms"\nmoment = "exit_rate_year"',
      'figure = "online_2021_05"\nmoment = "online_share"\nmonth = 7'), "is a count \\(firms\\); give per"),
    (('figure = "exit_rate_small_firms"\nmoment = "exit_rate_year"',
      'figure = "online_2021_05"\nmoment = "online_share"\nper = "firms_msme_2019"'), "is read at a month"),
    (('exit_hazard = [0.0005, 0.006]', 'exit_hazard = [0.0005, 0.9]'), "exit_hazard"),
    (('exit_hazard = [0.0005, 0.006]', 'governance_mode = ["centralised", "platform"]'), "not a list of choices"),
])
def test_a_bad_calibration_file_is_one_clear_error(tmp_path, change, expect):
    p = _spec(tmp_path, GOOD.replace(*change))
    with pytest.raises(SpecError) as err:
        load_calibration(p)
    assert str(p) in str(err.value) and re.search(expect, str(err.value)), str(err.value)


def test_the_bundled_example_loads_with_the_real_targets():
    cs = load_calibration(ROOT / "experiments/examples/calibration.toml")
    assert len(cs.targets) >= 10 and len(cs.parameters) >= 3
    online = {t.month: t.value for t in cs.targets if t.moment == "online_share"}
    assert online[7] == pytest.approx(13.7e6 / 65.464e6) and online[29] == pytest.approx(21.8e6 / 65.464e6)


# -- identification ----------------------------------------------------------------------------------
TRUE = {"exit_hazard": 0.003, "internet_penetration_start": 0.55}
RANGES = {"exit_hazard": (0.0005, 0.006), "internet_penetration_start": (0.3, 0.8)}
FRAME = {"n_firms": 400, "n_months": 24, "burn_in_months": 60}
SEEDS = (1, 2)
TOLERANCE = 0.15  # recovered value within 15 % of the parameter's range from the true value


def _synthetic_pack(tmp_path: Path) -> Path:
    """A data pack whose calibration targets are the model's own moments at TRUE (same seeds)."""
    from experiments.calibrate import Target

    sc = load_scenario("baseline", {**FRAME, **TRUE})
    tidy = pd.concat([execute_moments(Task.make(sc, s))[0] for s in SEEDS])
    want = [Target("syn_exit", "exit_rate_year", 0, 1, None, None),
            Target("syn_online_12", "online_share", 0, 1, 12, None),
            Target("syn_online_24", "online_share", 0, 1, 24, None)]
    m = run_moments(tidy, want).groupby("figure")["value"].mean()
    p = tmp_path / "synthetic.csv"
    with open(p, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS)
        for t in want:  # sigma: 5 % of the value, a published figure's typical tolerance (data pack)
            w.writerow([t.figure, repr(float(m[t.figure])), "share", "2020", "synthetic", "the model [Self]",
                        "calibration_target", "", repr(0.05 * float(m[t.figure])), ""])
    (tmp_path / "REFERENCES.md").write_text("- **[Self]** the model at known parameter values\n")
    return p


def test_identification_recovers_known_parameters_from_data_the_model_made(tmp_path):
    """Synthetic targets from the model at known (exit_hazard, internet_penetration_start); the
    calibration (same seeds: common random numbers) must find both within 15 % of their ranges."""
    t0 = time.perf_counter()
    pack = _synthetic_pack(tmp_path)
    body = f"""
[calibration]
name = "ident"
population = {FRAME['n_firms']}
horizon = {FRAME['n_months']}
seeds = {list(SEEDS)}
trials = 24
batch = 4
sampler = "tpe"
reference = false
data = "{pack}"
[calibration.set]
burn_in_months = {FRAME['burn_in_months']}
[parameters]
exit_hazard = {list(RANGES['exit_hazard'])}
internet_penetration_start = {list(RANGES['internet_penetration_start'])}
[[targets]]
figure = "syn_exit"
moment = "exit_rate_year"
[[targets]]
figure = "syn_online_12"
moment = "online_share"
month = 12
[[targets]]
figure = "syn_online_24"
moment = "online_share"
month = 24
"""
    cs = load_calibration(_spec(tmp_path, body))
    out = tmp_path / "out"
    with Runner(jobs=1, store=out, progress=False, execute=execute_moments) as runner:
        study = run_calibration(cs, out, runner, log=lambda *_: None, progress=False)
    best = study.best_trial.params
    for k, v in TRUE.items():
        lo, hi = RANGES[k]
        assert abs(best[k] - v) <= TOLERANCE * (hi - lo), (k, best[k], v, study.best_value)
    # the loss rises away from the truth along each parameter: the targets identify both
    df = trials_frame(study, cs)
    for k, v in TRUE.items():
        lo, hi = RANGES[k]
        far = df[(df[k] - v).abs() > 0.4 * (hi - lo)]
        assert len(far) and far["loss"].min() > study.best_value, k
    write_outputs(study, cs, out, {"seconds": 0, "backend": "test", "resume": ""})
    assert (out / "accepted.csv").exists() and (out / "figures/identification.png").exists()
    assert time.perf_counter() - t0 < 120


# -- the command -------------------------------------------------------------------------------------
def test_calibrate_command_end_to_end_and_resume(tmp_path):
    out = tmp_path / "cal"
    cmd = [sys.executable, "run.py", "calibrate", "experiments/examples/calibration.toml", "--trials", "2",
           "--seeds", "1", "--firms", "150", "--months", "30", "--set", "burn_in_months=24", "--jobs", "1",
           "--no-progress", "--out", str(out)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    for f in ("report.md", "fitted.toml", "targets.csv", "trials.csv", "accepted.csv", "figures/convergence.png"):
        assert (out / f).exists(), f
    assert len(pd.read_csv(out / "trials.csv")) == 2
    fitted = load_scenario(str(out / "fitted.toml"))
    assert fitted.params["governance_mode"] == "centralised"  # extends the baseline
    # the stored study refuses to be silently mixed, and resumes to more trials reusing its runs
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--resume" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([*cmd[:5], "3", *cmd[6:], "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(pd.read_csv(out / "trials.csv")) == 3


def test_calibrate_bad_file_exits_2_without_traceback(tmp_path):
    p = _spec(tmp_path, GOOD.replace('moment = "exit_rate_year"', 'moment = "nope"'))
    r = subprocess.run([sys.executable, "run.py", "calibrate", str(p), "--out", str(tmp_path / "o")], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "moment = 'nope'" in r.stderr, r.stderr
