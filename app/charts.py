"""Charts of the teaching app as SVG text (see ``app/svg.py``).

Every function takes the runs (``runs[0]`` your policy, ``runs[1]`` the reference in side-by-side
mode) and returns an ``<svg>`` string. The month axis is fixed to the run's horizon, so curves
grow from left to right while the model plays.
"""

from __future__ import annotations

import math

import numpy as np

from model.params import CLUSTER_TYPES

from . import noise, texts
from .svg import Panel, Svg, legend

RUN_COLORS = ("#0072B2", "#E69F00")      # your policy (blue), reference (orange): Okabe-Ito
RUN_DASH = (None, "7 4")
CLASS_NAMES = ("micro", "small", "medium", "large")
CLASS_COLORS = ("#9ecae1", "#2171b5", "#E69F00", "#D55E00")
CLASS_RADIUS = (2.3, 3.8, 4.8, 5.6)
STAGE_COLORS = ("#c4c4c4", "#56B4E9", "#009E73")   # 1.0, 2.0, 3.0
CLUSTER_COLORS = ("#a6761d", "#7570b3", "#1b9e77", "#2f4f4f")  # artisan, active, dynamic, advanced
SUPPORT_COLOR = "#CC79A7"
ONLINE_COLOR = "#56B4E9"
W = 1000.0


def _run_items(runs) -> list[tuple[str, str, str]]:
    return [("line" if i == 0 else "dash", RUN_COLORS[i], r.label) for i, r in enumerate(runs)]


def _events(panel: Panel, run, label: bool) -> None:
    p = run.model.p
    if p["shock_enabled"]:
        s, d = p["shock_month"], p["shock_duration_months"]
        panel.band(s, s + d, "#D55E00", "crisis" if label else "")
    end = p["phase_out_month"]
    if end > 0:
        panel.vline(end, "support ends" if label else "")


def _range(runs, key: str, scale: float, floor0: bool = True) -> tuple[float, float]:
    vals = np.concatenate([np.asarray(r.series[key], dtype=float) * scale for r in runs])
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    if floor0:
        lo = min(0.0, lo)
    if key == "upgrades_cumulative":
        hi = max(hi, 5.0)
    if hi - lo < 1e-9:
        hi = lo + (abs(hi) * 0.2 if hi else 1.0)
    return lo, hi + (hi - lo) * 0.08


def _line_row(runs, n_months: int, specs, label: str) -> str:
    """A row of line panels; specs are (key, scale, title, unit, floor0)."""
    two = len(runs) > 1
    h = 280.0 + (30 if two else 0)
    svg = Svg(W, h, label)
    pw = W / len(specs)
    for j, (key, scale, title, unit, floor0) in enumerate(specs):
        lo, hi = _range(runs, key, scale, floor0)
        pan = Panel(svg, j * pw, 0, pw - 8, 280, title=title, ylabel=unit, xmax=n_months, ylo=lo, yhi=hi)
        _events(pan, runs[0], label=j == 0)
        for i, r in enumerate(runs[::-1]):  # reference below, your policy on top
            k = len(runs) - 1 - i
            pan.series(np.asarray(r.series[key], dtype=float) * scale, RUN_COLORS[k], dash=RUN_DASH[k])
    if two:
        legend(svg, 60, h - 12, _run_items(runs))
    return svg.render()


def growth_svg(runs, n_months: int) -> str:
    return _line_row(runs, n_months, (
        ("value_added", 1e-9, "Output (value added)", "billion IDR per month", True),
        ("employment", 1.0, "Jobs", "workers", True),
        ("upgrades_cumulative", 1.0, "Firms that moved up a size class", "firms, total so far", True),
    ), "Growth charts")


def dependence_svg(runs, n_months: int) -> str:
    return _line_row(runs, n_months, (
        ("recipient_support_share_income", 100.0, "Support as a share of recipients' income",
         "% of income, firms supported in the last 12 months", True),
        ("chronic_recipient_share", 100.0, "Recipients supported again and again",
         "% of recipients, support in 4+ of the last 24 months", True),
        ("effort_gap", 1.0, "Effort recipients hold back",
         "effort (0-1 scale): others minus recipients", True),
    ), "Dependence charts")


