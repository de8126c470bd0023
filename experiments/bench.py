"""``python run.py bench``: how fast the model runs on this machine, and how the cost grows.

Every measurement runs in its own subprocess (so peak memory and allocator state of one cannot
pollute another) and reports wall time, set-up time and the child's peak resident memory
(``resource.getrusage``). Measured side by side in one run:

* firm-months per second of the vectorised engine (``MSMEEcosystem``; best of 3 separate runs, as
  timing tools do: other processes only ever slow a run down) and of the reference engine
  (``ReferenceMSMEEcosystem``: one Python method per MSME agent, see ``model/reference.py``) at
  10^3, 10^4 and 10^5 firms; the reference is sampled over fewer months at the larger sizes;
* the speed ratio between them;
* 10^5 firms x 240 months and 10^6 firms x 120 months end to end (set-up included), with peak memory;
* the floor: a minimal NumPy kernel doing one read-modify-write pass over every firm column;
* an ensemble of runs with 1 and 2 worker processes (``experiments.runner.run_tasks``).

Firm-months count the initial firms times the months run (entrants and exits are part of the work).
The table is written as CSV and Markdown (default ``results/bench/``). ``--quick`` gives the same
table at smaller sizes in under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FULL = dict(sizes=(1_000, 10_000, 100_000), months=120, ref_months={1_000: 36, 10_000: 6, 100_000: 2},
            long=(100_000, 240), big=(1_000_000, 120), ensemble=dict(runs=24, n_firms=10_000, n_months=120),
            agents_cost=100_000, repeats=3)
QUICK = dict(sizes=(1_000, 10_000, 20_000), months=36, ref_months={1_000: 6, 10_000: 1, 20_000: 1},
             long=(20_000, 120), big=(100_000, 36), ensemble=dict(runs=8, n_firms=5_000, n_months=60),
             agents_cost=20_000, repeats=1)


# ------------------------------------------------------------------------------------------------
# child side: one measurement, printed as one JSON line
def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _child_model(spec: dict) -> dict:
    import numpy as np  # noqa: F401  (import cost outside the timings)

    from model import MSMEEcosystem
    from model.reference import ReferenceMSMEEcosystem

    base_mb = _peak_mb()
    cls = ReferenceMSMEEcosystem if spec["engine"] == "reference" else MSMEEcosystem
    params = dict(n_firms=spec["n_firms"], n_months=spec["horizon"], msme_agents=spec.get("agents", False),
                  governance_mode=spec.get("mode", "centralised"))
    t0 = time.perf_counter()
    m = cls(seed=spec.get("seed", 1), **params)
    t1 = time.perf_counter()
    for _ in range(spec["months"]):
        m.step()
    t2 = time.perf_counter()
    return dict(setup_s=t1 - t0, burn_in_s=m.burn_in_seconds, burn_in_months=m.burn_in_months,
                run_s=t2 - t1, wall_s=t2 - t0, peak_mb=_peak_mb(), base_mb=base_mb,
                rows=int(m.firms.n), alive=int(m.firms.alive[: m.firms.n].sum()),
                bytes_per_firm=m.firms.nbytes_per_firm())


def _child_compile(spec: dict) -> dict:
    """Build and run a tiny model: the first use of the compiled kernels (``model/scan.py``,
    ``model/learning.py``) compiles them, or loads them from Numba's cache."""
    t0 = time.perf_counter()
    from model import MSMEEcosystem

    t1 = time.perf_counter()
    MSMEEcosystem(seed=1, n_firms=200, n_months=2, msme_agents=False).run()
    return dict(run_s=time.perf_counter() - t1, import_s=t1 - t0, peak_mb=_peak_mb())


def _child_floor(spec: dict) -> dict:
    """One read-modify-write pass over every firm column (the memory-traffic floor of a month)."""
    import numpy as np

    from model.state import FirmState

    f = FirmState(spec["n_firms"])
    f.add_rows(spec["n_firms"])
    cols = [getattr(f, c)[: f.n] for c in ("capital", "workers", "productivity", "digital_skill", "literacy",
                                            "debt", "debt_rate", "autonomy", "competence", "relatedness",
                                            "effort", "market_reach", "logistics", "visibility", "reputation",
                                            "utilisation", "participant", "capacity", "revenue",
                                            "online_revenue", "export_revenue", "value_added", "profit",
                                            "own_profit", "support_cash", "support_month", "support_total",
                                            "support_ewm", "income_ewm")]
    for c in cols:
        c[:] = 1.0
    reps = spec.get("reps", 10)
    t0 = time.perf_counter()
    for _ in range(reps):
        for c in cols:
            c *= 1.0000001
    dt = (time.perf_counter() - t0) / reps
    return dict(run_s=dt, columns=len(cols), peak_mb=_peak_mb())


