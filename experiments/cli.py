"""Commands for researchers and planners: ``compare``, ``sweep``, ``calibrate``, ``sensitivity``, ``validate``
and ``results``.

Every command runs the model through one :class:`~experiments.runner.Runner` (local processes, or a
Dask cluster with ``--scheduler``), stores each run as it finishes in the output folder's ``runs/``
and reuses stored runs, so an interrupted command completes the rest when run again.
See docs/EXPERIMENTS.md.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from analysis.cli import FORCE_HELP, firms_int, int_upto, jobs_int, months_int, positive_int, seeds_int
from analysis.io import check_out, out_path
from model.scenario import ScenarioError, parse_override

from .runner import Runner
from .spec import MAX_RUNS

_positive_int = positive_int  # one argparse type for every command
MAX_TRIALS = 100_000
VALIDATE_DEFAULTS = (20_000, 120, 10)  # firms, months, seeds of `validate` (experiments/validate.py)


def _month(text: str) -> int:
    """argparse type of --withdrawal-month: 0 (no test) or a month from 1 to 600."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month from 0 (no withdrawal test) to 600, got {text[:40]!r}") \
            from None
    if not 0 <= v <= 600:
        raise argparse.ArgumentTypeError(f"expected a month from 0 (no withdrawal test) to 600, got {v:,}")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {v}")
    return v


def _runner_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where runs execute")
    g.add_argument("--jobs", type=jobs_int, default=None, metavar="N",
                   help="local worker processes (default: all cores); results do not depend on it")
    g.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask distributed cluster (e.g. tcp://10.0.0.5:8786) instead of local processes; "
                        "workers need this project importable")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _frame_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=seeds_int, default=None, metavar="N", help="seeds 1..N (overrides the file)")
    p.add_argument("--firms", type=firms_int, default=None, metavar="N", help="initial firms (overrides the file)")
    p.add_argument("--months", type=months_int, default=None, metavar="N", help="months (overrides the file)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a parameter in every scenario (repeatable), e.g. --set capture_rate=0.3")


def _overrides(args) -> dict:
    ov = {}
    for text in args.set or []:
        k, v = parse_override(text)
        ov[k] = v
    if args.firms:
        ov["n_firms"] = args.firms
    if args.months:
        ov["n_months"] = args.months
    if ov:
        from model.params import FIELD_GROUP
        from model.scenario import validate_params

        unknown = {k: v for k, v in ov.items() if k not in FIELD_GROUP}
        if unknown:
            validate_params(unknown, "--set")
    return ov


def _runner(args, out: Path) -> Runner:
    return Runner(jobs=args.jobs, scheduler=args.scheduler, store=out, progress=not args.no_progress)


def add_parameter_uncertainty(p: argparse.ArgumentParser) -> None:
    """--parameter-uncertainty and --draws (compare and the default comparison)."""
    g = p.add_argument_group("parameter uncertainty (docs/EXPERIMENTS.md)")
    g.add_argument("--parameter-uncertainty", type=Path, default=None, metavar="FILE_OR_CALIBRATION_DIR",
                   help="a calibration's accepted.csv (or its output folder): seed s runs with accepted vector "
                        "s mod DRAWS in every scenario, and the report splits each difference's uncertainty into "
                        "seed noise and calibration")
    g.add_argument("--draws", type=_positive_int, default=None, metavar="N",
                   help="accepted vectors to use (default: all, at most half the seeds)")


def parameter_sets(args, scenarios, user_set: dict, n_seeds: int):
    """The accepted vectors of --parameter-uncertainty, checked against the comparison (None without it)."""
    if getattr(args, "parameter_uncertainty", None) is None:
        if getattr(args, "draws", None) is not None:
            raise ScenarioError("--draws needs --parameter-uncertainty FILE_OR_CALIBRATION_DIR (the accepted set "
                                "to draw from)")
        return None
    from .paramunc import check_scenarios, load_parameter_sets

    ps = load_parameter_sets(args.parameter_uncertainty, args.draws, n_seeds)
    check_scenarios(ps, scenarios, user_set)
    per = n_seeds / ps.draws
    print(f"Parameter uncertainty: {ps.draws} of {len(ps.vectors)} accepted vectors ({', '.join(ps.names)}) from "
          f"{ps.source}; seed s runs with draw s mod {ps.draws} in every scenario ({per:.3g} seeds per draw)")
    if per < 2:
        print("note: fewer than two seeds per draw: seed noise and calibration cannot be told apart; give more "
              "--seeds or fewer --draws")
    return ps


