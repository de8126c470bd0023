"""Tables and the Markdown report of a comparison."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .causal import COUNTERFACTUAL_OUTCOMES, PARTS, SPLIT_OUTCOMES, WITHDRAWAL_RECIPIENT_OUTCOMES
from .metrics import HEADLINE_OUTCOMES, OUTCOMES, shown


def fmt(x: float, digits: int = 3) -> str:
    """Short human number."""
    if x is None or np.isnan(x):
        return "n/a"
    if np.isinf(x):
        return "∞" if x > 0 else "−∞"
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


def _cell(m: float, lo: float, hi: float, scale: float = 1.0) -> str:
    """'mean [low, high]'; just the value when there is no interval (one seed) and 'n/a' when there is no
    value, rather than '[n/a, n/a]'."""
    if not np.isfinite(m):
        return "n/a"
    if lo is None or hi is None or (np.isnan(lo) and np.isnan(hi)):
        return fmt(m * scale)
    return f"{fmt(m * scale)} [{fmt(lo * scale)}, {fmt(hi * scale)}]"


def heading(metric: str) -> str:
    """'Label (unit)' of an outcome as a table heading (units from ``analysis.metrics.SHOWN``)."""
    sh = shown(metric)
    return f"{sh.label} ({sh.unit})"


def summary_wide(summary: pd.DataFrame, outcomes=HEADLINE_OUTCOMES) -> pd.DataFrame:
    """Scenario x outcome table of 'mean [low, high]' strings, in the shown units (shares as %)."""
    s = summary[summary["metric"].isin(outcomes)].copy()
    scale = s["metric"].map(lambda m: shown(m).scale)
    s["cell"] = [_cell(m, lo, hi, k) for m, lo, hi, k in zip(s["mean"], s["ci_low"], s["ci_high"], scale, strict=True)]
    if "n_undefined" in s:  # a mean over fewer runs than the others says so
        s["cell"] = [c + (f" (n={n} of {n + u})" if u and n else "") for c, n, u in
                     zip(s["cell"], s["n"], s["n_undefined"], strict=True)]
    t = s.pivot(index="scenario", columns="metric", values="cell")
    cols = [o for o in outcomes if o in t.columns]
    t = t[cols]
    t.columns = [heading(c) for c in cols]
    order = list(dict.fromkeys(summary["scenario"]))
    return t.reindex([o for o in order if o in t.index])


MAX_SCENARIO_COLUMNS = 4  # scenarios per table: more would make the table scroll sideways


def outcome_tables(summary: pd.DataFrame, outcomes=HEADLINE_OUTCOMES, per_table: int = MAX_SCENARIO_COLUMNS) -> str:
    """Outcomes as rows and scenarios as columns, at most ``per_table`` scenarios a table (the first
    scenario, the baseline, repeated in each), so no table is wider than a page."""
    wide_t = summary_wide(summary, outcomes).T.fillna("n/a")
    if wide_t.empty:
        return ""
    scen = list(wide_t.columns)
    first, rest = scen[0], scen[1:]
    step = max(per_table - 1, 1)
    groups = [[first, *rest[i:i + step]] for i in range(0, len(rest), step)] or [[first]]
    return "\n\n".join(markdown_table(wide_t[g], "outcome (unit)") for g in groups)


def markdown_table(df: pd.DataFrame, index_name: str = "") -> str:
    """A DataFrame as a GitHub Markdown table (no extra dependency)."""
    cols = [index_name or (df.index.name or "")] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx)] + [str(v) for v in row.to_numpy()]) + " |")
    return "\n".join(lines)


def no_difference(r) -> bool:
    """A paired difference that is exactly 0 in every seed (``seeds_needed`` is NaN then): the
    scenario does not change this outcome, which more seeds cannot make "clear"."""
    return bool(r["diff"] == 0 and np.isnan(r["seeds_needed"]))


def differences_text(diffs: pd.DataFrame, baseline: str, outcomes=HEADLINE_OUTCOMES) -> str:
    """Bullet list of clear paired differences against the baseline, per scenario."""
    if diffs.empty:
        return "_No scenario to compare with the baseline._\n"
    out = []
    for scen, g in diffs.groupby("scenario", sort=False):
        g = g[g["metric"].isin(outcomes)]
        items = []
        for _, r in g.iterrows():
            sh = shown(r["metric"])
            verdict = "clear" if r["clear"] else "no difference in any seed" if no_difference(r) else \
                f"not clear with {int(r['n_pairs'])} seeds" + (
                    f" (~{int(r['seeds_needed'])} needed)" if np.isfinite(r["seeds_needed"]) and r["seeds_needed"] < 1e5
                    else "")
            items.append(f"{sh.label}: {_cell(r['diff'], r['ci_low'], r['ci_high'], sh.scale)} {sh.diff_unit}, "
                         f"d={fmt(r['effect_size_dz'])}, {verdict}")
        out.append(f"- **{scen}** vs {baseline}:\n" + "\n".join(f"  - {i}" for i in items))
    return "\n".join(out) + "\n"


# -- key findings -----------------------------------------------------------------------------------------
GROWTH_OUTCOME = "value_added_growth"
DEPENDENCE_KEY_OUTCOMES = ("recipient_support_share_income", "recipient_loss_without_support_share")
# mechanism outcomes that can say what drives a scenario's difference (the largest relative moves are named)
DRIVER_OUTCOMES = ("stage_3_share", "online_sales_share", "upgrades_per_1000", "cluster_member_share",
                   "recipients_share", "survival_rate", "lost_share", "budget_spent_bn")
SHORT_LABELS = {
    "value_added_growth": "value-added growth", "recipient_support_share_income": "support / recipients' income",
    "recipient_loss_without_support_share": "recipients loss-making without support",
    "stage_3_share": "firms selling online", "online_sales_share": "online share of revenue",
    "upgrades_per_1000": "size-class upgrades", "cluster_member_share": "cluster members",
    "recipients_share": "firms reached by support", "survival_rate": "survival of initial firms",
    "lost_share": "budget lost to overhead, duplication and capture", "budget_spent_bn": "budget spent",
}


def _signed(x: float) -> str:
    return ("+" if x > 0 else "") + fmt(x).replace("-", "−")


def _diff_phrase(r) -> str:
    """'+0.31 pp a year [0.10, 0.52]', or 'no clear difference (...)' when the interval covers 0."""
    sh = shown(r["metric"])
    d, lo, hi = (r[k] * sh.scale for k in ("diff", "ci_low", "ci_high"))
    if not np.isfinite(d):
        return "n/a"
    if no_difference(r):
        return "no difference in any seed"
    core = f"{_signed(d)} {sh.diff_unit} [{_signed(lo)}, {_signed(hi)}]"
    return core if r["clear"] else f"no clear difference ({core})"


def drivers(g: pd.DataFrame, base_mean: dict[str, float], top: int = 2) -> list[str]:
    """The mechanism outcomes (``DRIVER_OUTCOMES``) that moved most against the baseline, relative to the
    baseline's level, among the clear differences: 'firms selling online +5.1 pp (baseline 12 %)'."""
    cand = []
    for _, r in g[g["metric"].isin(DRIVER_OUTCOMES) & g["clear"]].iterrows():
        base = base_mean.get(r["metric"], np.nan)
        rel = abs(r["diff"]) / abs(base) if np.isfinite(base) and base != 0 else np.inf
        cand.append((rel, r))
    cand.sort(key=lambda c: -c[0])
    out = []
    for _, r in cand[:top]:
        sh = shown(r["metric"])
        base = base_mean.get(r["metric"], np.nan)
        unit = sh.unit.split(",")[0]
        out.append(f"{SHORT_LABELS[r['metric']]} {_signed(r['diff'] * sh.scale)} {sh.diff_unit.split(',')[0]} "
                   f"(baseline {fmt(base * sh.scale)} {unit})")
    return out


