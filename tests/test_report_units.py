"""Reports never contradict themselves (issue 13): one unit per outcome in tables, figures and text, and key
findings at the top that agree with the tables they summarise."""

import re

import numpy as np
import pandas as pd
import pytest

import run as cli_main
from analysis import figures
from analysis.metrics import OUTCOMES, PARAM_LABELS, SHOWN, param_label
from analysis.report import fmt, key_findings
from model.params import FIELD_GROUP


def _capture(fig) -> list[tuple]:
    """What a reader sees of a figure, per visible axes: (outcome key set by ``ax.set_gid``, title, lines as
    (label, x, y, marker, colour, style), window extent of the title)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    return [(ax.get_gid(), ax.get_title(loc="left"),
             [(ln.get_label(), ln.get_xdata(), ln.get_ydata(), ln.get_marker(), ln.get_color(), ln.get_linestyle())
              for ln in ax.get_lines()], ax._left_title.get_window_extent(r)) for ax in fig.axes if ax.get_visible()]


@pytest.fixture(scope="module")
def small_comparison(tmp_path_factory):
    """A real small comparison; the figures' data are captured as they are saved."""
    out = tmp_path_factory.mktemp("cmp") / "out"
    seen = {}
    orig = figures._save

    def capture(fig, path):
        seen[path.name] = _capture(fig)
        return orig(fig, path)

    mp = pytest.MonkeyPatch()
    mp.setattr(figures, "_save", capture)
    try:
        assert cli_main.main(["compare", "baseline", "clustering", "concentrated_grants", "--seeds", "3", "--firms",
                              "400", "--months", "24", "--withdrawal-month", "0", "--out", str(out), "--no-progress",
                              "--jobs", "1"]) == 0
    finally:
        mp.undo()
    return out, seen


def _table_rows(md: str) -> dict[str, list[str]]:
    """First cell -> other cells of every Markdown table row (later tables add columns to the same row)."""
    rows: dict[str, list[str]] = {}
    heads: dict[str, list[str]] = {}
    head = None
    for ln in md.splitlines():
        if not ln.startswith("|"):
            head = None
            continue
        cells = [c.strip() for c in ln.strip().strip("|").split("|")]
        if cells[0].startswith("---"):
            continue
        if head is None:
            head = cells
            continue
        for h, c in zip(head[1:], cells[1:], strict=True):
            heads.setdefault(cells[0], []).append(h)
            rows.setdefault(cells[0], []).append(c)
    return {k: dict(zip(heads[k], v, strict=True)) for k, v in rows.items()}


def test_every_outcome_has_one_shown_unit():
    for name, sh in SHOWN.items():
        assert not sh.unit.startswith("share"), name  # shares are shown as percentages
        assert not re.search(r"(?<!percentage )\bpoints\b", sh.unit + sh.diff_unit), name
        if OUTCOMES[name][1].startswith("share"):
            assert sh.scale == 100 and sh.unit.startswith("%") and sh.diff_unit == "pp", name


def test_figure_table_and_csv_agree_on_an_outcome(small_comparison):
    out, seen = small_comparison
    md = (out / "report.md").read_text()
    summary = pd.read_csv(out / "summary.csv")
    units = pd.read_csv(out / "outcome_units.csv").set_index("metric")
    metric = "recipient_support_share_income"
    sh = SHOWN[metric]
    assert units.loc[metric, "report_scale"] == 100 and units.loc[metric, "report_unit"] == sh.unit
    rows = _table_rows(md)
    row = rows[f"{sh.label} ({sh.unit})"]
    for scen in ("baseline", "clustering", "concentrated_grants"):
        raw = summary[(summary["scenario"] == scen) & (summary["metric"] == metric)]["mean"].iloc[0]
        assert 0 < raw < 1  # the CSV keeps the fraction
        assert row[scen].split(" [")[0] == fmt(raw * 100)  # the table shows the percent
    # the figure's panel names the same unit and plots the same numbers: its monthly mean line averaged over
    # months 1.. is the table's value (the outcome is the mean over months 1..). Panels are found by the outcome
    # they show (small multiples: one per scenario, each over the baseline; the title is on the top row)
    panels = [(t, ln) for gid, t, ln, _ in seen["growth_dependence.png"] if gid == metric]
    assert len(panels) == 2  # clustering and concentrated_grants, each over the baseline
    assert "% of income" in panels[0][0].replace("\n", " ")
    lines = panels[0][1]
    for label, x, y, *_ in lines:
        if label == "baseline":
            x, y = np.asarray(x), np.asarray(y)
            raw = summary[(summary["scenario"] == "baseline") & (summary["metric"] == metric)]["mean"].iloc[0]
            assert y[x >= 1].mean() == pytest.approx(raw * 100, rel=1e-9)
            break
    else:
        raise AssertionError("no baseline line")
    # the differences figure: in pp, with the paired difference's value
    diffs = pd.read_csv(out / "differences.csv")
    (title, lines), = [(t, ln) for gid, t, ln, _ in seen["differences.png"] if gid == metric]
    assert "(difference, pp)" in title
    d = diffs[(diffs["metric"] == metric)].set_index("scenario")["diff"]
    xs = sorted(float(np.asarray(x)[0]) for _, x, _, marker, *_ in lines if marker == "o")  # (not the caps)
    assert xs == pytest.approx(sorted(d.to_numpy() * 100), rel=1e-9)
    # no bare "points" and no "share" unit anywhere a reader sees
    assert not re.search(r"(?<!percentage )\bpoints\b", md)
    assert "(share" not in md