def add_parser(sub) -> None:
    c = sub.add_parser(
        "compare", help="paired comparison of scenarios from an experiment file (or scenario files)",
        description="Run an experiment file (a TOML file with an [experiment] section, see "
                    "experiments/examples/five_scenarios.toml) or compare scenario files/names directly "
                    "(the first is the baseline). Writes tables, figures and report.md/report.html with 95 %% "
                    "intervals, paired differences against the baseline, effect sizes and the seeds needed.")
    c.add_argument("files", nargs="+", metavar="FILE",
                   help="an experiment .toml, or two or more scenario .toml files / bundled scenario names")
    _frame_options(c)
    c.add_argument("--baseline", default=None, metavar="LABEL", help="scenario the others are compared with")
    c.add_argument("--withdrawal-month", type=_month, default=None, metavar="M",
                   help="withdrawal-test month (default: the file's, else 48 or half a shorter horizon; 0 = none)")
    c.add_argument("--until-precision", nargs="?", type=_positive_float, const=-1.0, default=None,
                   metavar="TARGET", help="add seeds until the [precision] outcomes reach this relative CI "
                                          "half-width (default: the file's target, else 0.25) or --max-seeds")
    c.add_argument("--max-seeds", type=seeds_int, default=None, metavar="N", help="cap for --until-precision")
    c.add_argument("--precision-metrics", default=None, metavar="A,B",
                   help="outcomes for --until-precision (default: the file's [precision] metrics)")
    c.add_argument("--out", type=out_path, default=None, metavar="DIR", help="output folder (default results/<name>)")
    c.add_argument("--force", action="store_true", help=FORCE_HELP)
    add_parameter_uncertainty(c)
    _runner_options(c)
    c.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "sweep", help="Optuna policy sweep: tune levers against several objectives (Pareto front)",
        description="Tune levers (budget, instrument mix, targeting, phase-out, clusters, marketplaces, governance) "
                    "against objectives with constraints; see experiments/examples/sweep.toml. The study is kept "
                    "in <out>/study.db (SQLite) unless --storage is given; --resume continues an interrupted sweep "
                    "or joins one that other processes or machines work on.")
    s.add_argument("file", help="sweep .toml file")
    s.add_argument("--trials", type=int_upto(MAX_TRIALS), default=None, metavar="N",
                   help="complete trials (overrides file)")
    s.add_argument("--seeds", type=seeds_int, default=None, metavar="N", help="seeds per trial (overrides file)")
    s.add_argument("--firms", type=firms_int, default=None, metavar="N", help="initial firms (overrides file)")
    s.add_argument("--months", type=months_int, default=None, metavar="N", help="months (overrides file)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed parameter override")
    s.add_argument("--storage", default=None, metavar="URL_OR_FILE",
                   help="Optuna storage: an RDB URL (sqlite:///path.db, postgresql://...) or a JournalStorage "
                        "file path (e.g. /shared/sweep.journal) that several processes or machines share")
    s.add_argument("--resume", action="store_true", help="continue (or join) the stored study")
    s.add_argument("--fresh", action="store_true", help="delete the stored study of this name and start over")
    s.add_argument("--stale-after", type=_positive_float, default=None, metavar="SECONDS",
                   help="with --resume: also retry trials of other machines running longer than this")
    s.add_argument("--out", type=out_path, default=None, metavar="DIR",
                   help="output folder (default results/sweeps/<name>)")
    s.add_argument("--force", action="store_true", help=FORCE_HELP)
    _runner_options(s)
    s.set_defaults(func=cmd_sweep)

    k = sub.add_parser(
        "calibrate", help="fit free parameters to published figures (method of simulated moments, Optuna)",
        description="Fit the free parameters of a calibration file to the data pack's calibration targets; see "
                    "experiments/examples/calibration.toml and docs/CALIBRATION.md. Writes fitted.toml (a scenario), "
                    "targets.csv, trials.csv, accepted.csv, figures/ and report.md.")
    k.add_argument("file", help="calibration .toml file")
    k.add_argument("--trials", type=int_upto(MAX_TRIALS), default=None, metavar="N", help="complete candidates "
                   "(overrides file)")
    k.add_argument("--seeds", type=seeds_int, default=None, metavar="N", help="seeds per candidate (overrides file)")
    k.add_argument("--firms", type=firms_int, default=None, metavar="N", help="initial firms (overrides file)")
    k.add_argument("--months", type=months_int, default=None, metavar="N", help="months (overrides file)")
    k.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed parameter override")
    k.add_argument("--storage", default=None, metavar="URL_OR_FILE",
                   help="Optuna storage (as for sweep): RDB URL or JournalStorage file; default <out>/study.db")
    k.add_argument("--resume", action="store_true", help="continue (or join) the stored study")
    k.add_argument("--fresh", action="store_true", help="delete the stored study of this name and start over")
    k.add_argument("--out", type=out_path, default=None, metavar="DIR",
                   help="output folder (default results/calibration/<name>)")
    k.add_argument("--force", action="store_true", help=FORCE_HELP)
    _runner_options(k)
    k.set_defaults(func=cmd_calibrate)

    e = sub.add_parser(
        "sensitivity", help="Morris screening and Sobol indices (SALib) of outcomes over parameters",
        description="Sensitivity of chosen outcomes to chosen levers and uncertainties; see "
                    "experiments/examples/sensitivity.toml.")
    e.add_argument("file", help="sensitivity .toml file")
    e.add_argument("--seeds", type=seeds_int, default=None, metavar="N", help="seeds per sample (overrides file)")
    e.add_argument("--firms", type=firms_int, default=None, metavar="N", help="initial firms (overrides file)")
    e.add_argument("--months", type=months_int, default=None, metavar="N", help="months (overrides file)")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed parameter override")
    e.add_argument("--out", type=out_path, default=None, metavar="DIR",
                   help="output folder (default results/sensitivity/<name>)")
    e.add_argument("--force", action="store_true", help=FORCE_HELP)
    _runner_options(e)
    e.set_defaults(func=cmd_sensitivity)

    v = sub.add_parser(
        "validate", help="regenerate docs/VALIDATION.md: calibration targets, patterns not fitted, face validity",
        description="Run the baseline and the face-validity scenarios over paired seeds and write the validation "
                    "report: (a) each calibration target of the data pack against the simulated value with its "
                    "tolerance, (b) patterns of firm dynamics the model was not fitted to against the literature, "
                    "(c) the source documents' qualitative claims tested by paired experiments. Without --out it "
                    "writes docs/VALIDATION.md and docs/img/validation_*.png (runs stored in results/validation/); "
                    "with --out, VALIDATION.md and img/ go into that folder. See docs/CALIBRATION.md, 'Validation'.")
    v.add_argument("--seeds", type=seeds_int, default=None, metavar="N",
                   help=f"seeds 1..N (default {VALIDATE_DEFAULTS[2]})")
    v.add_argument("--firms", type=firms_int, default=None, metavar="N",
                   help=f"initial firms (default {VALIDATE_DEFAULTS[0]:,})")
    v.add_argument("--months", type=months_int, default=None, metavar="N",
                   help=f"months, at least 24 (default {VALIDATE_DEFAULTS[1]})")
    v.add_argument("--out", type=out_path, default=None, metavar="DIR",
                   help="write VALIDATION.md and img/ here instead of docs/ (runs in DIR/runs/)")
    v.add_argument("--force", action="store_true", help=FORCE_HELP)
    _runner_options(v)
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("results", help="summarise or query the stored runs of an output folder",
                       description="List the runs stored in an output folder (one row per run with scenario, seed, "
                                   "parameters hash, model code, timings), or run a DuckDB SQL query over them "
                                   "(views: runs, runs_index).")
    r.add_argument("folder", type=Path, help="an output folder with a runs/ subfolder")
    r.add_argument("--sql", default=None, metavar="QUERY", help="DuckDB query (optional dependency)")
    r.set_defaults(func=cmd_results)

    d = sub.add_parser(
        "discover", help="scenario discovery: PRIM and CART boxes of levers over sweep or sensitivity results",
        description="Which combinations of levers give the outcomes asked for (e.g. growth above X with dependence "
                    "below Y), and how robust is that box: PRIM and CART from the EMA Workbench (optional extra: "
                    "pip install -e \".[ema]\") over a sweep or sensitivity output folder. Thresholds are in the "
                    "raw units of the CSV files (shares as fractions 0-1).")
    d.add_argument("folder", type=Path, help="a sweep or sensitivity output folder")
    d.add_argument("--outcome", required=True, metavar="NAME", help="outcome of the first condition")
    d.add_argument("--threshold", required=True, type=float, metavar="VALUE", help="its threshold")
    d.add_argument("--below", action="store_true", help="cases of interest are below the threshold (default above)")
    d.add_argument("--outcome2", default=None, metavar="NAME", help="outcome of a second condition (both must hold)")
    d.add_argument("--threshold2", default=None, type=float, metavar="VALUE", help="its threshold")
    d.add_argument("--below2", action="store_true", help="the second outcome must be below its threshold")
    d.add_argument("--out", type=out_path, default=None, metavar="DIR", help="output folder (default FOLDER/discover)")
    d.add_argument("--force", action="store_true", help=FORCE_HELP)
    d.set_defaults(func=cmd_discover)