def _child_ensemble(spec: dict) -> dict:
    from experiments.runner import Task, run_tasks
    from model import load_scenario

    sc = load_scenario("baseline").with_overrides(
        {"n_firms": spec["n_firms"], "n_months": spec["n_months"], "msme_agents": False}, source="bench")
    tasks = [Task.make(sc, seed) for seed in range(1, spec["runs"] + 1)]
    # warm-up: the runner's worker server starts once per Python process (it preloads the model);
    # a batch then pays only for forking its workers. Measured separately.
    tiny = load_scenario("baseline").with_overrides({"n_firms": 100, "n_months": 1, "msme_agents": False},
                                                    source="bench warm-up")
    t0 = time.perf_counter()
    run_tasks([Task.make(tiny, s) for s in range(1, 3)], jobs=spec["jobs"], progress=False)
    t1 = time.perf_counter()
    run_tasks(tasks, jobs=spec["jobs"], progress=False)
    return dict(run_s=time.perf_counter() - t1, startup_s=t1 - t0, peak_mb=_peak_mb())


def _child_main(arg: str) -> None:
    spec = json.loads(arg)
    kind = spec["kind"]
    out = {"model": _child_model, "floor": _child_floor, "ensemble": _child_ensemble,
           "compile": _child_compile}[kind](spec)
    print("BENCH " + json.dumps(out), flush=True)


# ------------------------------------------------------------------------------------------------
# parent side
def measure(spec: dict, timeout: float = 1800, extra_env: dict | None = None) -> dict:
    """Run one measurement in a fresh Python process and return its JSON result."""
    env = dict(os.environ, **(extra_env or {}))
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    proc = subprocess.run([sys.executable, "-m", "experiments.bench", "--child", json.dumps(spec)],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"bench child failed ({spec}):\n{proc.stderr[-2000:]}")


def _row(table, measure_name, engine, n, months, res, note="", target=""):
    fm = n * months / res["run_s"] if months else None
    table.append(dict(measure=measure_name, engine=engine, n_firms=n, months=months,
                      setup_s=round(res.get("setup_s", 0.0), 3), burn_in_s=round(res.get("burn_in_s", 0.0), 3),
                      run_s=round(res["run_s"], 3),
                      wall_s=round(res.get("wall_s", res["run_s"]), 3),
                      firm_months_per_s=round(fm) if fm else "",
                      us_per_firm_month=round(1e6 / fm, 3) if fm else "",
                      peak_mb=round(res.get("peak_mb", 0.0)), target=target, note=note))
    return fm


