"""Figures for policy readers: time series with 95 % bands over seeds, upgrades, digital adoption,
the withdrawal test and where the budget goes. Every function writes one PNG (and the same figure as SVG
beside it, for print) and returns the PNG's path.
"""

from __future__ import annotations

import textwrap
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .metrics import is_auxiliary, shown, transition_matrix, withdrawal_gap_series  # noqa: E402
from .stats import t_halfwidth  # noqa: E402

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency; the
# teaching app uses the same palette (app/charts.py). Black is kept for the baseline.
OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
_OI = OKABE_ITO
# one colour and line style per bundled scenario name, the same in every figure of every report
SCENARIO_STYLES: dict[str, tuple[str, str]] = {
    "baseline": (_OI["black"], "-"),
    "self_governance": (_OI["blue"], "-"),
    "collaborative_platform": (_OI["orange"], "-"),
    "clustering": (_OI["bluish green"], "-"),
    "concentrated_grants": (_OI["vermillion"], "-"),
    "ecommerce_promotion": (_OI["sky blue"], "--"),
    "phase_out": (_OI["reddish purple"], "--"),
    "covid_shock": (_OI["vermillion"], ":"),
    "covid_shock_collaborative": (_OI["orange"], "-."),
}
# any other name: a colour and style drawn from its name (a stable hash), so it too is the same in every report
_OTHER_COLOURS = [c for k, c in _OI.items() if k not in ("black", "yellow")]
_OTHER_STYLES = ["-", "--", "-.", ":"]
PALETTE = list(_OTHER_COLOURS)
plt.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 130, "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
    "legend.frameon": False,
})


