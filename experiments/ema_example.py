#!/usr/bin/env python
"""EMA Workbench example: the model as an EMA ``ReplicatorModel`` whose levers, uncertainties and
constants are declared from the scenario schema (``model/params.py``), run over sampled scenarios
and policies with replications (seeds), then a quick look at the results.

    pip install -e ".[ema]"                 # ema_workbench is an optional extra
    python experiments/ema_example.py       # 16 scenarios x 3 policies (one per governance mode) x 2 replications
    python experiments/ema_example.py --scenarios 64 --policies 2 --replications 5 --firms 5000 --processes

The schema already sorts every input into levers / uncertainties / constants (the EMA convention), so
``ema_parameters`` turns any subset of field names into EMA parameters with the schema's type, range
and choices (a narrower range can be given). Outcomes are the run-level outcomes of
``analysis.metrics``; with replications, EMA keeps one value per seed and ``ScalarOutcome``'s
function (the mean here) reduces them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from model.params import FIELD_GROUP, field_info  # noqa: E402

LEVERS = {  # name -> optional narrower range (None: the schema's range or choices)
    "governance_mode": None,
    "budget_per_firm_month": (20_000.0, 120_000.0),
    "targeting": None,
    "mix_grants": (0.0, 1.0),
    "mix_hr_training": (0.0, 1.0),
    "cluster_programme": None,
}
UNCERTAINTIES = {
    "dependence_elasticity": (0.5, 2.5),
    "capture_rate": (0.0, 0.4),
    "demand_growth_per_year": (0.0, 0.08),
    "online_demand_share": (0.05, 0.3),
}
OUTCOMES = ("value_added_growth", "recipient_support_share_income", "survival_rate", "budget_spent_bn")


def _import_ema():
    try:
        import ema_workbench
    except ImportError:
        sys.exit("This example needs the EMA Workbench, an optional extra:\n"
                 "    pip install -e \".[ema]\"      (or: pip install ema_workbench)\n"
                 "Everything else in the project works without it.")
    return ema_workbench


def ema_parameters(fields: dict[str, tuple | None]):
    """EMA parameters for schema fields: RealParameter, IntegerParameter, BooleanParameter or
    CategoricalParameter, with the schema's bounds unless a narrower (low, high) is given."""
    ema = _import_ema()
    out = []
    for name, rng in fields.items():
        if name not in FIELD_GROUP:
            raise KeyError(f"{name}: not a model parameter (see `python run.py params`)")
        info = field_info(name)
        ann = info.annotation
        if ann is bool:
            out.append(ema.BooleanParameter(name))
            continue
        choices = getattr(ann, "__args__", None)
        if choices:
            out.append(ema.CategoricalParameter(name, list(choices)))
            continue
        lo = hi = None
        for m in info.metadata:
            lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
            hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
        lo, hi = rng if rng is not None else (lo, hi)
        cls = ema.IntegerParameter if ann is int else ema.RealParameter
        out.append(cls(name, int(lo) if ann is int else float(lo), int(hi) if ann is int else float(hi)))
    return out


def run_msme(seed: int = 1, scenario: str = "baseline", **params) -> dict[str, float]:
    """One model run (the EMA model function): a bundled scenario with parameters set, one seed."""
    from analysis.metrics import run_outcomes, wide
    from experiments.runner import Task, execute
    from model import load_scenario

    clean = {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}
    sc = load_scenario(scenario, clean)
    tidy = execute(Task.make(sc, int(seed)))
    w = wide(tidy)
    out = run_outcomes(w, float(w["firms_alive"].iloc[0]))
    return {k: float(out[k]) for k in OUTCOMES}


def build_model(replications: int, firms: int, months: int):
    ema = _import_ema()
    model = ema.ReplicatorModel("msme", function=run_msme)
    model.replications = [{"seed": s} for s in range(1, replications + 1)]  # explicit seeds, kept in results
    model.levers = ema_parameters(LEVERS)
    model.uncertainties = ema_parameters(UNCERTAINTIES)
    model.constants = [ema.Constant("n_firms", firms), ema.Constant("n_months", months),
                       ema.Constant("scenario", "baseline")]
    model.outcomes = [ema.ScalarOutcome(name, function=np.mean) for name in OUTCOMES]
    return model


def mode_policies(per_mode: int, seed: int = 1):
    """``per_mode`` policies for each governance mode (so the modes are compared on an equal footing,
    which sampling the categorical lever with a few policies does not promise), the other levers drawn
    uniformly from their ranges (a fixed seed: the same policies every time)."""
    ema = _import_ema()
    rng = np.random.default_rng(seed)
    modes = next(p for p in ema_parameters({"governance_mode": None})).categories
    out = []
    for mode in modes:
        for i in range(per_mode):
            values = {"governance_mode": mode.value}
            for par in ema_parameters({k: v for k, v in LEVERS.items() if k != "governance_mode"}):
                if isinstance(par, ema.BooleanParameter):
                    values[par.name] = bool(rng.integers(2))
                elif isinstance(par, ema.CategoricalParameter):
                    cats = [c.value for c in par.categories]
                    values[par.name] = cats[int(rng.integers(len(cats)))]
                elif isinstance(par, ema.IntegerParameter):
                    values[par.name] = int(rng.integers(par.lower_bound, par.upper_bound + 1))
                else:
                    values[par.name] = float(rng.uniform(par.lower_bound, par.upper_bound))
            out.append(ema.Policy(f"{mode.value}-{i + 1}", **values))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenarios", type=int, default=16, help="sampled states of the world (uncertainties)")
    ap.add_argument("--policies", type=int, default=1, help="policies per governance mode (the other levers drawn)")
    ap.add_argument("--replications", type=int, default=2, help="seeds per experiment")
    ap.add_argument("--firms", type=int, default=800)
    ap.add_argument("--months", type=int, default=36)
    ap.add_argument("--processes", action="store_true", help="EMA's MultiprocessingEvaluator (all cores)")
    ap.add_argument("--out", type=Path, default=Path("results/ema_example"))
    args = ap.parse_args(argv)
    ema = _import_ema()
    model = build_model(args.replications, args.firms, args.months)
    evaluator = ema.MultiprocessingEvaluator(model) if args.processes else ema.SequentialEvaluator(model)
    with evaluator:
        experiments, outcomes = evaluator.perform_experiments(scenarios=args.scenarios,
                                                              policies=mode_policies(args.policies))
    df = experiments.copy()
    for k, v in outcomes.items():
        df[k] = np.asarray(v).reshape(len(df), -1).mean(axis=1)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "experiments.csv", index=False)
    print(f"{len(df)} experiments x {args.replications} replications -> {args.out / 'experiments.csv'}")
    print("\nMean outcomes by governance mode:")
    print(df.groupby("governance_mode")[list(OUTCOMES)].mean().to_string(float_format=lambda x: f"{x:.4g}"))
    # which inputs move each outcome most: EMA's feature scoring (extra trees; EMA installs scikit-learn)
    from ema_workbench.analysis.feature_scoring import get_feature_scores_all

    x = experiments.drop(columns=[c for c in ("scenario", "policy", "model") if c in experiments])
    y = {k: np.asarray(v).reshape(len(df), -1).mean(axis=1) for k, v in outcomes.items()}
    scores = get_feature_scores_all(x, y)
    scores.to_csv(args.out / "feature_scores.csv")
    print("\nFeature scores (extra trees; higher = moves the outcome more):")
    print(scores.to_string(float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
