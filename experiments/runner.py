"""Running the model: one run -> tidy long results; many runs -> processes, with a progress bar.

A run is data (:class:`Task`): a validated scenario, a seed and a label. ``execute`` builds the
model, steps it to the horizon and returns the monthly metrics in tidy long format
(``run_id, scenario, seed, month, metric, value``) plus the run-level size-class transitions.
Results depend only on (scenario parameters, seed), never on the process that ran them.

:class:`Runner` is the one runner every command uses: local processes by default (all cores, or
``jobs``), a Dask distributed cluster when a scheduler address is given, with the same code. With a
store (``experiments.store.RunStore``) each run is written as it finishes and reused next time.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model import MSMEEcosystem
from model.params import SIZE_CLASSES
from model.scenario import Scenario, ScenarioError

TIDY_COLUMNS = ["run_id", "scenario", "seed", "month", "metric", "value"]


@dataclass(frozen=True)
class Task:
    """One model run: a scenario (with its parameters), a seed and the label it is reported under."""

    scenario: Scenario = field(hash=False, compare=False)
    seed: int
    label: str            # scenario name in reports (e.g. "baseline", "baseline@withdrawal")
    params_hash: str      # content hash of the parameters: the identity of the run
    # months at which the initial firms are snapshot (experiments/panel.py) for the causal comparisons;
    # not part of the identity: the snapshots are a deterministic function of the run
    panel: tuple[int, ...] = field(default=(), compare=False, hash=False)

    @classmethod
    def make(cls, scenario: Scenario, seed: int, label: str | None = None, panel=()) -> Task:
        months = tuple(sorted({int(m) for m in panel if 0 <= int(m) <= scenario.params["n_months"]}))
        return cls(scenario, int(seed), label or scenario.name, scenario.content_hash(), months)

    @property
    def run_id(self) -> str:
        return f"{self.params_hash}-s{self.seed}"


def transitions(model: MSMEEcosystem) -> dict[str, float]:
    """Size-class transitions of the initial firms, start -> end (``exit`` for firms that left)."""
    f = model.firms
    init = f.all_firms("born") == 0  # over every firm ever, exited ones from the archive
    start = f.all_firms("initial_class")[init]
    end = np.where(f.all_firms("alive")[init], f.all_firms("size_class")[init], 4)
    counts = np.zeros((3, 5))
    np.add.at(counts, (start.clip(0, 2), end), 1)
    out = {}
    names = list(SIZE_CLASSES) + ["exit"]
    for i in range(3):
        for j in range(5):
            out[f"transition_{SIZE_CLASSES[i]}_to_{names[j]}"] = float(counts[i, j])
    return out


def execute(task: Task) -> pd.DataFrame:
    """Run one task to its horizon and return its tidy long results."""
    return execute_with_panel(task)[0]


def execute_with_panel(task: Task) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run one task to its horizon: its tidy long results, and the snapshots of its initial firms at
    ``task.panel`` (None when no month is asked for)."""
    from .panel import run_with_panel

    t0 = time.perf_counter()
    model = MSMEEcosystem(task.scenario, seed=task.seed)
    panel = run_with_panel(model, task.panel) if task.panel else None
    if panel is None:
        model.run()
    wide = model.metrics_frame()
    long = wide.reset_index().melt(id_vars="month", var_name="metric", value_name="value")
    final = model.month
    extra = transitions(model)
    extra["run_seconds"] = time.perf_counter() - t0
    extra_df = pd.DataFrame({"month": final, "metric": list(extra), "value": list(extra.values())})
    df = pd.concat([long, extra_df], ignore_index=True)
    df.insert(0, "run_id", task.run_id)
    df.insert(1, "scenario", task.label)
    df.insert(2, "seed", task.seed)
    df["month"] = df["month"].astype("int32")
    df["value"] = df["value"].astype("float64")
    return df[TIDY_COLUMNS], panel


def default_jobs() -> int:
    """All cores."""
    return max(1, os.cpu_count() or 1)


