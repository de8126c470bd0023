"""Commands: the default comparison (no command), ``run``, ``params`` and ``scenarios``."""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.io import check_out, out_path
from model.params import FIELD_GROUP, GROUPS, allowed_values
from model.scenario import ScenarioError, available_scenarios, load_scenario, parse_override

DEFAULT_SCENARIOS = ("baseline", "self_governance", "collaborative_platform", "clustering", "ecommerce_promotion",
                     "covid_shock", "covid_shock_collaborative", "phase_out")
DEFAULT_SEEDS = 5
DEFAULT_FIRMS = 10_000
DEFAULT_MONTHS = 96
WITHDRAWAL_MONTH = 48
FORCE_HELP = ("write into a non-empty --out folder not written by this tool: results go beside the files there, "
              "none of which is deleted or overwritten")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {v}")
    return v


def add_common(p: argparse.ArgumentParser, seeds: int, firms: int | None, months: int | None) -> None:
    p.add_argument("--seeds", type=positive_int, default=seeds, metavar="N",
                   help=f"replications (seeds 1..N) per scenario (default {seeds})")
    p.add_argument("--firms", type=positive_int, default=firms, metavar="N",
                   help="initial number of firms (default: " + (f"{firms:,}" if firms else "the scenario's") + ")")
    p.add_argument("--months", type=positive_int, default=months, metavar="N",
                   help="months to simulate (default: " + (str(months) if months else "the scenario's") + ")")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field, e.g. --set budget_per_firm_month=80000 --set mix.grants=0.1 "
                        "(repeatable; `python run.py params` lists the fields)")
    p.add_argument("--jobs", type=positive_int, default=None, metavar="N",
                   help="worker processes (default: all cores); results do not depend on it")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run one scenario over several seeds and write tables, figures and a report",
                       description="Run one scenario (a bundled name or a .toml path) over seeds 1..N. If the "
                                   "scenario withdraws support (phase_out_month > 0), the same seeds are also run "
                                   "without withdrawal for the withdrawal test.")
    p.add_argument("scenario", help=f"bundled scenario ({', '.join(available_scenarios())}) or a path to a .toml file")
    add_common(p, seeds=3, firms=None, months=None)
    p.add_argument("--out", type=out_path, default=None, metavar="DIR",
                   help="output folder (default results/<scenario>)")
    p.set_defaults(func=cmd_run)

    d = sub.add_parser("default", help="the default comparison (same as running with no command)",
                       description="All bundled policy scenarios, paired seeds, withdrawal test at month "
                                   f"{WITHDRAWAL_MONTH}; writes results/default/.")
    add_common(d, seeds=DEFAULT_SEEDS, firms=DEFAULT_FIRMS, months=DEFAULT_MONTHS)
    d.add_argument("--out", type=out_path, default=Path("results/default"), metavar="DIR", help="output folder")
    d.set_defaults(func=default_comparison)

    q = sub.add_parser("params", help="list every scenario field with its group, default and allowed values")
    q.set_defaults(func=cmd_params)
    s = sub.add_parser("scenarios", help="list the bundled scenarios")
    s.set_defaults(func=cmd_scenarios)


def overrides_from(args) -> dict:
    ov = {}
    for text in getattr(args, "set", []) or []:
        k, v = parse_override(text)
        ov[k] = v
    if getattr(args, "firms", None):
        ov["n_firms"] = args.firms
    if getattr(args, "months", None):
        ov["n_months"] = args.months
    return ov


def _validate_overrides(ov: dict) -> None:
    from model.scenario import validate_params

    bad = [k for k in ov if k not in FIELD_GROUP]
    if bad:
        validate_params(ov, "--set")  # raises with the list of unknown names


def default_comparison(args=None) -> int:
    """The default comparison on the embedded defaults (``python run.py``)."""
    from analysis.comparison import Comparison, run_comparison

    seeds = getattr(args, "seeds", None) or DEFAULT_SEEDS
    ov = {"n_firms": DEFAULT_FIRMS, "n_months": DEFAULT_MONTHS}
    ov.update(overrides_from(args) if args is not None else {})
    _validate_overrides(ov)
    scenarios = [load_scenario(name, ov) for name in DEFAULT_SCENARIOS]
    out = check_out(getattr(args, "out", None) or Path("results/default"), getattr(args, "force", False))
    comp = Comparison(scenarios, list(range(1, seeds + 1)), WITHDRAWAL_MONTH,
                      title="MSME ecosystem policy: default comparison of scenarios")
    print(f"Default comparison: {len(scenarios)} scenarios x {seeds} seeds, {ov['n_firms']:,} firms, "
          f"{ov['n_months']} months, withdrawal test at month {WITHDRAWAL_MONTH}")
    path = run_comparison(comp, out, jobs=getattr(args, "jobs", None), progress=not getattr(args, "no_progress", False))
    _print_done(path)
    return 0


def cmd_run(args) -> int:
    from analysis.comparison import Comparison, run_comparison

    ov = overrides_from(args)
    sc = load_scenario(args.scenario, ov)
    out = check_out(args.out or Path("results") / sc.name, args.force)
    comp = Comparison([sc], list(range(1, args.seeds + 1)), withdrawal_month=None, title=f"Scenario {sc.name}")
    print(f"Scenario {sc.name} ({sc.source}): {args.seeds} seeds, {sc.params['n_firms']:,} firms, "
          f"{sc.params['n_months']} months")
    path = run_comparison(comp, out, jobs=args.jobs, progress=not args.no_progress)
    _print_done(path)
    return 0


def _print_done(path: Path) -> None:
    from analysis.io import owned_entries

    ours = (owned_entries(path) or set()) | {"index.parquet"}  # not the user's files beside ours
    print(f"\nWrote {path}/:")
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.relative_to(path).parts[0] in ours:
            print(f"  {f.relative_to(path)}")
    if (path / "runs").is_dir():
        n = len(list((path / "runs").glob("*.parquet")))
        print(f"  runs/ ({n} stored runs, reused when the command is repeated)")
    print(f"Read {path / 'report.md'} first.")


def cmd_params(args) -> int:
    for group, cls in GROUPS.items():
        print(f"[{group}]")
        for name, info in cls.model_fields.items():
            default = info.default
            print(f"  {name} = {default!r}    # {allowed_values(name)}")
            print(f"      {info.description}")
        print()
    return 0


def cmd_scenarios(args) -> int:
    for name in available_scenarios():
        try:
            sc = load_scenario(name)
            print(f"{name:28s} {sc.description}")
        except ScenarioError as err:
            print(f"{name:28s} INVALID: {err}")
    return 0