def test_key_findings_at_the_top_agree_with_the_differences(small_comparison):
    out, _ = small_comparison
    md = (out / "report.md").read_text()
    assert md.index("## Key findings") < md.index("## Headline outcomes")
    diffs = pd.read_csv(out / "differences.csv").set_index(["scenario", "metric"])
    block = md[md.index("## Key findings"):md.index("## Scenarios")]
    lines = {m.group(1): m.group(0) for m in re.finditer(r"^- \*\*(\w+)\*\*: .*$", block, re.M)}
    assert set(lines) == {"clustering", "concentrated_grants"}
    for scen, line in lines.items():
        r = diffs.loc[(scen, "value_added_growth")]
        growth = line.split("value-added growth ", 1)[1].split(";")[0]
        if r["ci_low"] <= 0 <= r["ci_high"]:
            assert growth.startswith("no clear difference"), line
        else:
            assert growth.startswith(("+" if r["diff"] > 0 else "−") + fmt(abs(r["diff"]))), line
            assert "pp a year" in growth
    # what drives it comes from the data: clustering's own mechanism (cluster membership) moved most
    assert "what moved most: cluster members +" in lines["clustering"]
    # concentrated grants reach far fewer firms
    assert "firms reached by support −" in lines["concentrated_grants"]


def test_no_table_scrolls_sideways(small_comparison):
    out, _ = small_comparison
    md = (out / "report.md").read_text()
    widths = [ln.count("|") - 1 for ln in md.splitlines() if ln.startswith("|")]
    assert widths and max(widths) <= 7


def test_key_findings_say_no_clear_difference_when_the_interval_covers_zero():
    summary = pd.DataFrame({"scenario": ["b", "s"], "metric": "value_added_growth", "mean": [5.0, 5.1],
                            "ci_low": [4.0, 4.1], "ci_high": [6.0, 6.1]})
    row = dict(scenario="s", metric="value_added_growth", n_pairs=5, diff=0.1, ci_low=-0.05, ci_high=0.25,
               effect_size_dz=0.5, clear=False, seeds_needed=20.0)
    text = "\n".join(key_findings(summary, pd.DataFrame([row]), "b"))
    assert "value-added growth no clear difference (+0.100 pp a year [−0.0500, +0.250])" in text
    clear = dict(row, ci_low=0.05, clear=True)
    text = "\n".join(key_findings(summary, pd.DataFrame([clear]), "b"))
    assert "value-added growth +0.100 pp a year [+0.0500, +0.250]" in text
    assert "no mechanism outcome differs clearly" in text


def test_differences_titles_are_wrapped_and_do_not_overlap(small_comparison):
    """Long outcome labels are wrapped: no panel title runs into its neighbour's (they did before)."""
    _, seen = small_comparison
    panels = seen["differences.png"]
    assert {gid for gid, *_ in panels} >= {"value_added_growth", "recipient_support_share_income"}
    boxes = [box for *_, box in panels]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two panel titles overlap"
    assert all(len(line) <= 40 for _, t, *_ in panels for line in t.split("\n"))


