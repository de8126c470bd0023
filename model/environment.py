"""The environment each month: internet penetration and the shock profile (spending: ``demand.py``)."""

from __future__ import annotations

import numpy as np


def internet_penetration(p: dict, month: int) -> float:
    """National internet penetration: rises ``internet_growth_per_year`` points a year, slowing near 95 %."""
    cap = 0.95
    start = min(p["internet_penetration_start"], cap)
    rate = p["internet_growth_per_year"] / max(cap - start, 1e-9)  # logistic-like approach to the cap
    return float(cap - (cap - start) * np.exp(-rate * month / 12.0))


def shock_intensity(p: dict, month: int) -> float:
    """Depth of the shock, 0..1: full for the first half of its duration, then a linear recovery."""
    if not p["shock_enabled"]:
        return 0.0
    k = month - p["shock_month"]
    d = p["shock_duration_months"]
    if k < 0 or k >= d:
        return 0.0
    half = d / 2.0
    return 1.0 if k < half else float(max(0.0, 1.0 - (k - half + 1) / (d - half + 1)))


def update(model) -> None:
    """Set this month's environment on the model."""
    p, t = model.p, model.month
    model.internet = internet_penetration(p, t)
    model.shock = shock_intensity(p, t)
