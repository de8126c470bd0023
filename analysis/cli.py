"""Commands: the default comparison (no command), ``run``, ``params`` and ``scenarios``."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from analysis.io import check_out, out_path
from experiments.spec import MAX_SEEDS
from model.params import FIELD_GROUP, GROUPS, allowed_values, field_info
from model.scenario import ScenarioError, available_scenarios, load_scenario, parse_override

DEFAULT_SCENARIOS = ("baseline", "self_governance", "collaborative_platform", "clustering", "ecommerce_promotion",
                     "covid_shock", "covid_shock_collaborative", "phase_out", "concentrated_grants")
DEFAULT_SEEDS = 5
DEFAULT_FIRMS = 10_000
DEFAULT_MONTHS = 96
WITHDRAWAL_MONTH = 48
FORCE_HELP = ("write into a non-empty --out folder not written by this tool: results go beside the files there, "
              "none of which is deleted or overwritten")


def positive_int(text: str, hi: int | None = None) -> int:
    """argparse type: an integer >= 1 (and <= ``hi``)."""
    what = "a whole number >= 1" if hi is None else f"a whole number from 1 to {hi:,}"
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text[:40]!r}") from None
    if v < 1 or (hi is not None and v > hi):
        raise argparse.ArgumentTypeError(f"expected {what}, got {v:,}")
    return v


def int_upto(hi: int):
    """argparse type: an integer from 1 to ``hi``, checked before any work starts (a count asked for by
    mistake, such as --seeds 1000000000, would otherwise fill the memory)."""
    def parse(text: str) -> int:
        return positive_int(text, hi)
    parse.__name__ = "positive_int"
    return parse


def _field_max(name: str) -> int:
    return int(next(m.le for m in field_info(name).metadata if getattr(m, "le", None) is not None))


MAX_JOBS = 1024
seeds_int = int_upto(MAX_SEEDS)
firms_int = int_upto(_field_max("n_firms"))    # the same limits as in scenario files
months_int = int_upto(_field_max("n_months"))
jobs_int = int_upto(MAX_JOBS)


def add_common(p: argparse.ArgumentParser, seeds: int, firms: int | None, months: int | None) -> None:
    p.add_argument("--seeds", type=seeds_int, default=seeds, metavar="N",
                   help=f"replications (seeds 1..N) per scenario (default {seeds})")
    p.add_argument("--firms", type=firms_int, default=firms, metavar="N",
                   help="initial number of firms (default: " + (f"{firms:,}" if firms else "the scenario's") + ")")
    p.add_argument("--months", type=months_int, default=months, metavar="N",
                   help="months to simulate (default: " + (str(months) if months else "the scenario's") + ")")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any scenario field, e.g. --set budget_per_firm_month=80000 --set mix.grants=0.1 "
                        "(repeatable; `python run.py params` lists the fields)")
    p.add_argument("--jobs", type=jobs_int, default=None, metavar="N",
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
                                   f"{WITHDRAWAL_MONTH} (half the horizon when --months is below "
                                   f"{2 * WITHDRAWAL_MONTH}); writes results/default/.")
    add_common(d, seeds=DEFAULT_SEEDS, firms=DEFAULT_FIRMS, months=DEFAULT_MONTHS)
    d.add_argument("--out", type=out_path, default=Path("results/default"), metavar="DIR", help="output folder")
    from experiments.cli import add_parameter_uncertainty

    add_parameter_uncertainty(d)
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


def _fit_to_horizon(name: str, user: dict, n_months: int, withdrawal: int | None) -> tuple[dict, list[str]]:
    """Months of a bundled scenario that fall beyond a shorter horizon, moved into it (the default
    comparison's scenarios are defaults, not the user's choice); a user's own --set is never moved."""
    p = load_scenario(name).params
    fit, notes = {}, []
    own = p["phase_out_month"]
    if "phase_out_month" not in user and own > 0 and own >= n_months:
        fit["phase_out_month"] = withdrawal or 0
        notes.append(f"{name}: programmes end at month {withdrawal} (the withdrawal-test month) instead of month "
                     f"{own}, which is not within the {n_months}-month horizon." if withdrawal else
                     f"{name}: programmes never end (a {n_months}-month horizon has no room for its phase-out at "
                     f"month {own}), so it runs like the baseline.")
    shock = p["shock_month"]
    if "shock_month" not in user and p["shock_enabled"] and shock > n_months:
        fit["shock_month"] = max(1, round(shock * n_months / p["n_months"]))
        notes.append(f"{name}: the shock starts at month {fit['shock_month']} (about the same share of the horizon) "
                     f"instead of month {shock}, which is not within the {n_months}-month horizon.")
    return fit, notes


