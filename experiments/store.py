"""Result storage: one Parquet file and one JSON manifest per model run, written as each run finishes.

Layout of a store (any experiment's output folder)::

    runs/<run_id>.parquet    tidy long results of one run (run_id, scenario, seed, month, metric, value)
    runs/<run_id>.json       its manifest: scenario, parameters and their content hash, seed, model version,
                             model code hash, git commit, package versions, host, timings
    index.parquet            one row per run (manifest fields and every parameter), rebuilt from the manifests

A run's identity is ``<params_hash>-s<seed>``. A stored run is reused only when its model code hash
(a hash of the ``model/`` sources) matches the running code, so a changed model is never mixed with
old results. Every file is written to a temporary name and renamed, so it is complete or absent:
an interrupted command loses nothing that finished, and the next invocation runs only the rest.

Query without loading everything::

    from experiments.store import open_results
    res = open_results("results/five_scenarios")
    res.index()                                              # one row per run (pandas)
    res.load(scenario="baseline", metrics=["value_added"])   # only the files and columns needed
    res.sql("SELECT scenario, avg(value) FROM runs WHERE metric = 'survival_rate' GROUP BY 1")  # DuckDB
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("mesa", "numpy", "pandas", "pyarrow", "pydantic", "optuna", "SALib", "dask", "distributed")


@functools.cache
def code_version() -> str:
    """Hash of the model's source files (its subpackages too) and of the per-firm panel recorder:
    results of different model code are never mixed."""
    h = hashlib.sha256()
    files = sorted((ROOT / "model").rglob("*.py")) + [ROOT / "experiments" / "panel.py"]
    for p in files:
        h.update(p.relative_to(ROOT).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


@functools.cache
def git_commit() -> str:
    """Short commit of the checkout (``+dirty`` when model/ has uncommitted changes), or ``n/a``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=ROOT, timeout=5).stdout.strip()
        if not commit:
            return "n/a"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "model"], capture_output=True, text=True,
                               cwd=ROOT, timeout=5).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "n/a"


@functools.cache
def package_versions() -> dict[str, str]:
    """Versions of Python and the packages results depend on."""
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "n/a"
    return out


def provenance() -> dict:
    """Model version, code hash, git commit, packages and machine: the same block for every output."""
    from model import __version__

    return {"model_version": __version__, "model_code": code_version(), "git_commit": git_commit(),
            **package_versions(), "platform": platform.platform(), "host": socket.gethostname()}


