"""Sweeps (Optuna): a sweep killed midway resumes and ends with exactly the trials asked for; bad
experiment, sweep and sensitivity files exit 2 with a message naming file, field and allowed values."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT, cli

SWEEP = """
[sweep]
name = "resume_test"
scenario = "baseline"
trials = {trials}
seeds = 2
population = {firms}
horizon = 24
sampler = "nsga2"
population_size = 4
batch = 2
sampler_seed = 3

[levers]
budget_per_firm_month = [20000.0, 120000.0]
governance_mode = ["centralised", "platform"]
[levers.mix]
grants = [0.0, 1.0]

[objectives]
value_added_growth = "maximise"
recipient_support_share_income = "minimise"

[constraints]
budget_spent_bn = {{ max = 1000.0 }}
"""


def _complete_trials(out) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="resume_test", storage=f"sqlite:///{out / 'study.db'}")
    return len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))


def test_sweep_killed_midway_resumes_to_the_same_number_of_trials(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(SWEEP.format(trials=10, firms=1500))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sweep", str(spec), "--out", str(out), "--jobs", "1",
                             "--no-progress"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if len(list((out / "runs").glob("*.json"))) >= 5:  # two trials told, the third one running
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be killed; make it slower"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done_before = _complete_trials(out)
    assert 1 <= done_before < 10
    runs_before = len(list((out / "runs").glob("*.parquet")))
    # without --resume the stored study is not silently reused
    refused = cli("sweep", str(spec), "--out", str(out), "--no-progress", cwd=tmp_path)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = cli("sweep", str(spec), "--out", str(out), "--jobs", "2", "--no-progress", "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert _complete_trials(out) == 10
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 10 and trials["pareto"].any()
    assert {"value_added_growth", "value_added_growth_se", "recipient_support_share_income_se", "feasible"} <= set(trials.columns)
    assert (out / "pareto.csv").exists() and (out / "figures/pareto.png").exists()
    assert "Best trade-offs" in (out / "report.md").read_text()
    # finished runs were kept and reused: at most 2 seeds x 10 trials in total, more than before
    runs_after = len(list((out / "runs").glob("*.parquet")))
    assert runs_before <= runs_after <= 20


def test_sweep_trial_attributes_and_journal_storage(tmp_path):
    import optuna

    spec = tmp_path / "sweep.toml"
    spec.write_text(SWEEP.format(trials=4, firms=200))
    journal = tmp_path / "shared" / "study.journal"
    proc = cli("sweep", str(spec), "--out", str(tmp_path / "out"), "--storage", str(journal), "--no-progress",
               "--jobs", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="resume_test",
                              storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 4
    t = done[0]
    assert t.user_attrs["reference"] is True  # the base scenario's own levers come first
    for key in ("mean_value_added_growth", "se_value_added_growth", "mean_recipient_support_share_income",
                "se_recipient_support_share_income", "seeds"):
        assert key in t.user_attrs
    assert t.values[0] == pytest.approx(t.user_attrs["mean_value_added_growth"])


# -- bad files: exit 2, one clear message naming file, field and allowed values -----------------------
BAD = {
    "compare": ("""
[experiment]
seeds = 2
outcomes = ["value_added_growht"]
[[scenarios]]
use = "baseline"
[[scenarios]]
use = "self_governence"
""", ["bad.toml", "outcomes", "value_added_growth", "self_governence", "bundled scenarios"]),
    "sweep": ("""
[sweep]
trials = 5
[levers]
governance_mode = ["centralised", "anarchy"]
budget_per_firm_month = [-5.0, 100.0]
[objectives]
value_added_growth = "maximise"
survival = "maximise"
""", ["bad.toml", "governance_mode", "'self_governance'", "budget_per_firm_month", "survival", "allowed"]),
    "sensitivity": ("""
[sensitivity]
methods = ["morris", "fast"]
[parameters]
governance_mode = ["centralised", "platform"]
capture_rate = [0.0, 1.5]
[sobol]
base_samples = 30
""", ["bad.toml", "methods", "morris, sobol", "governance_mode", "categorical", "capture_rate", "0 to 0.9",
      "power of two"]),
}


@pytest.mark.parametrize("command", sorted(BAD))
def test_bad_files_exit_2_with_file_field_and_allowed_values(tmp_path, command):
    text, must = BAD[command]
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    proc = cli(command, str(bad), "--out", str(tmp_path / "out"), "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    for m in must:
        assert m in proc.stderr, (m, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_missing_and_invalid_files_exit_2(tmp_path):
    proc = cli("sweep", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert proc.returncode == 2 and "nope.toml" in proc.stderr and "not found" in proc.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[sensitivity\nname = 1")
    proc = cli("sensitivity", str(broken), cwd=tmp_path)
    assert proc.returncode == 2 and "broken.toml" in proc.stderr and "TOML" in proc.stderr


def test_two_processes_share_one_study(tmp_path):
    """Two workers on one JournalStorage file (as on two machines) finish the study together."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    spec = tmp_path / "sweep.toml"
    spec.write_text(SWEEP.format(trials=8, firms=600))
    journal = tmp_path / "study.journal"
    init = cli("sweep", str(spec), "--out", str(tmp_path / "a"), "--storage", str(journal), "--trials", "1",
               "--no-progress", "--jobs", "1", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sweep", str(spec), "--out", str(tmp_path / w),
                               "--storage", str(journal), "--resume", "--no-progress", "--jobs", "1"],
                              cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for w in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="resume_test",
                              storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert 8 <= len(done) <= 9  # both worked until the study had 8; a last race may add one
    workers = {t.user_attrs.get("worker_pid") for t in done}
    assert len(workers) >= 2  # trials from more than one process in one study
