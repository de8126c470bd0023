"""Scenario files: TOML data validated against the parameter schema.

A scenario file looks like::

    [scenario]
    name = "self_governance"
    description = "Regional councils allocate the budget ..."
    extends = "baseline"          # optional: start from another scenario (a file beside this one, else a bundled one)

    [levers]
    governance_mode = "self_governance"

    [levers.mix]                  # instrument weights (normalised)
    grants = 0.2

    [uncertainties]
    capture_rate = 0.15

    [constants]
    n_firms = 20000

Every problem (unknown key, wrong type, out-of-range value, unknown instrument or mode, missing file)
raises :class:`ScenarioError` whose message names the file, the field and what is allowed.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .params import DEFAULTS, FIELD_GROUP, GROUPS, INSTRUMENTS, allowed_values, cross_field_problems

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
HEADER_KEYS = {"name", "description", "extends"}
MAX_NAME_CHARS = 100       # names and labels: shown in file names, figure legends and table headers
MAX_TEXT_CHARS = 5_000     # descriptions and titles
MAX_SET_CHARS = 1_000      # one --set KEY=VALUE


class ScenarioError(ValueError):
    """A scenario or parameter problem, with a message meant for the user."""


NAME_MAX = 100  # characters of a name that becomes an output folder
_SLUG = re.compile(r"[\w.-]+")


def name_problem(name: str) -> str | None:
    """Why ``name`` (it becomes an output folder name) is unsafe, or None when it is a safe slug."""
    if not name:
        return "must not be empty"
    if len(name) > NAME_MAX or len(name.encode("utf-8", "replace")) > 2 * NAME_MAX:
        return f"too long ({len(name):,} characters; at most {NAME_MAX})"
    if not _SLUG.fullmatch(name) or name.startswith("."):
        return ("it names the output folder, so it may hold only letters, digits, '-', '_' and '.', "
                "and must not start with '.' (no '/', '\\', spaces or '..')")
    return None


def shown(value: Any, limit: int = 60) -> str:
    """``repr`` of a value, cut to ``limit`` characters for an error message."""
    r = repr(value)
    return r if len(r) <= limit else r[:limit - 5] + "...'" + f" ({len(str(value)):,} characters)"


def slug_from(stem: str) -> str:
    """A safe folder name made from a file's stem (the default name when a file gives none)."""
    s = re.sub(r"[^\w.-]+", "_", stem).lstrip(".")[:NAME_MAX]
    return s or "unnamed"


@dataclass
class Scenario:
    """A validated scenario: a name, a description and the flat parameter dictionary."""

    name: str
    description: str
    params: dict[str, Any]
    source: str = "<defaults>"
    overrides: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Stable hash of the parameters (not of the file's formatting)."""
        blob = json.dumps(self.params, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, overrides: dict[str, Any], source: str = "command line") -> Scenario:
        """Return a copy with some flat parameters replaced (validated, also against each other)."""
        params = dict(self.params)
        params.update(overrides)
        params = validate_params(params, source)
        check_combination(params, f"{self.source} with {source}" if self.source != source else source)
        return Scenario(self.name, self.description, params, self.source, {**self.overrides, **overrides})


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _format_errors(err: ValidationError, group: str, source: str, cls: type[BaseModel]) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        name = str(e["loc"][0]) if e["loc"] else ""
        where = f"[{group}] {loc}" if group else loc
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: {where}: unknown field{_suggest(name, cls.model_fields)}; "
                         f"fields allowed in [{group}] are: {', '.join(cls.model_fields)}")
        elif name in FIELD_GROUP:
            lines.append(f"{source}: {where} = {e.get('input')!r}: {e['msg'].lower()}; "
                         f"allowed: {allowed_values(name)}")
        else:
            lines.append(f"{source}: {where}: {e['msg']}")
    return lines


def check_combination(params: dict[str, Any], source: str) -> None:
    """Refuse validated parameters that make no sense together (a month beyond the horizon, a budget with
    every instrument weight 0): :func:`model.params.cross_field_problems`."""
    problems = cross_field_problems(params)
    if problems:
        raise ScenarioError("\n".join(f"{source}: {p}" for p in problems))


def check_length(source: str, where: str, text: str, limit: int) -> None:
    """Refuse a free-text field longer than ``limit`` characters (names end up in file names, figure
    legends and reports)."""
    if len(text) > limit:
        raise ScenarioError(f"{source}: {where}: {len(text):,} characters; at most {limit:,} allowed (too long)")