def cmd_discover(args) -> int:
    from .discover import Condition, cases_of_interest, import_ema, load_cases, run_discover

    import_ema()  # a missing extra: one clear error before anything else
    conds = [Condition(args.outcome, args.threshold, args.below)]
    if (args.outcome2 is None) != (args.threshold2 is None):
        raise ScenarioError("--outcome2 and --threshold2 go together: give both or neither")
    if args.outcome2 is not None:
        conds.append(Condition(args.outcome2, args.threshold2, args.below2))
    cases_of_interest(load_cases(args.folder)[1], conds)  # bad folder, outcome or threshold: before any output
    out = check_out(args.out or Path(args.folder) / "discover", args.force)
    path = run_discover(args.folder, conds, out)
    print(f"Wrote {path}/: report.md, report.html, box.csv, peeling_trajectory.csv, resampling.csv, figures/")
    return 0


def cmd_compare(args) -> int:
    from .compare import is_experiment_file, load_experiment, quick_experiment, run_experiment

    ov = _overrides(args)
    if len(args.files) == 1 and is_experiment_file(args.files[0]):
        exp = load_experiment(args.files[0], {"seeds": args.seeds, "set": ov, "baseline": args.baseline,
                                              "withdrawal_month": args.withdrawal_month})
    else:
        if len(args.files) < 2:
            raise ScenarioError(f"{args.files[0]}: not an experiment file (no [experiment] section); give an "
                                "experiment .toml, or two or more scenarios to compare")
        exp = quick_experiment(args.files, args.seeds or 5, ov, args.withdrawal_month, args.baseline)
    if args.until_precision is not None:
        if args.until_precision > 0:
            exp.precision.target = args.until_precision
        if args.max_seeds:
            exp.precision.max_seeds = args.max_seeds
        if args.precision_metrics:
            from analysis.metrics import OUTCOMES

            ms = [m.strip() for m in args.precision_metrics.split(",") if m.strip()]
            bad = [m for m in ms if m not in OUTCOMES]
            if bad:
                raise ScenarioError(f"--precision-metrics: unknown outcome(s) {', '.join(bad)}; allowed: "
                                    + ", ".join(OUTCOMES))
            exp.precision.metrics = ms
    exp.param_sets = parameter_sets(args, exp.scenarios, ov, len(exp.seeds))
    n_seeds = max(len(exp.seeds), exp.precision.max_seeds if args.until_precision is not None else 0)
    n_runs = len(exp.scenarios) * 2 * n_seeds  # at most: each scenario with its withdrawal-test twin
    if n_runs > MAX_RUNS:
        raise ScenarioError(f"{len(exp.scenarios)} scenarios x {n_seeds:,} seeds (x 2 for the withdrawal test) "
                            f"= {n_runs:,} model runs; at most {MAX_RUNS:,} in one command: use fewer seeds")
    out = check_out(args.out or Path("results") / exp.name, args.force)
    p0 = exp.scenarios[0].params
    print(f"Experiment {exp.name}: {len(exp.scenarios)} scenarios x {len(exp.seeds)} seeds, {p0['n_firms']:,} firms, "
          f"{p0['n_months']} months, baseline {exp.baseline}"
          + (f", withdrawal test at month {exp.withdrawal_month}" if exp.withdrawal_month else "")
          + (f"; adding seeds until precision {exp.precision.target:g} (cap {exp.precision.max_seeds})"
             if args.until_precision is not None else ""))
    for note in exp.notes:
        print(f"note: {note}")
    t0 = time.perf_counter()
    with _runner(args, out) as runner:
        path = run_experiment(exp, out, runner, until_precision=args.until_precision is not None)
    print(f"Done in {time.perf_counter() - t0:.0f} s. Wrote {path}/: report.md, report.html, summary.csv, "
          "differences.csv, outcomes.csv, timeseries.parquet, figures/, runs/ (one file per run), index.parquet")
    return 0