def key_findings(summary: pd.DataFrame, diffs: pd.DataFrame, baseline: str) -> list[str]:
    """One plain line per scenario: growth and dependence against the baseline with 95 % intervals and the
    mechanism outcomes that moved most (derived from the data); 'no clear difference' when an interval
    covers 0. A one-scenario report gives its levels instead."""
    lines = ["## Key findings", ""]
    if diffs.empty:
        for scen, g in summary.groupby("scenario", sort=False):
            g = g.set_index("metric")
            parts = []
            for m in (GROWTH_OUTCOME, *DEPENDENCE_KEY_OUTCOMES):
                if m in g.index and np.isfinite(g.loc[m, "mean"]):
                    sh = shown(m)
                    cell = _cell(g.loc[m, "mean"], g.loc[m, "ci_low"], g.loc[m, "ci_high"], sh.scale)
                    parts.append(f"{SHORT_LABELS[m]} {cell} {sh.unit.split(',')[0]}")
            lines.append(f"- **{scen}**: " + "; ".join(parts) + ".")
        return lines + ["", "Mean [95 % interval] over seeds.", ""]
    b = summary[summary["scenario"] == baseline].set_index("metric")["mean"].to_dict()
    for scen, g in diffs.groupby("scenario", sort=False):
        by = g.set_index("metric")
        parts = []
        for m in (GROWTH_OUTCOME, *DEPENDENCE_KEY_OUTCOMES):
            if m in by.index:
                parts.append(f"{SHORT_LABELS[m]} {_diff_phrase(_row(by, m))}")
        drv = drivers(g, b)
        parts.append("what moved most: " + ("; ".join(drv) if drv else "no mechanism outcome differs clearly"))
        lines.append(f"- **{scen}**: " + "; ".join(parts) + ".")
    lines += ["", f"Scenario minus {baseline}, paired by seed, with the 95 % interval in brackets; pp = percentage "
              "points (a difference of two percentages). *What moved most*: the mechanism outcomes (online "
              "selling, upgrades, cluster membership, support reaching firms, survival, budget lost or spent) with "
              "the largest clear change relative to the baseline's level.", ""]
    return lines