def scenario_style(name: str) -> tuple[str, str]:
    """(colour, line style) of a scenario name: fixed for the bundled scenarios, else from a stable hash of the
    name (the same in every report and every process)."""
    if name in SCENARIO_STYLES:
        return SCENARIO_STYLES[name]
    h = zlib.crc32(name.encode())
    return _OTHER_COLOURS[h % len(_OTHER_COLOURS)], _OTHER_STYLES[(h // len(_OTHER_COLOURS)) % len(_OTHER_STYLES)]


def colours(scenarios) -> dict[str, str]:
    """The colour of each scenario: one per name, whatever the other scenarios of the report."""
    return {s: scenario_style(s)[0] for s in scenarios}


def wrap(text: str, width: int) -> str:
    """A figure title or label broken into lines of at most ``width`` characters (keeping its own line
    breaks), so it does not run into the neighbouring panel."""
    return "\n".join(w for part in text.split("\n") for w in (textwrap.wrap(part, width) or [part]))


def place_labels(ax, xs, ys, texts, fontsize: float = 7) -> list:
    """Label points so that no two labels overlap: each label tries positions around its point (right, left,
    above, below, then further out with a leader line) and takes the first that overlaps no label placed
    before it and no other point and stays inside the axes. Returns the annotations."""
    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    box = ax.get_window_extent(r)
    back = {"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8}  # readable over a line
    pts = ax.transData.transform(np.column_stack([xs, ys]))
    placed: list = []
    out = []
    steps = [(6, 0, "left", "center"), (-6, 0, "right", "center"), (0, 7, "center", "bottom"),
             (0, -7, "center", "top")]
    cand = steps + [(dx * k, dy * k + (10 * k if dx else 0) * s, ha, va) for k in (2, 3, 4, 5) for s in (1, -1)
                    for dx, dy, ha, va in steps]
    def overlap_area(bb) -> float:
        return sum(max(0.0, min(bb.x1, q.x1) - max(bb.x0, q.x0)) * max(0.0, min(bb.y1, q.y1) - max(bb.y0, q.y0))
                   for q in placed)

    for i in np.argsort(-np.asarray(ys, dtype=float), kind="stable"):  # top points first
        best, fallback = None, None
        for dx, dy, ha, va in cand:
            a = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", ha=ha, va=va,
                            fontsize=fontsize, bbox=back)
            bb = a.get_window_extent(r).expanded(1.04, 1.15)
            inside = box.x0 <= bb.x0 and bb.x1 <= box.x1 and box.y0 <= bb.y0 and bb.y1 <= box.y1
            hit = not inside or any(bb.overlaps(p) for p in placed) or any(
                bb.contains(*pts[j]) for j in range(len(pts)) if j != i)
            if not hit:
                best = a
                break
            # crowded: the position that overlaps other labels least (outside the axes or over a point
            # is preferred to over a label; the first such position wins ties)
            score = overlap_area(bb)
            if fallback is None or score < fallback[0]:
                fallback = (score, dx, dy, ha, va)
            a.remove()
        if best is None:
            _, dx, dy, ha, va = fallback
            best = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                               va=va, fontsize=fontsize, bbox=back,
                               arrowprops=None if (abs(dx) <= 6 and abs(dy) <= 7) else
                               {"arrowstyle": "-", "lw": 0.5, "color": "#777"})
        elif abs(dx) > 6 or abs(dy) > 7:  # far from its point: the same label with a leader line
            best.remove()
            best = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points", ha=ha,
                               va=va, fontsize=fontsize, bbox=back,
                               arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#777"})
        placed.append(best.get_window_extent(r).expanded(1.04, 1.15))
        out.append(best)
    return out


def _band(tidy: pd.DataFrame, metric: str, index_to_start: bool = False, scale: float = 1.0) -> pd.DataFrame:
    d = tidy[tidy["metric"] == metric].pivot_table(index=["scenario", "month"], columns="seed", values="value")
    if index_to_start:
        first = d.groupby(level="scenario").transform("first")
        d = d / first.replace(0, np.nan) * 100
    d = d * scale
    n = d.notna().sum(axis=1)
    out = pd.DataFrame({"mean": d.mean(axis=1), "sd": d.std(axis=1, ddof=1), "n": n})
    out["h"] = [t_halfwidth(s, int(k)) if k > 1 else 0.0 for s, k in zip(out["sd"], out["n"], strict=True)]
    return out.reset_index()


def _plot_band(ax, band: pd.DataFrame, scen: str, colour: str, label: str | None = None, lw: float = 1.8,
               zorder: float = 2) -> None:
    b = band[band["scenario"] == scen]
    ax.plot(b["month"], b["mean"], color=colour, ls=scenario_style(scen)[1], lw=lw, label=label or scen,
            zorder=zorder)
    h = b["h"].fillna(0)
    ax.fill_between(b["month"], b["mean"] - h, b["mean"] + h, color=colour, alpha=0.18, lw=0)


def _main_scenarios(tidy: pd.DataFrame) -> list[str]:
    return [s for s in tidy["scenario"].unique() if not is_auxiliary(s)]


def _outcome_panel(metric: str) -> tuple[str, str, bool, float]:
    """A time-series panel of a report outcome: its label, unit and scale from ``analysis.metrics.SHOWN``
    (the tables use the same), so a figure and a table cannot disagree on units."""
    sh = shown(metric)
    return metric, f"{sh.label}\n({sh.unit_over_time})", False, sh.scale


# (monthly metric, panel title, index to month 0 = 100?, scale)
GROWTH_DEPENDENCE_PANELS = [
    ("value_added", "Value added (index, month 0 = 100)", True, 1.0),
    ("employment", "Employment (index, month 0 = 100)", True, 1.0),
    _outcome_panel("survival_rate"),
    _outcome_panel("recipient_support_share_income"),
    _outcome_panel("chronic_recipient_share"),
    _outcome_panel("effort_gap"),
]


def _rows(tidy: pd.DataFrame, baseline: str) -> tuple[str, list[str]]:
    """Small multiples: the baseline, and one row (or panel) per other scenario, each drawn over the baseline."""
    scen = _main_scenarios(tidy)
    base = baseline if baseline in scen else scen[0]
    return base, [s for s in scen if s != base] or [base]


def split_name(name: str, width: int) -> str:
    """A scenario name over lines of about ``width`` characters, broken only after an underscore."""
    lines = [""]
    for part in name.split("_"):
        piece = part if not lines[-1] else "_" + part
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines[-1] += "_"
            lines.append(part)
        else:
            lines[-1] += piece
    return "\n".join(lines)


def _row_label(ax, scen: str) -> None:
    ax.set_ylabel(split_name(scen, 16), fontsize=10, fontweight="bold", color=scenario_style(scen)[0])


def growth_dependence(tidy: pd.DataFrame, out: Path, title: str = "", baseline: str = "baseline") -> Path:
    """Six outcomes over time (growth: value added, employment, survival; dependence), as small multiples: one
    row per scenario, each panel that scenario over the baseline (black), the same y axis down a column."""
    base, rows = _rows(tidy, baseline)
    panels = GROWTH_DEPENDENCE_PANELS
    bands = [_band(tidy, metric, idx, scale) for metric, _, idx, scale in panels]
    fig, axes = plt.subplots(len(rows), len(panels), figsize=(2.55 * len(panels) + 0.9, 1.85 * len(rows) + 1.5),
                             sharex=True, sharey="col", squeeze=False)
    for i, s in enumerate(rows):
        for j, ((metric, label, _, _), band) in enumerate(zip(panels, bands, strict=True)):
            ax = axes[i, j]
            _plot_band(ax, band, s, scenario_style(s)[0])
            if s != base:  # drawn last and thinner, so it stays visible where the scenario follows it
                _plot_band(ax, band, base, scenario_style(base)[0], lw=1.0, zorder=3)
            ax.set_gid(metric)
            ax.tick_params(labelsize=8)
            if i == 0:
                ax.set_title(wrap(label, 30), loc="left", fontsize=9)
        _row_label(axes[i, 0], s)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    fig.suptitle(title or f"Growth and dependence: each scenario (colour) over {base} (black); mean and 95 % band "
                 "over seeds", x=0.01, ha="left", fontsize=12, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.98 - 0.25 / (1.85 * len(rows) + 1.5)))
    return _save(fig, out)