def cmd_sweep(args) -> int:
    from .sweep import load_sweep, run_sweep, storage_url
    from .sweep_report import sweep_meta, write_sweep_outputs

    ov = _overrides(args)
    sp = load_sweep(args.file, {"trials": args.trials, "seeds": args.seeds, "set": ov})
    if args.resume and args.fresh:
        raise ScenarioError("--resume and --fresh contradict each other: choose one")
    out = check_out(args.out or Path("results/sweeps") / sp.name, args.force)
    print(f"Sweep {sp.name}: {len(sp.levers)} levers, objectives {', '.join(sp.objectives)}, {sp.trials} trials x "
          f"{len(sp.seeds)} seeds, {sp.base.params['n_firms']:,} firms, {sp.base.params['n_months']} months")
    t0 = time.perf_counter()
    args.resume_hint = "to continue the sweep run: " + _resume_command(args, out)  # run.py's Ctrl-C message
    # the sweep shows one bar (trials done / total, time left); the runs of each batch run without their own
    with Runner(jobs=args.jobs, scheduler=args.scheduler, store=out, progress=False) as runner:
        study = run_sweep(sp, out, runner, args.storage, args.resume, args.fresh, args.stale_after,
                          progress=not args.no_progress)
        meta = sweep_meta(sp, storage_url(args.storage, out), time.perf_counter() - t0, runner)
    path = write_sweep_outputs(study, sp, out, meta)
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        reasons = sorted({t.user_attrs.get("fail_reason", "") for t in study.get_trials(
            deepcopy=False, states=(TrialState.FAIL,)) if t.user_attrs.get("evaluated")} - {""})
        raise ScenarioError(f"{args.file}: no trial completed" + (f"; every trial failed: {'; '.join(reasons)}"
                                                                   if reasons else "")
                            + f". Each trial and its reason are in {path / 'trials.csv'}; change the objectives, "
                              "levers or horizon")
    print(f"Done in {time.perf_counter() - t0:.0f} s. Wrote {path}/: report.md, report.html, trials.csv, pareto.csv, "
          "importance.csv, figures/pareto.png, figures/importance.png, runs/")
    return 0


