"""Running the model: one run -> tidy long results; many runs -> processes, with a progress bar.

A run is data (:class:`Task`): a validated scenario, a seed and a label. ``execute`` builds the
model, steps it to the horizon and returns the monthly metrics in tidy long format
(``run_id, scenario, seed, month, metric, value``) plus the run-level size-class transitions.
Results depend only on (scenario parameters, seed), never on the process that ran them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model import MSMEEcosystem
from model.params import SIZE_CLASSES
from model.scenario import Scenario

TIDY_COLUMNS = ["run_id", "scenario", "seed", "month", "metric", "value"]


@dataclass(frozen=True)
class Task:
    """One model run: a scenario (with its parameters), a seed and the label it is reported under."""

    scenario: Scenario = field(hash=False, compare=False)
    seed: int
    label: str            # scenario name in reports (e.g. "baseline", "baseline@withdrawal")
    params_hash: str      # content hash of the parameters: the identity of the run

    @classmethod
    def make(cls, scenario: Scenario, seed: int, label: str | None = None) -> Task:
        return cls(scenario, int(seed), label or scenario.name, scenario.content_hash())

    @property
    def run_id(self) -> str:
        return f"{self.params_hash}-s{self.seed}"


def transitions(model: MSMEEcosystem) -> dict[str, float]:
    """Size-class transitions of the initial firms, start -> end (``exit`` for firms that left)."""
    f, n = model.firms, model.firms.n
    init = f.born[:n] == 0
    start = f.initial_class[:n][init]
    end = np.where(f.alive[:n][init], f.size_class[:n][init], 4)
    counts = np.zeros((3, 5))
    np.add.at(counts, (start.clip(0, 2), end), 1)
    out = {}
    names = list(SIZE_CLASSES) + ["exit"]
    for i in range(3):
        for j in range(5):
            out[f"transition_{SIZE_CLASSES[i]}_to_{names[j]}"] = float(counts[i, j])
    return out


def execute(task: Task) -> pd.DataFrame:
    """Run one task to its horizon and return its tidy long results."""
    t0 = time.perf_counter()
    model = MSMEEcosystem(task.scenario, seed=task.seed)
    model.run()
    wide = model.metrics_frame()
    long = wide.reset_index().melt(id_vars="month", var_name="metric", value_name="value")
    final = model.month
    extra = transitions(model)
    extra["run_seconds"] = time.perf_counter() - t0
    extra_df = pd.DataFrame({"month": final, "metric": list(extra), "value": list(extra.values())})
    df = pd.concat([long, extra_df], ignore_index=True)
    df.insert(0, "run_id", task.run_id)
    df.insert(1, "scenario", task.label)
    df.insert(2, "seed", task.seed)
    df["month"] = df["month"].astype("int32")
    df["value"] = df["value"].astype("float64")
    return df[TIDY_COLUMNS]


def default_jobs() -> int:
    """All cores."""
    return max(1, os.cpu_count() or 1)


def run_tasks(tasks: Iterable[Task], jobs: int | None = None, progress: bool = True,
              desc: str = "runs") -> pd.DataFrame:
    """Run tasks (deduplicated by run identity) locally in ``jobs`` processes; tidy results."""
    from tqdm.auto import tqdm

    unique: dict[tuple[str, int], Task] = {}
    labels: dict[tuple[str, int], list[str]] = {}
    for t in tasks:
        key = (t.params_hash, t.seed)
        unique.setdefault(key, t)
        labels.setdefault(key, [])
        if t.label not in labels[key]:
            labels[key].append(t.label)
    jobs = default_jobs() if jobs is None else max(1, int(jobs))
    results: dict[tuple[str, int], pd.DataFrame] = {}
    bar = tqdm(total=len(unique), desc=desc, unit="run", disable=not progress)
    if jobs == 1 or len(unique) == 1:
        for key, t in unique.items():
            results[key] = execute(t)
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futs = {pool.submit(execute, t): key for key, t in unique.items()}
            for fut in as_completed(futs):
                results[futs[fut]] = fut.result()
                bar.update()
    bar.close()
    frames = []
    for key in unique:  # deterministic order, whatever finished first
        df = results[key]
        for label in labels[key]:
            frames.append(df.assign(scenario=label))
    return pd.concat(frames, ignore_index=True)
