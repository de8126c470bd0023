"""Parameter uncertainty in comparisons: the calibration's accepted parameter vectors, paired with seeds.

``--parameter-uncertainty FILE_OR_CALIBRATION_DIR`` (``compare`` and the default comparison) reads the
accepted set a calibration wrote (``accepted.csv``: one row per near-optimal candidate, its free parameters
as columns). ``--draws D`` vectors of it are used (default: all of them, at most half the seeds, so that
every vector runs with at least two seeds); seed *s* runs with draw ``s mod D`` in EVERY scenario of the
comparison (and in their withdrawal and no-support twins), so a paired difference stays paired: the same
parameters and the same random numbers in the scenario and in the baseline. The report then splits each
paired difference's uncertainty into seed noise and calibration uncertainty
(:func:`analysis.stats.two_level_split`). See docs/EXPERIMENTS.md, "Parameter uncertainty".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.params import FIELD_GROUP, allowed_values
from model.scenario import Scenario, ScenarioError, validate_params

from .spec import _suggest, param_kind

ACCEPTED = "accepted.csv"
# columns of a calibration's accepted.csv / trials.csv that are not parameters
RESERVED = {"trial": "calibration trial number", "loss": "calibration loss", "reference": "reference candidate",
            "accepted": "in the accepted set (trials.csv)"}
RESERVED_PREFIXES = ("sim_", "z_")   # simulated moments and their z-scores
MAX_VECTORS = 100_000
DRAW_ORDER_SEED = 0  # the fixed permutation that picks D of the accepted vectors (nested: more draws add vectors)


@dataclass
class ParameterSets:
    """The accepted vectors of a calibration and the D of them a comparison uses (seed s -> draw s mod D)."""

    source: str
    names: list[str]                      # calibrated parameters (columns)
    vectors: list[dict[str, Any]]         # every accepted vector, in file order
    trials: list[int | None]              # their calibration trial numbers
    losses: list[float]
    chosen: list[int] = field(default_factory=list)   # rows of the vectors used, draw 0..D-1
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def draws(self) -> int:
        return len(self.chosen)

    def draw_of(self, seed: int) -> int:
        return int(seed) % self.draws

    def params_of(self, seed: int) -> dict[str, Any]:
        return self.vectors[self.chosen[self.draw_of(seed)]]

    def apply(self, sc: Scenario, seed: int) -> Scenario:
        """``sc`` with the parameters of the draw of ``seed`` (a new content hash: stored runs key on them)."""
        draw = self.draw_of(seed)
        key = (id(sc), sc.content_hash(), draw)
        if key not in self._cache:
            row = self.chosen[draw]
            self._cache[key] = sc.with_overrides(self.vectors[row],
                                                 source=f"{self.source}: accepted vector {self.label(row)}")
        return self._cache[key]

    def label(self, row: int) -> str:
        t = self.trials[row]
        return f"trial {t}" if t is not None else f"row {row + 1}"

    def by_seed(self, seeds) -> pd.DataFrame:
        """One row per seed: its draw, the calibration trial and the parameter values."""
        rows = []
        for s in seeds:
            row = self.chosen[self.draw_of(s)]
            rows.append({"seed": int(s), "draw": self.draw_of(s), "calibration_trial": self.trials[row],
                         **self.vectors[row]})
        return pd.DataFrame(rows)

    def manifest(self, seeds) -> dict[str, Any]:
        return {"source": self.source, "accepted_vectors": len(self.vectors), "draws": self.draws,
                "pairing": "seed s runs with draw s mod draws in every scenario and twin",
                "vectors": [{"draw": i, "calibration_trial": self.trials[r], "loss": self.losses[r],
                             "params": self.vectors[r]} for i, r in enumerate(self.chosen)],
                "seed_draw": {int(s): self.draw_of(s) for s in seeds}}


def _fail(where: str, why: str) -> ScenarioError:
    return ScenarioError(f"--parameter-uncertainty {where}: {why}")


def load_parameter_sets(path: str | Path, draws: int | None = None, n_seeds: int | None = None) -> ParameterSets:
    """Read an accepted set (a calibration's ``accepted.csv``, or its output folder) and choose the draws.

    Every problem raises one :class:`ScenarioError` naming the file, the column or row and what is allowed."""
    p = Path(path)
    if p.is_dir():
        if not (p / ACCEPTED).is_file():
            raise _fail(str(p), f"no {ACCEPTED} in this folder; give the output folder of `python run.py calibrate` "
                                "or the accepted.csv it wrote")
        p = p / ACCEPTED
    elif not p.is_file():
        raise _fail(str(p), "no such file or folder; give a calibration's accepted.csv or its output folder")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise _fail(str(p), f"not a readable CSV file ({str(err).splitlines()[0][:120] if str(err) else err})") \
            from None
    names, problems = [], []
    for c in df.columns:
        c = str(c)
        if c in RESERVED or c.startswith(RESERVED_PREFIXES):
            continue
        if c not in FIELD_GROUP:
            problems.append(f"column '{c}' is not a model parameter{_suggest(c, FIELD_GROUP)}")
        elif FIELD_GROUP[c] == "constants":
            problems.append(f"column '{c}' is a constant (the experiment's frame, as n_firms or n_months), not a "
                            "calibrated parameter")
        else:
            names.append(c)
    if problems:
        raise _fail(str(p), "; ".join(problems) + ". Allowed columns: " + ", ".join(RESERVED) + ", sim_*, z_* and "
                    "the levers and uncertainties of `python run.py params`")
    if not names:
        raise _fail(str(p), "no parameter column; expected the columns a calibration writes: trial, the free "
                            "parameters (e.g. exit_hazard), loss, ...")
    if "accepted" in df.columns:  # a trials.csv: only its accepted rows
        flags = df["accepted"].astype(str).str.lower()
        if not flags.isin(["true", "false", "1", "0"]).all():
            raise _fail(str(p), "column 'accepted' must be true or false in every row")
        df = df[flags.isin(["true", "1"])]
    if df.empty:
        raise _fail(str(p), "no accepted parameter vector (no row" + (" with accepted = true" if "accepted"
                                                                      in df.columns else "") + ")")
    if len(df) > MAX_VECTORS:
        raise _fail(str(p), f"{len(df):,} vectors; at most {MAX_VECTORS:,}")
    vectors, trials, losses = [], [], []
    for i, (_, r) in enumerate(df.iterrows(), start=1):
        where = f"{p} row {i}"
        vec = {}
        for n in names:
            v = r[n]
            kind = param_kind(n)
            if isinstance(v, (float, np.floating)) and not math.isfinite(v):
                raise ScenarioError(f"--parameter-uncertainty {where}: {n} is empty or not a finite number")
            if kind in ("int", "float"):
                try:
                    x = float(v)
                except (TypeError, ValueError):
                    raise ScenarioError(f"--parameter-uncertainty {where}: {n} = {str(v)[:40]!r} is not a number; "
                                        f"allowed: {allowed_values(n)}") from None
                if not math.isfinite(x) or (kind == "int" and x != int(x)):
                    raise ScenarioError(f"--parameter-uncertainty {where}: {n} = {str(v)[:40]!r}: expected "
                                        + ("a whole number" if kind == "int" else "a finite number")
                                        + f"; allowed: {allowed_values(n)}")
                v = int(x) if kind == "int" else x
            elif kind == "bool":
                v = {"true": True, "false": False}.get(str(v).lower(), v)
            vec[n] = v.item() if hasattr(v, "item") else v
        validate_params(vec, f"--parameter-uncertainty {where}")
        vectors.append(vec)
        t = r.get("trial")
        trials.append(int(t) if t is not None and pd.notna(t) and float(t) == int(float(t)) else None)
        loss = r.get("loss")
        losses.append(float(loss) if loss is not None and pd.notna(loss) else float("nan"))
    ps = ParameterSets(str(p), names, vectors, trials, losses)
    n = len(vectors)
    if draws is not None and not 1 <= draws <= n:
        raise ScenarioError(f"--draws {draws}: the accepted set {p} has {n} vector(s); allowed: 1 to {n}")
    if draws is None:
        draws = min(n, max(1, (n_seeds or 2) // 2))
    order = np.random.default_rng(DRAW_ORDER_SEED).permutation(n)[:draws]
    ps.chosen = sorted(int(i) for i in order)
    return ps


def check_scenarios(ps: ParameterSets, scenarios: list[Scenario], user_set: dict[str, Any] | None = None) -> None:
    """Refuse an accepted set that would overwrite what the comparison compares: a calibrated parameter that
    a scenario sets differently from another (a policy difference) or that is set with --set / an experiment's
    ``set`` (the user's choice)."""
    problems = []
    for n in ps.names:
        if user_set and n in user_set:
            problems.append(f"{n} is set with --set; the calibrated vectors would overwrite it (leave it out)")
            continue
        values = {repr(sc.params[n]) for sc in scenarios}
        if len(values) > 1:
            who = ", ".join(f"{sc.name} = {sc.params[n]!r}" for sc in scenarios)
            problems.append(f"{n} differs between the scenarios ({who}): it is part of what they compare, so the "
                            "calibrated vectors must not overwrite it")
            continue
        set_by = [sc.name for sc in scenarios if n in sc.overrides]
        if set_by:
            problems.append(f"{n} is set by the experiment for {', '.join(set_by)}; the calibrated vectors would "
                            "overwrite it (leave it out)")
    if problems:
        raise ScenarioError(f"--parameter-uncertainty {ps.source}: " + "; ".join(problems))


def _paired(outcomes: pd.DataFrame, baseline: str):
    """(scenario, metric, seeds, scenario minus baseline of the same seed) for every scenario but the baseline."""
    base = outcomes[outcomes["scenario"] == baseline].set_index(["metric", "seed"])["value"]
    for (scen, metric), g in outcomes.groupby(["scenario", "metric"], sort=False):
        if scen == baseline:
            continue
        seeds = g["seed"].to_numpy()
        b = base.reindex(pd.MultiIndex.from_arrays([[metric] * len(g), seeds])).to_numpy(dtype=float)
        yield scen, metric, seeds, g["value"].to_numpy(dtype=float) - b


def split_table(outcomes: pd.DataFrame, baseline: str, ps: ParameterSets) -> pd.DataFrame:
    """Per scenario and outcome: the paired difference against the baseline with its total interval and its
    split into seed noise and calibration uncertainty (:func:`analysis.stats.two_level_split`)."""
    from analysis.stats import two_level_split

    return pd.DataFrame([{"scenario": scen, "metric": metric, **two_level_split(d, [ps.draw_of(s) for s in seeds])}
                         for scen, metric, seeds, d in _paired(outcomes, baseline)])


def per_draw_table(outcomes: pd.DataFrame, baseline: str, ps: ParameterSets, split: pd.DataFrame) -> pd.DataFrame:
    """Per scenario, outcome and draw: the mean paired difference and its 95 % seed-noise half-width
    (pooled within-draw variance of ``split``), for the figure."""
    from scipy import stats as st

    rows = []
    sp = split.set_index(["scenario", "metric"])
    for scen, metric, seeds, diff in _paired(outcomes, baseline):
        if (scen, metric) not in sp.index:
            continue
        r = sp.loc[(scen, metric)]
        d = pd.DataFrame({"d": diff, "draw": [ps.draw_of(s) for s in seeds]}).dropna()
        df_w = r["n_seeds"] - r["n_vectors"]
        q = float(st.t.ppf(0.975, df_w)) if df_w > 0 else float("nan")
        for draw, x in d.groupby("draw"):
            rows.append({"scenario": scen, "metric": metric, "draw": int(draw), "mean": float(x["d"].mean()),
                         "half": q * math.sqrt(r["var_seed"] / len(x)) if np.isfinite(q) else float("nan")})
    return pd.DataFrame(rows, columns=["scenario", "metric", "draw", "mean", "half"])


def findings(table: pd.DataFrame, outcomes: list[str]) -> list[str]:
    """Lines for the report's key findings: which reported differences change sign with the calibration."""
    from analysis.metrics import shown

    t = table[table["metric"].isin(outcomes)]
    if t.empty:
        return []
    flip = t[t["sign_depends_on_calibration"]]
    if not flip.empty:
        what = "; ".join(f"{shown(r.metric).label} ({r.scenario})" for r in flip.itertuples())
        return [f"- **Parameter uncertainty**: the sign of these differences **depends on the calibration** (above "
                f"zero under one accepted parameter vector, below under another, each beyond its seed noise): "
                f"{what}. See *Parameter uncertainty: seed noise and calibration*."]
    top = t.dropna(subset=["share_calibration"]).sort_values("share_calibration", ascending=False).head(1)
    most = (f"; the calibration's share of the uncertainty is largest for {shown(top.iloc[0].metric).label} "
            f"({top.iloc[0].scenario}, {top.iloc[0].share_calibration:.0%})" if not top.empty else "")
    return [f"- **Parameter uncertainty**: no reported difference changes sign between the calibration draws beyond "
            f"their seed noise{most}. See *Parameter uncertainty: seed noise and calibration*."]


def sign_text(depends: bool, above: int, below: int, n: int, diff: float, var_seed: float) -> str:
    """The sign of a difference across the draws, in words."""
    if depends:
        return f"**sign depends on the calibration** (above zero under {above}, below under {below} of {n} draws)"
    if diff == 0 and var_seed == 0:
        return "no difference"
    if above == n:
        return "above zero under every draw"
    if below == n:
        return "below zero under every draw"
    return f"within seed noise under {n - above - below} of {n} draws"


def report_section(table: pd.DataFrame, ps: ParameterSets, outcomes: list[str], seeds) -> str:
    """The report's section: what was drawn, and the split of each reported difference."""
    from analysis.metrics import shown
    from analysis.report import fmt, markdown_table

    seeds = sorted(int(s) for s in seeds)
    per = pd.Series([ps.draw_of(s) for s in seeds]).value_counts()
    lines = [f"Each seed ran with one of {ps.draws} parameter vector(s) drawn from the {len(ps.vectors)} accepted "
             f"by the calibration (`{ps.source}`): seed *s* with draw *s* mod {ps.draws}, the same in every scenario "
             "and twin, so each paired difference compares the same parameters and random numbers. Seeds per draw: "
             f"{per.min()}" + (f" to {per.max()}" if per.max() != per.min() else "") + ".",
             "",
             "The uncertainty of each difference is split by a one-way random-effects analysis of variance over the "
             "draws (O'Hagan, Stevenson & Madan 2007): the seed noise within a draw, and the spread of the effect "
             "between draws net of that noise (calibration). The total interval is for the effect under the true "
             "parameters, taken to lie among the accepted vectors like the draws: variance = calibration × (1 + "
             "1/draws) + seed noise / seeds; t quantile with Welch-Satterthwaite degrees of freedom (Satterthwaite "
             "1946). With few draws it is wide: the spread of a handful of vectors is itself uncertain. "
             "'Sign depends on the calibration' = under one draw the difference is above zero and under another "
             "below, each beyond its own seed noise (95 % interval). The difference here is the mean over draws "
             "(each draw weighs the same), so it can differ slightly from the paired-difference table above when "
             "draws have unequal numbers of seeds. Every outcome: `parameter_uncertainty.csv`.", ""]
    t = table[table["metric"].isin(outcomes)].copy()
    if t.empty:
        return "\n".join(lines)
    t["order"] = t["metric"].map({m: i for i, m in enumerate(outcomes)})
    t = t.sort_values(["order", "scenario"], kind="stable")
    shown_rows = []
    for r in t.itertuples():
        s = shown(r.metric)

        def iv(lo, hi, s=s):
            return f"[{fmt(lo * s.scale)}, {fmt(hi * s.scale)}]" if np.isfinite(lo) else "n/a"

        share = f"{r.share_calibration:.0%}" if np.isfinite(r.share_calibration) else "n/a"
        sign = sign_text(r.sign_depends_on_calibration, r.vectors_above_zero, r.vectors_below_zero, r.n_vectors,
                         r.diff, r.var_seed) + (f" ({r.note})" if r.note else "")
        shown_rows.append({"scenario": r.scenario, "outcome": f"{s.label} ({s.diff_unit})",
                           "difference": fmt(r.diff * s.scale),
                           "95 % interval, seed noise only": iv(r.seed_ci_low, r.seed_ci_high),
                           "95 % interval, seed noise + calibration": iv(r.ci_low, r.ci_high),
                           "share from calibration": share, "sign": sign})
    lines += [markdown_table(pd.DataFrame(shown_rows).set_index("scenario"), "scenario"), ""]
    vec = pd.DataFrame([{"draw": i, "calibration": ps.label(r), "loss": fmt(ps.losses[r]),
                         **{n: fmt(ps.vectors[r][n]) if isinstance(ps.vectors[r][n], float) else ps.vectors[r][n]
                            for n in ps.names},
                         "seeds": ", ".join(str(s) for s in seeds if ps.draw_of(s) == i)}
                        for i, r in enumerate(ps.chosen)]).set_index("draw")
    lines += ["Draws used:", "", markdown_table(vec, "draw"), ""]
    return "\n".join(lines)


__all__ = ["ParameterSets", "check_scenarios", "findings", "load_parameter_sets", "per_draw_table", "report_section",
           "split_table"]