def _resume_command(args, out: Path, command: str = "sweep") -> str:
    """The command that continues an interrupted sweep or calibration (``--resume``, never ``--fresh``):
    the same file, output folder and options that were given."""
    import shlex

    cmd = ["python", "run.py", command, str(args.file), "--out", str(out)]
    for flag in ("--storage", "--trials", "--seeds", "--firms", "--months", "--jobs", "--scheduler", "--stale-after"):
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            cmd += [flag, str(value)]
    for text in args.set or []:
        cmd += ["--set", text]
    if args.no_progress:
        cmd.append("--no-progress")
    return shlex.join([*cmd, "--resume"])


def cmd_calibrate(args) -> int:
    from .calibrate import execute_moments, load_calibration, run_calibration, write_outputs

    ov = _overrides(args)
    cs = load_calibration(args.file, {"trials": args.trials, "seeds": args.seeds, "set": ov})
    if args.resume and args.fresh:
        raise ScenarioError("--resume and --fresh contradict each other: choose one")
    out = check_out(args.out or Path("results/calibration") / cs.name, args.force)
    print(f"Calibration {cs.name}: {len(cs.parameters)} free parameters, {len(cs.targets)} targets, {cs.trials} "
          f"candidates x {len(cs.seeds)} seeds, {cs.base.params['n_firms']:,} firms, {cs.base.params['n_months']} "
          "months")
    resume = _resume_command(args, out, "calibrate")
    args.resume_hint = "to continue the calibration run: " + resume
    t0 = time.perf_counter()
    with Runner(jobs=args.jobs, scheduler=args.scheduler, store=out, progress=False,
                execute=execute_moments) as runner:
        study = run_calibration(cs, out, runner, args.storage, args.resume, args.fresh,
                                progress=not args.no_progress)
        meta = {"seconds": time.perf_counter() - t0, "backend": runner.backend, "resume": resume}
    path = write_outputs(study, cs, out, meta)
    if not (path / "trials.csv").exists():
        raise ScenarioError(f"{args.file}: no candidate completed (see {path / 'report.md'})")
    print(f"Done in {time.perf_counter() - t0:.0f} s. Wrote {path}/: report.md, fitted.toml, targets.csv, "
          "trials.csv, accepted.csv, figures/convergence.png, figures/identification.png, figures/tradeoff.png, "
          "runs/, study.db")
    return 0