def difference_svg(policy, reference, n_months: int) -> str:
    specs = (("value_added", 1e-9, "Output", "billion IDR per month", 0.1, True),
             ("upgrades_cumulative", 1.0, "Firms moved up", "firms", 1.0, True),
             ("recipient_support_share_income", 100.0, "Support / recipients' income", "percentage points", 0.1,
              False),
             ("self_reliance", 1.0, "Self-reliance", "index, 0-1 scale", 0.005, True))
    svg = Svg(W, 250, "Difference charts")
    pw = W / len(specs)
    for j, (key, scale, title, unit, floor, up_good) in enumerate(specs):
        a = np.asarray(policy.series[key], dtype=float) * scale
        b = np.asarray(reference.series[key], dtype=float) * scale
        k = min(a.size, b.size)
        d = a[:k] - b[:k]
        # run-to-run noise of a one-seed difference (app/noise.csv): +/- Z sd, drawn as a grey band around 0
        half = noise.Z * scale * noise.sd_series(key, np.arange(k), int(policy.model.p["n_firms"]))
        half = np.nan_to_num(half)
        m = max(float(np.abs(d).max()) if k else 0.0, float(half.max()) if k else 0.0, floor)
        pan = Panel(svg, j * pw, 0, pw - 8, 250, title=title, ylabel=unit, xmax=n_months, ylo=-m * 1.1,
                    yhi=m * 1.1, left=58)
        _events(pan, policy, label=False)
        if k > 1 and half.max() > 0:
            xs = pan.X(np.arange(k))
            svg.polygon(np.r_[xs, xs[::-1]], np.r_[pan.Y(half), pan.Y(-half[::-1])], "#8c96a0", opacity=0.22)
        pan.area_diff(d, higher_is_better=up_good)
        pan.series(d, "#333333", width=1.8)
    return svg.render()


# ----------------------------------------------------------------------------------------------
def composition_svg(runs, n_months: int) -> str:
    two = len(runs) > 1
    h = 280.0 + (30 if two else 0)
    svg = Svg(W, h, "Size classes and digital stages")
    # (a) firms by size class now against month 0, log scale bars
    x0, y0, bw = 8.0, 0.0, 360.0
    svg.text(x0 + 4, y0 + 17, "Firms by size class", size=14.5, weight="600")
    svg.text(x0 + 4, y0 + 34, "bar = now, dotted box = month 0 (log scale)", size=11, color="#666666")
    vmax = 1.0
    data = []
    for r in runs:
        f = r.model.firms
        now = np.bincount(f.size_class[: f.n][f.alive[: f.n]], minlength=4)
        start = np.bincount(r.history.cls[0], minlength=4)
        data.append((now, start))
        vmax = max(vmax, now.max(), start.max())
    lx, lw = x0 + 62, bw - 150

    def L(v):
        return lw * math.log10(1 + v) / math.log10(1 + vmax * 1.05)

    row_h = 52.0
    for c, name in enumerate(CLASS_NAMES):
        yy = y0 + 52 + c * row_h
        svg.text(lx - 8, yy + row_h * 0.38, name, size=13, anchor="end", baseline="middle")
        bh = (row_h - 14) / len(runs)
        for i, (now, start) in enumerate(data):
            by = yy + i * bh
            color = CLASS_COLORS[c] if not two else RUN_COLORS[i]
            svg.rect(lx, by, L(now[c]), bh - 3, fill=color, opacity=0.9, rx=2)
            svg.rect(lx, by, L(start[c]), bh - 3, stroke="#444444", width=1.1, dash="2 2")
            change = int(now[c]) - int(start[c])
            ch = f" ({'+' if change > 0 else ''}{change:,})" if change else ""
            svg.text(lx + max(L(now[c]), L(start[c])) + 5, by + (bh - 3) / 2, f"{int(now[c]):,}{ch}", size=12,
                     baseline="middle", color="#333333")
    # (b) firms above micro over time
    series = []
    for r in runs:
        s = r.series
        series.append((1 - np.asarray(s["share_micro"])) * np.asarray(s["firms_alive"]))
    hi = max(float(np.max(a)) for a in series)
    pan = Panel(svg, 372, 0, 300, 280, title="Firms above micro size", ylabel="small, medium and large firms",
                xmax=n_months, ylo=0, yhi=max(hi * 1.1, 5))
    _events(pan, runs[0], label=False)
    for i in range(len(runs) - 1, -1, -1):
        pan.series(series[i], RUN_COLORS[i], dash=RUN_DASH[i])
    # (c) digital stages
    if not two:
        pan = Panel(svg, 680, 0, 320, 280, title="Digital stage of firms", ylabel="% of firms", xmax=n_months,
                    ylo=0, yhi=100)
        s = runs[0].series
        s1, s2, s3 = (np.asarray(s[f"stage_{k}_share"], dtype=float) * 100 for k in (1, 2, 3))
        xs = pan.X(np.arange(s1.size))
        base = np.zeros_like(s1)
        for vals, color in ((s3, STAGE_COLORS[2]), (s2, STAGE_COLORS[1]), (s1, STAGE_COLORS[0])):
            top = base + vals
            svg.polygon(np.r_[xs, xs[::-1]], np.r_[pan.Y(top), pan.Y(base)[::-1]], color, opacity=0.9)
            base = top
        ly = pan.y0 + 8
        for lab, color in (("3.0 selling online", STAGE_COLORS[2]), ("2.0 basic digital tools", STAGE_COLORS[1]),
                           ("1.0 traditional", STAGE_COLORS[0])):
            svg.rect(pan.x0 + pan.pw - 150, ly, 150, 19, fill="white", opacity=0.85)
            svg.rect(pan.x0 + pan.pw - 146, ly + 4, 12, 12, fill=color)
            svg.text(pan.x0 + pan.pw - 130, ly + 10, lab, size=11.5, baseline="middle")
            ly += 21
    else:
        hi = max(max(r.series["stage_3_share"]) for r in runs) * 100
        pan = Panel(svg, 680, 0, 320, 280, title="Firms selling online (3.0)", ylabel="% of firms",
                    xmax=n_months, ylo=0, yhi=max(hi * 1.15, 5))
        for i in range(len(runs) - 1, -1, -1):
            pan.series(np.asarray(runs[i].series["stage_3_share"]) * 100, RUN_COLORS[i], dash=RUN_DASH[i])
        legend(svg, 60, h - 12, _run_items(runs))
    return svg.render()