def _row(by: pd.DataFrame, m: str) -> pd.Series:
    r = by.loc[m].copy()
    r["metric"] = m
    return r


COST_OUTCOMES = ("budget_spent_bn", "budget_per_additional_upgrade_bn", "extra_upgrades_per_bn", "extra_jobs_per_bn",
                 "extra_value_added_per_bn", "extra_firms_per_bn", "lost_share", "overhead_share",
                 "duplication_share", "capture_share")
# dependence over recipients beside the all-firm versions (docs/ODD.md 7.10)
DEPENDENCE_OUTCOMES = ("recipients_share", "recipient_support_share_income", "support_share_income_all_firms",
                       "recipient_support_above_10pct_share", "recipient_loss_without_support_share",
                       "loss_without_support_share_all_firms", "chronic_recipient_share",
                       "chronic_recipient_share_all_firms", "effort_gap", "recipient_effort_change")
WITHDRAWAL_OUTCOMES = ("withdrawal_value_added_drop", "withdrawal_survival_drop", "withdrawal_upgrades_drop")


def differences_table(diffs: pd.DataFrame, outcomes=HEADLINE_OUTCOMES) -> pd.DataFrame:
    """Paired differences as a table: one row per scenario and outcome, in the shown units (differences of
    percents in percentage points, pp)."""
    if diffs.empty:
        return pd.DataFrame()
    d = diffs[diffs["metric"].isin(outcomes)].copy()
    order = {o: i for i, o in enumerate(outcomes)}
    d["_o"] = d["metric"].map(order)
    d["_s"] = d["scenario"].map({s: i for i, s in enumerate(dict.fromkeys(diffs["scenario"]))})
    d = d.sort_values(["_s", "_o"], kind="stable")
    rows = []
    for _, r in d.iterrows():
        sh = shown(r["metric"])
        need = r["seeds_needed"]
        rows.append({
            "scenario": r["scenario"], "outcome": sh.label,
            "difference [95 % CI]": f"{_cell(r['diff'], r['ci_low'], r['ci_high'], sh.scale)} {sh.diff_unit}",
            "d_z": fmt(r["effect_size_dz"]), "p": fmt(r["p_value"]),
            "half-width / difference": fmt(r["halfwidth_over_diff"]),
            "seeds for a clear result": ("none: no difference" if no_difference(r) else
                                         f"{int(need)}" if np.isfinite(need) and need < 1e5 else "very many"),
            "clear": "yes" if r["clear"] else "no",
        })
    return pd.DataFrame(rows).set_index("scenario")