def _mp_context():
    """Forkserver with the model preloaded: safe with the threads of tqdm and Dask (unlike fork), and
    workers start in milliseconds once the server has imported the model (unlike spawn)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["experiments.runner"])
        return ctx
    return multiprocessing.get_context("spawn")


_LIFELINE: tuple[int, object, object] | None = None  # (pid, read end, write end) of the main process's lifeline


def _lifeline():
    """Read end of a pipe whose write end only this (main) process holds: it reaches end-of-file the moment
    this process is gone, however it died (``kill -9``, out-of-memory killer), even while it is a zombie."""
    global _LIFELINE
    if _LIFELINE is None or _LIFELINE[0] != os.getpid():
        r, w = multiprocessing.Pipe(duplex=False)
        _LIFELINE = (os.getpid(), r, w)
    return _LIFELINE[1]


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, then act on them as they would have acted.

    For short steps that must not be cut in half, such as a write to a sweep's Optuna storage: a
    KeyboardInterrupt raised inside SQLAlchemy's commit could leave the session broken (a traceback
    from the cleanup instead of the clean "interrupted" message) or be lost in its connection-pool
    cleanup (the sweep then ran to the end, exit 0). Only in the main thread, and a signal that is
    ignored stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if callable(handler):  # not SIG_IGN / SIG_DFL / None: Python's or run.py's handler
            previous[sig] = handler
            signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(caught):  # each signal once, in the order received
            previous[sig](sig, None)


def _worker_init(lifeline) -> None:
    """Worker start-up: die with the main process, and leave Ctrl-C to it.

    A worker's parent is the forkserver, not the main process, so ``PR_SET_PDEATHSIG`` would not fire, and a
    pool worker waiting for its next task never notices a lost parent: after ``kill -9`` of the main process
    the workers (and, through them, the forkserver and the resource tracker) lived on, holding memory and the
    terminal's stdout. A daemon thread waits on the lifeline and ends the process when it reaches end-of-file.
    SIGINT is ignored: the main process turns Ctrl-C into a clean stop and terminates the workers itself
    (a worker interrupted while waiting for its next task would print a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch():
        try:
            multiprocessing.connection.wait([lifeline])  # returns only at end-of-file: nothing is ever sent
        except Exception:  # noqa: BLE001 - a watchdog that cannot watch must not break the runs
            return
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def _terminate_workers(ex: ProcessPoolExecutor) -> None:
    """Stop a local pool now: running runs are abandoned (their processes terminated), not finished."""
    procs = list((getattr(ex, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


class RunnerError(RuntimeError):
    """Runs could not be completed (the message says what to do)."""


class SchedulerError(RunnerError, ScenarioError):
    """The Dask scheduler given with ``--scheduler`` cannot be used (a user error: ``run.py`` exits 2)."""


def _check_reachable(address: str, timeout: float) -> None:
    """Fail fast when nothing listens at a ``tcp://host:port`` scheduler address (Dask itself retries
    until its timeout)."""
    from urllib.parse import urlsplit

    if "://" not in address:
        address = "tcp://" + address
    try:
        u = urlsplit(address)
        host, port = u.hostname, u.port
    except ValueError as err:
        raise SchedulerError(f"--scheduler {address}: not a scheduler address ({err}); expected e.g. "
                             "tcp://10.0.0.5:8786") from None
    if u.scheme in ("inproc", "ucx"):
        return  # not a plain socket: let Dask try
    if u.scheme not in ("tcp", "tls", "ws", "wss") or not host:
        raise SchedulerError(f"--scheduler {address}: not a scheduler address; expected e.g. tcp://10.0.0.5:8786")
    try:
        socket.create_connection((host, port or 8786), timeout=timeout).close()
    except OSError as err:
        raise SchedulerError(f"--scheduler {address}: cannot reach the Dask scheduler "
                             f"({err.strerror or err or 'timed out'}); is it running and is the address right?") \
            from None


def _execute_timed(task: Task) -> tuple[pd.DataFrame, float, str, pd.DataFrame | None]:
    """Worker side: run a task, return its results, its wall time, the worker's name and its panel."""
    t0 = time.perf_counter()
    df, panel = execute_with_panel(task)
    return df, time.perf_counter() - t0, f"{socket.gethostname()}:{os.getpid()}", panel


class Runner:
    """The one way every command runs the model: local processes or a Dask cluster, same code.

    Args:
        jobs: local worker processes (default: all cores). Ignored with ``scheduler``.
        scheduler: address of a Dask distributed scheduler (``tcp://host:8786``), or a
            ``distributed.Client`` / ``LocalCluster``. Workers must be able to import this project.
        store: folder (or :class:`~experiments.store.RunStore`) where each run is written as it
            finishes; stored runs of the current model code are reused instead of re-run.
        progress: show a progress bar (runs done / total, time left).
        retries: times a local pool whose worker process was killed is restarted for the rest.
        execute: the worker-side function of a task (default: the tidy monthly metrics); another
            module-level function with the same signature (``experiments.calibrate`` records its moments).

    Results depend only on each task's parameters and seed; they come back in the order of the
    tasks, so they are identical whatever the number of processes or workers.
    """

    def __init__(self, jobs: int | None = None, scheduler=None, store=None, progress: bool = True,
                 retries: int = 2, execute: Callable | None = None):
        from .store import RunStore

        self.execute = execute or _execute_timed
        self.jobs = default_jobs() if jobs is None else max(1, int(jobs))
        self.scheduler = scheduler
        self.store = RunStore(store) if isinstance(store, (str, os.PathLike)) else store
        self.progress = progress
        self.retries = retries
        self._client = None
        self._own_client = False
        self.panels: dict[tuple[str, int], pd.DataFrame] = {}  # (label, seed) -> initial firms' snapshots
        # runs served from the store (computed by an earlier invocation) and runs computed, over every call of
        # run(): reports say how many results were reused
        self.reused = 0
        self.computed = 0
        self.connect_timeout = float(os.environ.get("MSME_SCHEDULER_TIMEOUT", 5))  # seconds to reach a scheduler

    # -- backends --------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        """Human description of where runs execute."""
        if self.scheduler is not None:
            return f"dask scheduler {self._address()}"
        return f"{self.jobs} local process(es)"

    @property
    def workers(self) -> int:
        """Number of workers (local processes or Dask worker threads)."""
        if self.scheduler is None:
            return self.jobs
        client = self._dask_client()
        return max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))

    def _address(self) -> str:
        s = self.scheduler
        if isinstance(s, str):
            return s
        return getattr(s, "scheduler_address", None) or getattr(getattr(s, "scheduler", None), "address", "?")

    def _dask_client(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise SchedulerError("--scheduler needs dask distributed: pip install 'dask[distributed]'") from None
            if isinstance(self.scheduler, Client):
                self._client = self.scheduler
            else:
                address = self.scheduler if isinstance(self.scheduler, str) else self.scheduler.scheduler_address
                _check_reachable(address, self.connect_timeout)
                try:
                    self._client = Client(address, timeout=f"{max(self.connect_timeout, 20):g}s")
                except (OSError, TimeoutError) as err:
                    raise SchedulerError(f"--scheduler {address}: cannot reach the Dask scheduler: {err}") from None
                self._own_client = True
        return self._client

    def _executor(self, n_pending: int):
        if self.scheduler is not None:
            return self._dask_client().get_executor(pure=False)
        return ProcessPoolExecutor(max_workers=max(1, min(self.jobs, n_pending)), mp_context=_mp_context(),
                                   initializer=_worker_init, initargs=(_lifeline(),))

    def close(self) -> None:
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None

    def __enter__(self):
        if self.scheduler is not None:  # an unusable scheduler is reported before any work starts
            self._dask_client()
        return self

    def __exit__(self, *exc):
        self.close()

    # -- running ---------------------------------------------------------------------------------
    def run(self, tasks: Iterable[Task], desc: str = "runs",
            reduce: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
        """Run tasks (deduplicated by run identity) and return their results in task order.

        Args:
            tasks: the runs.
            desc: progress bar label.
            reduce: optional function applied to each run's tidy results as it arrives (e.g. run-level
                outcomes), so that large ensembles need not be kept in memory.
        """
        from tqdm.auto import tqdm

        unique: dict[tuple[str, int], Task] = {}
        labels: dict[tuple[str, int], list[str]] = {}
        for t in tasks:
            key = (t.params_hash, t.seed)
            if key in unique and not set(t.panel) <= set(unique[key].panel):  # one run serves both: all months
                u = unique[key]
                unique[key] = Task(u.scenario, u.seed, u.label, u.params_hash, tuple(sorted({*u.panel, *t.panel})))
            unique.setdefault(key, t)
            labels.setdefault(key, [])
            if t.label not in labels[key]:
                labels[key].append(t.label)
        results: dict[tuple[str, int], pd.DataFrame] = {}
        pending: list[tuple[str, int]] = []
        relabelled = False
        for key, t in unique.items():
            if self.store is not None and self.store.has(t.run_id, t.panel):
                df = self.store.read(t.run_id)
                if t.panel:
                    self._keep_panel(t, labels[key], self.store.read_panel(t.run_id))
                relabelled |= self.store.add_labels(t.run_id, labels[key])
                results[key] = reduce(df) if reduce else df
            else:
                pending.append(key)
        self.reused += len(unique) - len(pending)
        bar = tqdm(total=len(unique), initial=len(unique) - len(pending), desc=desc, unit="run",
                   disable=not self.progress, dynamic_ncols=True)

        def done(key, df, seconds, worker, panel=None):
            if self.store is not None:
                self.store.write(unique[key], df, labels[key], seconds, worker, panel)
            if panel is not None:
                self._keep_panel(unique[key], labels[key], panel)
            results[key] = reduce(df) if reduce else df
            self.computed += 1
            bar.update()

        try:
            if pending and self.scheduler is None and (self.jobs == 1 or len(pending) == 1):
                for key in pending:
                    done(key, *self.execute(unique[key]))
            elif pending:
                self._run_parallel(pending, unique, done)
        finally:
            bar.close()
            if self.store is not None and (pending or relabelled):
                self.store.write_index()
        frames = []
        for key in unique:  # deterministic order, whatever finished first
            df = results[key]
            for label in labels[key]:
                frames.append(df.assign(scenario=label) if "scenario" in df.columns else df)
        if not frames:
            return pd.DataFrame(columns=TIDY_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def _keep_panel(self, task: Task, labels: list[str], panel: pd.DataFrame) -> None:
        """Keep a run's snapshots (only the months it was asked for) under each of its labels."""
        panel = panel[panel["month"].isin(task.panel)]
        for label in labels:
            self.panels[(label, task.seed)] = panel

    def _run_parallel(self, pending, unique, done) -> None:
        from concurrent.futures.process import BrokenProcessPool

        todo = list(pending)
        attempt = 0
        while todo:
            ex = self._executor(len(todo))
            futs = {ex.submit(self.execute, unique[key]): key for key in todo}
            aborted = False
            try:
                for fut in as_completed(futs):
                    key = futs[fut]
                    done(key, *fut.result())
                    todo.remove(key)
            except BrokenProcessPool:
                attempt += 1
                if attempt > self.retries:
                    raise RunnerError(f"a worker process died {attempt} times; {len(todo)} run(s) not done "
                                      "(finished runs are stored: run the same command again)") from None
                print(f"\na worker process died; restarting the pool for the remaining {len(todo)} run(s)",
                      file=sys.stderr)
                # collect what finished before the pool broke
                for fut, key in futs.items():
                    if fut.done() and not fut.cancelled() and fut.exception() is None and key in todo:
                        done(key, *fut.result())
                        todo.remove(key)
            except BaseException:
                aborted = True
                if isinstance(ex, ProcessPoolExecutor):
                    # Ctrl-C, SIGTERM, an error: do not go on computing abandoned runs. The pool's futures are
                    # not cancelled first: once its workers are gone the pool fails every pending future
                    # itself, and failing one already cancelled raises InvalidStateError in the pool's thread
                    # (a traceback on the terminal; seen once more runs than workers were pending)
                    _terminate_workers(ex)
                else:
                    for fut in futs:
                        fut.cancel()
                raise
            finally:
                if isinstance(ex, ProcessPoolExecutor):
                    ex.shutdown(wait=False, cancel_futures=not aborted)
                else:
                    ex.shutdown(wait=False)


def run_tasks(tasks: Iterable[Task], jobs: int | None = None, progress: bool = True,
              desc: str = "runs", store=None, scheduler=None) -> pd.DataFrame:
    """Run tasks (deduplicated by run identity) in ``jobs`` local processes or on a Dask scheduler; tidy
    results in task order. ``store``: folder where runs are saved as they finish and reused."""
    with Runner(jobs=jobs, scheduler=scheduler, store=store, progress=progress) as runner:
        return runner.run(tasks, desc=desc)