def test_one_colour_per_scenario_name_in_every_figure(small_comparison):
    """A scenario has the same Okabe-Ito colour and line style in every figure, whatever the other scenarios."""
    out, seen = small_comparison
    okabe_ito = {c.lower() for c in figures.OKABE_ITO.values()}
    for name in ("growth_dependence.png", "upgrades.png", "digital.png"):
        for _, _, lines, _ in seen[name]:
            for label, _, _, _, colour, style in lines:
                if label in ("baseline", "clustering", "concentrated_grants"):
                    assert (str(colour).lower(), style) == (figures.scenario_style(label)[0].lower(),
                                                            figures.scenario_style(label)[1]), (name, label)
                    assert str(colour).lower() in okabe_ito
    # the colour of a name does not depend on the other scenarios of a report (it did: by position)
    assert figures.colours(["baseline", "phase_out"])["phase_out"] == \
        figures.colours(["self_governance", "clustering", "phase_out"])["phase_out"]
    assert figures.colours(["my_scenario"])["my_scenario"] == \
        figures.colours(["baseline", "x", "my_scenario"])["my_scenario"]
    # every figure has a vector copy beside it
    pngs = sorted((out / "figures").glob("*.png"))
    assert pngs and all(p.with_suffix(".svg").stat().st_size > 1000 for p in pngs)


def test_reused_runs_are_counted_in_the_report(small_comparison, tmp_path):
    """Repeating a command reuses its stored runs, and the report says how many."""
    out, _ = small_comparison
    md = (out / "report.md").read_text()
    assert "reused" not in md.split("## Key findings")[0]  # first time: every run computed
    import shutil

    again = tmp_path / "again"
    shutil.copytree(out / "runs", again / "runs")
    shutil.copy(out / "index.parquet", again / "index.parquet")
    assert cli_main.main(["compare", "baseline", "clustering", "concentrated_grants", "--seeds", "3", "--firms",
                          "400", "--months", "24", "--withdrawal-month", "0", "--out", str(again), "--no-progress",
                          "--jobs", "1"]) == 0
    head = (again / "report.md").read_text().split("## Key findings")[0]
    n = len(list((out / "runs").glob("*.parquet")))
    assert n > 0 and f"{n} runs of {n} were reused" in head and "0 computed now" in head


def test_every_parameter_has_a_readable_label():
    assert set(PARAM_LABELS) == set(FIELD_GROUP)
    for name, lab in PARAM_LABELS.items():
        assert lab != name and "_" not in lab, name
    assert param_label("budget_per_firm_month", with_name=True) == "Budget (IDR per firm a month) " \
                                                                  "(`budget_per_firm_month`)"


# -- the sweep and sensitivity reports use the same units ---------------------------------------------------
SHARE = "recipient_support_share_income"  # a share: 0.03 in the CSV files, 3 % in a report


def _run_capturing(module, argv: list[str]) -> dict:
    """Run a command in process; the figures' axes as they are saved (``module._save``)."""
    seen = {}
    orig = module._save

    def capture(fig, path):
        seen[path.name] = [(ax.get_gid(), ax.get_xlabel(), ax.get_ylabel(), ax.get_title(loc="left"), ax)
                           for ax in fig.axes if ax.get_visible()]
        seen[path.name + ":data"] = _capture(fig)
        # a label's own box (an annotation's window extent also spans its leader line)
        seen[path.name + ":texts"] = [(ax.get_gid(), [(t.get_text(), (t.get_bbox_patch() or t).get_window_extent())
                                                      for t in ax.texts])
                                      for ax in fig.axes if ax.get_visible()]
        return orig(fig, path)

    mp = pytest.MonkeyPatch()
    mp.setattr(module, "_save", capture)
    try:
        assert cli_main.main(argv) == 0
    finally:
        mp.undo()
    return seen


def _no_overlap(texts) -> None:
    boxes = [b for _, b in texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), f"labels overlap: {[t for t, _ in texts]}"


