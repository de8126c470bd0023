"""Interruption of a command that runs the model in worker processes (issue 9, "Interruption").

An out-of-memory killer sends ``kill -9`` to the main process; a batch scheduler sends SIGTERM; a user presses
Ctrl-C (SIGINT to the whole foreground process group). In every case no process of the command may outlive it
(the workers, the forkserver and the multiprocessing resource tracker used to live on for minutes, holding
~0.9 GB and the terminal's stdout), and SIGTERM and Ctrl-C stop cleanly: finished runs kept, one line saying
what to run to resume, exit code 128 + signal, no traceback.

Each test starts ``run.py`` in a new session, so that every process it creates (however deep) has the main
process's pid as its session id and can be found in /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, cli

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc (Linux)")

# long enough to be still computing when the workers are up; only test (b) runs it (partly) twice
SIZE = ["--firms", "3000", "--months", "60", "--jobs", "2", "--no-progress"]


def _session(sid: int) -> dict[int, int]:
    """Live (not zombie) processes of session ``sid``: pid -> parent pid."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        state, ppid, _pgrp, session = stat[stat.rfind(")") + 2:].split()[:4]
        if int(session) == sid and state not in ("Z", "X"):
            procs[int(entry)] = int(ppid)
    return procs


class Command:
    """``python run.py ARGS`` in a new session, its stdout and stderr read to end-of-file by threads."""

    def __init__(self, *args: str):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.out: dict[str, bytes] = {}
        self.readers = [threading.Thread(target=self._read, args=(name,), daemon=True) for name in ("stdout", "stderr")]
        for t in self.readers:
            t.start()

    def _read(self, name: str) -> None:
        self.out[name] = getattr(self.proc, name).read()  # returns at end-of-file: no process holds the pipe

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_for_workers(self, n: int = 2, timeout: float = 60) -> None:
        """Until ``n`` worker processes (grandchildren of the main process, forked by the forkserver) exist."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the command ended before its workers were seen: {self.finish()}"
            procs = _session(self.pid)
            if sum(1 for ppid in procs.values() if ppid != self.pid and ppid in procs) >= n:
                return
            time.sleep(0.05)
        raise AssertionError(f"no {n} worker processes after {timeout} s: {_session(self.pid)}")

    def assert_all_gone(self, timeout: float = 10) -> None:
        """Every process of the command has ended and nothing holds its stdout or stderr open."""
        deadline = time.monotonic() + timeout
        while _session(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:90]
                for pid in _session(self.pid) if Path(f"/proc/{pid}/cmdline").exists()}
        assert not left, f"processes still running {timeout} s after the main process ended: {left}"
        for t in self.readers:
            t.join(timeout=max(0.5, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.readers), "stdout/stderr still held open"

    def cleanup(self) -> None:
        """Whatever a failed test left: end every process of the command's session."""
        for pid in [self.pid] * (self.proc.poll() is None) + list(_session(self.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def finish(self, timeout: float = 15) -> tuple[int, str, str]:
        code = self.proc.wait(timeout=timeout)
        for t in self.readers:
            t.join(timeout=timeout)
        return code, self.out.get("stdout", b"").decode(), self.out.get("stderr", b"").decode()


def _stored(out: Path) -> dict[str, str]:
    """Finished runs in a store: run id -> the time its manifest says it finished."""
    return {p.stem: json.loads(p.read_text())["finished"] for p in (out / "runs").glob("*.json")}


def test_kill_9_of_the_main_process_takes_every_worker_with_it(tmp_path):
    cmd = Command("run", "baseline", "--seeds", "8", "--out", str(tmp_path / "out"), *SIZE)
    try:
        cmd.wait_for_workers()
        os.kill(cmd.pid, signal.SIGKILL)
        assert cmd.proc.wait(timeout=10) == -signal.SIGKILL
        cmd.assert_all_gone(timeout=10)
    finally:
        cmd.cleanup()


def _wait_for_a_stored_run(cmd: Command, out: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (out / "runs").is_dir() or not _stored(out):
        assert cmd.proc.poll() is None, f"the command ended before it was interrupted: {cmd.finish()}"
        assert time.monotonic() < deadline, "no run finished in time"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_sigterm_and_ctrl_c_stop_cleanly_and_the_same_command_resumes(tmp_path, how):
    out = tmp_path / "out"
    args = ["run", "baseline", "--seeds", "4", "--out", str(out), *SIZE]
    cmd = Command(*args)
    try:
        cmd.wait_for_workers()
        _wait_for_a_stored_run(cmd, out)
        if how == "SIGTERM":  # a batch scheduler or `kill` signals the main process only
            os.kill(cmd.pid, signal.SIGTERM)
        else:  # the terminal sends SIGINT to every process of the foreground group
            os.killpg(cmd.pid, signal.SIGINT)
        t0 = time.monotonic()
        code, stdout, stderr = cmd.finish(timeout=15)
        seconds = time.monotonic() - t0
        assert code == (143 if how == "SIGTERM" else 130), (code, stderr)
        assert seconds < 5, f"took {seconds:.1f} s to stop: the cancelled runs were not abandoned"
        assert "Traceback" not in stderr, stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "interrupted" in lines[0] and "run the same command again" in lines[0], stderr
        cmd.assert_all_gone(timeout=5)  # the workers stopped with it: not still computing the cancelled runs
    finally:
        cmd.cleanup()
    kept = _stored(out)
    assert 1 <= len(kept) < 8, kept  # 4 seeds and their no-support twins
    if how == "Ctrl-C":
        return  # the same resume as after SIGTERM, below: not worth a second rerun

    again = cli(*args, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "runs/ (8 stored runs" in again.stdout, again.stdout  # 4 seeds, each with its no-support twin
    after = _stored(out)
    assert len(after) == 8
    assert {k: after[k] for k in kept} == kept, "finished runs were recomputed instead of reused"
