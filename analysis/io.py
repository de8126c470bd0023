"""Atomic writes: a result file is either complete or absent, never half-written.

An output folder is ours only when it holds :data:`MARKER` (a hidden list of the entries a command
published there). A command removes only entries listed there by an earlier command, never anything
else; it refuses a non-empty folder without the list unless ``--force`` (then it writes beside the
files there and still deletes nothing of them). :func:`check_out` checks all of that before computing.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from model.scenario import ScenarioError

if TYPE_CHECKING:
    import pandas as pd

MARKER = ".msme-result.json"          # the list of entries a command published in an output folder
STAGING_MARKER = ".msme-staging.json"  # inside a staging folder: who writes it (host, pid)
STORE = ("runs", "index.parquet", "study.db")  # written run by run and reused: never removed by publish
# every top-level entry a command publishes (used to recognise results written before MARKER existed)
RESULT_NAMES = frozenset({
    "timeseries.parquet", "outcomes.csv", "summary.csv", "differences.csv", "figures", "report.md", "report.html",
    "manifest.json", "trials.csv", "pareto.csv", "importance.csv", "morris.csv", "sobol.csv",
    "samples_morris.csv", "samples_sobol.csv"})
NAME_MAX_BYTES = 255  # one path component (Linux, macOS, Windows)
PATH_MAX_BYTES = 4000


class OutputError(ScenarioError):
    """An output folder that cannot or must not be written (message names the path and the reason)."""


def output_error(err: OSError, where) -> OutputError:
    """A clear message for an ``OSError`` while writing results under ``where``."""
    what = err.strerror or str(err)
    name = ""
    if err.filename and str(err.filename) != str(where):
        file = Path(str(err.filename))
        tmp = re.fullmatch(r"\.(.+)\.\d+(\.[0-9a-f]+)?\.tmp", file.name)  # a partial file: name the real one
        name = f" (writing {tmp.group(1) if tmp else file.name})" if ".staging." in str(file) or tmp else f" ({file})"
    return OutputError(f"{where}: could not write the results: {what}{name}; partial files were removed")


def _create_tmp(path: Path) -> Path:
    """A new empty file beside ``path``, created with the user's umask (``mkstemp`` would make it 0600)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path}: no free temporary name")


def _tmp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return _create_tmp(path)


def _write_atomic(path, write) -> Path:
    path = Path(path)
    tmp = _tmp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text(path, text: str) -> Path:
    return _write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_csv(path, df: pd.DataFrame, **kw) -> Path:
    index = kw.pop("index", False)
    return _write_atomic(path, lambda tmp: df.to_csv(tmp, index=index, **kw))


def write_parquet(path, df: pd.DataFrame) -> Path:
    return _write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


# -- which entries of an output folder are ours -----------------------------------------------------------
def owned_entries(folder) -> set[str] | None:
    """Names of the entries a command of ours published in ``folder``; None when the folder is not ours.

    A result folder written before :data:`MARKER` existed is recognised by its ``manifest.json`` (with the
    model code hash every command records) or its run store; then only the known result names are ours.
    """
    folder = Path(folder)
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        return {str(e) for e in data.get("entries", []) if _plain_name(str(e)) and str(e) != MARKER}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, AttributeError, TypeError):
        return set()  # our marker, damaged: the folder is ours but nothing in it is listed
    try:
        legacy = "model_code" in json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        legacy = False
    legacy = legacy or any(_is_run_manifest(p) for p in _first(folder / "runs", "*.json", 3))
    legacy = legacy or (folder / "study.db").is_file()  # a sweep's study store (its default name)
    if not legacy:
        return None
    return {p.name for p in folder.iterdir() if p.name in RESULT_NAMES}


def _first(folder: Path, pattern: str, n: int) -> list[Path]:
    try:
        return sorted(folder.glob(pattern))[:n] if folder.is_dir() else []
    except OSError:
        return []


