"""Sweeps that go wrong fail cleanly (issue 9): unusable storages and schedulers, bad levers and constraints,
objectives undefined in every trial give one clear error and exit 2; an interrupted or resumed sweep never
evaluates a parameter set twice; after Ctrl-C a sweep names the command that continues it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from conftest import ROOT, cli

TINY = """
[sweep]
name = "robust"
scenario = "baseline"
trials = {trials}
seeds = 1
population = 50
horizon = {horizon}
sampler = "{sampler}"
batch = 2
sampler_seed = 7

[levers]
{levers}

[objectives]
{objectives}
{extra}
"""
LEVERS = "budget_per_firm_month = [20000.0, 120000.0]\ncapture_rate = [0.0, 0.5]"
OBJECTIVE = 'value_added_growth = "maximise"'


def _write(tmp_path, trials=3, horizon=2, sampler="random", levers=LEVERS, objectives=OBJECTIVE, extra=""):
    path = tmp_path / "sweep.toml"
    path.write_text(TINY.format(trials=trials, horizon=horizon, sampler=sampler, levers=levers,
                                objectives=objectives, extra=extra))
    return path


def _sweep(tmp_path, spec, *extra, out="out"):
    return cli("sweep", str(spec), "--out", str(tmp_path / out), "--no-progress", "--jobs", "1", *extra, cwd=tmp_path)


def _clean_error(proc, *must):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("error:") == 1, proc.stderr
    for m in must:
        assert m in proc.stderr, (m, proc.stderr)


# -- 1. storage and scheduler -----------------------------------------------------------------------------
def test_unknown_storage_scheme_is_a_clear_error(tmp_path):
    proc = _sweep(tmp_path, _write(tmp_path), "--storage", "bogus://x/y")
    _clean_error(proc, "--storage bogus://x/y", "unknown database kind 'bogus'", "sqlite:///", "JournalStorage")
    assert not (tmp_path / "out").exists()


def test_journal_under_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("mine")
    proc = _sweep(tmp_path, _write(tmp_path), "--storage", str(tmp_path / "afile" / "sweep.journal"))
    _clean_error(proc, "--storage", "afile is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "mine"
    assert not (tmp_path / "out").exists()


def test_unwritable_journal_is_a_clear_error(tmp_path, monkeypatch):
    """A journal on a read-only mount (root ignores permissions, so the open is made to fail)."""
    import optuna.storages.journal as journal

    from experiments.spec import SpecError
    from experiments.sweep import load_sweep, open_study

    def read_only(self, *a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(journal.JournalFileBackend, "__init__", read_only)
    sp = load_sweep(_write(tmp_path))
    with pytest.raises(SpecError, match=r"--storage .*sweep.journal: cannot open the sweep's study storage "
                                        r"\(Read-only file system\)"):
        open_study(sp, str(tmp_path / "sweep.journal"), tmp_path / "out", resume=False, fresh=False)


def test_damaged_study_db_with_resume_is_a_clear_error_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "study.db").write_bytes(b"this is not a database\n")
    proc = _sweep(tmp_path, _write(tmp_path), "--resume")
    _clean_error(proc, "study.db", "file is not a database", "left as it is")
    assert (out / "study.db").read_bytes() == b"this is not a database\n"


def test_damaged_journal_is_a_clear_error_and_not_appended_to(tmp_path):
    journal = tmp_path / "sweep.journal"
    journal.write_text("garbage\n")
    proc = _sweep(tmp_path, _write(tmp_path), "--storage", str(journal), "--resume")
    _clean_error(proc, "not an Optuna journal file")
    assert journal.read_text() == "garbage\n"


@pytest.mark.parametrize("command", ["sweep", "compare", "sensitivity"])
def test_unreachable_scheduler_is_a_quick_clear_error(tmp_path, command):
    files = {"sweep": [str(_write(tmp_path))], "compare": ["baseline", "self_governance"],
             "sensitivity": [str(ROOT / "experiments/examples/sensitivity.toml")]}[command]
    t0 = time.perf_counter()
    proc = cli(command, *files, "--out", str(tmp_path / "out"), "--no-progress", "--seeds", "1", "--firms", "50",
               "--months", "2", "--scheduler", "tcp://127.0.0.1:1", cwd=tmp_path)
    assert time.perf_counter() - t0 < 20  # was 20 s of Dask retries, then a traceback
    _clean_error(proc, "--scheduler tcp://127.0.0.1:1", "cannot reach the Dask scheduler")
    assert not (tmp_path / "out").exists()


# -- 2. levers, constraints and objectives checked when the file is read ----------------------------------
BAD_LEVERS = {
    "step zero": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, step = 0 }",
                  ["budget_per_firm_month step = 0", "a number > 0"]),
    "step negative": ("phase_out_month = { low = 0, high = 2, step = -1 }", ["phase_out_month step = -1"]),
    "step nan": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, step = nan }",
                 ["budget_per_firm_month step = nan", "a number > 0"]),
    "step beyond range": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, step = 200000.0 }",
                          ["step = 200000.0", "whole steps"]),
    "step not dividing": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, step = 30000.0 }",
                          ["step = 30000.0", "whole steps"]),
    "log with int step": ("phase_out_taper_months = { low = 1, high = 5, log = true, step = 2 }",
                          ["phase_out_taper_months", "log = true cannot be combined with a step"]),
    "log with float step": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, log = true, step = 1000.0 }",
                            ["budget_per_firm_month", "log = true cannot be combined with a step"]),
    "log as a string": ("budget_per_firm_month = { low = 20000.0, high = 120000.0, log = \"yes\" }",
                        ["budget_per_firm_month log = 'yes'", "true or false"]),
    "nan bound": ("budget_per_firm_month = [nan, 120000.0]", ["budget_per_firm_month", "finite numbers"]),
    "month beyond horizon": ("phase_out_month = [0, 48]",
                             ["phase_out_month", "month 48", "lasts 2 months", "values up to 2"]),
    "month choice beyond horizon": ("shock_month = [1, 2, 30]", ["shock_month", "month 30", "lasts 2 months"]),
}


@pytest.mark.parametrize("case", sorted(BAD_LEVERS))
def test_bad_lever_is_refused_before_anything_is_written(tmp_path, case):
    levers, must = BAD_LEVERS[case]
    proc = _sweep(tmp_path, _write(tmp_path, levers=levers))
    _clean_error(proc, "sweep.toml: [levers]", *must)
    assert not (tmp_path / "out").exists()


def test_month_lever_is_checked_against_the_months_given_on_the_command_line(tmp_path):
    spec = _write(tmp_path, horizon=48, levers="phase_out_month = [0, 48]")
    proc = _sweep(tmp_path, spec, "--months", "24")
    _clean_error(proc, "phase_out_month", "month 48", "lasts 24 months")
    assert not (tmp_path / "out").exists()


BAD_OTHER = {
    "nan max constraint": ("", "[constraints]\nbudget_spent_bn = { max = nan }",
                           ["[constraints] budget_spent_bn", "finite numbers"]),
    "min above max": ("", "[constraints]\nbudget_spent_bn = { min = 5.0, max = 1.0 }", ["min is above max"]),
    "withdrawal objective": ('withdrawal_value_added_drop = "minimise"', "",
                             ["[objectives] withdrawal_value_added_drop", "does not run the withdrawal test",
                              "compare"]),
    "withdrawal constraint": ("", "[constraints]\nwithdrawal_survival_drop = { max = 1.0 }",
                              ["[constraints] withdrawal_survival_drop", "withdrawal test"]),
}


@pytest.mark.parametrize("case", sorted(BAD_OTHER))
def test_objective_or_constraint_that_cannot_work_is_refused_before_anything_is_written(tmp_path, case):
    objective, extra, must = BAD_OTHER[case]
    spec = _write(tmp_path, objectives="\n".join(x for x in (OBJECTIVE, objective) if x), extra=extra)
    proc = _sweep(tmp_path, spec)
    _clean_error(proc, "sweep.toml", *must)
    assert not (tmp_path / "out").exists()  # no study.db left to block the corrected rerun
    spec.write_text(_write(tmp_path).read_text())
    fixed = _sweep(tmp_path, spec, "--trials", "1")
    assert fixed.returncode == 0, fixed.stderr


def test_more_trials_than_the_levers_allow_is_refused(tmp_path):
    levers = 'governance_mode = ["centralised", "platform"]\ncluster_programme = [false, true]'
    proc = _sweep(tmp_path, _write(tmp_path, trials=5, levers=levers))
    _clean_error(proc, "[sweep] trials", "5 trials", "only 4 distinct parameter set(s)")
    proc = _sweep(tmp_path, _write(tmp_path, trials=2, levers=levers), "--trials", "9")
    _clean_error(proc, "--trials", "only 4 distinct")
    assert not (tmp_path / "out").exists()


# -- 3. no parameter set evaluated twice ------------------------------------------------------------------
def _params(out) -> pd.DataFrame:
    t = pd.read_csv(out / "trials.csv")
    return t[t["state"] == "complete"][["budget_per_firm_month", "capture_rate"]]


@pytest.mark.parametrize("sampler", ["random", "tpe", "nsga2"])
def test_resumed_sweep_does_not_repeat_earlier_trials(tmp_path, sampler):
    spec = _write(tmp_path, trials=4, sampler=sampler)
    first = _sweep(tmp_path, spec)
    assert first.returncode == 0, first.stderr
    resumed = _sweep(tmp_path, spec, "--resume", "--trials", "8")
    assert resumed.returncode == 0, resumed.stderr
    assert "sampling continues with seed" in resumed.stdout
    params = _params(tmp_path / "out")
    assert len(params) == 8
    assert not params.duplicated().any(), params  # the restarted sampler used to replay trials 1-3


def test_joiners_sample_with_different_seeds():
    from experiments.sweep import continuation_seed

    a = continuation_seed(7, 12, "host-a:100")
    assert a != 7
    assert a != continuation_seed(7, 12, "host-b:100") != continuation_seed(7, 12, "host-a:101")
    assert a != continuation_seed(7, 13, "host-a:100")
    assert a == continuation_seed(7, 12, "host-a:100")


def test_discrete_space_is_covered_without_evaluating_any_set_twice(tmp_path):
    """6 parameter sets, 6 trials: a random sampler proposes repeats; they are skipped, never run."""
    import optuna

    levers = 'governance_mode = ["centralised", "self_governance", "platform"]\ncluster_programme = [false, true]'
    proc = _sweep(tmp_path, _write(tmp_path, trials=6, levers=levers))
    assert proc.returncode == 0, proc.stderr
    t = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert len(t) == 6 and (t["state"] == "complete").all()
    assert not t[["governance_mode", "cluster_programme"]].duplicated().any()
    study = optuna.load_study(study_name="robust", storage=f"sqlite:///{tmp_path / 'out' / 'study.db'}")
    dups = [x for x in study.trials if str(x.user_attrs.get("fail_reason", "")).startswith("duplicate of trial")]
    assert dups, "the random sampler should have proposed a repeat in a space of 6"
    assert len(list((tmp_path / "out" / "runs").glob("*.parquet"))) == 6  # one run per distinct set, 1 seed


def test_a_proposal_equal_to_an_earlier_trial_is_skipped(tmp_path, monkeypatch):
    """Even with the sweep's own sampler seed on resume (as before the fix), the guard stops a replay."""
    import optuna

    import experiments.sweep as sweep
    from experiments.runner import Runner

    sp = sweep.load_sweep(_write(tmp_path, trials=3))
    out = tmp_path / "out"
    with Runner(jobs=1, store=out, progress=False) as runner:
        sweep.run_sweep(sp, out, runner, progress=False, log=lambda *_: None)
        sp.trials = 6
        monkeypatch.setattr(sweep, "continuation_seed", lambda seed, n, nonce: seed)  # replay the sequence
        study = sweep.run_sweep(sp, out, runner, resume=True, progress=False, log=lambda *_: None)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    keys = [tuple(sorted(t.params.items())) for t in done]
    assert len(done) == 6 and len(set(keys)) == 6
    assert any(str(t.user_attrs.get("fail_reason", "")).startswith("duplicate of trial") for t in study.trials)