def differences_tables(diffs: pd.DataFrame, baseline: str, outcomes=HEADLINE_OUTCOMES) -> list[str]:
    """The paired differences, one narrow table per scenario (a subsection each)."""
    table = differences_table(diffs, outcomes)
    if table.empty:
        return []
    out = []
    for scen in dict.fromkeys(table.index):
        t = table.loc[[scen]].set_index("outcome")
        out += [f"#### {scen} minus {baseline}", "", markdown_table(t, "outcome"), ""]
    return out


def seeds_text(diffs: pd.DataFrame, outcomes=HEADLINE_OUTCOMES, n_seeds: int | None = None) -> str:
    """Say whether the seeds are enough: how many differences are clear, which are not and what they need."""
    if diffs.empty:
        return "_No paired differences (one scenario only)._\n"
    d = diffs[diffs["metric"].isin(outcomes)]
    n_clear = int(d["clear"].sum())
    lines = [f"{n_clear} of {len(d)} paired differences are clear with {n_seeds or int(d['n_pairs'].max())} seeds "
             "(95 % interval excludes zero). A difference is estimated precisely when its interval half-width is "
             "small against the difference itself (half-width / difference below 0.5, say)."]
    vague = d[(~d["clear"]) | (d["halfwidth_over_diff"] > 0.5)]
    if not vague.empty:
        lines.append(f"{len(vague)} are imprecise (half-width above half the difference, or not clear).")
        unclear = d[~d["clear"] & ~((d["diff"] == 0) & d["seeds_needed"].isna())]  # (not: no difference at all)
        need = unclear["seeds_needed"].replace([np.inf], np.nan)
        reach = unclear[need <= 100]
        far = unclear[~(need <= 100)]
        if not reach.empty:
            items = [f"{r['scenario']}: {OUTCOMES[r['metric']][0].lower()} (~{int(r['seeds_needed'])})"
                     for _, r in reach.sort_values("seeds_needed").iterrows()]
            lines.append("Not yet clear but within reach of more seeds (seeds needed at 80 % power): "
                         + "; ".join(items) + ".")
        if not far.empty:
            lines.append(f"{len(far)} would need more than 100 seeds: those differences are tiny against the "
                         "run-to-run noise, i.e. practically zero at this population and horizon.")
        lines.append("`--until-precision` adds seeds until chosen outcomes reach a target precision.")
    return " ".join(lines) + "\n"


def outcome_section(summary: pd.DataFrame, outcomes, title: str, text: str) -> list[str]:
    """A report section: ``title``, ``text`` and the table of ``outcomes`` by scenario (mean [95 % CI]);
    nothing when the summary holds none of them."""
    part = summary[summary["metric"].isin(outcomes)]
    if part.empty:
        return []
    return [f"## {title}", "", text, "", outcome_tables(part, outcomes), ""]


