"""Issue 9, safe outputs: a command removes only what it wrote itself, names from files cannot point the
output anywhere else, an unusable --out is refused before any model runs, damaged stores repair themselves,
write errors are one clear message without partial files, and result files get the user's umask."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys

import pandas as pd
import pytest
from conftest import ROOT, cli

import run as cli_main
from analysis import io as aio

TINY = ("--seeds", "1", "--firms", "50", "--months", "2", "--jobs", "1", "--no-progress")

SCENARIO = '[scenario]\nname = "{name}"\nextends = "' + str(ROOT / "scenarios" / "baseline.toml") + '"\n'
EXPERIMENT = """
[experiment]
name = "{name}"
seeds = 1
population = 50
horizon = 2
withdrawal_month = 0
[[scenarios]]
use = "baseline"
[[scenarios]]
use = "clustering"
"""
SWEEP = """
[sweep]
name = "{name}"
scenario = "baseline"
trials = 2
seeds = 1
population = 50
horizon = 2
[levers]
budget_per_firm_month = [20000.0, 120000.0]
[objectives]
value_added_growth = "maximise"
"""
SENSITIVITY = """
[sensitivity]
name = "{name}"
methods = ["morris"]
seeds = 1
population = 50
horizon = 2
outcomes = ["value_added_growth"]
[parameters]
budget_per_firm_month = [20000.0, 120000.0]
central_overhead = [0.1, 0.35]
[morris]
trajectories = 2
"""
FILES = {"run": (SCENARIO, "scenario"), "compare": (EXPERIMENT, "experiment"), "sweep": (SWEEP, "sweep"),
         "sensitivity": (SENSITIVITY, "sensitivity")}


def _spec(folder, command, name="tiny"):
    text, _ = FILES[command]
    path = folder / f"{command}_spec.toml"
    path.write_text(text.format(name=name))
    return path


def _all_files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def no_model_run(monkeypatch):
    """Fail the test if any model run starts (the checks must come before computing)."""
    from experiments.runner import Runner

    def boom(*a, **k):
        raise AssertionError("a model run started before the output folder was checked")

    monkeypatch.setattr(Runner, "run", boom)


# -- data loss -------------------------------------------------------------------------------------------
def test_run_into_a_folder_with_user_files_never_removes_them(tmp_path):
    work = tmp_path / "mywork"
    (work / "thesis").mkdir(parents=True)
    (work / "thesis" / "chapter1.tex").write_text("my chapter")
    (work / "notes.txt").write_text("x\n")

    refused = cli("run", "baseline", *TINY, "--out", "mywork", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "not empty" in refused.stderr and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert not (work / "runs").exists() and "Scenario baseline" not in refused.stdout  # refused before computing

    forced = cli("run", "baseline", *TINY, "--out", "mywork", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (work / "report.md").exists() and (work / "summary.csv").exists()
    assert (work / "notes.txt").read_text() == "x\n" and (work / "thesis" / "chapter1.tex").read_text() == "my chapter"
    assert "notes.txt" not in forced.stdout  # the listing shows our files only

    # the folder is ours now: a rerun needs no --force, replaces only entries our marker lists
    marker = json.loads((work / aio.MARKER).read_text())
    assert "report.md" in marker["entries"] and "notes.txt" not in marker["entries"]
    (work / "old_result.csv").write_text("ours, from an earlier version of the result\n")
    marker["entries"].append("old_result.csv")
    (work / aio.MARKER).write_text(json.dumps(marker))
    (work / "mine.csv").write_text("the user's\n")
    again = cli("run", "baseline", *TINY, "--out", "mywork", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert not (work / "old_result.csv").exists()  # ours and no longer produced: removed
    assert (work / "mine.csv").read_text() == "the user's\n"
    assert (work / "notes.txt").exists() and (work / "thesis" / "chapter1.tex").exists()
    assert not list(tmp_path.glob(".*staging*"))


def test_force_never_overwrites_a_user_file_with_a_result_name(tmp_path, capsys, no_model_run):
    work = tmp_path / "mywork"
    work.mkdir()
    (work / "report.md").write_text("my own report")
    code = cli_main.main(["run", "baseline", *TINY, "--out", str(work), "--force"])
    assert code == 2
    err = capsys.readouterr().err
    assert "never over them" in err and "report.md" in err
    assert (work / "report.md").read_text() == "my own report"


def test_result_folder_of_an_older_version_is_recognised_as_ours(tmp_path):
    """A folder written before the marker existed (manifest.json with the model code) is not refused."""
    work = tmp_path / "old"
    first = cli("run", "baseline", *TINY, "--out", str(work), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (work / aio.MARKER).unlink()
    (work / "notes.txt").write_text("mine")
    again = cli("run", "baseline", *TINY, "--out", str(work), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert (work / "notes.txt").read_text() == "mine" and (work / aio.MARKER).exists()


@pytest.mark.parametrize("command", ["run", "default", "compare", "sweep", "sensitivity"])
def test_empty_out_is_refused_and_the_current_folder_untouched(tmp_path, command):
    (tmp_path / "sentinel.txt").write_text("keep me")
    args = [command] if command == "default" else [command, str(_spec(tmp_path, command))]
    before = _all_files(tmp_path)
    proc = cli(*args, "--out", "", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--out" in proc.stderr and "empty" in proc.stderr and "Traceback" not in proc.stderr
    assert _all_files(tmp_path) == before and (tmp_path / "sentinel.txt").read_text() == "keep me"


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "sensitivity"])
@pytest.mark.parametrize("bad", ["..", "ABS", "../../x", "."])
def test_unsafe_names_from_files_are_refused_and_nothing_deleted(tmp_path, monkeypatch, capsys, no_model_run,
                                                                 command, bad):
    victim = tmp_path / "victim"  # "/abs/dir": an absolute folder the name points at
    victim.mkdir()
    (victim / "sentinel.txt").write_text("keep me")
    (tmp_path / "sentinel.txt").write_text("keep me too")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    name = str(victim) if bad == "ABS" else bad
    spec = _spec(work, command, name)
    monkeypatch.chdir(work)
    before = _all_files(tmp_path)
    assert cli_main.main([command, spec.name, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert spec.name in err and "name" in err and "letters, digits" in err
    assert _all_files(tmp_path) == before
    assert (victim / "sentinel.txt").read_text() == "keep me"


@pytest.mark.parametrize("command", ["run", "compare", "sweep", "sensitivity"])
def test_a_5000_character_name_is_refused_clearly(tmp_path, capsys, no_model_run, command):
    spec = _spec(tmp_path, command, "n" * 5000)
    assert cli_main.main([command, str(spec), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "too long" in err and "at most 100" in err and len(err) < 1000


def test_a_file_name_too_long_for_the_file_system_is_refused(tmp_path, capsys, no_model_run):
    assert cli_main.main(["run", "baseline", *TINY, "--out", str(tmp_path / ("x" * 300) / "y")]) == 2
    assert "too long" in capsys.readouterr().err
    assert cli_main.main(["run", "baseline", *TINY, "--out", "x" * 20_000]) == 2
    assert "too long" in capsys.readouterr().err
    assert _all_files(tmp_path) == []


# -- unusable --out, checked before computing ------------------------------------------------------------
@pytest.mark.parametrize("command", ["run", "default", "compare", "sweep", "sensitivity"])
@pytest.mark.parametrize("where", ["file", "under_file", "dev_null"])
def test_unusable_out_is_refused_before_any_model_run(tmp_path, capsys, no_model_run, command, where):
    afile = tmp_path / "afile.txt"
    afile.write_text("data")
    out = {"file": afile, "under_file": afile / "sub", "dev_null": "/dev/null"}[where]
    args = [command] if command == "default" else [command, str(_spec(tmp_path, command))]
    extra = ["--firms", "50", "--months", "2", "--seeds", "1"] if command == "default" else []
    assert cli_main.main([*args, *extra, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and ("is a file" in err or "special file" in err)
    assert afile.read_text() == "data"


def test_unusable_out_is_quick_end_to_end(tmp_path):
    (tmp_path / "afile.txt").write_text("data")
    proc = cli("run", "baseline", *TINY, "--out", "afile.txt/sub", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and "afile.txt is a file" in proc.stderr and "Traceback" not in proc.stderr
    assert "Scenario baseline" not in proc.stdout  # stopped before the runs started


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_refused_before_computing(tmp_path, capsys, no_model_run):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert cli_main.main(["run", "baseline", *TINY, "--out", str(ro / "out")]) == 2
        assert "cannot write there" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("code,text", [(errno.EACCES, "Permission denied"), (errno.EROFS, "Read-only file system")])
def test_read_only_folder_or_mount_is_refused_before_computing_simulated(tmp_path, monkeypatch, capsys,
                                                                         no_model_run, code, text):
    """As root chmod has no effect, so the refusal of the write probe is simulated."""
    ro = tmp_path / "ro"
    ro.mkdir()

    def refuse(path):
        raise OSError(code, text, str(path))

    monkeypatch.setattr(aio, "_create_tmp", refuse)
    assert cli_main.main(["run", "baseline", *TINY, "--out", str(ro / "out")]) == 2
    err = capsys.readouterr().err
    assert "cannot write there" in err and text in err and str(ro) in err
    assert list(ro.iterdir()) == []


# -- damaged stores ------------------------------------------------------------------------------------
def test_truncated_run_parquet_is_detected_and_recomputed(tmp_path):
    out = tmp_path / "out"
    assert cli("run", "baseline", *TINY, "--out", str(out)).returncode == 0
    # the scenario's run (its no-support twin, analysis/causal.py, is stored beside it)
    (pq,) = [p for p in (out / "runs").glob("*.parquet")
             if json.loads(p.with_suffix(".json").read_text())["labels"] == ["baseline"]]
    def model_rows(path):  # all but the run's wall-clock time
        df = pd.read_parquet(path)
        return df[df["metric"] != "run_seconds"].reset_index(drop=True)

    good = model_rows(pq)
    pq.write_bytes(pq.read_bytes()[: pq.stat().st_size // 2])  # manifest intact, data truncated
    proc = cli("run", "baseline", *TINY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "damaged" in proc.stderr and pq.name in proc.stderr
    pd.testing.assert_frame_equal(model_rows(pq), good)  # recomputed, bit-identical
    again = cli("run", "baseline", *TINY, "--out", str(out))
    assert again.returncode == 0 and "damaged" not in again.stderr  # repaired for good


def test_damaged_index_parquet_is_rebuilt_from_the_runs(tmp_path):
    out = tmp_path / "out"
    assert cli("run", "baseline", *TINY, "--out", str(out)).returncode == 0
    (out / "index.parquet").write_bytes(b"not parquet at all")
    proc = cli("results", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "ArrowInvalid" in proc.stderr and "rebuilt" in proc.stderr and "Traceback" not in proc.stderr
    assert "2 runs" in proc.stdout  # the scenario and its no-support twin
    assert len(pd.read_parquet(out / "index.parquet")) == 2


# -- write errors mid-way ------------------------------------------------------------------------------
@pytest.mark.parametrize("err", [OSError(errno.ENOSPC, "No space left on device"),
                                 PermissionError(errno.EACCES, "Permission denied")])
def test_disk_full_or_permission_error_while_writing_the_report(tmp_path, monkeypatch, capsys, err):
    out = tmp_path / "out"
    real = pd.DataFrame.to_csv

    def failing(self, path=None, *a, **k):
        if path is not None and str(path).endswith(".tmp"):
            real(self.head(1), path, *a, **k)  # a partial file, then the failure
            raise type(err)(err.errno, err.strerror, str(path))
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", failing)
    assert cli_main.main(["run", "baseline", *TINY, "--out", str(out)]) == 2
    msg = capsys.readouterr().err
    assert err.strerror in msg and str(out) in msg and "Traceback" not in msg
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or ".staging." in p.name]
    assert not (out / "report.md").exists()  # no half-published result
    assert list((out / "runs").glob("*.parquet"))  # the finished run is kept for the next attempt


def test_disk_full_while_storing_a_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    real = pd.DataFrame.to_parquet

    def failing(self, path=None, *a, **k):
        if "runs" in str(path):
            with open(path, "wb") as fh:
                fh.write(b"PAR1 partial")  # a partial file, then the failure
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    assert cli_main.main(["run", "baseline", *TINY, "--out", str(out)]) == 2
    msg = capsys.readouterr().err
    assert "No space left on device" in msg and str(out / "runs") in msg
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert not list((out / "runs").glob("*.parquet"))


# -- interruption --------------------------------------------------------------------------------------
def test_staging_folder_left_by_kill_9_is_cleaned_by_the_next_run(tmp_path):
    out = tmp_path / "mywork"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # a process killed with SIGKILL while writing its report into a staging folder
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal\nfrom analysis.io import staging_dir\n"
        f"s = staging_dir({str(out)!r})\n(s / 'report.md').write_text('half')\n"
        "os.kill(os.getpid(), signal.SIGKILL)")], env=env, cwd=ROOT)
    assert killed.returncode == -signal.SIGKILL
    (stale,) = tmp_path.glob(".mywork.staging.*")
    foreign = tmp_path / ".mywork.staging.keep"  # same pattern, but not ours (no marker): never touched
    foreign.mkdir()
    (foreign / "data.txt").write_text("not ours")
    alive = tmp_path / ".mywork.staging.alive"  # ours, but its writer is still running
    alive.mkdir()
    (alive / aio.STAGING_MARKER).write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))

    proc = cli("run", "baseline", *TINY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not stale.exists()
    assert (foreign / "data.txt").read_text() == "not ours" and alive.exists()
    assert not (out / aio.STAGING_MARKER).exists()  # the staging marker is not published


# -- permissions -----------------------------------------------------------------------------------------
def test_result_files_follow_the_umask(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["/bin/sh", "-c", 'umask 022 && exec "$0" "$@"', sys.executable, str(ROOT / "run.py"),
                           "run", "baseline", *TINY, "--out", str(out)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"report.md", "summary.csv", "timeseries.parquet", "manifest.json", "index.parquet", aio.MARKER,
            "budget.png"} <= {p.name for p in files}
    assert any(p.parent.name == "runs" and p.suffix == ".parquet" for p in files)
    modes = {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
    dirs = [out, out / "figures", out / "runs"]
    assert {oct(d.stat().st_mode & 0o777) for d in dirs} == {"0o755"}


def test_publish_moves_a_user_file_with_a_result_name_aside_never_over_it(tmp_path):
    """The last line of defence for library callers that skip check_out: nothing of the user's is overwritten."""
    final = tmp_path / "out"
    final.mkdir()
    (final / "report.md").write_text("the user's report")
    stage = aio.staging_dir(final)
    (stage / "report.md").write_text("our report")
    aio.publish(stage, final)
    assert (final / "report.md").read_text() == "our report"
    assert (final / "report.md.kept-1").read_text() == "the user's report"
    assert json.loads((final / aio.MARKER).read_text())["entries"] == ["report.md"]
    assert not stage.exists()
