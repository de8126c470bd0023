"""Reports never contradict themselves (issue 13): one unit per outcome in tables, figures and text, and key
findings at the top that agree with the tables they summarise."""

import re

import numpy as np
import pandas as pd
import pytest

import run as cli_main
from analysis import figures
from analysis.metrics import OUTCOMES, SHOWN
from analysis.report import fmt, key_findings


@pytest.fixture(scope="module")
def small_comparison(tmp_path_factory):
    """A real small comparison; the figures' data are captured as they are saved."""
    out = tmp_path_factory.mktemp("cmp") / "out"
    seen = {}
    orig = figures._save

    def capture(fig, path):
        seen[path.name] = [(ax.get_title(loc="left"), [(ln.get_label(), ln.get_xdata(), ln.get_ydata(), ln.get_marker())
                                                       for ln in ax.get_lines()]) for ax in fig.axes]
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
    # months 1.. is the table's value (the outcome is the mean over months 1..)
    (title, lines), = [(t, ln) for t, ln in seen["growth_dependence.png"] if t.startswith(sh.label)]
    assert "% of income" in title
    for label, x, y, _ in lines:
        if label == "baseline":
            x, y = np.asarray(x), np.asarray(y)
            raw = summary[(summary["scenario"] == "baseline") & (summary["metric"] == metric)]["mean"].iloc[0]
            assert y[x >= 1].mean() == pytest.approx(raw * 100, rel=1e-9)
            break
    else:
        raise AssertionError("no baseline line")
    # the differences figure: in pp, with the paired difference's value
    diffs = pd.read_csv(out / "differences.csv")
    (title, lines), = [(t, ln) for t, ln in seen["differences.png"] if t.startswith(sh.label)]
    assert "(difference, pp)" in title
    d = diffs[(diffs["metric"] == metric)].set_index("scenario")["diff"]
    xs = sorted(float(np.asarray(x)[0]) for _, x, _, marker in lines if marker == "o")  # (not the caps)
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