def upgrades(tidy: pd.DataFrame, outcomes: pd.DataFrame, out: Path, baseline: str = "baseline") -> Path:
    """Upgrades over time (small multiples: each scenario over the baseline) and the baseline's size-class
    transition matrix."""
    base, rows = _rows(tidy, baseline)
    ncol = min(3, len(rows))
    nrow = int(np.ceil(len(rows) / ncol))
    fig = plt.figure(figsize=(5.2 + 3.3 * ncol, max(4.4, 2.5 * nrow + 1.0)), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[3.3 * ncol, 5.2])
    axes = left.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False)
    n0 = tidy[(tidy["metric"] == "firms_alive") & (tidy["month"] == 0)].groupby("scenario")["value"].mean()
    band = {s: _band(tidy[tidy["scenario"] == s], "upgrades_cumulative", False, 1000.0 / n0.get(s, 1.0))
            for s in [base, *rows]}
    for ax, s in zip(axes.ravel(), rows, strict=False):
        _plot_band(ax, band[s], s, scenario_style(s)[0])
        if s != base:
            _plot_band(ax, band[base], base, scenario_style(base)[0], lw=1.0, zorder=3)
        ax.set_title(s, loc="left", fontsize=9, color=scenario_style(s)[0])
        ax.set_gid(s)
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[len(rows):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    left.suptitle(f"Size-class upgrades (naik kelas), cumulative per 1,000 initial firms: each scenario over "
                  f"{base} (black)", x=0.01, ha="left", fontsize=10, fontweight="bold")
    ax2 = right.subplots()
    mat = transition_matrix(tidy, base)
    if not mat.empty:
        pct = mat.to_numpy() * 100
        ax2.imshow(np.log10(np.maximum(pct, 1e-3)), cmap="Blues", vmin=-3, vmax=2, aspect="auto")
        for i in range(pct.shape[0]):
            for j in range(pct.shape[1]):
                text = ("no firms" if not np.isfinite(pct[i, j]) else f"{pct[i, j]:.2f}%" if pct[i, j] < 10
                        else f"{pct[i, j]:.0f}%")  # a class with no firms at the start has no row shares
                ax2.text(j, i, text, ha="center", va="center", fontsize=9,
                         color="white" if np.isfinite(pct[i, j]) and pct[i, j] > 30 else "black")
        ax2.set_xticks(range(pct.shape[1]), [c for c in mat.columns])
        ax2.set_yticks(range(pct.shape[0]), [c for c in mat.index])
        ax2.set_xlabel("class at the end (or exit)")
        ax2.set_ylabel("class at the start")
        ax2.grid(False)
        ax2.set_title(f"Transition matrix, {base}", loc="left")
    return _save(fig, out)


def digital(tidy: pd.DataFrame, out: Path, baseline: str = "baseline") -> Path:
    """Share of firms selling online by scenario, and the baseline's stage composition."""
    scen = _main_scenarios(tidy)
    col = colours(scen)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    band = _band(tidy, "stage_3_share", False, 100.0)
    for s in scen:
        _plot_band(ax, band, s, col[s])
    ax.set_title("Firms selling online, digital stage 3.0 (%)", loc="left")
    ax.set_xlabel("month")
    ax.legend(fontsize=8, ncol=2)
    b = baseline if baseline in scen else scen[0]
    d = tidy[(tidy["scenario"] == b) & tidy["metric"].isin(["stage_1_share", "stage_2_share", "stage_3_share"])]
    m = d.groupby(["month", "metric"])["value"].mean().unstack() * 100
    ax2.stackplot(m.index, m["stage_1_share"], m["stage_2_share"], m["stage_3_share"],
                  labels=["1.0 traditional", "2.0 basic digital tools", "3.0 selling online"],
                  colors=["#cfd8dc", "#90caf9", "#1b4965"])
    ax2.set_ylim(0, 100)
    ax2.set_title(f"Digital stages, {b} (% of firms)", loc="left")
    ax2.set_xlabel("month")
    ax2.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def withdrawal(tidy: pd.DataFrame, out: Path, pairs: dict[str, tuple[str, str, int]]) -> Path:
    """The withdrawal test: value added with withdrawal minus without, in %."""
    gap = withdrawal_gap_series(tidy, pairs, "value_added")
    fig, ax = plt.subplots(1, 1, figsize=(10, 4.8))
    scen = list(dict.fromkeys(gap["scenario"]))
    for s in scen:
        colour, style = scenario_style(s)
        g = gap[gap["scenario"] == s].pivot_table(index="month", columns="seed", values="value")
        mean = g.mean(axis=1)
        h = np.array([t_halfwidth(sd, int(k)) if k > 1 else 0
                      for sd, k in zip(g.std(axis=1), g.notna().sum(axis=1), strict=True)])
        ax.plot(mean.index, mean, color=colour, ls=style, lw=1.8, label=s)
        ax.fill_between(mean.index, mean - h, mean + h, color=colour, alpha=0.18, lw=0)
    months = sorted({m for _, _, m in pairs.values()})
    for m in months:
        ax.axvline(m, color="k", lw=0.8, ls="--")
        ax.text(m + 0.5, ax.get_ylim()[0], " programmes end", va="bottom", fontsize=8)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_title("Withdrawal test: value added with support withdrawn vs. the same run without (%)", loc="left")
    ax.set_xlabel("month")
    ax.set_ylabel("difference, %")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return _save(fig, out)


def budget(outcomes: pd.DataFrame, out: Path) -> Path:
    """Where each scenario's budget goes, and what it buys."""
    o = outcomes.groupby(["scenario", "metric"])["value"].mean().unstack()
    scen = list(dict.fromkeys(outcomes["scenario"]))
    o = o.reindex(scen)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    parts = {"reached firms": 1 - o["lost_share"], "overhead": o["overhead_share"],
             "duplication": o["duplication_share"], "capture": o["capture_share"]}
    left = np.zeros(len(o))
    cols = [OKABE_ITO["bluish green"], OKABE_ITO["orange"], OKABE_ITO["sky blue"], OKABE_ITO["vermillion"]]
    # the share that reaches firms with its 95 % interval over seeds (the interval of the share lost)
    from .stats import mean_ci

    lost = outcomes[outcomes["metric"] == "lost_share"]
    ci = [mean_ci(lost.loc[lost["scenario"] == sc, "value"]) for sc in o.index]
    reach_err = np.nan_to_num(np.array([[c[2] - c[0], c[0] - c[1]] for c in ci]).T * 100) if ci else None
    for (name, v), c in zip(parts.items(), cols, strict=True):
        ax.barh(o.index, v * 100, left=left, color=c, label=name,
                xerr=reach_err if name == "reached firms" else None, ecolor="#333", capsize=3)
        left += v.fillna(0).to_numpy() * 100
    ax.invert_yaxis()
    ax.set_xlabel("% of budget spent (error bar: 95 % interval of the share reaching firms)")
    ax.set_title("Where the budget goes", loc="left")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    # what the budget buys, causally: upgrades beyond the no-support twin per bn IDR (95 % interval)
    g = outcomes[outcomes["metric"] == "extra_upgrades_per_bn"]
    est = [mean_ci(g.loc[g["scenario"] == sc, "value"]) for sc in o.index]
    v = np.array([e[0] for e in est])
    err = np.array([[e[0] - e[1], e[2] - e[0]] for e in est]).T if est else None
    ax2.barh(o.index, np.nan_to_num(v), xerr=None if err is None else np.nan_to_num(err), color=OKABE_ITO["blue"],
             ecolor="#888", capsize=3)
    for i, x in enumerate(v):
        ax2.text(0, i, " n/a" if not np.isfinite(x) else f" {x:,.3g}", va="center", fontsize=8)
    ax2.axvline(0, color="k", lw=0.6)
    ax2.invert_yaxis()
    ax2.set_xlabel("additional size-class upgrades per bn IDR spent, vs the no-support twin (95 % CI)")
    ax2.set_title("What the budget buys", loc="left")
    fig.tight_layout()
    return _save(fig, out)


def differences(diffs: pd.DataFrame, out: Path, outcomes, baseline: str = "baseline") -> Path:
    """Paired differences against the baseline with 95 % intervals, one panel per outcome."""
    outcomes = [o for o in outcomes if o in set(diffs["metric"])]
    scen = list(dict.fromkeys(diffs["scenario"]))
    col = colours([baseline] + scen)
    ncol = min(4, max(1, len(outcomes)))
    nrow = int(np.ceil(len(outcomes) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 0.45 * len(scen) * nrow + 1.4 * nrow), squeeze=False)
    for ax, metric in zip(axes.ravel(), outcomes, strict=False):
        sh = shown(metric)
        ax.set_gid(metric)  # the outcome this panel shows (tests and readers of the SVG find panels by it)
        d = diffs[diffs["metric"] == metric].set_index("scenario").reindex(scen)
        d[["diff", "ci_low", "ci_high"]] = d[["diff", "ci_low", "ci_high"]] * sh.scale
        y = np.arange(len(scen))
        lo = (d["diff"] - d["ci_low"]).fillna(0).clip(lower=0)
        hi = (d["ci_high"] - d["diff"]).fillna(0).clip(lower=0)
        for i, s in enumerate(scen):
            # the scenario's own colour always; an interval that includes 0 gets an open marker and a thin
            # line (not a grey, which some readers cannot tell from a scenario's colour)
            clear = bool(d["clear"].iloc[i])
            ax.errorbar(d["diff"].iloc[i], y[i], xerr=[[lo.iloc[i]], [hi.iloc[i]]], fmt="o", color=col[s], ms=5,
                        mfc=col[s] if clear else "white", capsize=3, lw=1.8 if clear else 0.9)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, scen if ax in axes[:, 0] else [""] * len(scen), fontsize=8)
        ax.invert_yaxis()
        ax.set_title(wrap(f"{sh.label}\n(difference, {sh.diff_unit})", 38), loc="left", fontsize=9)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    for ax in axes.ravel()[len(outcomes):]:
        ax.set_visible(False)
    fig.suptitle(f"Scenario minus {baseline}, paired by seed: mean and 95 % interval (open marker: interval "
                 "includes 0)",
                 x=0.01, ha="left", fontsize=11, fontweight="bold")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return _save(fig, out)