# ----------------------------------------------------------------------------------------------
class MapLayout:
    """Fixed places for one run: an island per region (capital west, remote east), a spot per cluster,
    and a spot for every firm (inside its cluster's ring if it has one)."""

    H = 560.0

    def __init__(self, model):
        nreg = int(model.p["n_regions"])
        f = model.firms
        counts = np.bincount(f.region[: f.n], minlength=nreg).astype(float)
        i = np.arange(nreg)
        self.cx = 88 + 824 * i / max(nreg - 1, 1)
        self.upper = (i % 2 == 0) & (nreg > 2)
        self.cy = np.where(self.upper, 200.0, 318.0) + 8 * np.sin(i * 2.1) if nreg > 2 else np.full(nreg, 262.0)
        share = counts / max(counts.max(), 1.0)
        spacing = 824 / max(nreg - 1, 1)
        base = min(78.0, spacing * (0.82 if nreg > 2 else 0.45)) if nreg > 1 else 140.0
        self.rx = base * (0.5 + 0.5 * np.sqrt(share))
        self.ry = np.minimum(self.rx * 1.0, 68)
        self.n_regions = nreg
        self._rng = np.random.default_rng(20240611)
        self._off = np.zeros((0, 2))

    def offsets(self, n: int) -> np.ndarray:
        if self._off.shape[0] < n:
            k = max(n, 2 * self._off.shape[0]) - self._off.shape[0]
            r = np.sqrt(self._rng.random(k))
            a = self._rng.random(k) * 2 * np.pi
            self._off = np.vstack([self._off, np.column_stack([r * np.cos(a), r * np.sin(a)])])
        return self._off[:n]

    def cluster_spots(self, ct):
        cid = np.arange(ct.n)
        reg = ct.region.astype(int)
        ang = cid * 2.39996
        rad = 0.6 * np.sqrt(np.modf(cid * 0.6180339887 + 0.3)[0])
        x = self.cx[reg] + rad * np.cos(ang) * self.rx[reg]
        y = self.cy[reg] + rad * np.sin(ang) * self.ry[reg]
        size = 5 + 1.6 * np.sqrt(np.maximum(ct.members, 0))
        return x, y, size

    def firm_xy(self, model):
        """Positions of the firms in rows ``0..n-1``. A firm's spot depends on its firm id (not its
        row, which compaction moves), its region and its cluster."""
        f, n = model.firms, model.firms.n
        return self.spots(model, f.firm_id[:n], f.region[:n], f.cluster[:n])

    def spots(self, model, ids: np.ndarray, region: np.ndarray, cluster: np.ndarray):
        off = self.offsets(model.firms.next_id)[ids]
        reg = region.astype(int)
        x = self.cx[reg] + off[:, 0] * self.rx[reg] * 0.92
        y = self.cy[reg] + off[:, 1] * self.ry[reg] * 0.92
        inc = cluster >= 0
        if inc.any():
            kx, ky, ks = self.cluster_spots(model.cluster_table)
            c = cluster[inc]
            x[inc] = kx[c] + off[inc, 0] * ks[c] * 0.85
            y[inc] = ky[c] + off[inc, 1] * ks[c] * 0.85
        return x, y