def test_sweep_report_shows_shares_in_percent_and_levers_by_label(tmp_path):
    from experiments import sweep_report

    spec = tmp_path / "sweep.toml"
    spec.write_text(f"""
[sweep]
name = "units"
trials = 4
seeds = 2
population = 200
horizon = 12
sampler = "random"
sampler_seed = 3
[levers]
budget_per_firm_month = [20000.0, 120000.0]
central_overhead = [0.1, 0.35]
[objectives]
value_added_growth = "maximise"
{SHARE} = "minimise"
[constraints]
lost_share = {{ max = 0.3 }}
""")
    out = tmp_path / "out"
    seen = _run_capturing(sweep_report, ["sweep", str(spec), "--out", str(out), "--jobs", "1", "--no-progress"])
    md = (out / "report.md").read_text()
    front = pd.read_csv(out / "pareto.csv")
    sh = SHOWN[SHARE]
    assert (0 < front[SHARE]).all() and (front[SHARE] < 1).all()  # the CSV keeps the fraction
    rows = _table_rows(md)
    col = f"{sh.label} ({sh.unit})"
    for _, r in front.iterrows():  # the table shows the percent: 0.0325 would be read as 0.03 %
        assert rows[str(int(r["trial"]))][col] == f"{fmt(r[SHARE] * 100)} ± {fmt(r[f'{SHARE}_se'] * 100)}"
    # levers by readable label (the raw name once, in the list of levers); differences of percents in pp
    assert "| trial | Budget (IDR per firm a month) | Overhead, centralised programmes (0-1) |" in md
    assert "- Budget (IDR per firm a month) (`budget_per_firm_month`):" in md
    assert "constraint: Budget lost to overhead, duplication, capture <= 30 % of spending" in md
    assert re.search(r"Against the reference \(today's levers\): MSME value added growth [+-][\d.]+ pp a year \(.*"
                     r"support / recipients' income \(12-month averages\) [+-][\d.]+ pp \(", md)
    assert (out / "outcome_units.csv").exists() and "(share" not in md
    # the Pareto figure: the axis names the shown unit and the front's points are in percent
    (gid, xlabel, ylabel, _, ax), = seen["pareto.png"]
    assert gid == f"value_added_growth|{SHARE}" and "% of income" in ylabel.replace("\n", " ")
    ys = sorted(float(y) for _, _, ydata, marker, *_ in seen["pareto.png:data"][0][2] if marker == "o"
                for y in np.atleast_1d(ydata))
    assert ys == pytest.approx(sorted(front[SHARE] * 100), rel=1e-9)
    _no_overlap(seen["pareto.png:texts"][0][1])
    # the Pareto set (Optuna's study.best_trials) is the set of feasible trials that no other feasible one dominates
    t = pd.read_csv(out / "trials.csv")
    t = t[(t["state"] == "complete") & t["feasible"]]
    v = np.column_stack([-t["value_added_growth"], t[SHARE]])  # both minimised
    front_now = {int(n) for n, row in zip(t["trial"], v, strict=True)
                 if not np.any(np.all(v <= row, axis=1) & np.any(v < row, axis=1))}
    assert front_now == set(front["trial"]) == set(t.loc[t["pareto"], "trial"])
    assert len(t) < (pd.read_csv(out / "trials.csv")["state"] == "complete").sum()  # the constraint binds
    # the importance figure names levers by label
    imp_axes = seen["importance.png"]
    assert {g for g, *_ in imp_axes} == {"value_added_growth", SHARE}
    ticks = [t.get_text() for t in imp_axes[0][4].get_yticklabels()]
    assert set(ticks) == {param_label("budget_per_firm_month"), param_label("central_overhead")}


