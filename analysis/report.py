"""Tables and the Markdown report of a comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .metrics import HEADLINE_OUTCOMES, OUTCOMES


def fmt(x: float, digits: int = 3) -> str:
    """Short human number."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a == 0:
        return "0"
    return f"{x:.{max(digits - 1 - int(math.floor(math.log10(a))), 0) if a < 1 else 2}f}"


def summary_wide(summary: pd.DataFrame, outcomes=HEADLINE_OUTCOMES) -> pd.DataFrame:
    """Scenario x outcome table of 'mean [low, high]' strings."""
    s = summary[summary["metric"].isin(outcomes)].copy()
    s["cell"] = [f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}]" for m, lo, hi in zip(s["mean"], s["ci_low"], s["ci_high"])]
    t = s.pivot(index="scenario", columns="metric", values="cell")
    cols = [o for o in outcomes if o in t.columns]
    t = t[cols]
    t.columns = [f"{OUTCOMES[c][0]} ({OUTCOMES[c][1]})" for c in cols]
    order = list(dict.fromkeys(summary["scenario"]))
    return t.reindex([o for o in order if o in t.index])


def markdown_table(df: pd.DataFrame, index_name: str = "") -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""
    cols = [index_name or (df.index.name or "")] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.to_numpy()]) + " |")
    return "\n".join(lines)


def differences_text(diffs: pd.DataFrame, baseline: str) -> str:
    """Bullet list of clear paired differences against the baseline, per scenario."""
    if diffs.empty:
        return "_No scenario to compare with the baseline._\n"
    out = []
    for scen, g in diffs.groupby("scenario", sort=False):
        g = g[g["metric"].isin(HEADLINE_OUTCOMES)]
        items = []
        for _, r in g.iterrows():
            label, unit, _ = OUTCOMES[r["metric"]]
            verdict = "clear" if r["clear"] else f"not clear with {int(r['n_pairs'])} seeds" + (
                f" (~{int(r['seeds_needed'])} needed)" if np.isfinite(r["seeds_needed"]) and r["seeds_needed"] < 1e5
                else "")
            items.append(f"{label}: {fmt(r['diff'])} [{fmt(r['ci_low'])}, {fmt(r['ci_high'])}] {unit}, "
                         f"d={fmt(r['effect_size_dz'])}, {verdict}")
        out.append(f"- **{scen}** vs {baseline}:\n" + "\n".join(f"  - {i}" for i in items))
    return "\n".join(out) + "\n"


def write_report(path, title: str, meta: dict, summary: pd.DataFrame, diffs: pd.DataFrame, baseline: str,
                 figures: dict[str, str], scenarios: dict[str, str], transitions: pd.DataFrame | None) -> None:
    """The Markdown report of a comparison (written atomically by the caller's writer)."""
    lines = [f"# {title}", ""]
    lines += [f"{meta['n_seeds']} seeds per scenario (common random numbers: seed *k* gives every scenario the "
              f"same initial population and exogenous draws, so differences are paired), {meta['n_firms']:,} "
              f"initial firms, {meta['n_months']} months. Intervals are 95 % t-intervals over seeds. "
              f"Wall time {meta['wall_seconds']:.0f} s with {meta['jobs']} worker process(es).", ""]
    lines += ["## Scenarios", ""]
    lines += [f"- **{k}**: {v}" for k, v in scenarios.items()] + [""]
    lines += ["## Headline outcomes (mean [95 % CI])", "", markdown_table(summary_wide(summary), "scenario"), ""]
    lines += [f"## Against the baseline ({baseline}), paired by seed", "",
              "Difference = scenario minus baseline; d = paired effect size (mean difference / sd of "
              "differences). 'Not clear' means the 95 % interval includes zero; the number of seeds that would "
              "make the difference clear at 80 % power is given.", "", differences_text(diffs, baseline)]
    lines += ["## Figures", ""]
    for name, rel in figures.items():
        lines += [f"### {name}", "", f"![{name}]({rel})", ""]
    if transitions is not None and not transitions.empty:
        lines += [f"## Size-class transitions, {baseline} (share of each starting class, mean over seeds)", "",
                  markdown_table((transitions * 100).round(2).astype(str) + " %", "start \\ end"), ""]
    lines += ["## How to read the dependence metrics", "",
              "- *Support as share of income*: support received / (value added + support), all firms, averaged "
              "over months.", "- *Loss-making without support*: firms profitable with support but loss-making "
              "without it.", "- *Chronic recipients*: firms supported in at least `chronic_months` of the last 24.",
              "- *Withdrawal test*: the same scenario and seed with every programme ended at the withdrawal month; "
              "drop in value added over the following 24 months, survival and upgrades lost.", ""]
    lines += ["## Provenance", "", "```", *[f"{k}: {v}" for k, v in meta.items()], "```", ""]
    from .io import write_text

    write_text(path, "\n".join(lines))
