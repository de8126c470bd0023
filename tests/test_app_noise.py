"""The app's run-to-run noise: scaling with the number of firms, the within-noise rule, the shipped file, the
headline numbers that use them."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from app import noise, page
from app.sim import Session


def _table(rows):
    return pd.DataFrame([dict(zip(noise.COLUMNS, r, strict=True)) for r in rows])


def test_scale_totals_grow_and_shares_shrink_with_firms():
    assert noise.scale(10.0, "total", 2000, 8000) == pytest.approx(20.0)  # sqrt(4) = 2
    assert noise.scale(10.0, "total", 2000, 500) == pytest.approx(5.0)
    assert noise.scale(0.02, "share", 2000, 500) == pytest.approx(0.04)
    assert noise.scale(0.02, "share", 2000, 8000) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="total' or 'share"):
        noise.scale(1.0, "mean", 2000, 500)


def test_sd_at_interpolates_months_and_scales():
    tab = _table([("firms_alive", 0, 0.0, "total", 1000, 10, "x"), ("firms_alive", 6, 6.0, "total", 1000, 10, "x"),
                  ("firms_alive", 12, 10.0, "total", 1000, 10, "x")])
    assert noise.sd_at("firms_alive", 3, 1000, tab) == pytest.approx(3.0)
    assert noise.sd_at("firms_alive", 9, 4000, tab) == pytest.approx(8.0 * 2)
    assert noise.sd_at("firms_alive", 40, 1000, tab) == pytest.approx(10.0)  # beyond the file: last month
    assert math.isnan(noise.sd_at("employment", 3, 1000, tab))


def test_within_noise_is_two_sd():
    assert noise.within_noise(3.0, 6.0)       # 3 < 12
    assert noise.within_noise(-11.9, 6.0)
    assert not noise.within_noise(12.0, 6.0)
    assert not noise.within_noise(-13.0, 6.0)
    assert not noise.within_noise(3.0, float("nan"))  # no estimate: coloured as before


def test_noise_file_covers_every_metric_the_app_compares():
    tab = noise.load()
    kpis = {key for _, key, _, _ in page._kpi_rows(None)}
    assert kpis <= set(noise.METRICS)
    for key in (*kpis, "self_reliance"):
        rows = tab[tab["metric"] == key]
        assert not rows.empty, key
        assert rows["month"].min() == 0 and rows["month"].max() >= 96, key  # the app's horizon
        assert (rows["sd"] >= 0).all() and rows["sd"].iloc[-1] > 0, key
        assert set(rows["scales_as"]) == {noise.METRICS[key]}, key
    assert (tab["n_firms"] > 0).all() and (tab["seeds"] >= 3).all()


def _diff_cell(html: str, key: str) -> str:
    return re.search(rf'kpi-{key}".*?<div class="diff ([a-z]*)">(.*?)</div>', html).group(0)


def test_headline_difference_within_noise_is_neutral_and_a_large_one_is_coloured(monkeypatch):
    s = Session(n_firms=500)
    s.set_side_by_side(True)
    s.step(2)
    s.set_lever("budget_per_firm_month", 300_000.0)
    s.step(24)
    a, b = (r.series for r in s.runs)
    d_jobs = a["employment"][-1] - b["employment"][-1]
    d_va = a["value_added"][-1] - b["value_added"][-1]
    assert abs(d_jobs) >= 1 and d_va >= 1e8, "the test needs a difference in both"
    # noise measured at 2,000 firms: jobs' sd larger than the difference, output's sd far below it
    tab = _table([("employment", 0, 0.0, "total", 2000, 10, "x"),
                  ("employment", 96, 4 * abs(d_jobs) * 96 / s.month, "total", 2000, 10, "x"),
                  ("value_added", 0, 0.0, "total", 2000, 10, "x"),
                  ("value_added", 96, d_va / 100 * 96 / s.month, "total", 2000, 10, "x")])
    monkeypatch.setattr(noise, "load", lambda path=None: tab)
    html = page.kpi_html(s)
    cell = _diff_cell(html, "employment")
    assert 'class="diff noise"' in cell and "within the run-to-run noise of about ±" in cell
    band = 2 * 4 * abs(d_jobs) * math.sqrt(500 / 2000)  # 2 sd, scaled from 2,000 to 500 firms
    assert f"about ±{band:,.0f})" in cell
    cell = _diff_cell(html, "value_added")
    assert 'class="diff up"' in cell and "noise" not in cell


def test_difference_chart_draws_the_noise_band(monkeypatch):
    from app import charts

    s = Session(n_firms=500)
    s.set_reference("self_governance")
    s.set_side_by_side(True)
    s.step(12)
    svg = charts.difference_svg(s.runs[0], s.runs[1], 96)
    assert svg.count('fill="#8c96a0"') == 4  # one band in each of the four panels
    monkeypatch.setattr(noise, "load", lambda path=None: pd.DataFrame(columns=noise.COLUMNS))
    assert 'fill="#8c96a0"' not in charts.difference_svg(s.runs[0], s.runs[1], 96)  # no estimate, no band


@pytest.mark.parametrize("args", [["--seeds", "1"], ["--firms", "10"], ["--jobs", "0"]])
def test_noise_command_refuses_bad_values_with_exit_2(args, capsys, tmp_path):
    out = tmp_path / "noise.csv"
    assert noise.main([*args, "--out", str(out)]) == 2
    assert "--seeds must be at least 3" in capsys.readouterr().err
    assert not out.exists()
