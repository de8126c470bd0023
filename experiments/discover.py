"""Scenario discovery over a sweep or sensitivity output folder: PRIM and CART (EMA Workbench, optional extra).

"Which combinations of levers give growth above X with dependence below Y, and how robust is that box?"
Cases of interest are the trials (sweep: ``trials.csv``) or samples (sensitivity: ``samples_*.csv``) meeting
every condition; PRIM (Friedman & Fisher 1999, as implemented in EMA Workbench, Kwakkel 2017) peels a box in
lever space around them; CART (Breiman et al. 1984) gives the same question as tree rules. Text levers are
one-hot encoded (a column ``lever=value``, 0/1) before PRIM: EMA 2.5.3 with pandas 3 fails on text columns in
``box.inspect``, and a 0/1 column reads directly as "this value" (limits [1, 1]) or "not this value" ([0, 0]).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.io import publish, staging_dir, write_csv, write_text
from analysis.metrics import OUTCOMES, param_label, shown
from model.scenario import ScenarioError

MIN_DENSITY = 0.8  # assumption: the reported box is the widest (highest coverage) one with density >= 80 %
RESAMPLES = 10     # EMA's resampling statistic: PRIM re-run on 10 random halves of the data
_NOT_LEVERS = {"trial", "feasible", "pareto", "reference", "state", "fail_reason"}


@dataclass
class Condition:
    outcome: str
    threshold: float
    below: bool = False

    def describe(self) -> str:
        sh = shown(self.outcome)
        return f"{sh.label} {'<' if self.below else '>'} {sh.value(self.threshold):g} {sh.unit}"


def import_ema():
    import warnings

    try:
        with warnings.catch_warnings():  # EMA warns at import that ipyparallel (which discover never uses) is missing
            warnings.simplefilter("ignore")
            from ema_workbench.analysis import cart, prim
    except ImportError as err:
        raise ScenarioError("discover needs the EMA Workbench, an optional extra: pip install -e \".[ema]\"") from err
    return prim, cart


def load_cases(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Levers (raw values) and outcomes of a sweep (trials.csv) or sensitivity (samples_*.csv) output folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScenarioError(f"{folder}: no such folder (give a sweep or sensitivity output folder)")
    if (folder / "trials.csv").is_file():
        kind, df = "sweep", pd.read_csv(folder / "trials.csv")
        if "state" in df.columns:
            df = df[df["state"] == "complete"]
    else:
        files = sorted(folder.glob("samples_*.csv"))
        if not files:
            raise ScenarioError(f"{folder}: not a sweep or sensitivity output folder (no trials.csv or "
                                "samples_*.csv)")
        kind, df = "sensitivity", pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    outs = [c for c in df.columns if c in OUTCOMES]
    levers = [c for c in df.columns if c not in OUTCOMES and c not in _NOT_LEVERS
              and not c.endswith(("_se", "_by_seed"))]
    if not outs or not levers or df.empty:
        raise ScenarioError(f"{folder}: no levers, outcomes or complete cases in the {kind} results")
    return df[levers].reset_index(drop=True), df[outs].reset_index(drop=True), kind


def encode(x: pd.DataFrame) -> pd.DataFrame:
    """Numbers stay; booleans become 0/1; text levers become one 0/1 column per value (``lever=value``)."""
    cols = {}
    for c in x.columns:
        s = x[c]
        if s.dtype == bool or set(s.dropna().unique()) <= {True, False}:
            cols[c] = s.astype(float)
        elif pd.api.types.is_numeric_dtype(s):
            cols[c] = s.astype(float)
        else:
            for v in sorted(s.astype(str).unique()):
                cols[f"{c}={v}"] = (s.astype(str) == v).astype(float)
    return pd.DataFrame(cols)


def label(col: str) -> str:
    name, _, value = col.partition("=")
    return f"{param_label(name)} = {value}" if value else param_label(name)


def cases_of_interest(y: pd.DataFrame, conditions: list[Condition]) -> np.ndarray:
    for c in conditions:
        if c.outcome not in y.columns:
            raise ScenarioError(f"--outcome {c.outcome}: not in these results; allowed: {', '.join(y.columns)}")
    ok = np.ones(len(y), bool)
    for c in conditions:
        v = y[c.outcome].to_numpy(float)
        ok &= (v < c.threshold) if c.below else (v > c.threshold)
    what = " and ".join(f"{c.outcome} {'<' if c.below else '>'} {c.threshold:g}" for c in conditions)
    if ok.all() or not ok.any():
        raise ScenarioError(f"{what} holds for {'every' if ok.all() else 'no'} case of {len(y)}: choose a "
                            "threshold that leaves some cases in and some out (thresholds are in the raw units "
                            "of the CSV: shares as fractions 0-1)")
    return ok


def find_box(x: pd.DataFrame, coi: np.ndarray, seed: int = 0):
    """PRIM box and CART tree; returns (box, selected index, box table, trajectory, resampling, cart rules)."""
    prim, cart = import_ema()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(x, coi, threshold=MIN_DENSITY, peel_alpha=0.05, mass_min=0.05)
        box = p.find_box()
        traj = box.peeling_trajectory.copy()
        ok = traj.index[traj["density"] >= MIN_DENSITY]
        i = int(traj.loc[ok, "coverage"].idxmax()) if len(ok) else int(traj["density"].idxmax())
        np.random.seed(seed)  # EMA resamples with numpy's global generator
        stab = box.resample(i, iterations=RESAMPLES)
        c = cart.CART(x, coi.astype(int), mass_min=0.05)
        c.build_tree()
        from sklearn.tree import export_text

        rules = export_text(c.clf, feature_names=[label(k) for k in x.columns])
    lims, qp = box.box_lims[i], box.qp[i]
    rows = []
    for k in qp:
        rows.append({"lever": k, "label": label(k), "box_min": lims[k].iloc[0], "box_max": lims[k].iloc[1],
                     "range_min": x[k].min(), "range_max": x[k].max(),
                     "qp_lower": qp[k][0] if qp[k][0] >= 0 else np.nan,
                     "qp_upper": qp[k][1] if qp[k][1] >= 0 else np.nan,
                     "reproduce_coverage_pct": stab["reproduce coverage"].get(k, 0.0),
                     "reproduce_density_pct": stab["reproduce density"].get(k, 0.0)})
    return i, pd.DataFrame(rows), traj, stab, rules


def _figures(traj: pd.DataFrame, i: int, table: pd.DataFrame, figdir: Path) -> dict[str, Path]:
    import matplotlib.pyplot as plt

    from analysis.figures import _save

    out = {}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    sc = ax.scatter(traj["coverage"] * 100, traj["density"] * 100, c=traj["res_dim"], cmap="viridis", s=18)
    ax.scatter([traj.loc[i, "coverage"] * 100], [traj.loc[i, "density"] * 100], s=120, facecolors="none",
               edgecolors="black", label=f"reported box ({i})")
    ax.axhline(MIN_DENSITY * 100, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="Coverage (% of cases of interest inside the box)",
           ylabel="Density (% of the box's cases that are of interest)", title="PRIM peeling trajectory")
    fig.colorbar(sc, ax=ax, label="levers restricted")
    ax.legend(loc="lower left")
    out["Peeling trajectory"] = _save(fig, figdir / "peeling_trajectory.png")
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * max(len(table), 1)))
    for j, r in enumerate(table.itertuples()):
        span = (r.range_max - r.range_min) or 1.0
        lo, hi = (r.box_min - r.range_min) / span, (r.box_max - r.range_min) / span
        ax.plot([0, 1], [j, j], color="lightgrey", lw=6)
        ax.plot([lo, hi], [j, j], color="#0072B2", lw=6)
        ax.annotate(f"{r.box_min:.3g}–{r.box_max:.3g}", (1.02, j), va="center", fontsize=8, annotation_clip=False)
    ax.set_yticks(range(len(table)), list(table["label"]))
    ax.set_xlim(0, 1)
    ax.set(xlabel="Position in the lever's sampled range (0 = lowest, 1 = highest)", title=f"PRIM box {i} limits")
    ax.invert_yaxis()
    out["Box limits"] = _save(fig, figdir / "box_limits.png")
    return out


def run_discover(folder, conditions: list[Condition], out: Path, seed: int = 0, log=print) -> Path:
    xr, y, kind = load_cases(folder)
    coi = cases_of_interest(y, conditions)
    x = encode(xr)
    i, table, traj, stab, rules = find_box(x, coi, seed)
    from analysis.report import markdown_table

    stage = staging_dir(out)
    try:
        figs = _figures(traj, i, table, stage / "figures")
        s = traj.loc[i]
        shown_t = pd.DataFrame({"box": [f"{a:.4g} to {b:.4g}" for a, b in
                                        zip(table["box_min"], table["box_max"], strict=True)],
                                "sampled range": [f"{a:.4g} to {b:.4g}" for a, b in
                                                  zip(table["range_min"], table["range_max"], strict=True)],
                                "quasi-p (low, high)": [f"{a:.2g}, {b:.2g}" for a, b in
                                                        zip(table["qp_lower"], table["qp_upper"], strict=True)],
                                "reproduced (coverage / density, %)": [
                                    f"{a:.0f} / {b:.0f}" for a, b in
                                    zip(table["reproduce_coverage_pct"], table["reproduce_density_pct"], strict=True)]},
                               index=list(table["label"]))
        what = " and ".join(c.describe() for c in conditions)
        lines = [f"# Scenario discovery: {what}", "",
                 f"{kind.capitalize()} results `{folder}`: {len(x)} cases, {int(coi.sum())} of interest "
                 f"({coi.mean() * 100:.0f} %). PRIM (EMA Workbench) peels a box in lever space around the cases "
                 f"of interest; the box reported is the one with the highest coverage among those with density "
                 f">= {MIN_DENSITY * 100:.0f} % (or the densest). Text levers are one-hot encoded: "
                 "`lever = value` (0/1) with a lower limit above 0 means \"this value\", an upper limit below 1 \"any "
                 "other value\". Budget weights are the raw weights before normalisation.", "",
                 "## Box", "",
                 f"Box {i}: coverage {s['coverage'] * 100:.0f} %, density {s['density'] * 100:.0f} %, mass "
                 f"{s['mass'] * 100:.0f} % of the cases, {int(s['res_dim'])} levers restricted.", "",
                 markdown_table(shown_t, "lever"), "",
                 "Quasi-p: how likely the restriction is by chance (binomial test; small = real). Reproduced: in "
                 f"what % of {RESAMPLES} PRIM runs on random halves of the cases the lever is restricted "
                 "(EMA's resampling statistic).", "",
                 "## CART rules", "", "Class 1 = case of interest.", "", "```", rules.rstrip(), "```", "",
                 "## Figures", ""]
        for k, v in figs.items():
            lines += [f"### {k}", "", f"![{k}]({Path(v).relative_to(stage)})", ""]
        lines += ["## Files", "", "- `box.csv`: the reported box (raw lever values), quasi-p and reproducibility",
                  "- `peeling_trajectory.csv`: coverage, density, mass and restricted levers of every box",
                  "- `resampling.csv`: EMA's resampling statistic of the reported box", ""]
        write_csv(stage / "box.csv", table)
        write_csv(stage / "peeling_trajectory.csv", traj)
        write_csv(stage / "resampling.csv", stab.rename_axis("lever").reset_index())
        write_text(stage / "report.md", "\n".join(lines))
        write_text(stage / "manifest.json", json.dumps({"source": str(folder), "kind": kind, "conditions": [
            c.__dict__ for c in conditions], "box": i, "seed": seed}, indent=2))
        from analysis.html import write_html_report

        write_html_report(stage / "report.md")
    except BaseException:
        import shutil

        shutil.rmtree(stage, ignore_errors=True)
        raise
    return publish(stage, out)
