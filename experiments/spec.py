"""Reading experiment, sweep and sensitivity files: TOML data checked field by field.

Every problem raises :class:`SpecError` (a :class:`~model.scenario.ScenarioError`, so ``run.py``
exits with code 2) whose message names the file, the field and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

from model.params import FIELD_GROUP, INSTRUMENTS, allowed_values, field_info
from model.scenario import (
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    Scenario,
    ScenarioError,
    available_scenarios,
    load_scenario,
    name_problem,
    read_toml,
    shown,
    slug_from,
)

MAX_SEEDS = 10_000          # seeds of one experiment, sweep trial or sensitivity sample (each seed is a model run)
MAX_SEED_VALUE = 2**31      # largest seed number
MAX_RUNS = 200_000          # model runs one command may ask for (each costs seconds to hours)


class SpecError(ScenarioError):
    """A problem in an experiment, sweep or sensitivity file (message names file, field, allowed values)."""


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(str(name), [str(o) for o in options], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Spec:
    """A parsed TOML file with helpers that raise clear errors."""

    def __init__(self, path: str | Path, kind: str):
        self.path = Path(path)
        self.kind = kind
        try:
            self.data: dict[str, Any] = read_toml(self.path, kind)
        except ScenarioError as err:
            raise SpecError(str(err)) from None
        self.problems: list[str] = []

    @property
    def base_dir(self) -> Path:
        return self.path.resolve().parent

    # -- reporting -------------------------------------------------------------------------------
    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{self.path}: {where}: {text}")

    def raise_if_problems(self) -> None:
        if self.problems:
            raise SpecError("\n".join(dict.fromkeys(self.problems)))

    # -- structure -------------------------------------------------------------------------------
    def sections(self, allowed: dict[str, str], required: tuple[str, ...] = ()) -> None:
        """Check the top-level sections (allowed: name -> what it holds)."""
        for name in self.data:
            if name not in allowed:
                self.problem(f"[{name}]", f"unknown section{_suggest(name, allowed)}; sections allowed in a "
                                          f"{self.kind} file: " + ", ".join(f"[{k}] ({v})" for k, v in allowed.items()))
        for name in required:
            if name not in self.data:
                self.problem(f"[{name}]", f"missing section; a {self.kind} file needs [{name}] ({allowed[name]})")

    def table(self, name: str) -> dict[str, Any]:
        t = self.data.get(name, {})
        if not isinstance(t, dict):
            self.problem(f"[{name}]", "must be a table")
            return {}
        return t

    def keys(self, table: dict, where: str, allowed: dict[str, str]) -> None:
        """Check a table's keys (allowed: key -> description)."""
        for k in table:
            if k not in allowed:
                self.problem(f"[{where}] {k}", f"unknown field{_suggest(k, allowed)}; fields allowed in [{where}]: "
                                               + ", ".join(allowed))

    # -- values ----------------------------------------------------------------------------------
    def integer(self, table: dict, key: str, where: str, default: int | None, lo: int = 1,
                hi: int = 10**9) -> int | None:
        v = table.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            self.problem(f"[{where}] {key} = {v!r}", f"expected a whole number from {lo} to {hi:g}")
            return default
        return v

    def number(self, table: dict, key: str, where: str, default: float | None, lo: float = 0.0,
               hi: float = float("inf")) -> float | None:
        v = table.get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            self.problem(f"[{where}] {key} = {v!r}", f"expected a number from {lo:g} to {hi:g}"
                         + (" (not nan or inf)" if isinstance(v, float) and not math.isfinite(v) else ""))
            return default
        return float(v)

    def string(self, table: dict, key: str, where: str, default: str | None,
               choices: tuple[str, ...] | None = None, max_len: int = MAX_NAME_CHARS) -> str | None:
        v = table.get(key, default)
        if v is None:
            return None
        if not isinstance(v, str):
            self.problem(f"[{where}] {key} = {v!r}", "expected a string" + (
                f"; allowed: {', '.join(choices)}" if choices else ""))
            return default
        if len(v) > max_len:
            self.problem(f"[{where}] {key}", f"{len(v):,} characters; at most {max_len:,} allowed (too long)")
            return default
        if choices and v not in choices:
            self.problem(f"[{where}] {key} = {v!r}", f"not allowed{_suggest(v, choices)}; allowed: "
                                                     + ", ".join(choices))
            return default
        return v

    def name(self, table: dict, key: str, where: str) -> str:
        """The output-folder name: a safe slug (default: made from the file's name)."""
        v = table.get(key)
        if v is None:
            return slug_from(self.path.stem)
        if not isinstance(v, str) or (why := name_problem(v)):
            self.problem(f"[{where}] {key} = {shown(v)}", "expected a string" if not isinstance(v, str) else why)
            return slug_from(self.path.stem)
        return v

    def seeds(self, table: dict, key: str, where: str, default: int) -> list[int]:
        """``seeds = 10`` (seeds 1..10) or ``seeds = [3, 7, 11]``."""
        v = table.get(key, default)
        if isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SEEDS:
            return list(range(1, v + 1))
        if (isinstance(v, list) and 0 < len(v) <= MAX_SEEDS
                and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED_VALUE for s in v)):
            if len(set(v)) != len(v):
                self.problem(f"[{where}] {key}", "seeds must not repeat")
            return [int(s) for s in v]
        shown = repr(v) if not isinstance(v, list) or len(v) <= 10 else f"[a list of {len(v):,}]"
        self.problem(f"[{where}] {key} = {shown}", f"expected a count of seeds (a whole number from 1 to "
                                                   f"{MAX_SEEDS:,}, giving seeds 1..N) or a list of at most "
                                                   f"{MAX_SEEDS:,} distinct whole numbers from 0 to {MAX_SEED_VALUE:,}")
        return list(range(1, default + 1))

    def outcomes(self, table: dict, key: str, where: str, default, allowed) -> list[str]:
        v = table.get(key, default)
        if not isinstance(v, (list, tuple)) or not all(isinstance(o, str) for o in v) or not v:
            self.problem(f"[{where}] {key}", "expected a non-empty list of outcome names; allowed: "
                                             + ", ".join(allowed))
            return list(default)
        for o in v:
            if o not in allowed:
                self.problem(f"[{where}] {key}: '{o}'", f"unknown outcome{_suggest(o, allowed)}; allowed: "
                                                       + ", ".join(allowed))
        return [o for o in v if o in allowed]

    def overrides(self, table: Any, where: str) -> dict[str, Any]:
        """Flat parameter overrides from a table (``mix`` sub-table allowed), names checked."""
        if not isinstance(table, dict):
            self.problem(f"[{where}]", "must be a table of parameter = value")
            return {}
        out: dict[str, Any] = {}
        for k, v in table.items():
            if k == "mix":
                if not isinstance(v, dict):
                    self.problem(f"[{where}] mix", "must be a table of instrument = weight")
                    continue
                for inst, w in v.items():
                    if inst not in INSTRUMENTS:
                        self.problem(f"[{where}.mix] {inst}", f"unknown instrument{_suggest(inst, INSTRUMENTS)}; "
                                                              f"instruments are: {', '.join(INSTRUMENTS)}")
                    else:
                        out[f"mix_{inst}"] = w
            elif k not in FIELD_GROUP:
                self.problem(f"[{where}] {k}", f"unknown parameter{_suggest(k, FIELD_GROUP)}; see "
                                               "`python run.py params` for every parameter")
            else:
                out[k] = v
        return out

    def common_overrides(self, table: dict, where: str, cli_set: dict[str, Any] | None = None) -> dict[str, Any]:
        """Overrides every scenario of a section gets: its ``set`` table, ``population`` (n_firms) and
        ``horizon`` (n_months), then the command line's ``--set`` on top."""
        out = self.overrides(table.get("set", {}), f"{where}.set")
        for key, par, lo, hi in (("population", "n_firms", 10, 20_000_000), ("horizon", "n_months", 1, 600)):
            v = self.integer(table, key, where, None, lo, hi)
            if v:
                out[par] = v
        out.update(cli_set or {})
        return out

    def scenario(self, ref: Any, where: str, overrides: dict[str, Any] | None = None) -> Scenario | None:
        """A bundled scenario name or a path (relative to this file), with overrides validated."""
        if not isinstance(ref, str) or not ref:
            self.problem(where, f"expected a bundled scenario name ({', '.join(available_scenarios())}) or a "
                                "path to a scenario .toml file")
            return None
        p = Path(ref)
        if ref.endswith(".toml") or "/" in ref:
            if not p.is_absolute():
                p = self.base_dir / p
            if not p.exists():
                self.problem(f"{where} = {ref!r}", f"scenario file not found (looked for {p})")
                return None
            ref = str(p)
        try:
            return load_scenario(ref, overrides or None, override_source=f"{self.path}: {where}")
        except ScenarioError as err:
            for line in str(err).splitlines():
                self.problems.append(line if line.startswith(str(self.path)) or ".toml:" in line
                                     else f"{self.path}: {where}: {line}")
            return None


def check_param_value(spec: Spec, name: str, value: Any, where: str) -> bool:
    """Check one value against a parameter's type and range (problem recorded on failure)."""
    from model.scenario import validate_params

    try:
        validate_params({name: value}, str(spec.path))
        return True
    except ScenarioError:
        shown = name[4:] if where.endswith("mix") and name.startswith("mix_") else name
        spec.problem(f"[{where}] {shown} = {value!r}", f"not allowed; allowed: {allowed_values(name)}")
        return False


def param_kind(name: str) -> str:
    """``float``, ``int``, ``bool`` or ``choice`` (a string with fixed options)."""
    ann = field_info(name).annotation
    if ann is bool:
        return "bool"
    if ann is int:
        return "int"
    if ann is float:
        return "float"
    return "choice"


def param_choices(name: str) -> tuple:
    ann = field_info(name).annotation
    if ann is bool:
        return (False, True)
    return tuple(getattr(ann, "__args__", ()))


__all__ = ["MAX_RUNS", "MAX_SEEDS", "MAX_TEXT_CHARS",
           "Spec", "SpecError", "check_param_value", "param_kind", "param_choices", "allowed_values"]