def _is_run_manifest(p: Path) -> bool:
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
        return isinstance(m, dict) and "run_id" in m and "model_code" in m
    except (OSError, ValueError):
        return False


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name


def _write_marker(folder: Path, entries) -> None:
    write_text(folder / MARKER, json.dumps({
        "written_by": "MSME ecosystem policy simulator (python run.py)",
        "note": "entries below were written by a command and may be replaced by the next one; nothing else "
                "in this folder is ever removed",
        "updated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "entries": sorted(entries)}, indent=1) + "\n")


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif os.path.lexists(p):
        p.unlink()


def _aside(p: Path) -> Path:
    """A free name beside ``p`` for a file that is not ours (it is kept, not overwritten)."""
    for i in range(1, 10_000):
        q = p.with_name(f"{p.name}.kept-{i}")
        if not os.path.lexists(q):
            return q
    raise FileExistsError(p)


def publish(staging: Path, final: Path, keep: tuple[str, ...] = STORE) -> Path:
    """Move each entry of a fully written staging folder into ``final``, one atomic rename per entry.

    Old entries that an earlier command listed in ``final``'s :data:`MARKER` and that the new result does
    not have are removed; entries named in ``keep`` (the run store, reused by the next invocation) and
    everything not listed (the user's files) stay. An entry of the user's with the name of a new one is
    renamed ``NAME.kept-N``, never overwritten.
    """
    final = Path(final)
    final.mkdir(parents=True, exist_ok=True)
    old = owned_entries(final) or set()
    new = {p.name for p in staging.iterdir() if p.name != STAGING_MARKER}
    for name in sorted(old - new - set(keep)):
        _remove(final / name)
    for name in sorted(new):  # user's entries with a new entry's name go aside first
        dst = final / name
        if os.path.lexists(dst) and name not in old:
            kept = _aside(dst)
            os.replace(dst, kept)
            print(f"warning: {dst} was not written by this tool: kept as {kept.name}", file=sys.stderr)
    _write_marker(final, old | new)  # an interruption during the moves below leaves every entry listed
    for name in sorted(new):
        src, dst = staging / name, final / name
        if os.path.lexists(dst) and dst.is_dir() != src.is_dir():
            _remove(dst)
        if src.is_dir() and dst.exists():
            bak = final / f".{name}.old"
            _remove(bak)
            os.replace(dst, bak)
            os.replace(src, dst)
            shutil.rmtree(bak, ignore_errors=True)
        else:
            os.replace(src, dst)
    _write_marker(final, new)
    shutil.rmtree(staging, ignore_errors=True)
    return final


# -- staging folders ------------------------------------------------------------------------------------
def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def staging_dir(final) -> Path:
    """A new hidden folder beside ``final`` for writing a result; stale ones of ours are removed first."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(final)
        stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.staging.", dir=final.parent))
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it 0700
        write_text(stage / STAGING_MARKER, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                                       "created": time.time()}))
    except OSError as err:
        raise output_error(err, final) from None
    return stage


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with id ``pid`` still exists (True when unsure)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def clean_stale_staging(final, max_age: float = 7 * 86400) -> list[Path]:
    """Remove staging folders of ``final`` left by a killed command: only folders holding our
    :data:`STAGING_MARKER` whose writer is gone (same host, process ended; another host: older than a week)."""
    final = Path(final)
    removed = []
    try:
        candidates = list(final.parent.glob(f".{final.name}.staging.*"))
    except OSError:
        return removed
    for d in candidates:
        try:
            if d.is_symlink() or not d.is_dir():
                continue
            info = json.loads((d / STAGING_MARKER).read_text(encoding="utf-8"))
            same_host = info.get("host") == socket.gethostname()
            gone = (not pid_alive(int(info["pid"]))) if same_host else \
                time.time() - float(info.get("created", time.time())) > max_age
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours (no readable marker): never touched
        if gone:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


# -- checking an output folder before computing -------------------------------------------------------------
def out_path(text: str) -> Path:
    """argparse type of ``--out``: a non-empty folder path."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder path, got an empty one (use --out . for the current "
                                         "folder)")
    if "\0" in text:
        raise argparse.ArgumentTypeError("a folder path cannot contain a NUL character")
    return Path(text)


_CLAIMED: list[Path] = []  # output folders check_out created in this process


def release_unused_claims() -> None:
    """Remove the output folders :func:`check_out` created in this process that still hold nothing but
    its marker (a command that failed before writing anything leaves no empty result folder behind)."""
    while _CLAIMED:
        p = _CLAIMED.pop()
        try:
            if {e.name for e in p.iterdir()} <= {MARKER}:
                (p / MARKER).unlink(missing_ok=True)
                p.rmdir()
        except OSError:
            pass


def check_out(out, force: bool = False) -> Path:
    """Check, before any model runs, that results can be written to ``out`` and that it is ours; claim it.

    Raises :class:`OutputError` (exit 2) when ``out`` is a file or under one, is not writable, has a name
    that is too long, or is a non-empty folder not written by this tool (unless ``force``). On success the
    folder exists and holds :data:`MARKER`, so an interrupted command can be repeated into it.
    """
    text = str(out)
    if not text.strip():
        raise OutputError("--out: expected a folder path, got an empty one")
    p = Path(out)
    raw = os.fsencode(text)
    if len(raw) > PATH_MAX_BYTES:
        raise OutputError(f"{text[:60]}...: output path too long ({len(raw):,} bytes; at most {PATH_MAX_BYTES})")
    for part in p.parts:
        n = len(os.fsencode(part))
        if n > NAME_MAX_BYTES:
            raise OutputError(f"{text[:60]}...: folder name too long ({n:,} bytes; at most {NAME_MAX_BYTES} "
                              "per name)")
    if os.path.lexists(p) and not p.is_dir():
        what = "a broken link" if not p.exists() else "a file" if p.is_file() else "a device or other special file"
        raise OutputError(f"{p}: the output folder (--out) must be a folder, but this is {what}")
    parent = p
    while not os.path.lexists(parent):
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{p}: cannot create the output folder: {parent} is a file, not a folder")
    try:
        _create_tmp(parent / ".msme-probe").unlink()
    except OSError as err:
        raise OutputError(f"{p}: cannot write there ({parent}: {err.strerror}); choose another --out") from None
    if p.is_dir():
        entries = [e.name for e in p.iterdir() if not e.name.startswith(".")]
        ours = owned_entries(p)
        if entries and ours is None:
            if not force:
                raise OutputError(
                    f"{p}: the folder is not empty and holds no result of this tool ({MARKER} is missing). "
                    "Results go into a new or empty folder or one written by an earlier command, so that no file "
                    "of yours is replaced or removed: choose another --out, or add --force to write the results "
                    "beside the files there (none of them is deleted or overwritten)")
            clash = sorted(set(entries) & RESULT_NAMES)
            if clash:
                raise OutputError(f"{p}: --force writes beside your files but never over them, and this folder "
                                  f"already holds {', '.join(clash)}; move them or choose another --out")
        if ours is not None:
            for name in ours:  # halves of a swap interrupted by kill -9
                bak = p / f".{name}.old"
                if bak.is_dir() and not bak.is_symlink():
                    shutil.rmtree(bak, ignore_errors=True)
            for tmp in p.glob(f"{MARKER}.*.tmp"):  # our marker, half-written by a killed process
                pid = tmp.name[len(MARKER) + 1:].split(".")[0]
                if pid.isdigit() and not pid_alive(int(pid)):
                    tmp.unlink(missing_ok=True)
    try:
        if not p.exists():
            _CLAIMED.append(p)
        p.mkdir(parents=True, exist_ok=True)
        if not (p / MARKER).exists():
            _write_marker(p, owned_entries(p) or set())
        clean_stale_staging(p)
    except OSError as err:
        raise output_error(err, p) from None
    return p