def _firm_spot(model, layout: MapLayout, firm_id: int, x: np.ndarray, y: np.ndarray):
    """Where firm ``firm_id`` is drawn: its row's spot, or for a closed firm whose row was compacted
    away the spot its archived record gives; ``None`` for an id not given yet."""
    f = model.firms
    if not 0 <= firm_id < f.next_id:
        return None
    r = model.row_of(firm_id)
    if r >= 0:
        return float(x[r]), float(y[r])
    rec = f.archived_record(firm_id)
    if rec is None:
        return None
    hx, hy = layout.spots(model, rec.firm_id, rec.region, rec.cluster)
    return float(hx[0]), float(hy[0])


def map_svg(run, layout: MapLayout, color_by: str = "class", highlight: int | None = None,
            compact: bool = False) -> str:
    """The map; ``highlight`` is the firm id of the firm to mark."""
    model = run.model
    f, n, p = model.firms, model.firms.n, model.p
    mode = p["governance_mode"]
    fs = 1.45 if compact else 1.0  # text is scaled up when two maps share the width
    H = layout.H - (50 if compact else 0)
    svg = Svg(W, H, f"Map of regions, clusters and marketplaces ({run.label})")
    nreg = layout.n_regions
    alive = f.alive[:n]
    reg = f.region[:n].astype(int)
    # sea
    svg.rect(0, 100, W, 330, fill="#eaf3fa", rx=14)
    # marketplaces and online sellers
    mt = model.market_table
    nm = mt.n
    mx = np.linspace(150, 850, nm) if nm > 1 else np.array([500.0])
    mk = f.marketplace[:n]
    online = alive & (mk >= 0)
    flows = np.zeros((nm, nreg))
    if online.any():
        np.add.at(flows, (mk[online], reg[online]), 1)
    fmax = max(flows.max(), 1.0)
    for m in range(nm):
        for r in range(nreg):
            if flows[m, r] > 0:
                svg.line(mx[m], 62, layout.cx[r], layout.cy[r] - layout.ry[r] * 0.5, color=ONLINE_COLOR,
                         width=0.5 + 5 * flows[m, r] / fmax, opacity=0.38)
    bw = min(190.0, 700 / max(nm, 1) - 12)
    for m in range(nm):
        svg.rect(mx[m] - bw / 2, 8, bw, 54, fill="#e3f2fc", stroke=ONLINE_COLOR, width=1.6, rx=9)
        svg.text(mx[m], 28, f"Marketplace {chr(65 + m)}", size=13.5 * min(fs, 1.25), anchor="middle",
                 weight="600", color="#1d4e6e", baseline="middle")
        svg.text(mx[m], 48, f"{int(mt.sellers[m]):,} sellers · fee {mt.commission[m]:.0%}",
                 size=11.5 * min(fs, 1.25), anchor="middle", color="#1d4e6e", baseline="middle")
    # islands
    for r in range(nreg):
        svg.ellipse(layout.cx[r], layout.cy[r], layout.rx[r] * 1.08, layout.ry[r] * 1.08, fill="#f4efe1",
                    stroke="#c9bf9f", width=1.2)
    counts = np.bincount(reg[alive], minlength=nreg)
    for r in range(nreg):
        lab = f"R{r + 1} · {counts[r]:,} firms"
        if layout.upper[r]:
            ly = layout.cy[r] - layout.ry[r] * 1.08 - 7
        else:
            ly = layout.cy[r] + layout.ry[r] * 1.08 + 13 * fs
        svg.text(layout.cx[r], ly, lab, size=11 * fs, anchor="middle", weight="600", color="#555555")
    svg.text(14, 448, "◀ capital region", size=11.5 * fs, color="#5a7184")
    svg.text(W - 14, 448, "remote regions ▶", size=11.5 * fs, anchor="end", color="#5a7184")
    # who delivers support, and where it went this month
    sup = np.bincount(reg[alive], weights=f.support_month[:n][alive], minlength=nreg)
    smax = max(sup.max(), 1.0)
    src = {"centralised": f"{p['n_ministries']} ministries: national programmes",
           "self_governance": "National budget → regional councils",
           "platform": "Collaborative platform: government · banks · universities · communities"}[mode]
    on = model.budget_this_month > 0
    sx, sy = W / 2, 470.0
    for r in range(nreg):
        if sup[r] > 0:
            svg.line(sx, sy - 16, layout.cx[r], layout.cy[r] + layout.ry[r] * 0.5, color=SUPPORT_COLOR,
                     width=0.6 + 6 * sup[r] / smax, opacity=0.45)
    src_text = src + ("" if on else "  (support stopped)")
    tw = min(W - 40, len(src_text) * 7.6 * fs + 50)
    svg.rect(sx - tw / 2, sy - 17, tw, 34, fill="#fbeef5" if on else "#f0f0f0",
             stroke=SUPPORT_COLOR if on else "#aaaaaa", width=1.6, rx=9)
    svg.text(sx, sy + 1, src_text, size=12.5 * fs, anchor="middle",
             baseline="middle", color="#6b2b52" if on else "#777777", weight="600")
    # councils: a square on each island, filled up to the council's capacity (self-governance)
    cap = model.council_cap if mode == "self_governance" else np.zeros(nreg)
    s = 15.0
    for r in range(nreg):
        x0 = layout.cx[r] + layout.rx[r] * 1.08 - s * 0.4
        y0 = layout.cy[r] - s / 2
        svg.rect(x0, y0, s, s, fill="white", stroke="#6b2b52", width=1.2, rx=2)
        if cap[r] > 0:
            hh = s * float(cap[r])
            svg.rect(x0, y0 + s - hh, s, hh, fill=SUPPORT_COLOR, rx=1)
    # clusters
    ct = model.cluster_table
    if ct.n:
        kx, ky, ks = layout.cluster_spots(ct)
        for c in np.flatnonzero(ct.members > 0):
            svg.circle(kx[c], ky[c], ks[c], stroke=CLUSTER_COLORS[int(ct.ctype[c])], width=1.8, opacity=0)
    # firms, grouped by colour (small SVG)
    x, y = layout.firm_xy(model)
    if color_by == "stage":
        key, colors = f.stage[:n].astype(int) - 1, STAGE_COLORS
    else:
        key, colors = f.size_class[:n].astype(int), CLASS_COLORS
    cls = f.size_class[:n].astype(int)
    # one <path> per colour and size (a few DOM nodes instead of thousands: the browser keeps up)
    for k in range(len(CLASS_RADIUS)):
        for c in range(len(colors)):
            idx = np.flatnonzero(alive & (key == c) & (cls == k))
            if idx.size == 0:
                continue
            r = CLASS_RADIUS[k]
            d = "".join(f"M{x[i] - r:.1f} {y[i]:.1f}a{r} {r} 0 1 0 {2 * r} 0a{r} {r} 0 1 0 {-2 * r} 0" for i in idx)
            svg.add(f'<path d="{d}" fill="{colors[c]}" stroke="#333333" stroke-width="0.35"/>')
    spot = _firm_spot(model, layout, highlight, x, y) if highlight is not None else None
    if spot is not None:
        hx, hy = spot
        svg.circle(hx, hy, 9, stroke="#000000", width=2.4)
        lab = f"firm #{highlight}"
        tw = len(lab) * 7.8 * fs + 10
        svg.rect(hx + 10, hy - 26 * fs, tw, 20 * fs, fill="white", stroke="#333333", width=1, rx=4, opacity=0.92)
        svg.text(hx + 15, hy - 16 * fs, lab, size=12.5 * fs, weight="700", baseline="middle")
    if compact:  # the page shows one legend under both maps (legend_html)
        return svg.render()
    # legend
    ly = H - 40
    if color_by == "stage":
        items = [("dot", STAGE_COLORS[i], texts.STAGE_TEXT[s]) for i, s in enumerate(("1.0", "2.0", "3.0"))]
    else:
        items = [("dot", CLASS_COLORS[i], CLASS_NAMES[i]) for i in range(4)]
    rings = [("ring", CLUSTER_COLORS[i], f"{t} cluster") for i, t in enumerate(CLUSTER_TYPES)]
    flows_items = [("box", SUPPORT_COLOR, "council (filled = capacity)"), ("line", ONLINE_COLOR, "online sellers"),
                   ("line", SUPPORT_COLOR, "support this month")]
    legend(svg, 14, ly, items + rings, size=12, gap=14)
    legend(svg, 14, ly + 24, flows_items, size=12, gap=14)
    return svg.render()