def parameter_uncertainty(per_draw: pd.DataFrame, split: pd.DataFrame, out: Path, outcomes,
                          baseline: str = "baseline") -> Path:
    """Paired differences under each draw of the calibration's accepted vectors (mean and 95 % seed-noise
    interval) against the total interval (seed noise + calibration), one panel per outcome."""
    outcomes = [o for o in outcomes if o in set(split["metric"])]
    scen = list(dict.fromkeys(split["scenario"]))
    draws = sorted(per_draw["draw"].unique())
    dcol = {d: PALETTE[(i + 1) % len(PALETTE)] for i, d in enumerate(draws)}
    ncol = min(4, max(1, len(outcomes)))
    nrow = int(np.ceil(len(outcomes) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, (0.55 * len(scen) + 1.5) * nrow), squeeze=False)
    step = 0.6 / max(len(draws), 1)
    for ax, metric in zip(axes.ravel(), outcomes, strict=False):
        sh = shown(metric)
        t = split[split["metric"] == metric].set_index("scenario")
        for i, sc in enumerate(scen):
            if sc not in t.index:
                continue
            r = t.loc[sc]
            if np.isfinite(r["ci_low"]):
                ax.plot([r["ci_low"] * sh.scale, r["ci_high"] * sh.scale], [i, i], color="#c9d1d9", lw=9,
                        solid_capstyle="butt", zorder=1)
            ax.plot(r["diff"] * sh.scale, i, "D", color="k", ms=5, zorder=3)
            g = per_draw[(per_draw["scenario"] == sc) & (per_draw["metric"] == metric)]
            for _, d in g.iterrows():
                y = i + (draws.index(d["draw"]) - (len(draws) - 1) / 2) * step
                h = d["half"] * sh.scale if np.isfinite(d["half"]) else 0.0
                ax.errorbar(d["mean"] * sh.scale, y, xerr=h, fmt="o", ms=3.5, color=dcol[d["draw"]], capsize=2,
                            lw=1, zorder=2)
            if bool(r["sign_depends_on_calibration"]):
                ax.annotate("sign depends on calibration", (0.02, i - 0.42), xycoords=("axes fraction", "data"),
                            fontsize=7, color="#c1121f")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(scen)), scen if ax in axes[:, 0] else [""] * len(scen), fontsize=8)
        ax.set_ylim(len(scen) - 0.5, -0.5)
        ax.set_title(textwrap.fill(sh.label, 40) + f"\n(difference, {sh.diff_unit})", loc="left", fontsize=9)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    for ax in axes.ravel()[len(outcomes):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=dcol[d], marker="o", ls="", label=f"draw {d}") for d in draws]
    handles += [plt.Line2D([], [], color="k", marker="D", ls="", label="mean over draws"),
                plt.Line2D([], [], color="#c9d1d9", lw=6, label="95 % interval, seed noise + calibration")]
    fig.legend(handles=handles, loc="lower left", ncol=min(len(handles), 5), fontsize=8, bbox_to_anchor=(0.01, 0))
    fig.suptitle(f"Scenario minus {baseline} under each calibration draw (95 % seed-noise intervals)",
                 x=0.01, ha="left", fontsize=11, fontweight="bold")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return _save(fig, out)


def _save(fig, out: Path) -> Path:
    """Write the figure as ``out`` (PNG) and, beside it, the same figure as SVG (vector, for print and
    slides); each through a temporary file, so a reader never sees half a figure."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        for path in (out, out.with_suffix(".svg")):
            tmp = path.with_suffix(f".tmp{path.suffix}")
            fig.savefig(tmp, bbox_inches="tight", metadata={"Date": None} if path.suffix == ".svg" else None)
            tmp.replace(path)
    finally:
        plt.close(fig)
    return out