def causal_sections(summary: pd.DataFrame) -> list[str]:
    """The report's cost-effectiveness, counterfactual and withdrawal sections (analysis/causal.py)."""
    lines: list[str] = []
    lines += outcome_section(
        summary, COST_OUTCOMES, "Cost-effectiveness against the no-support twin (mean [95 % CI])",
        "Each scenario against the same scenario and seeds with no budget (everything else equal): additional "
        "size-class upgrades, jobs and surviving firms at the horizon and value added over the run, per bn IDR spent. "
        "*Budget per additional upgrade* = 1 / (additional upgrades per bn IDR): its interval is the reciprocal of "
        "that interval, unbounded (∞) when the budget may buy no additional upgrade at all; n/a when it bought none "
        "on average. Shares of spending lost to overhead, duplication and local capture.")
    cost = summary[summary["metric"].isin(COST_OUTCOMES)]
    if not cost.empty:
        notes = cost[(cost["metric"] == "budget_per_additional_upgrade_bn") & (cost["note"] != "")]
        lines += [f"- {r['scenario']}: {r['note']}" for _, r in notes.iterrows()] + ([""] if len(notes) else [])
    split = [f"extra_{o}_{p}_per_bn" for o in SPLIT_OUTCOMES for p in PARTS]
    if summary["metric"].isin(split).any():
        lines += ["### Who gains and who loses (per bn IDR spent, mean [95 % CI])", "",
                  "The difference from the no-support twin, split into firms that ever received support, initial "
                  "firms that never did, and entrants (firms that entered after month 0, not the same firms in the "
                  "two runs). A negative non-recipients' part is displacement: supported firms taking customers, "
                  "credit or survival from unsupported competitors (Criscuolo et al. 2019, AER 109(1): 48-85).", ""]
        for o in SPLIT_OUTCOMES:
            ms = (f"extra_{o}_per_bn", *[f"extra_{o}_{p}_per_bn" for p in PARTS])
            part = summary[summary["metric"].isin(ms)]
            if not part.empty:
                lines += [outcome_tables(part, ms), ""]
    lines += outcome_section(
        summary, COUNTERFACTUAL_OUTCOMES,
        "Per-firm counterfactual: recipients against themselves without support (mean [95 % CI])",
        "Every initial firm is the same firm in the scenario and in its no-support twin (same seed); the difference "
        "at the horizon is what the support did to it: dependence measured, not guessed. Effort over firms alive in "
        "both runs; survival over all; value added summed over the run. Per-firm differences: "
        "`counterfactual_firms.parquet`.")
    lines += outcome_section(
        summary, WITHDRAWAL_RECIPIENT_OUTCOMES, "Withdrawal test on recipients (mean [95 % CI])",
        "Firms supported in the 12 months before the withdrawal month, followed 12 and 24 months in the run with "
        "programmes ended and in the continuation run (same seed). Drop = continuation minus withdrawn: value added "
        "over the window (%), survival at its end (percentage points, pp), effort of firms alive in both (0-1 scale). "
        "Non-recipients' "
        "drop is the control: negative when withdrawal frees their market from supported competitors.")
    return lines