def cmd_sensitivity(args) -> int:
    from .sensitivity import load_sensitivity, run_sensitivity

    ov = _overrides(args)
    sp = load_sensitivity(args.file, {"seeds": args.seeds, "set": ov})
    out = check_out(args.out or Path("results/sensitivity") / sp.name, args.force)
    print(f"Sensitivity {sp.name}: {', '.join(sp.methods)} over {len(sp.parameters)} parameters, outcomes "
          f"{', '.join(sp.outcomes)}; {sp.base.params['n_firms']:,} firms, {sp.base.params['n_months']} months")
    t0 = time.perf_counter()
    with _runner(args, out) as runner:
        path = run_sensitivity(sp, out, runner)
    print(f"Done in {time.perf_counter() - t0:.0f} s. Wrote {path}/: report.md, report.html, morris.csv, sobol.csv, "
          "samples_*.csv, figures/")
    return 0


def cmd_validate(args) -> int:
    import shutil

    from analysis.io import output_error, publish, staging_dir

    from .datapack import ROOT
    from .validate import IMG, REPORT, command_line, execute_validation, make_plan, run_validation

    firms, months, seeds = (args.firms or VALIDATE_DEFAULTS[0], args.months or VALIDATE_DEFAULTS[1],
                            args.seeds or VALIDATE_DEFAULTS[2])
    plan = make_plan(firms, months, seeds)
    if args.out is None:  # docs/: the report and figures are written aside first, then moved in together
        import tempfile

        store = check_out(Path("results/validation"), args.force)
        out = ROOT / "docs"
        try:
            aside = Path(tempfile.mkdtemp(prefix=".validation.", dir=out))
        except OSError as err:
            raise output_error(err, out) from None
        stage = None
        report, img = aside / REPORT, aside / IMG
    else:
        aside = None
        store = out = check_out(args.out, args.force)
        stage = staging_dir(out)
        report, img = stage / REPORT, stage / IMG
    command = command_line(args)
    print(f"Validation: baseline and {len(plan.scenarios) - 1} scenario variants x {seeds} seeds, {firms:,} firms, "
          f"{months} months; report {out / REPORT}")
    t0 = time.perf_counter()
    try:
        with Runner(jobs=args.jobs, scheduler=args.scheduler, store=store, progress=not args.no_progress,
                    execute=execute_validation) as runner:
            run_validation(plan, runner, report, img, command)
        if stage is not None:
            publish(stage, out)
        else:
            for f in sorted(img.iterdir()):
                os.replace(f, out / "img" / f.name)
            os.replace(report, out / REPORT)
    except BaseException as err:
        for d in (stage, aside):
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)
        if isinstance(err, OSError):
            raise output_error(err, out) from None
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    print(f"Done in {time.perf_counter() - t0:.0f} s. Wrote {out / REPORT} and {out / 'img'}/validation_*.png "
          f"(runs in {store / 'runs'})")
    return 0


def cmd_results(args) -> int:
    from .store import open_results

    try:
        res = open_results(args.folder)
    except FileNotFoundError as err:
        raise ScenarioError(str(err)) from None
    if args.sql:
        try:
            print(res.sql(args.sql).to_string())
        except RuntimeError as err:
            raise ScenarioError(str(err)) from None
        return 0
    idx = res.index()
    if idx.empty:
        print("no stored runs")
        return 0
    cols = ["labels", "seed", "params_hash", "model_code", "current_code", "seconds", "finished"]
    print(idx[cols].to_string(index=False, max_rows=60))
    print(f"\n{len(idx)} runs, {int(idx['current_code'].sum())} of the current model code; "
          f"total run time {idx['seconds'].sum():.0f} s")
    return 0