def legend_html(color_by: str = "class") -> str:
    """The map legend as HTML (used under the two maps of side-by-side mode)."""
    def dot(color, label, ring=False):
        style = (f"border:2px solid {color};background:none" if ring
                 else f"background:{color};border:1px solid #333")
        return (f'<span style="display:inline-flex;align-items:center;gap:5px;margin-right:14px">'
                f'<span style="display:inline-block;width:11px;height:11px;border-radius:50%;{style}"></span>'
                f'{label}</span>')

    def bar(color, label, square=False):
        shape = "width:12px;height:12px" if square else "width:22px;height:3px"
        return (f'<span style="display:inline-flex;align-items:center;gap:5px;margin-right:14px">'
                f'<span style="display:inline-block;{shape};background:{color}"></span>{label}</span>')

    if color_by == "stage":
        items = [dot(STAGE_COLORS[i], texts.STAGE_TEXT[s]) for i, s in enumerate(("1.0", "2.0", "3.0"))]
    else:
        items = [dot(CLASS_COLORS[i], CLASS_NAMES[i]) for i in range(4)]
    items += [dot(CLUSTER_COLORS[i], f"{t} cluster", ring=True) for i, t in enumerate(CLUSTER_TYPES)]
    items += [bar(SUPPORT_COLOR, "council (filled = capacity)", square=True), bar(ONLINE_COLOR, "online sellers"),
              bar(SUPPORT_COLOR, "support this month")]
    return '<div style="font-size:.9rem;color:#333;line-height:1.9">' + "".join(items) + "</div>"