def _atomic_write(path: Path, write) -> None:
    """``write(tmp)`` then rename to ``path``; on failure the partial file is removed and an ``OSError``
    (disk full, permission) becomes one clear error naming the file. Files get the user's umask."""
    from analysis.io import output_error

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise output_error(err, path) from None
        raise


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class RunStore:
    """Per-run Parquet files with manifests under ``root`` (created on first write)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / "runs"

    # -- writing ---------------------------------------------------------------------------------
    def has(self, run_id: str, panel_months=()) -> bool:
        """A complete, readable run of the current model code is stored (with the snapshots of its
        initial firms at ``panel_months``, experiments/panel.py, when some are asked for).

        A run whose Parquet file is damaged (truncated, unreadable, other row count than its manifest
        says) is reported, its manifest removed, and it counts as missing, so it is run again.
        """
        m = self.manifest(run_id)
        pq = self.runs / f"{run_id}.parquet"
        if not (m and m.get("model_code") == code_version() and pq.exists()):
            return False
        if panel_months and not (set(panel_months) <= set(m.get("panel_months", []))
                                 and self.panel_path(run_id).exists()):
            return False  # stored without the snapshots now needed: run again (results are identical)
        why = self._damage(pq, m)
        if why:
            _warn(f"stored run {pq} is damaged ({why}); running it again")
            (self.runs / f"{run_id}.json").unlink(missing_ok=True)
            return False
        return True

    @staticmethod
    def _damage(pq: Path, m: dict) -> str | None:
        import pyarrow.parquet as papq

        try:
            rows = papq.read_metadata(pq).num_rows
        except Exception as err:  # noqa: BLE001 - any read error means the file is unusable
            return f"unreadable: {str(err).splitlines()[0][:120] if str(err) else type(err).__name__}"
        if "rows" in m and rows != m["rows"]:
            return f"{rows} rows, its manifest says {m['rows']}"
        return None

    def manifest(self, run_id: str) -> dict:
        p = self.runs / f"{run_id}.json"
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return {}

    def panel_path(self, run_id: str) -> Path:
        """Snapshots of a run's initial firms (a folder of their own: not read as tidy results)."""
        return self.runs / "panels" / f"{run_id}.parquet"

    def read_panel(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.panel_path(run_id))

    def write(self, task, tidy: pd.DataFrame, labels: Sequence[str], seconds: float, worker: str = "",
              panel: pd.DataFrame | None = None) -> None:
        """Store one finished run: the Parquet file(s) first, then the manifest that marks it complete."""
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            from analysis.io import output_error

            raise output_error(err, self.runs) from None
        self._clean_stale_tmp()
        run_id = task.run_id
        pq = self.runs / f"{run_id}.parquet"
        _atomic_write(pq, lambda tmp: tidy.to_parquet(tmp, index=False))
        months = []
        if panel is not None:
            self.panel_path(run_id).parent.mkdir(exist_ok=True)
            _atomic_write(self.panel_path(run_id), lambda tmp: panel.to_parquet(tmp, index=False))
            months = sorted(int(m) for m in panel["month"].unique())
        sc = task.scenario
        man = {
            "run_id": run_id, "labels": list(labels), "scenario": sc.name, "source": sc.source,
            "params_hash": task.params_hash, "seed": task.seed, "params": sc.params,
            **provenance(), "worker": worker, "finished": _now(), "seconds": round(float(seconds), 3),
            "rows": len(tidy), "file": f"runs/{run_id}.parquet", "panel_months": months,
        }
        _atomic_write_bytes(self.runs / f"{run_id}.json", json.dumps(man, default=str, indent=1).encode())

    def add_labels(self, run_id: str, labels: Iterable[str]) -> bool:
        """Record that a stored run is also reported under other labels; True if any was new."""
        m = self.manifest(run_id)
        new = [lab for lab in labels if lab not in m.get("labels", [])]
        if m and new:
            m["labels"] = m.get("labels", []) + new
            _atomic_write_bytes(self.runs / f"{run_id}.json", json.dumps(m, default=str, indent=1).encode())
            return True
        return False

    def _clean_stale_tmp(self) -> None:
        """Remove partial files (``.NAME.<pid>.tmp``) left in runs/ by a killed process of this host, once."""
        if getattr(self, "_cleaned", False):
            return
        self._cleaned = True
        from analysis.io import pid_alive

        for p in self.runs.glob(".*.tmp"):
            pid = p.name.rsplit(".", 2)[-2]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                p.unlink(missing_ok=True)

    def read(self, run_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.runs / f"{run_id}.parquet")

    def write_index(self) -> Path | None:
        """Rebuild ``index.parquet`` from the manifests (one row per run, parameters as columns)."""
        idx = self.build_index()
        if idx.empty:
            return None
        path = self.root / "index.parquet"
        _atomic_write(path, lambda tmp: idx.to_parquet(tmp, index=False))
        return path

    # -- reading ---------------------------------------------------------------------------------
    def build_index(self) -> pd.DataFrame:
        rows = []
        for p in sorted(self.runs.glob("*.json")) if self.runs.exists() else []:
            try:
                m = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if not (self.runs / f"{m.get('run_id')}.parquet").exists():
                continue
            params = m.pop("params", {})
            m["labels"] = ",".join(m.get("labels", []))
            m["current_code"] = m.get("model_code") == code_version()
            rows.append({**m, **{k: v for k, v in params.items() if k not in m}})
        return pd.DataFrame(rows)

    def index(self) -> pd.DataFrame:
        """One row per stored run; read from ``index.parquet`` unless runs were added since."""
        path = self.root / "index.parquet"
        n_files = len(list(self.runs.glob("*.json"))) if self.runs.exists() else 0
        if path.exists():
            try:
                idx = pd.read_parquet(path)
            except Exception as err:  # noqa: BLE001 - a damaged index is rebuilt from the run manifests
                _warn(f"{path} is damaged ({type(err).__name__}); rebuilt from the run manifests")
                try:
                    self.write_index()
                except (OSError, ValueError):  # a read-only folder: the rebuilt index is only used in memory
                    pass
                return self.build_index()
            if len(idx) == n_files:
                return idx
        return self.build_index()

    def load(self, scenario: str | Sequence[str] | None = None, metrics: Sequence[str] | None = None,
             seeds: Sequence[int] | None = None, months: tuple[int, int] | None = None,
             run_ids: Sequence[str] | None = None, current_code: bool = True) -> pd.DataFrame:
        """Tidy rows of the selected runs, reading only their files and the selected metrics and months.

        Args:
            scenario: label(s) the runs were reported under (a run used under several labels is
                returned once per requested label).
            metrics: metric names (default: all).
            seeds: seeds (default: all).
            months: inclusive (first, last) month range.
            run_ids: explicit run ids (bypasses scenario/seed selection).
            current_code: only runs of the current model code.
        """
        import pyarrow.dataset as ds

        idx = self.index()
        if idx.empty:
            return pd.DataFrame(columns=["run_id", "scenario", "seed", "month", "metric", "value"])
        if current_code:
            idx = idx[idx["current_code"]]
        if run_ids is not None:
            idx = idx[idx["run_id"].isin(list(run_ids))]
        if seeds is not None:
            idx = idx[idx["seed"].isin(list(seeds))]
        wanted = [scenario] if isinstance(scenario, str) else (list(scenario) if scenario is not None else None)
        pairs: list[tuple[str, str]] = []
        for rid, labs in zip(idx["run_id"], idx["labels"], strict=True):
            for lab in labs.split(","):
                if wanted is None or lab in wanted:
                    pairs.append((rid, lab))
        if not pairs:
            return pd.DataFrame(columns=["run_id", "scenario", "seed", "month", "metric", "value"])
        files = sorted({str(self.runs / f"{rid}.parquet") for rid, _ in pairs})
        flt = None
        if metrics is not None:
            flt = ds.field("metric").isin(list(metrics))
        if months is not None:
            f2 = (ds.field("month") >= months[0]) & (ds.field("month") <= months[1])
            flt = f2 if flt is None else flt & f2
        table = ds.dataset(files, format="parquet").to_table(filter=flt)
        df = table.to_pandas().drop(columns="scenario")
        lab = pd.DataFrame(pairs, columns=["run_id", "scenario"])
        df = df.merge(lab, on="run_id")
        return df[["run_id", "scenario", "seed", "month", "metric", "value"]]

    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB query over views ``runs`` (every stored row) and ``runs_index`` (optional extra)."""
        try:
            import duckdb
        except ImportError:
            raise RuntimeError("DuckDB is optional: `pip install duckdb` to query the store with SQL "
                               "(or use RunStore.load / index with pandas)") from None
        con = duckdb.connect()
        con.execute(f"CREATE VIEW runs AS SELECT * FROM read_parquet('{self.runs}/*.parquet')")
        idx = self.root / "index.parquet"
        if idx.exists():
            con.execute(f"CREATE VIEW runs_index AS SELECT * FROM read_parquet('{idx}')")
        return con.execute(query).df()


def open_results(path: str | Path) -> RunStore:
    """Open an experiment's output folder (or any store) for querying."""
    p = Path(path)
    if not (p / "runs").exists():
        raise FileNotFoundError(f"{p}: no runs/ folder here (is it an experiment output folder?)")
    return RunStore(p)
