"""Outputs of a sweep: trials and Pareto front tables, figures, parameter importance and a report that
explains the best trade-offs in words."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.figures import _save, place_labels, plt, wrap
from analysis.io import output_error, publish, staging_dir, write_csv, write_text
from analysis.metrics import OUTCOMES, outcome_units, param_label, shown
from analysis.report import fmt, heading, markdown_table, reused_text
from model.params import INSTRUMENTS, instrument_mix

from .store import provenance
from .sweep import SweepSpec, importances, trials_frame


def _label(m: str) -> str:
    """'Label (unit)' of an outcome in the unit a report shows (``analysis.metrics.SHOWN``: shares in %)."""
    return heading(m)


def _name(m: str) -> str:
    """An outcome's label in a sentence."""
    lab = shown(m).label
    return lab if lab[:2].isupper() else lab[0].lower() + lab[1:]  # (an acronym such as MSME keeps its case)


def shown_trials(trials: pd.DataFrame, sp: SweepSpec) -> pd.DataFrame:
    """The trials with every outcome column (means, standard errors, per-seed values) in the unit a report
    shows (``analysis.metrics.SHOWN``); the CSV files keep the raw values."""
    t = trials.copy()
    for m in OUTCOMES:
        k = shown(m).scale
        if k == 1.0:
            continue
        for c in (m, f"{m}_se"):
            if c in t:
                t[c] = pd.to_numeric(t[c], errors="coerce") * k
        if f"{m}_by_seed" in t:
            t[f"{m}_by_seed"] = [None if v is None or (isinstance(v, float) and np.isnan(v))
                                 else [x * k if x is not None else x for x in v] for v in t[f"{m}_by_seed"]]
    return t