# ----------------------------------------------------------------------------------------------
def story_svg(stories, n_months: int) -> str:
    """The chosen firm: capital over time (log scale, size-class limits) and support it received."""
    svg = Svg(W * 0.68, 330, "Chosen firm's capital and support")
    w = W * 0.68
    caps = [np.where(st["history"]["alive"], st["history"]["capital"].astype(float), np.nan) / 1e6
            for _, st in stories]
    good = np.concatenate([c[np.isfinite(c)] for c in caps]) if caps else np.array([])
    lo = float(good.min()) if good.size else 10.0
    hi = float(good.max()) if good.size else 1000.0
    lo, hi = min(lo * 0.6, 5.0), max(hi * 1.8, 2000.0)
    pan = Panel(svg, 0, 0, w, 215, title="Capital of the firm", ylabel="million IDR (log scale)", xmax=n_months,
                ylo=lo, yhi=hi, log=True, xlabel="", left=60)
    for lim, name in ((1e3, "1 billion IDR: above this a firm is small, not micro"),
                      (5e3, "5 billion IDR: medium from here"), (1e4, "10 billion IDR: large from here")):
        pan.hline(lim, name)
    for i in range(len(stories) - 1, -1, -1):
        run, st = stories[i]
        pan.series(caps[i], RUN_COLORS[i], dash=RUN_DASH[i])
        d = st["died"]
        fin = np.flatnonzero(np.isfinite(caps[i]))
        if d >= 0 and fin.size:
            xx, yy = float(pan.X(fin[-1])), float(pan.Y(caps[i][fin[-1]]))
            svg.text(xx, yy - 8, "✕ closed", size=12, anchor="middle", color=RUN_COLORS[i], weight="700")
    sups = [st["history"]["support"] / 1e6 for _, st in stories]
    top = max(max(float(s.max()) if s.size else 0.0 for s in sups), 0.5)
    pan2 = Panel(svg, 0, 212, w, 118, title="Support received", ylabel="million IDR", xmax=n_months, ylo=0,
                 yhi=top * 1.15, left=60, top=24)
    bwid = max(pan2.pw / max(n_months, 1) / len(stories) * 0.9, 1.0)
    for i, s in enumerate(sups):
        for t in np.flatnonzero(s > 0):
            x0 = float(pan2.X(t)) + (i - (len(sups) - 1) / 2) * bwid - bwid / 2
            y1 = float(pan2.Y(s[t]))
            svg.rect(x0, y1, bwid, pan2.y0 + pan2.ph - y1, fill=RUN_COLORS[i], opacity=0.85)
    if len(stories) > 1:
        legend(svg, w - 420, 17, _run_items([r for r, _ in stories]), size=11.5, gap=12)
    return svg.render()