def default_comparison(args=None) -> int:
    """The default comparison on the embedded defaults (``python run.py``)."""
    from analysis.comparison import Comparison, default_withdrawal_month, run_comparison

    seeds = getattr(args, "seeds", None) or DEFAULT_SEEDS
    user = overrides_from(args) if args is not None else {}
    ov = {"n_firms": DEFAULT_FIRMS, "n_months": DEFAULT_MONTHS}
    ov.update(user)
    _validate_overrides(ov)
    n_months = ov["n_months"]
    wm = default_withdrawal_month(n_months)
    notes = [] if wm == WITHDRAWAL_MONTH else [
        f"Withdrawal test at month {wm}, half the {n_months}-month horizon (month {WITHDRAWAL_MONTH} is used "
        f"for horizons of {2 * WITHDRAWAL_MONTH} months or more)." if wm else
        f"No withdrawal test: the horizon of {n_months} month is too short for one."]
    scenarios = []
    for name in DEFAULT_SCENARIOS:
        fit, said = _fit_to_horizon(name, user, n_months, wm)
        scenarios.append(load_scenario(name, {**ov, **fit}))
        notes += said
    from experiments.cli import parameter_sets

    ps = parameter_sets(args, scenarios, user, seeds) if args is not None else None
    out = check_out(getattr(args, "out", None) or Path("results/default"), getattr(args, "force", False))
    comp = Comparison(scenarios, list(range(1, seeds + 1)), wm,
                      title="MSME ecosystem policy: default comparison of scenarios", notes=notes, param_sets=ps)
    print(f"Default comparison: {len(scenarios)} scenarios x {seeds} seeds, {ov['n_firms']:,} firms, "
          f"{n_months} months, " + (f"withdrawal test at month {wm}" if wm else "no withdrawal test"))
    for note in notes:
        print(f"note: {note}")
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


def toml_literal(value) -> str:
    """A parameter value as a TOML literal (``true``, ``0.5``, ``"platform"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the plain strings parameters take
    return repr(value)


def params_toml() -> str:
    """Every scenario field with its default, as a scenario file (valid TOML: the descriptions and
    allowed values are comments), so ``python run.py params > mine.toml`` is a file to edit."""
    lines = ["# Every scenario field with its default (python run.py params). Save it as a .toml file,",
             "# keep the fields you change, and run it: python run.py run mine.toml", ""]
    for group, cls in GROUPS.items():
        lines.append(f"[{group}]")
        for name, info in cls.model_fields.items():
            lines += [f"# {line}" for line in textwrap.wrap(info.description or "", 96)]
            lines.append(f"{name} = {toml_literal(info.default)}    # {allowed_values(name)}")
        lines.append("")
    return "\n".join(lines)


def cmd_params(args) -> int:
    print(params_toml())
    return 0


def cmd_scenarios(args) -> int:
    for name in available_scenarios():
        try:
            sc = load_scenario(name)
            print(f"{name:28s} {sc.description}")
        except ScenarioError as err:
            print(f"{name:28s} INVALID: {err}")
    return 0
