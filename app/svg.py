"""A tiny SVG chart kit: primitives, nice axis ticks and a line-chart panel.

Charts are built as SVG text on the server in a few milliseconds and drawn by the browser, so the
page stays live while the model plays, and stays sharp on a classroom projector at any size.
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK, MUTED, GRID, AXIS = "#222222", "#666666", "#e7e7e7", "#9a9a9a"


class Svg:
    """An SVG document built from primitives (coordinates in viewBox units)."""

    def __init__(self, width: float, height: float, label: str = ""):
        self.w, self.h = width, height
        self.parts: list[str] = []
        self.label = label

    def add(self, s: str) -> None:
        self.parts.append(s)

    def line(self, x1, y1, x2, y2, color=AXIS, width=1.0, dash: str | None = None, opacity: float = 1.0) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        o = f' stroke-opacity="{opacity:.3g}"' if opacity < 1 else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width:.3g}"{d}{o}/>')

    def polyline(self, xs, ys, color, width=2.0, dash: str | None = None, opacity: float = 1.0) -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False) if math.isfinite(y))
        if not pts:
            return
        d = f' stroke-dasharray="{dash}"' if dash else ""
        o = f' stroke-opacity="{opacity:.3g}"' if opacity < 1 else ""
        self.add(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="{width:.3g}" '
                 f'stroke-linejoin="round" stroke-linecap="round"{d}{o}/>')

    def polygon(self, xs, ys, fill, opacity: float = 1.0, stroke: str = "none") -> None:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))
        self.add(f'<polygon points="{pts}" fill="{fill}" fill-opacity="{opacity:.3g}" stroke="{stroke}"/>')

    def rect(self, x, y, w, h, fill="none", stroke="none", width=1.0, opacity: float = 1.0, rx: float = 0,
             dash: str | None = None) -> None:
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{max(h, 0):.1f}" rx="{rx:.3g}" '
                 f'fill="{fill}" fill-opacity="{opacity:.3g}" stroke="{stroke}" stroke-width="{width:.3g}"{d}/>')

    def circle(self, x, y, r, fill="none", stroke="none", width=1.0, opacity: float = 1.0) -> None:
        self.add(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.3g}" fill="{fill}" fill-opacity="{opacity:.3g}" '
                 f'stroke="{stroke}" stroke-width="{width:.3g}"/>')

    def ellipse(self, x, y, rx, ry, fill="none", stroke="none", width=1.0) -> None:
        self.add(f'<ellipse cx="{x:.1f}" cy="{y:.1f}" rx="{rx:.1f}" ry="{ry:.1f}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{width:.3g}"/>')

    def text(self, x, y, s: str, size=12.0, anchor="start", color=INK, weight="normal", baseline="auto",
             rotate: float | None = None, italic: bool = False) -> None:
        tr = f' transform="rotate({rotate:.0f} {x:.1f} {y:.1f})"' if rotate is not None else ""
        it = ' font-style="italic"' if italic else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size:.3g}" text-anchor="{anchor}" fill="{color}" '
                 f'font-weight="{weight}" dominant-baseline="{baseline}"{tr}{it}>{escape(str(s))}</text>')

    def render(self) -> str:
        aria = f' role="img" aria-label="{escape(self.label)}"' if self.label else ""
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w:.0f} {self.h:.0f}" width="100%" '
                f'style="font-family:{FONT};display:block"{aria}>' + "".join(self.parts) + "</svg>")


# ----------------------------------------------------------------------------------------------
def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(v, 10))
        v += step
    return ticks


def fmt(v: float, step: float | None = None) -> str:
    """Tick label: thousands separators, as few decimals as the tick step needs."""
    step = abs(step) if step else abs(v)
    dec = 0
    while dec < 6 and step > 0 and abs(round(step, dec) - step) > step * 1e-6:
        dec += 1
    if step and step < 1 and dec == 0:
        dec = 1
    return f"{v:,.{dec}f}".replace("-", "−") if v < 0 else f"{v:,.{dec}f}"


def fmt_money(idr: float) -> str:
    """IDR in words-friendly units: '2.4 million', '1.3 billion'."""
    a = abs(idr)
    if a >= 1e12:
        return f"{idr / 1e12:,.2f} trillion IDR"
    if a >= 1e9:
        return f"{idr / 1e9:,.2f} billion IDR"
    if a >= 1e6:
        return f"{idr / 1e6:,.1f} million IDR"
    if a >= 1e3:
        return f"{idr / 1e3:,.0f} thousand IDR"
    return f"{idr:,.0f} IDR"


class Panel:
    """A line-chart panel at (x, y) of size (w, h) inside an :class:`Svg`, months on the x axis."""

    def __init__(self, svg: Svg, x: float, y: float, w: float, h: float, *, title: str, ylabel: str,
                 xmax: float, ylo: float, yhi: float, log: bool = False, xlabel: str = "month",
                 left: float = 60, bottom: float = 34, top: float = 30, right: float = 10):
        self.svg = svg
        self.x0, self.y0 = x + left, y + top
        self.pw, self.ph = w - left - right, h - top - bottom
        self.xmax = max(xmax, 1)
        self.log = log
        if log:
            ylo, yhi = math.log10(max(ylo, 1e-12)), math.log10(max(yhi, 1e-12))
        if yhi - ylo < 1e-12:
            pad = abs(yhi) * 0.1 if yhi else 1.0
            ylo, yhi = ylo - pad, yhi + pad
        if log:
            self.ticks = [float(t) for t in range(math.floor(ylo), math.ceil(yhi) + 1)]
            self.ylo, self.yhi = ylo, yhi
        else:
            self.ticks = nice_ticks(ylo, yhi)
            self.ylo, self.yhi = min(self.ticks[0], ylo), max(self.ticks[-1], yhi)
        svg.text(x + 4, y + 17, title, size=14.5, weight="600")
        # grid and y ticks
        step = self.ticks[1] - self.ticks[0] if len(self.ticks) > 1 else None
        for t in self.ticks:
            if t < self.ylo - 1e-9 or t > self.yhi + 1e-9:
                continue
            yy = self.Y(10 ** t if log else t)
            svg.line(self.x0, yy, self.x0 + self.pw, yy, color=GRID, width=1)
            lab = log_label(10 ** t) if log else fmt(t, step)
            svg.text(self.x0 - 5, yy, lab, size=11, anchor="end", color=MUTED, baseline="middle")
        svg.line(self.x0, self.y0 + self.ph, self.x0 + self.pw, self.y0 + self.ph, color=AXIS)
        svg.line(self.x0, self.y0, self.x0, self.y0 + self.ph, color=AXIS)
        # x ticks
        xstep = 12 if self.xmax > 36 else 6 if self.xmax > 12 else 1
        for t in range(0, int(self.xmax) + 1, xstep):
            xx = self.X(t)
            svg.line(xx, self.y0 + self.ph, xx, self.y0 + self.ph + 4, color=AXIS)
            svg.text(xx, self.y0 + self.ph + 16, str(t), size=11.5, anchor="middle", color=MUTED)
        if xlabel:
            svg.text(self.x0 + self.pw, self.y0 + self.ph + 29, xlabel, size=11.5, anchor="end", color=MUTED)
        svg.text(x + 11, self.y0 + self.ph / 2, ylabel, size=11.5, anchor="middle", color=MUTED, rotate=-90)

    def X(self, m):
        return self.x0 + self.pw * (np.asarray(m, dtype=float) / self.xmax)

    def Y(self, v):
        v = np.asarray(v, dtype=float)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log10(np.where(v > 0, v, np.nan))
        return self.y0 + self.ph * (1 - (v - self.ylo) / (self.yhi - self.ylo))

    def series(self, ys, color, width=2.4, dash: str | None = None, dot: bool = True, opacity: float = 1.0) -> None:
        ys = np.asarray(ys, dtype=float)
        if ys.size == 0:
            return
        xs = self.X(np.arange(ys.size))
        yy = self.Y(ys)
        # split at gaps (NaN) so a dead firm's line ends
        ok = np.isfinite(yy)
        start = None
        for i in range(ys.size + 1):
            if i < ys.size and ok[i]:
                start = i if start is None else start
            elif start is not None:
                self.svg.polyline(xs[start:i], yy[start:i], color, width, dash, opacity)
                start = None
        if dot and ok[-1]:
            self.svg.circle(xs[-1], yy[-1], 3.6, fill=color)

    def band(self, m0: float, m1: float, color: str, label: str = "", opacity: float = 0.09) -> None:
        m0, m1 = max(0, m0), min(self.xmax, m1)
        if m1 <= m0:
            return
        self.svg.rect(self.X(m0), self.y0, self.X(m1) - self.X(m0), self.ph, fill=color, opacity=opacity)
        if label:
            self.svg.text(self.X(m0) + 3, self.y0 + 12, label, size=11, color=color)

    def vline(self, m: float, label: str = "", color: str = "#444444") -> None:
        if 0 <= m <= self.xmax:
            xx = self.X(m)
            self.svg.line(xx, self.y0, xx, self.y0 + self.ph, color=color, width=1.4, dash="5 3")
            if label:
                self.svg.rect(xx + 1, self.y0 + 14, len(label) * 6.3 + 4, 15, fill="white", opacity=0.85)
                self.svg.text(xx + 3, self.y0 + 25, label, size=11, color=color)

    def hline(self, v: float, label: str = "", color: str = "#888888") -> None:
        if self.log and v <= 0:
            return
        yy = float(self.Y(v))
        if self.y0 <= yy <= self.y0 + self.ph:
            self.svg.line(self.x0, yy, self.x0 + self.pw, yy, color=color, width=1.2, dash="4 3")
            if label:
                self.svg.text(self.x0 + 4, yy - 4, label, size=10.5, color=color)

    def area_diff(self, d, higher_is_better: bool = True) -> None:
        """Fill between a difference series and zero: green where it is better, orange where worse."""
        d = np.asarray(d, dtype=float)
        if d.size < 2:
            return
        xs = self.X(np.arange(d.size))
        zero = float(self.Y(0.0))
        good, bad = "#009E73", "#D55E00"
        for sign, color in ((1, good if higher_is_better else bad), (-1, bad if higher_is_better else good)):
            v = np.where(sign * d > 0, d, 0.0)
            yy = self.Y(v)
            self.svg.polygon(np.r_[xs, xs[::-1]], np.r_[yy, np.full(d.size, zero)], color, opacity=0.35)
        self.svg.line(self.x0, zero, self.x0 + self.pw, zero, color="#777777", width=1.1)


def log_label(v: float) -> str:
    """Axis label for a power of ten in million IDR units: '10', '100', '1 bn'."""
    if v >= 1e3:
        return f"{v / 1e3:,.0f} bn"
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def legend(svg: Svg, x: float, y: float, items: list[tuple[str, str, str]], size: float = 12.5,
           gap: float = 22) -> float:
    """Horizontal legend: items of (kind, color, label), kind in line/dash/dot/box/ring. Returns end x."""
    for kind, color, label in items:
        if kind in ("line", "dash"):
            svg.line(x, y, x + 22, y, color=color, width=3, dash="6 3" if kind == "dash" else None)
            x += 28
        elif kind == "dot":
            svg.circle(x + 6, y, 5.5, fill=color, stroke="#333333", width=0.5)
            x += 16
        elif kind == "ring":
            svg.circle(x + 6, y, 6, fill="none", stroke=color, width=2)
            x += 17
        else:
            svg.rect(x, y - 6, 14, 12, fill=color, opacity=0.8)
            x += 19
        svg.text(x, y, label, size=size, baseline="middle", color="#333333")
        x += len(label) * size * 0.58 + gap
    return x
