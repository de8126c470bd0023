"""The data pack: the published figures the model is initialised, calibrated and validated from.

``data/published_figures.csv`` holds one row per figure (columns :data:`COLUMNS`); the full
references of its ``[Key]`` citations are in ``data/REFERENCES.md``. :func:`load_datapack` reads and
checks it row by row (pydantic): every problem is reported as ``file: row N (id): field: what is
wrong; allowed: ...`` in one :class:`DataPackError` (a :class:`~model.scenario.ScenarioError`, so
``run.py`` exits with code 2).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model.params import FIELD_GROUP
from model.scenario import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
FIGURES = DATA_DIR / "published_figures.csv"
REFERENCES = DATA_DIR / "REFERENCES.md"
USES = ("initialisation", "calibration_target", "validation")
COLUMNS = ("id", "value", "unit", "year", "quantity", "source", "use", "parameter", "sigma", "note")
ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class DataPackError(ScenarioError):
    """A problem in the data pack (message names file, row, field and allowed values)."""


class Figure(BaseModel):
    """One published figure."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN, max_length=60)
    value: float
    unit: str = Field(min_length=1)
    year: str = Field(pattern=r"^\d{4}(-\d{2})?(-\d{4})?$|^\d{4}s(-\d{4}s)?$")
    quantity: str = Field(min_length=1)
    source: str = Field(min_length=1)
    use: Literal["initialisation", "calibration_target", "validation"]
    parameter: tuple[str, ...] = ()
    sigma: float | None = None
    note: str = ""

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("sigma")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError("must be a number > 0 (one standard deviation, in the row's unit) or empty")
        return v

    @field_validator("parameter", mode="before")
    @classmethod
    def _params(cls, v):
        if isinstance(v, str):
            v = tuple(p.strip() for p in v.split(";") if p.strip())
        for p in v:
            if p not in FIELD_GROUP:
                raise ValueError(f"unknown model parameter '{p}' (see `python run.py params`)")
        return v


ALLOWED = {
    "id": "lower-case letters, digits and _ starting with a letter, unique",
    "value": "a finite number in the row's unit",
    "unit": "a non-empty unit (firms, persons, IDR, share, per year, ...)",
    "year": "YYYY, YYYY-MM, YYYY-YYYY, 1990s or 1990s-2010s",
    "quantity": "a non-empty description",
    "source": "a non-empty reference ending in a [Key] defined in data/REFERENCES.md",
    "use": ", ".join(USES),
    "parameter": "model parameter names separated by ';' (or empty)",
    "sigma": "empty, or a number > 0 (one standard deviation, in the row's unit); required for calibration_target",
    "note": "any text",
}


@dataclass(frozen=True)
class DataPack:
    """The checked figures by id, in file order."""

    figures: dict[str, Figure]
    path: Path

    def __getitem__(self, key: str) -> Figure:
        return self.figures[key]

    def __contains__(self, key: str) -> bool:
        return key in self.figures

    def ids(self, use: str | None = None) -> list[str]:
        return [k for k, f in self.figures.items() if use is None or f.use == use]


def reference_keys(path: Path = REFERENCES) -> set[str]:
    """The ``[Key]`` entries defined in the references file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataPackError(f"{path}: cannot read the references file ({err.strerror or err})") from None
    return set(re.findall(r"^- \*\*\[([^\]]+)\]\*\*", text, flags=re.M))


def load_datapack(path: str | Path = FIGURES, references: str | Path | None = None) -> DataPack:
    """Read and check the data pack; raise :class:`DataPackError` listing every problem."""
    path = Path(path)
    refs_path = Path(references) if references else path.parent / REFERENCES.name
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as err:
        raise DataPackError(f"{path}: cannot read the data pack ({err.strerror or err})") from None
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataPackError(f"{path}: not a UTF-8 CSV file ({err})") from None
    if not rows:
        raise DataPackError(f"{path}: empty; expected a header row with columns {', '.join(COLUMNS)}")
    header = [h.strip() for h in rows[0]]
    if tuple(header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        raise DataPackError(f"{path}: header row: expected the columns {', '.join(COLUMNS)} in this order"
                            + (f"; missing: {', '.join(missing)}" if missing else "")
                            + (f"; unknown: {', '.join(extra)}" if extra else ""))
    keys = reference_keys(refs_path) if refs_path.exists() else None
    problems: list[str] = []
    figures: dict[str, Figure] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        rid = row[0].strip() if row else "?"
        where = f"{path}: row {n} ({rid or 'no id'})"
        if len(row) != len(COLUMNS):
            problems.append(f"{where}: {len(row)} fields, expected {len(COLUMNS)} ({', '.join(COLUMNS)})")
            continue
        raw = {c: v.strip() for c, v in zip(COLUMNS, row, strict=True)}
        raw["sigma"] = raw["sigma"] or None
        try:
            fig = Figure(**raw)
        except ValidationError as err:
            for e in err.errors():
                field = str(e["loc"][0]) if e["loc"] else "row"
                msg = e["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: {field} = {raw.get(field)!r}: {msg}; allowed: {ALLOWED.get(field, '')}")
            continue
        if fig.id in figures:
            problems.append(f"{where}: id: '{fig.id}' repeats an earlier row; allowed: {ALLOWED['id']}")
        if fig.use == "calibration_target" and fig.sigma is None:
            problems.append(f"{where}: sigma: empty, but a calibration target needs its uncertainty; allowed: "
                            f"{ALLOWED['sigma']}")
        cited = re.findall(r"\[([^\]]+)\]", fig.source)
        if not cited:
            problems.append(f"{where}: source: no [Key] citation; allowed: {ALLOWED['source']}")
        elif keys is not None:
            for k in cited:
                if k not in keys:
                    problems.append(f"{where}: source: [{k}] is not defined in {refs_path}; defined: "
                                    + ", ".join(sorted(keys)))
        figures[fig.id] = fig
    if problems:
        raise DataPackError("\n".join(problems))
    return DataPack(figures, path)


__all__ = ["COLUMNS", "DATA_DIR", "DataPack", "DataPackError", "FIGURES", "Figure", "USES", "load_datapack"]