def run_bench(cfg: dict, say=print) -> tuple[list[dict], list[str]]:
    table: list[dict] = []
    summary: list[str] = []
    speed: dict[tuple[str, int], float] = {}
    months = cfg["months"]
    # 0. compiled kernels: compiled once per installation (timed here in an empty cache), then
    #    loaded from Numba's cache by every later process, including every measurement below
    import tempfile

    with tempfile.TemporaryDirectory() as cold:
        res = measure(dict(kind="compile"), extra_env={"NUMBA_CACHE_DIR": cold})
    warm = measure(dict(kind="compile"))
    warm = measure(dict(kind="compile"))
    table.append(dict(measure="compile the kernels (first use after installing)", engine="numba",
                      run_s=round(res["run_s"], 2), wall_s=round(res["run_s"], 2),
                      note=f"once; later processes load them in {warm['run_s']:.2f} s (tiny model included)"))
    summary.append(f"compiling the Numba kernels on first use: {res['run_s']:.1f} s, once per installation; "
                   f"loading them from the cache: {warm['run_s']:.2f} s")
    # 1. engines side by side
    for n in cfg["sizes"]:
        say(f"  vectorised {n:>9,} firms x {months} months (best of {cfg['repeats']}) ...")
        res = min((measure(dict(kind="model", engine="vectorised", n_firms=n, horizon=months, months=months))
                   for _ in range(cfg["repeats"])), key=lambda r: r["run_s"])
        speed[("vectorised", n)] = _row(table, "engine speed", "vectorised", n, months, res,
                                        note=f"best of {cfg['repeats']} runs" if cfg["repeats"] > 1 else "")
        rm = cfg["ref_months"][n]
        say(f"  reference  {n:>9,} firms x {rm} months ...")
        res = measure(dict(kind="model", engine="reference", n_firms=n, horizon=months, months=rm))
        speed[("reference", n)] = _row(table, "engine speed", "reference", n, rm, res,
                                       note=f"sampled: first {rm} of {months} months" if rm < months else "")
    for n in cfg["sizes"]:
        ratio = speed[("vectorised", n)] / speed[("reference", n)]
        table.append(dict(measure="speed ratio vectorised / reference", engine="", n_firms=n, months="",
                          firm_months_per_s=round(ratio, 1), target=">= 30x at 10^5" if n == 100_000 else "",
                          note="firm-months/s ratio"))
        summary.append(f"vectorised / reference at {n:,} firms: {ratio:,.0f}x")
    # 2. long and big runs end to end
    n, t = cfg["long"]
    say(f"  vectorised {n:>9,} firms x {t} months (end to end) ...")
    res = measure(dict(kind="model", engine="vectorised", n_firms=n, horizon=t, months=t))
    _row(table, "end to end", "vectorised", n, t, res, target="< 5 s" if (n, t) == (100_000, 240) else "")
    summary.append(f"{n:,} firms x {t} months: {res['wall_s']:.1f} s wall (set-up {res['setup_s']:.1f} s, of "
                   f"which a burn-in of {res['burn_in_months']} months {res['burn_in_s']:.1f} s; the {t} months "
                   f"{res['run_s']:.1f} s), peak {res['peak_mb']:.0f} MB")
    n, t = cfg["big"]
    say(f"  vectorised {n:>9,} firms x {t} months (end to end) ...")
    res = measure(dict(kind="model", engine="vectorised", n_firms=n, horizon=t, months=t))
    fm_big = _row(table, "end to end", "vectorised", n, t, res,
                  target="< 30 s (the months; burn-in apart), < 3 GB" if (n, t) == (1_000_000, 120) else "",
                  note=f"{res['rows']:,} rows at the end ({res['alive']:,} alive); "
                       f"{res['bytes_per_firm']:.0f} bytes of state per row")
    speed[("vectorised", n)] = fm_big
    summary.append(f"{n:,} firms x {t} months: {res['wall_s']:.1f} s wall (set-up {res['setup_s']:.1f} s, of "
                   f"which a burn-in of {res['burn_in_months']} months {res['burn_in_s']:.1f} s; the {t} months "
                   f"{res['run_s']:.1f} s), peak {res['peak_mb']:.0f} MB; "
                   f"state {res['bytes_per_firm']:.0f} bytes per row")
    # cost per firm-month across sizes (10^4 .. largest)
    sizes = sorted(k[1] for k in speed if k[0] == "vectorised" and k[1] >= 10_000)
    costs = [1e6 / speed[("vectorised", s)] for s in sizes]
    spread = max(costs) / min(costs)
    table.append(dict(measure="cost per firm-month, max/min over sizes", engine="vectorised",
                      n_firms=f"{sizes[0]:,}-{sizes[-1]:,}", firm_months_per_s=round(spread, 2),
                      target="<= 1.5" if sizes[-1] >= 1_000_000 else "",
                      note="us/firm-month " + ", ".join(f"{c:.3f}" for c in costs)))
    summary.append(f"cost per firm-month from {sizes[0]:,} to {sizes[-1]:,} firms: within {spread:.2f}x")
    # 3. agent views (msme_agents=True) cost
    n = cfg["agents_cost"]
    say(f"  vectorised {n:>9,} firms with one Mesa agent per firm (12 months) ...")
    res = measure(dict(kind="model", engine="vectorised", n_firms=n, horizon=12, months=12, agents=True))
    _row(table, "msme_agents=True", "vectorised", n, 12, res, note="one Mesa agent view per firm")
    res0 = measure(dict(kind="model", engine="vectorised", n_firms=n, horizon=12, months=12))
    _row(table, "msme_agents=False", "vectorised", n, 12, res0)
    summary.append(f"one Mesa agent per firm at {n:,} firms: set-up {res['setup_s']:.2f} s vs {res0['setup_s']:.2f} s, "
                   f"run {res['run_s']:.2f} s vs {res0['run_s']:.2f} s, peak {res['peak_mb']:.0f} vs "
                   f"{res0['peak_mb']:.0f} MB")
    # 4. the floor
    n = cfg["big"][0]
    res = measure(dict(kind="floor", n_firms=n))
    fl = _row(table, "floor: one pass over the firm columns", "numpy", n, 1, res,
              note=f"{res['columns']} float columns, x *= c in place; ms per month-equivalent")
    summary.append(f"floor at {n:,} firms: {res['run_s'] * 1e3:.1f} ms per pass over {res['columns']} columns "
                   f"({fl / 1e6:.0f} M firm-months/s); the model does about "
                   f"{(fl / speed[('vectorised', n)]):.0f} such passes' worth of work a month")
    # 5. ensembles
    e = cfg["ensemble"]
    times = {}
    for jobs in (1, 2):
        say(f"  ensemble of {e['runs']} runs ({e['n_firms']:,} firms x {e['n_months']} months), {jobs} process(es) ...")
        res = measure(dict(kind="ensemble", jobs=jobs, **e))
        times[jobs] = res["run_s"]
        _row(table, f"ensemble, {jobs} process(es)", "vectorised", e["n_firms"], 0, res,
             note=f"{e['runs']} runs x {e['n_months']} months; runner start-up {res['startup_s']:.2f} s "
                  f"(once per process, not included)")
    sp = times[1] / times[2]
    table.append(dict(measure="ensemble speed-up, 2 vs 1 processes", engine="", n_firms=e["n_firms"],
                      firm_months_per_s=round(sp, 2), target=">= 1.7"))
    summary.append(f"ensemble of {e['runs']} runs: {times[1]:.1f} s with 1 process, {times[2]:.1f} s with 2 "
                   f"({sp:.2f}x)")
    return table, summary