def pareto_figure(trials: pd.DataFrame, sp: SweepSpec, out: Path, highlight: dict[str, int]) -> Path:
    """Every pair of objectives: all trials, the Pareto front with standard errors, highlighted trade-offs."""
    objs = list(sp.objectives)
    if len(objs) == 1:  # one objective: its value trial by trial, the best marked
        m = objs[0]
        fig, ax = plt.subplots(figsize=(9, 4.4))
        ok = trials[trials["feasible"]]
        ax.errorbar(ok["trial"], ok[m], yerr=ok[f"{m}_se"].fillna(0), fmt="o", color="#1b4965", ms=4, capsize=2,
                    label="trial (± SE)")
        bad = trials[~trials["feasible"]]
        if not bad.empty:
            ax.scatter(bad["trial"], bad[m], marker="x", color="#c1121f", label="infeasible (constraint)")
        for name, num in highlight.items():
            r = trials[trials["trial"] == num]
            ax.scatter(r["trial"], r[m], s=120, marker="*" if name == "reference" else "D", facecolor="none",
                       edgecolor="#e07a5f", lw=1.6, zorder=4)
            ax.annotate(f" {name}", (float(r["trial"].iloc[0]), float(r[m].iloc[0])), fontsize=8, color="#e07a5f")
        ax.set_xlabel("trial")
        ax.set_ylabel(wrap(_label(m), 40))
        ax.set_gid(m)
        ax.legend(fontsize=8)
        ax.set_title(f"Sweep {sp.name}: {_label(m)} by trial (means over {len(sp.seeds)} seeds)", loc="left")
        fig.tight_layout()
        return _save(fig, out)
    pairs = list(itertools.combinations(objs, 2))
    n = len(pairs)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.4 * nrow), squeeze=False)
    front = trials[trials["pareto"]]
    for ax, (x, y) in zip(axes.ravel(), pairs, strict=False):
        feas = trials[trials["feasible"] & ~trials["pareto"]]
        infeas = trials[~trials["feasible"]]
        ax.scatter(feas[x], feas[y], s=18, color="#9aa5b1", label="trials", zorder=2)
        if not infeas.empty:
            ax.scatter(infeas[x], infeas[y], s=22, marker="x", color="#c1121f", alpha=0.6,
                       label="infeasible (constraint)", zorder=2)
        ax.errorbar(front[x], front[y], xerr=front[f"{x}_se"].fillna(0), yerr=front[f"{y}_se"].fillna(0),
                    fmt="o", color="#1b4965", ms=6, capsize=2, lw=1, label="Pareto front (± SE)", zorder=3)
        names_by_trial: dict[int, list[str]] = {}
        for name, num in highlight.items():
            names_by_trial.setdefault(num, []).append(name)
        pts = []
        for num, names in names_by_trial.items():
            r = trials[trials["trial"] == num]
            if r.empty:
                continue
            marker = "*" if "reference" in names else "D"
            ax.scatter(r[x], r[y], s=140 if marker == "*" else 60, marker=marker, facecolor="none",
                       edgecolor="#D55E00", lw=1.6, zorder=4)
            pts.append((float(r[x].iloc[0]), float(r[y].iloc[0]), wrap(" / ".join(names), 26)))
        if pts:  # labels placed where they overlap no other label
            for a in place_labels(ax, *map(list, zip(*pts, strict=True)), fontsize=8):
                a.set_color("#D55E00")
        ax.set_xlabel(wrap(_label(x) + (" →better" if sp.objectives[x] == "maximize" else " ←better"), 45))
        ax.set_ylabel(wrap(_label(y) + (" ↑better" if sp.objectives[y] == "maximize" else " ↓better"), 40))
        ax.set_gid(f"{x}|{y}")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=8, loc="best")
    fig.suptitle(f"Sweep {sp.name}: trade-offs between objectives (means over {len(sp.seeds)} seeds per trial)",
                 x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _save(fig, out)


def importance_figure(imp: pd.DataFrame, out: Path) -> Path:
    """Importance of each lever per objective: one panel per objective, the levers in the same order in every
    panel (most important anywhere on top) and named once, on the left."""
    objs = list(dict.fromkeys(imp["objective"]))
    order = list(imp.groupby("parameter")["importance"].max().sort_values(ascending=False).index)
    y = np.arange(len(order))
    fig, axes = plt.subplots(1, max(1, len(objs)), figsize=(3.6 * max(1, len(objs)) + 2.4, 0.35 * len(order) + 1.9),
                             squeeze=False, sharey=True)
    for ax, m in zip(axes.ravel(), objs, strict=False):
        d = imp[imp["objective"] == m].set_index("parameter")["importance"].reindex(order)
        ax.barh(y, d.fillna(0), color="#0072B2")
        ax.set_yticks(y, [param_label(p) for p in order])
        ax.set_title(wrap(shown(m).label, 34), loc="left", fontsize=10)
        ax.set_gid(m)
        ax.set_xlabel("importance (share, PED-ANOVA;\na point estimate, no interval)", fontsize=9)
    axes[0, 0].invert_yaxis()
    fig.suptitle("Which levers matter for each objective", x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, out)


def describe_levers(row: pd.Series, sp: SweepSpec) -> str:
    """A trial's levers in words (mix as normalised shares, largest first)."""
    parts = []
    params = dict(sp.base.params)
    for lv in sp.levers:
        params[lv.name] = row[lv.name]
    for lv in sp.levers:
        if lv.name.startswith("mix_"):
            continue
        v = row[lv.name]
        parts.append(f"{param_label(lv.name)} = {fmt(v) if isinstance(v, float) else v}")
    if any(lv.name.startswith("mix_") for lv in sp.levers):
        mix = instrument_mix(params)
        top = sorted(((v, k) for k, v in mix.items() if v > 0), reverse=True)[:4]
        parts.append("budget mostly " + ", ".join(f"{k} {v * 100:.0f} %" for v, k in top))
    return "; ".join(parts)


def _objective_text(row: pd.Series, sp: SweepSpec) -> str:
    return ", ".join(f"{_name(m)} {fmt(row[m])} ± {fmt(row[f'{m}_se'])} {shown(m).unit}"
                     for m in sp.objectives)


def _paired_se(a, b, fallback: float) -> float:
    """Standard error of the mean per-seed difference (trials share seeds), else the unpaired one."""
    try:
        d = np.array(a, dtype=float) - np.array(b, dtype=float)
    except (TypeError, ValueError):
        return fallback
    d = d[np.isfinite(d)]
    if d.size < 2:
        return fallback
    return float(d.std(ddof=1) / np.sqrt(d.size))


def trade_offs(trials: pd.DataFrame, sp: SweepSpec) -> tuple[dict[str, int], str]:
    """Pick the trade-offs worth reading (best per objective, balanced, reference) and explain them."""
    front = trials[trials["pareto"] & trials["feasible"]]
    if front.empty:
        return {}, "_No feasible trial: loosen the constraints or widen the lever ranges._\n"
    objs = list(sp.objectives)
    highlight: dict[str, int] = {}
    for m in objs:
        best = front[m].idxmax() if sp.objectives[m] == "maximize" else front[m].idxmin()
        highlight[f"best {_name(m)}"] = int(front.loc[best, "trial"])
    if len(objs) > 1:
        # balanced: the front point whose worst normalised objective is best (max-min of scores in [0, 1])
        scores = pd.DataFrame(index=front.index)
        for m in objs:
            v = front[m]
            span = v.max() - v.min()
            s = (v - v.min()) / span if span > 0 else pd.Series(1.0, index=v.index)
            scores[m] = s if sp.objectives[m] == "maximize" else 1 - s
        bal = scores.min(axis=1).idxmax()
        highlight["balanced"] = int(front.loc[bal, "trial"])
    ref = trials[trials["reference"]]
    if not ref.empty:
        highlight["reference"] = int(ref["trial"].iloc[0])
    lines = [f"{len(front)} of {len(trials)} complete trials are on the Pareto front (no other feasible trial is "
             "at least as good on every objective and better on one). Values are means over the trial's seeds ± "
             "standard error over seeds. Every trial uses the same seeds, so trials are compared seed by seed: a "
             "difference from the reference is called 'within noise' when it is under two standard errors of the "
             "paired (per-seed) difference.", ""]
    seen = set()
    ref_row = ref.iloc[0] if not ref.empty else None
    for name, num in highlight.items():
        row = trials[trials["trial"] == num].iloc[0]
        tag = "" if num not in seen else " (same trial as above)"
        seen.add(num)
        lines.append(f"- **{name}** (trial {num}){tag}: {_objective_text(row, sp)}.  ")
        lines.append(f"  Levers: {describe_levers(row, sp)}.")
        if ref_row is not None and name != "reference":
            deltas = []
            for m in objs:
                d = row[m] - ref_row[m]
                noise = 2 * _paired_se(row.get(f"{m}_by_seed"), ref_row.get(f"{m}_by_seed"),
                                       float(np.hypot(row[f"{m}_se"] or 0, ref_row[f"{m}_se"] or 0)))
                better = d > 0 if sp.objectives[m] == "maximize" else d < 0
                verdict = "within noise" if abs(d) <= noise else ("better" if better else "worse")
                deltas.append(f"{_name(m)} {'+' if d >= 0 else ''}{fmt(d)} {shown(m).diff_unit} ({verdict})")
            lines.append(f"  Against the reference (today's levers): {'; '.join(deltas)}.")
    if len(objs) >= 2:
        a, b = objs[0], objs[1]
        ia = trials[trials["trial"] == highlight[f"best {_name(a)}"]].iloc[0]
        ib = trials[trials["trial"] == highlight[f"best {_name(b)}"]].iloc[0]
        if ia["trial"] != ib["trial"]:
            lines += ["", f"Moving along the front from the best {_name(a)} to the best {_name(b)} changes "
                          f"{_name(a)} by {fmt(ib[a] - ia[a])} {shown(a).diff_unit} and {_name(b)} by "
                          f"{fmt(ib[b] - ia[b])} {shown(b).diff_unit}: that is the price of one objective in terms "
                          "of the other."]
    return highlight, "\n".join(lines) + "\n"


def write_sweep_outputs(study, sp: SweepSpec, out: Path, meta: dict) -> Path:
    """trials.csv, pareto.csv, importance.csv, figures, report.md/.html, manifest.json (runs/ and study kept)."""
    trials = trials_frame(study, sp)
    listed = trials_frame(study, sp, failed=True)  # trials.csv: complete and failed trials, with the reasons
    failures = _failures(listed)
    stage = staging_dir(out)
    try:
        if trials.empty:
            if not listed.empty:
                write_csv(stage / "trials.csv", listed)
            write_text(stage / "report.md", f"# Sweep {sp.name}\n\nNo complete trial yet.\n\n{failures}")
            return publish(stage, out)
        write_csv(stage / "trials.csv", listed)
        front = trials[trials["pareto"]].sort_values(list(sp.objectives)[0],
                                                     ascending=list(sp.objectives.values())[0] != "maximize")
        write_csv(stage / "pareto.csv", front)
        imp = importances(study, sp)
        write_csv(stage / "importance.csv", imp)
        write_csv(stage / "outcome_units.csv", outcome_units())  # raw units of the CSVs, shown units of the report
        # the report shows outcomes in SHOWN's units (shares in %); the CSV files above keep the raw values
        trials, front = shown_trials(trials, sp), shown_trials(front, sp)
        highlight, text = trade_offs(trials, sp)
        figs = {"Pareto front": pareto_figure(trials, sp, stage / "figures/pareto.png", highlight)}
        if not imp.empty:
            figs["Parameter importance"] = importance_figure(imp, stage / "figures/importance.png")
        lines = [f"# Sweep {sp.name}", ""]
        if sp.description:
            lines += [sp.description, ""]
        lines += [f"{len(trials)} complete trials of base scenario **{sp.base.name}** ({sp.base.params['n_firms']:,} "
                  f"firms, {sp.base.params['n_months']} months), each the mean of seeds {sp.seeds} (the same seeds "
                  f"for every trial, so trials are compared on common random numbers). Sampler: {sp.sampler}."]
        if meta.get("runs_reused"):
            lines += [reused_text(meta["runs_reused"], meta.get("runs_computed", 0))]
        lines += [""]
        lines += ["## Levers tuned", ""] + [f"- {param_label(lv.name, with_name=True)}: {lv.describe()}"
                                            for lv in sp.levers] + [""]
        lines += ["## Objectives and constraints", ""]
        lines += [f"- {sp.objectives[m][:-3]}ise {_label(m)}" for m in sp.objectives]
        lines += [f"- constraint: {_constraint(k, lo, hi)}" for k, (lo, hi) in sp.constraints.items()] + [""]
        if failures:
            lines += ["## Failed trials", "", failures]
        lines += ["## Best trade-offs", "", text]
        cols = ["trial", *[lv.name for lv in sp.levers]]
        show = front.copy()
        for m in sp.objectives:
            show[_label(m)] = [f"{fmt(v)} ± {fmt(s)}" for v, s in zip(show[m], show[f"{m}_se"], strict=True)]
        show = show[cols + [_label(m) for m in sp.objectives]]
        for c in [lv.name for lv in sp.levers]:
            show[c] = [fmt(v) if isinstance(v, float) else str(v) for v in show[c]]
        show = show.rename(columns={lv.name: param_label(lv.name) for lv in sp.levers})
        lines += ["## Pareto front", "", markdown_table(show.set_index("trial"), "trial"), ""]
        if not imp.empty:
            lines += ["## Which levers matter", "",
                      "Importance of each lever for each objective (PED-ANOVA over the complete trials; shares sum "
                      "to 1 per objective). Low importance within the ranges given means the lever hardly moves "
                      "that objective there.", ""]
            piv = imp.pivot(index="parameter", columns="objective", values="importance").fillna(0)
            piv = piv.loc[piv.max(axis=1).sort_values(ascending=False).index].map(lambda v: f"{v:.2f}")
            piv.index = [param_label(p, with_name=True) for p in piv.index]
            piv.columns = [shown(m).label for m in piv.columns]
            lines += [markdown_table(piv, "lever"), ""]
        lines += ["## Figures", ""]
        for k, v in figs.items():
            lines += [f"### {k}", "", f"![{k}]({Path(v).relative_to(stage)})", ""]
        lines += ["## Files", "", "- `trials.csv`: every evaluated trial (levers, objective means and standard "
                  "errors, headline outcomes, feasible, pareto; state complete or failed, with fail_reason)",
                  "- `pareto.csv`: the Pareto front",
                  "- `importance.csv`: lever importance per objective",
                  "- `outcome_units.csv`: each outcome's unit in the CSV files (fractions 0-1 for shares) and in "
                  "this report (percent for shares)",
                  "- `runs/`, `index.parquet`: every model run (see docs/EXPERIMENTS.md to query them)", ""]
        lines += ["## Provenance", "", "```", *[f"{k}: {v}" for k, v in meta.items()], "```", ""]
        write_text(stage / "report.md", "\n".join(lines))
        from analysis.html import write_html_report

        write_html_report(stage / "report.md")
        write_text(stage / "manifest.json", json.dumps({**meta, "base_params": sp.base.params}, indent=2,
                                                       default=str))
        return publish(stage, out)
    except BaseException as err:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(err, OSError):  # disk full, permission: say what and where, not a traceback
            raise output_error(err, out) from None
        raise


def _constraint(k: str, lo: float | None, hi: float | None) -> str:
    """A constraint in words: an outcome's bounds in its shown unit, a lever's as written in the file."""
    if k in OUTCOMES:
        sh = shown(k)
        lo, hi = (None if b is None else b * sh.scale for b in (lo, hi))
        name, unit = sh.label, f" {sh.unit}"
    else:
        name, unit = param_label(k, with_name=True), ""
    return f"{name} " + " and ".join(x for x in ((f">= {lo:g}{unit}" if lo is not None else ""),
                                                  (f"<= {hi:g}{unit}" if hi is not None else "")) if x)


def _failures(listed: pd.DataFrame) -> str:
    """The evaluated trials that failed, counted by reason (markdown), or ''."""
    if listed.empty or "state" not in listed:
        return ""
    bad = listed[listed["state"] == "failed"]
    if bad.empty:
        return ""
    lines = [f"{len(bad)} trial(s) were evaluated and failed (listed in `trials.csv` with `fail_reason`); they are "
             "left out of the Pareto front and the importances:", ""]
    for reason, n in bad["fail_reason"].value_counts().items():
        lines.append(f"- {n} x {reason}")
    return "\n".join(lines) + "\n"


def sweep_meta(sp: SweepSpec, storage_url: str, wall: float, runner) -> dict:
    return {"sweep_file": sp.source, "study": sp.name, "storage": storage_url, "trials_wanted": sp.trials,
            "seeds_per_trial": sp.seeds, "sampler": sp.sampler, "population_size": sp.population_size,
            "batch": sp.batch, "sampler_seed": sp.sampler_seed, "base_scenario": sp.base.name,
            "base_params_hash": sp.base.content_hash(), "backend": runner.backend,
            "wall_seconds_this_invocation": round(wall, 1), "runs_reused": runner.reused,
            "runs_computed": runner.computed, **provenance()}


__all__ = ["write_sweep_outputs", "sweep_meta", "INSTRUMENTS"]
