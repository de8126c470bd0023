"""Figures for policy readers: time series with 95 % bands over seeds, upgrades, digital adoption,
the withdrawal test and where the budget goes. Every function writes one PNG and returns its path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .metrics import is_auxiliary, shown, transition_matrix, withdrawal_gap_series  # noqa: E402
from .stats import t_halfwidth  # noqa: E402

PALETTE = ["#1b4965", "#e07a5f", "#3d9970", "#9b5de5", "#f2a541", "#00a6a6", "#c1121f", "#6c757d",
           "#8d6e63", "#2a9d8f"]
plt.rcParams.update({
    "figure.dpi": 110, "savefig.dpi": 130, "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
    "legend.frameon": False,
})


def colours(scenarios) -> dict[str, str]:
    """A stable colour per scenario."""
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(scenarios)}


def _band(tidy: pd.DataFrame, metric: str, index_to_start: bool = False, scale: float = 1.0) -> pd.DataFrame:
    d = tidy[tidy["metric"] == metric].pivot_table(index=["scenario", "month"], columns="seed", values="value")
    if index_to_start:
        first = d.groupby(level="scenario").transform("first")
        d = d / first.replace(0, np.nan) * 100
    d = d * scale
    n = d.notna().sum(axis=1)
    out = pd.DataFrame({"mean": d.mean(axis=1), "sd": d.std(axis=1, ddof=1), "n": n})
    out["h"] = [t_halfwidth(s, int(k)) if k > 1 else 0.0 for s, k in zip(out["sd"], out["n"])]
    return out.reset_index()


def _plot_band(ax, band: pd.DataFrame, scen: str, colour: str, label: str | None = None) -> None:
    b = band[band["scenario"] == scen]
    ax.plot(b["month"], b["mean"], color=colour, lw=1.8, label=label or scen)
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


def growth_dependence(tidy: pd.DataFrame, out: Path, title: str = "") -> Path:
    """Six panels over time: growth (value added, employment, survival) and dependence."""
    scen = _main_scenarios(tidy)
    col = colours(scen)
    panels = GROWTH_DEPENDENCE_PANELS
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.6), sharex=True)
    for ax, (metric, label, idx, scale) in zip(axes.ravel(), panels):
        band = _band(tidy, metric, idx, scale)
        for s in scen:
            _plot_band(ax, band, s, col[s])
        ax.set_title(label, loc="left")
    for ax in axes[1]:
        ax.set_xlabel("month")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(scen), 5), bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(title or "Growth and dependence by scenario (mean and 95 % band over seeds)",
                 x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    return _save(fig, out)


def upgrades(tidy: pd.DataFrame, outcomes: pd.DataFrame, out: Path, baseline: str = "baseline") -> Path:
    """Upgrades over time and the baseline's size-class transition matrix."""
    scen = _main_scenarios(tidy)
    col = colours(scen)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.4, 1]})
    n0 = tidy[(tidy["metric"] == "firms_alive") & (tidy["month"] == 0)].groupby("scenario")["value"].mean()
    for s in scen:
        band = _band(tidy[tidy["scenario"] == s], "upgrades_cumulative", False, 1000.0 / n0.get(s, 1.0))
        _plot_band(ax, band, s, col[s])
    ax.set_title("Size-class upgrades (naik kelas), cumulative per 1,000 initial firms", loc="left")
    ax.set_xlabel("month")
    ax.legend(fontsize=8, ncol=2)
    mat = transition_matrix(tidy, baseline if baseline in scen else scen[0])
    if not mat.empty:
        pct = mat.to_numpy() * 100
        im = ax2.imshow(np.log10(np.maximum(pct, 1e-3)), cmap="Blues", vmin=-3, vmax=2, aspect="auto")
        for i in range(pct.shape[0]):
            for j in range(pct.shape[1]):
                ax2.text(j, i, f"{pct[i, j]:.2f}%" if pct[i, j] < 10 else f"{pct[i, j]:.0f}%", ha="center",
                         va="center", fontsize=9, color="white" if pct[i, j] > 30 else "black")
        ax2.set_xticks(range(pct.shape[1]), [c for c in mat.columns])
        ax2.set_yticks(range(pct.shape[0]), [c for c in mat.index])
        ax2.set_xlabel("class at the end (or exit)")
        ax2.set_ylabel("class at the start")
        ax2.grid(False)
        ax2.set_title(f"Transition matrix, {baseline}", loc="left")
        del im
    fig.tight_layout()
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
    col = colours(_main_scenarios(tidy))
    for s in scen:
        g = gap[gap["scenario"] == s].pivot_table(index="month", columns="seed", values="value")
        mean = g.mean(axis=1)
        h = np.array([t_halfwidth(sd, int(k)) if k > 1 else 0 for sd, k in zip(g.std(axis=1), g.notna().sum(axis=1))])
        ax.plot(mean.index, mean, color=col.get(s, "k"), lw=1.8, label=s)
        ax.fill_between(mean.index, mean - h, mean + h, color=col.get(s, "k"), alpha=0.18, lw=0)
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
    cols = ["#3d9970", "#f2a541", "#e07a5f", "#c1121f"]
    for (name, v), c in zip(parts.items(), cols):
        ax.barh(o.index, v * 100, left=left, color=c, label=name)
        left += v.fillna(0).to_numpy() * 100
    ax.invert_yaxis()
    ax.set_xlabel("% of budget spent")
    ax.set_title("Where the budget goes", loc="left")
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    # what the budget buys, causally: upgrades beyond the no-support twin per bn IDR (95 % interval)
    from .stats import mean_ci

    g = outcomes[outcomes["metric"] == "extra_upgrades_per_bn"]
    est = [mean_ci(g.loc[g["scenario"] == sc, "value"]) for sc in o.index]
    v = np.array([e[0] for e in est])
    err = np.array([[e[0] - e[1], e[2] - e[0]] for e in est]).T if est else None
    ax2.barh(o.index, np.nan_to_num(v), xerr=None if err is None else np.nan_to_num(err), color="#1b4965",
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
        d = diffs[diffs["metric"] == metric].set_index("scenario").reindex(scen)
        d[["diff", "ci_low", "ci_high"]] = d[["diff", "ci_low", "ci_high"]] * sh.scale
        y = np.arange(len(scen))
        lo = (d["diff"] - d["ci_low"]).fillna(0).clip(lower=0)
        hi = (d["ci_high"] - d["diff"]).fillna(0).clip(lower=0)
        for i, s in enumerate(scen):
            c = col[s] if bool(d["clear"].iloc[i]) else "#9aa5b1"
            ax.errorbar(d["diff"].iloc[i], y[i], xerr=[[lo.iloc[i]], [hi.iloc[i]]], fmt="o", color=c, ms=5,
                        capsize=3, lw=1.5)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, scen if ax in axes[:, 0] else [""] * len(scen), fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{sh.label}\n(difference, {sh.diff_unit})", loc="left", fontsize=9)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    for ax in axes.ravel()[len(outcomes):]:
        ax.set_visible(False)
    fig.suptitle(f"Scenario minus {baseline}, paired by seed: mean and 95 % interval (grey: interval includes 0)",
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
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(out)
    return out