def test_sensitivity_report_shows_elementary_effects_in_pp_and_parameters_by_label(tmp_path):
    from experiments import sensitivity

    spec = tmp_path / "sens.toml"
    spec.write_text(f"""
[sensitivity]
name = "units"
methods = ["morris"]
seeds = 1
population = 200
horizon = 12
outcomes = ["value_added_growth", "{SHARE}"]
[parameters]
budget_per_firm_month = [20000.0, 120000.0]
central_overhead = [0.1, 0.35]
dependence_elasticity = [0.5, 2.5]
[morris]
trajectories = 2
""")
    out = tmp_path / "out"
    seen = _run_capturing(sensitivity, ["sensitivity", str(spec), "--out", str(out), "--jobs", "1", "--no-progress"])
    md = (out / "report.md").read_text()
    mor = pd.read_csv(out / "morris.csv")
    d = mor[mor["outcome"] == SHARE].set_index("parameter")
    assert d["mu_star"].max() > 0
    block = md.split(f"### {SHOWN[SHARE].label} (μ*, μ, σ in pp)")[1].split("###")[0]
    rows = _table_rows(block)
    for p, r in d.iterrows():  # μ* of a share is shown in percentage points (x 100), the CSV keeps the raw
        cell = rows[param_label(p, with_name=True)]["μ* [95 % CI]"]
        assert cell == f"{fmt(r['mu_star'] * 100)} ± {fmt(r['mu_star_conf'] * 100)}"
    assert "(uncertaintie)" not in md and "Effort lost per unit of support (elasticity)" in md
    (gid, xlabel, _, title, ax), = [a for a in seen["morris.png"] if a[0] == SHARE]
    assert "pp" in xlabel and title.replace("\n", " ") == SHOWN[SHARE].label
    (_, _, lines, _), = [a for a in seen["morris.png:data"] if a[0] == SHARE]
    xs = sorted(float(x) for _, xdata, _, marker, *_ in lines if marker == "o" for x in np.atleast_1d(xdata))
    assert xs == pytest.approx(sorted(d["mu_star"] * 100), rel=1e-9)
    texts = dict(seen["morris.png:texts"])[SHARE]
    assert {t for t, _ in texts} == {param_label(p) for p in d.index}
    _no_overlap(texts)


def test_sobol_indices_above_one_are_flagged_as_noise(tmp_path):
    from experiments.sensitivity import _plus_minus, sobol_figure

    df = pd.DataFrame({"outcome": SHARE, "parameter": ["budget_per_firm_month", "capture_rate"],
                       "S1": [1.3, 0.2], "S1_conf": [0.5, 0.1], "ST": [0.9, 0.3], "ST_conf": [0.2, 0.1]})
    cells = _plus_minus(df, "S1", flag_above_one=True)
    assert "estimation noise" in cells[0] and "noise" not in cells[1]
    seen = {}
    orig = figures._save
    mp = pytest.MonkeyPatch()
    mp.setattr("experiments.sensitivity._save", lambda fig, path: seen.setdefault("ax", fig.axes[0]) and
               orig(fig, path))
    try:
        sobol_figure(df, tmp_path / "sobol.png")
    finally:
        mp.undo()
    hatched = [(p.get_width(), p.get_hatch()) for p in seen["ax"].patches if p.get_width() != 0]
    assert {h for w, h in hatched if w > 1} == {"xxx"} and all(not h for w, h in hatched if w <= 1)
    assert [t.get_text() for t in seen["ax"].get_yticklabels()] == [param_label("budget_per_firm_month"),
                                                                    param_label("capture_rate")]


def test_html_copy_embeds_figures_renders_tables_and_escapes_raw_html(tmp_path):
    from analysis.html import markdown_to_html

    (tmp_path / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(40)))
    md = ("# T\n\n| a | b |\n|---|---|\n| `x_y` | **2** |\n\n- one\n  - nested\n\n![fig](fig.png)\n\n"
          "a self_governance b, <script>alert(1)</script>\n")
    page = markdown_to_html(md, "T", tmp_path)
    assert "<table>" in page and "<td><code>x_y</code></td>" in page and "<strong>2</strong>" in page
    assert page.count("<ul>") == 2 and "data:image/png;base64," in page and 'src="fig.png"' not in page
    assert "self_governance" in page and "<em>" not in page  # an underscore inside a name is not emphasis
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_one_seed_shows_values_without_empty_intervals():
    from analysis.report import _cell, plural

    assert _cell(0.531, np.nan, np.nan) == "0.531" and _cell(np.nan, np.nan, np.nan) == "n/a"
    assert _cell(0.5, 0.4, 0.6, 100) == "50.0 [40.0, 60.0]"
    assert (plural(1, "seed"), plural(3, "seed"), plural(1, "run")) == ("1 seed", "3 seeds", "1 run")
    summary = pd.DataFrame({"scenario": "s", "metric": ["value_added_growth", "recipient_support_share_income"],
                            "mean": [2.75, 0.0453], "ci_low": np.nan, "ci_high": np.nan})
    text = "\n".join(key_findings(summary, pd.DataFrame(), "s"))
    assert "value-added growth 2.75 % a year" in text and "4.53 % of income" in text and "n/a" not in text
