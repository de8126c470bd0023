"""Shared fixtures: small populations so the whole suite runs in a few minutes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model import MSMEEcosystem, load_scenario  # noqa: E402

SMALL = {"n_firms": 800, "n_months": 36}


def run_model(scenario="baseline", seed=1, **params):
    """Build and run a small model of a bundled scenario."""
    kw = {**SMALL, **params}
    return MSMEEcosystem(load_scenario(scenario), seed=seed, **kw).run()


def mean_over_seeds(metric_fn, seeds=(1, 2, 3), **kw):
    return float(np.mean([metric_fn(run_model(seed=s, **kw)) for s in seeds]))


def cli(*args, cwd=None, timeout=600):
    """Run ``python run.py ARGS`` and return the completed process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def baseline_run():
    return run_model("baseline", seed=3)