# -- 4. Ctrl-C names the command that continues the sweep ------------------------------------------------
def test_ctrl_c_tells_the_resume_command(tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(TINY.format(trials=12, horizon=24, sampler="random", levers=LEVERS, objectives=OBJECTIVE,
                                extra="").replace("population = 50", "population = 1500"))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sweep", str(spec), "--out", str(out),
                             "--jobs", "1", "--no-progress", "--fresh"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and len(list((out / "runs").glob("*.json"))) < 2:
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep finished before it could be interrupted; make it slower"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "run the same command again" not in err
    hint = err.split("to continue the sweep run: ", 1)[1].strip()
    argv = shlex.split(hint)
    assert argv[:3] == ["python", "run.py", "sweep"] and argv[-1] == "--resume" and "--fresh" not in argv
    assert argv[3] == str(spec) and argv[argv.index("--out") + 1] == str(out)
    resumed = cli(*argv[2:], "--trials", "4", cwd=tmp_path)  # the hint works (fewer trials to keep it short)
    assert resumed.returncode == 0, resumed.stderr


# -- 5. an objective undefined in every trial -------------------------------------------------------------
def test_all_trials_failing_records_reasons_writes_trials_csv_and_exits_2(tmp_path):
    """50 firms over 2 months upgrade no firm, with support or without (the no-support twin), so budget per
    additional upgrade is undefined in every trial."""
    spec = _write(tmp_path, trials=3, objectives='budget_per_additional_upgrade_bn = "minimise"')
    proc = _sweep(tmp_path, spec)
    _clean_error(proc, "no trial completed", "budget_per_additional_upgrade_bn undefined (NaN)", "trials.csv")
    out = tmp_path / "out"
    t = pd.read_csv(out / "trials.csv")
    assert len(t) >= 3 and (t["state"] == "failed").all()
    assert t["fail_reason"].str.contains("no additional size-class upgrade").all()
    assert "budget_per_additional_upgrade_bn undefined" in (out / "report.md").read_text()


def test_zero_budget_per_budget_objective_is_refused(tmp_path):
    spec = _write(tmp_path, levers="capture_rate = [0.0, 0.5]", objectives='extra_jobs_per_bn = "maximise"',
                  extra="")
    text = spec.read_text().replace("sampler_seed = 7", "sampler_seed = 7\n[sweep.set]\nbudget_per_firm_month = 0.0")
    spec.write_text(text)
    proc = _sweep(tmp_path, spec)
    _clean_error(proc, "[objectives] extra_jobs_per_bn", "budget is 0")
    assert not (tmp_path / "out").exists()


def test_ctrl_c_inside_a_storage_write_is_held_until_it_ends():
    """A sweep's ask/tell run with Ctrl-C held (experiments.runner.interrupts_deferred): the signal is acted
    on when the block ends, once, and an ignored signal stays ignored."""
    from experiments.runner import interrupts_deferred

    steps = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            steps.append("write finished")  # not cut in half
    assert steps == ["write finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