COLUMNS = ["measure", "engine", "n_firms", "months", "setup_s", "burn_in_s", "run_s", "wall_s", "firm_months_per_s",
           "us_per_firm_month", "peak_mb", "target", "note"]


def write(table: list[dict], summary: list[str], out: Path, header: str) -> tuple[Path, Path]:
    import csv

    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "bench.csv", out / "bench.md"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        for r in table:
            w.writerow({c: r.get(c, "") for c in COLUMNS})
    lines = [header, "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in table:
        cells = []
        for c in COLUMNS:
            v = r.get(c, "")
            cells.append(f"{v:,}" if isinstance(v, int) and c in ("n_firms", "firm_months_per_s") else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *[f"- {s}" for s in summary], ""]
    md_path.write_text("\n".join(lines))
    return csv_path, md_path


def machine() -> str:
    import numpy as np

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}; "
            f"{time.strftime('%Y-%m-%d %H:%M')}; load average before the run {load} (other processes "
            f"on the machine slow every measurement, most of all the 2-process ensemble)")


def cmd_bench(args) -> int:
    cfg = dict(QUICK if args.quick else FULL)
    before = machine()  # the load average is read now, before the bench adds its own load
    print(f"bench ({'quick' if args.quick else 'full'}) on {before}")
    t0 = time.perf_counter()
    table, summary = run_bench(cfg)
    after = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    header = (f"# Benchmark ({'quick' if args.quick else 'full'})\n\n`python run.py bench{' --quick' if args.quick else ''}`"
              f" on {before}; after the run {after} (the bench itself keeps one core busy); baseline scenario, "
              f"centralised mode, one seed; {time.perf_counter() - t0:.0f} s in all.")
    csv_path, md_path = write(table, summary, Path(args.out), header)
    print(md_path.read_text())
    print(f"wrote {csv_path} and {md_path}")
    return 0


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="measure speed and memory: vectorised vs reference engine, 10^6 firms, ensembles",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    p.add_argument("--out", default="results/bench", help="folder for bench.csv and bench.md (default: results/bench)")
    p.set_defaults(func=cmd_bench)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child_main(sys.argv[2])
    else:  # pragma: no cover
        ap = argparse.ArgumentParser()
        sub = ap.add_subparsers()
        add_parser(sub)
        a = ap.parse_args(["bench", *sys.argv[1:]])
        sys.exit(a.func(a))