def validate_params(params: dict[str, Any], source: str = "parameters") -> dict[str, Any]:
    """Validate a flat parameter dictionary; fill defaults; raise ScenarioError listing every problem."""
    problems: list[str] = []
    unknown = [k for k in params if k not in FIELD_GROUP]
    for k in unknown:
        hint = _suggest(k, FIELD_GROUP)
        if k.startswith("mix_"):
            problems.append(f"{source}: {k}: unknown instrument '{k[4:]}'{_suggest(k[4:], INSTRUMENTS)}; "
                            f"instruments are: {', '.join(INSTRUMENTS)}")
        else:
            problems.append(f"{source}: {k}: unknown parameter{hint}; see `python run.py params` for the list")
    out: dict[str, Any] = {}
    for group, cls in GROUPS.items():
        sub = {k: v for k, v in params.items() if FIELD_GROUP.get(k) == group}
        try:
            out.update(cls(**sub).model_dump())
        except ValidationError as err:
            problems.extend(_format_errors(err, group, source, cls))
    if problems:
        raise ScenarioError("\n".join(problems))
    return out


def _flatten_file(data: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    header = data.get("scenario", {})
    problems: list[str] = []
    if not isinstance(header, dict):
        problems.append(f"{source}: [scenario] must be a table with name and description")
        header = {}
    for k in header:
        if k not in HEADER_KEYS:
            problems.append(f"{source}: [scenario] {k}: unknown field; allowed: {', '.join(sorted(HEADER_KEYS))}")
    flat: dict[str, Any] = {}
    for section, value in data.items():
        if section == "scenario":
            continue
        if section not in GROUPS:
            problems.append(f"{source}: [{section}]: unknown section{_suggest(section, GROUPS)}; "
                            f"allowed sections: scenario, {', '.join(GROUPS)}")
            continue
        if not isinstance(value, dict):
            problems.append(f"{source}: {section} must be a table")
            continue
        for key, v in value.items():
            if section == "levers" and key == "mix":
                if not isinstance(v, dict):
                    problems.append(f"{source}: [levers.mix] must be a table of instrument = weight")
                    continue
                for inst, w in v.items():
                    if inst not in INSTRUMENTS:
                        problems.append(f"{source}: [levers.mix] {inst}: unknown instrument"
                                        f"{_suggest(inst, INSTRUMENTS)}; instruments are: {', '.join(INSTRUMENTS)}")
                    else:
                        flat[f"mix_{inst}"] = w
                continue
            if key in FIELD_GROUP and FIELD_GROUP[key] != section:
                problems.append(f"{source}: [{section}] {key}: belongs in [{FIELD_GROUP[key]}], not [{section}]")
                continue
            if key not in GROUPS[section].model_fields:
                cls = GROUPS[section]
                problems.append(f"{source}: [{section}] {key}: unknown field{_suggest(key, cls.model_fields)}; "
                                f"fields allowed in [{section}] are: {', '.join(cls.model_fields)}")
                continue
            flat[key] = v
    return header, flat, problems


def resolve_path(name_or_path: str | Path) -> Path:
    """Find a scenario by file path or by name in the bundled ``scenarios/`` folder."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in str(name_or_path):
        if not p.exists():
            raise ScenarioError(f"{p}: scenario file not found")
        return p
    candidate = SCENARIO_DIR / f"{name_or_path}.toml"
    if not candidate.exists():
        names = available_scenarios()
        raise ScenarioError(f"unknown scenario '{name_or_path}'{_suggest(str(name_or_path), names)}; "
                            f"bundled scenarios: {', '.join(names)} (or give a path to a .toml file)")
    return candidate


def available_scenarios() -> list[str]:
    """Names of the bundled scenario files."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


MAX_FILE_BYTES = 1_000_000  # a scenario, experiment, sweep or sensitivity file is a few kB


def _looks_utf16(raw: bytes) -> bool:
    """UTF-16 without a byte-order mark: plain ASCII text with a zero byte beside every character."""
    head = raw[:200]
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return False
    return (odd.count(0) > 0.8 * len(odd) and even.count(0) < 0.2 * len(even)) or \
        (even.count(0) > 0.8 * len(even) and odd.count(0) < 0.2 * len(odd))


def _decode(raw: bytes, shown: str, kind: str) -> str:
    """UTF-8 text of a file (a UTF-8 byte-order mark, as some Windows editors write, is dropped)."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(raw):
        raise ScenarioError(f"{shown}: this {kind} file is saved as UTF-16 text, which cannot be read: save it as "
                            "UTF-8 (in most editors: Save as, Encoding: UTF-8)")
    if b"\x00" in raw:
        raise ScenarioError(f"{shown}: not a {kind} file: it holds binary data, not UTF-8 text (TOML)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ScenarioError(f"{shown}: not UTF-8 text: byte 0x{raw[err.start]:02x} on line {line} cannot be read "
                            "(the file may be saved as Latin-1 or Windows-1252): save it as UTF-8") from None


def read_toml(path: str | Path, kind: str = "scenario", shown: str | None = None) -> dict[str, Any]:
    """Read a TOML file (scenario, experiment, sweep or sensitivity) with one clear error for each way it
    can fail: missing, unreadable, too large, not UTF-8 text (UTF-16, Latin-1, binary), or not valid TOML
    (syntax error, duplicate key). A UTF-8 byte-order mark is accepted."""
    path = Path(path)
    shown = shown or str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ScenarioError(f"{shown}: {kind} file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{shown}: is a folder, not a {kind} file") from None
    except OSError as err:
        raise ScenarioError(f"{shown}: cannot read file: {err.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(f"{shown}: larger than {MAX_FILE_BYTES // 1_000_000} MB: not a {kind} file")
    text = _decode(raw, shown, kind)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        hint = " (a key or table given twice?)" if "overwrite" in str(err).lower() else ""
        raise ScenarioError(f"{shown}: not valid TOML: {err}{hint}") from None


def load_scenario(name_or_path: str | Path, overrides: dict[str, Any] | None = None,
                  _seen: tuple[Path, ...] = (), override_source: str = "command line") -> Scenario:
    """Load, merge (``extends``) and validate a scenario file; apply flat overrides (from
    ``override_source``, named in error messages)."""
    path = resolve_path(name_or_path).resolve()
    if path in _seen:
        raise ScenarioError(f"{path}: 'extends' makes a cycle: {' -> '.join(p.name for p in (*_seen, path))}")
    source = _display(path)
    header, flat, problems = _flatten_file(read_toml(path, "scenario", source), source)
    if problems:
        raise ScenarioError("\n".join(problems))
    base: dict[str, Any] = dict(DEFAULTS)
    if "extends" in header:
        parent_ref = header["extends"]
        if not isinstance(parent_ref, str) or not parent_ref:
            raise ScenarioError(f"{source}: [scenario] extends must be a scenario name or a .toml file name")
        file_name = parent_ref if parent_ref.endswith(".toml") else f"{parent_ref}.toml"
        parent_path = path.parent / file_name  # a file beside this one wins ...
        if not parent_path.exists():
            parent_path = SCENARIO_DIR / file_name  # ... else a bundled scenario, wherever this file is
        if not parent_path.exists():
            raise ScenarioError(f"{source}: [scenario] extends = {parent_ref!r}: no such scenario next to this file "
                                f"nor a bundled one{_suggest(parent_ref, available_scenarios())} (bundled: "
                                f"{', '.join(available_scenarios())})")
        base = dict(load_scenario(parent_path, _seen=(*_seen, path)).params)
    base.update(flat)
    params = validate_params(base, source)
    name = header.get("name", slug_from(path.stem))
    desc = header.get("description", "")
    if not isinstance(name, str) or not isinstance(desc, str):
        raise ScenarioError(f"{source}: [scenario] name and description must be strings")
    check_length(source, "[scenario] name", name, MAX_NAME_CHARS)
    check_length(source, "[scenario] description", desc, MAX_TEXT_CHARS)
    if why := name_problem(name):
        raise ScenarioError(f"{source}: [scenario] name = {shown(name)}: {why}")
    scen = Scenario(name, desc, params, source)
    if overrides:
        scen = scen.with_overrides(overrides, override_source)
    elif not _seen:  # a parent of `extends` is checked as part of its child
        check_combination(params, source)
    return scen


def default_scenario() -> Scenario:
    """The embedded defaults as a scenario (centralised delivery, today's programme mix)."""
    return Scenario("defaults", "Embedded defaults", validate_params({}, "defaults"))


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line; the value is read as a TOML literal."""
    if len(text) > MAX_SET_CHARS:
        raise ScenarioError(f"--set {text[:40]!r}...: {len(text):,} characters; at most {MAX_SET_CHARS:,} allowed")
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected key=value, e.g. --set budget_per_firm_month=80000")
    key, raw = text.split("=", 1)
    key, raw = key.strip(), raw.strip()
    if any(c in text for c in "\n\r\x00"):
        raise ScenarioError(f"--set {key}: the value {raw!r} spans several lines (or holds a control character); "
                            "give one value on one line, e.g. --set capture_rate=0.3")
    parts = key.split(".")
    if parts[:-1] in (["mix"], ["levers", "mix"]):
        key = "mix_" + parts[-1]
    elif len(parts) == 2 and parts[0] in GROUPS:
        key = parts[1]
        group = FIELD_GROUP.get(key)
        if group and group != parts[0]:
            raise ScenarioError(f"--set {'.'.join(parts)}: {key} belongs in [{group}], not [{parts[0]}]; write "
                                f"--set {group}.{key}=... or just --set {key}=...")
    elif len(parts) > 1:
        raise ScenarioError(f"--set {key}: unknown section '{'.'.join(parts[:-1])}'; write the field alone "
                            f"(--set {parts[-1]}=...) or after its section: {', '.join(GROUPS)} or mix "
                            "(e.g. --set uncertainties.capture_rate=0.3, --set mix.grants=0.2)")
    if raw in ("True", "False", "TRUE", "FALSE"):  # Python's spelling (what `params` once printed)
        return key, raw.lower() == "true"
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string: --set governance_mode=platform
    return key, value