def plural(n: int, one: str, many: str | None = None) -> str:
    """'1 run', '3 runs' ('0 runs')."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def reused_text(reused: int, computed: int) -> str:
    """What a report says when stored runs were reused instead of re-run."""
    return (f"{plural(reused, 'run')} of {reused + computed:,} {'was' if reused == 1 else 'were'} reused from the "
            f"run store (`runs/`: computed by an earlier invocation with the same model code, parameters and seed, "
            f"so identical to a new run); {computed:,} computed now.")


def write_report(path, title: str, meta: dict, summary: pd.DataFrame, diffs: pd.DataFrame, baseline: str,
                 figures: dict[str, str], scenarios: dict[str, str], transitions: pd.DataFrame | None,
                 outcomes=HEADLINE_OUTCOMES, sections: dict[str, str] | None = None, html: bool = True,
                 notes: list[str] | None = None, findings: list[str] | None = None) -> None:
    """The Markdown report of a comparison, and its self-contained HTML copy (``html``).

    Args:
        outcomes: outcomes in the scenario and difference tables (default: the headline outcomes).
        sections: extra Markdown sections (title -> text) placed before the figures.
        notes: settings chosen for the user (e.g. a withdrawal month fitted to a short horizon), shown first.
        findings: more key-finding lines (e.g. on parameter uncertainty), after the paired ones.
    """
    outcomes = [o for o in outcomes if o in OUTCOMES] or list(HEADLINE_OUTCOMES)
    lines = [f"# {title}", ""]
    lines += [f"{plural(meta['n_seeds'], 'seed')} per scenario (common random numbers: seed *k* gives every scenario "
              f"the same initial population and exogenous draws, so differences are paired), {meta['n_firms']:,} "
              f"initial firms, {meta['n_months']} months. Intervals are 95 % t-intervals over seeds. "
              f"Wall time {meta['wall_seconds']:.0f} s with {meta['jobs']} worker process(es).", ""]
    if meta["n_seeds"] == 1:
        lines[-1:-1] = ["With one seed no interval can be computed: every number is a single run, shown without "
                        "brackets (run with `--seeds 2` or more for intervals)."]
    if meta.get("runs_reused"):
        lines[-1:-1] = [reused_text(meta["runs_reused"], meta.get("runs_computed", 0))]
    if notes:
        lines += ["**Settings chosen for this run:**", "", *[f"- {n}" for n in notes], ""]
    lines += key_findings(summary, diffs, baseline)
    if findings:
        lines += [*findings, ""]
    lines += ["## Scenarios", ""]
    lines += [f"- **{k}**: {v}" for k, v in scenarios.items()] + [""]
    lines += ["## Headline outcomes (mean [95 % CI])", "",
              "Shares are shown as percentages (the CSV files keep them as fractions 0-1: `outcome_units.csv`).", "",
              outcome_tables(summary, outcomes), ""]
    tables = differences_tables(diffs, baseline, outcomes) if not diffs.empty else []
    if tables:  # (one scenario: nothing to compare it with)
        lines += [f"## Against the baseline ({baseline}), paired by seed", "",
                  "### Paired differences", "",
                  "Difference = scenario minus baseline, in the outcome's unit; a difference of two percentages is "
                  "in percentage points (pp). d_z = paired effect size (mean difference / sd of differences). "
                  "'Clear' means the 95 % interval excludes zero; otherwise the number of seeds that would make the "
                  "difference clear at 80 % power (paired t test) is given.", "", *tables]
        lines += ["### Are the seeds enough?", "", seeds_text(diffs, outcomes, meta.get("n_seeds")), ""]
    lines += outcome_section(
        summary, DEPENDENCE_OUTCOMES, "Dependence over recipients and over all firms (mean [95 % CI])",
        "Recipients are the firms supported in at least one of the last 12 months; the all-firm versions divide by "
        "every firm alive (see *How to read the dependence metrics* below).")
    lines += outcome_section(
        summary, WITHDRAWAL_OUTCOMES, "Withdrawal test (mean [95 % CI])",
        "Each scenario against the same scenario and seeds with every programme ended at the withdrawal month (or, "
        "for a scenario that phases support out itself, without its phase-out). A positive drop means growth and "
        "survival relied on the support.")
    lines += causal_sections(summary)
    for name, text in (sections or {}).items():
        lines += [f"## {name}", "", text, ""]
    lines += ["## Figures", ""]
    for name, rel in figures.items():
        lines += [f"### {name}", "", f"![{name}]({rel})", ""]
    if transitions is not None and not transitions.empty:
        pct = (transitions * 100).round(2).astype(str) + " %"
        empty = transitions.isna().all(axis=1)
        pct[empty] = "–"  # a class no firm started in: no shares to show
        lines += [f"## Size-class transitions, {baseline} (% of each starting class, mean over seeds)", "",
                  markdown_table(pct, "start \\ end"), ""]
        if empty.any():
            lines += [f"No firm started in the {', '.join(map(str, transitions.index[empty]))} class (–).", ""]
    lines += ["## How to read the dependence metrics", "",
              "Dependence is measured over *recipients*: firms supported in at least one of the last 12 months "
              "(most firms receive nothing in a given year, so all-firm averages dilute it to nothing). Shares "
              "are shown as percentages; differences of percentages in percentage points (pp).",
              "- *Support as share of recipients' income*: per recipient, 12-month average support / (12-month "
              "average value added + support), the expected support that lowers its effort; mean over "
              "recipients, then over months.",
              "- *Recipients loss-making without support*: recipients whose profit minus this month's cash "
              "support is negative, among the recipients that were not loss-making in the month before their "
              "first support (targeting loss-making firms creates no dependence).",
              "- *Chronic recipients*: recipients supported in at least `chronic_months` (default 4) of the last "
              "24 months, i.e. about every six months or more often, so that their expected support never decays "
              "to half between services (12-month moving average: half-life about 8 months).",
              "- *Effort gap*: mean effort (0-1) of the firms that are not recipients minus that of recipients; "
              "positive = recipients put in less own effort (a cross-section: recipients are also selected).",
              "- *All-firm versions* (`..._all_firms`): the same over every firm alive.",
              "- *Withdrawal test*: the same scenario and seed with every programme ended at the withdrawal month; "
              "drop in value added over the following 24 months, survival and upgrades lost.",
              "- *No-support twin*: the same scenario and seed with no budget (`budget_per_firm_month = 0`), "
              "everything else equal; scenario minus twin is what the budget caused. *Recipients*: firms supported "
              "in at least one of the last 12 months (at withdrawal) or in any month (counterfactual).", ""]
    lines += ["## Provenance", "", "```", *[f"{k}: {v}" for k, v in meta.items()], "```", ""]
    from .io import write_text

    write_text(path, "\n".join(lines))
    if html:
        from .html import write_html_report

        write_html_report(path)
