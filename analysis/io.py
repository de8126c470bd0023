"""Atomic writes: a result file is either complete or absent, never half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd


def _tmp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_text(path, text: str) -> Path:
    path = Path(path)
    tmp = _tmp_beside(path)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_csv(path, df: pd.DataFrame, **kw) -> Path:
    path = Path(path)
    tmp = _tmp_beside(path)
    df.to_csv(tmp, index=kw.pop("index", False), **kw)
    os.replace(tmp, path)
    return path


def write_parquet(path, df: pd.DataFrame) -> Path:
    path = Path(path)
    tmp = _tmp_beside(path)
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def replace_dir(staging: Path, final: Path) -> Path:
    """Move a fully written staging folder into place (the old result is replaced only at the end)."""
    final = Path(final)
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(staging, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
    return final


def publish(staging: Path, final: Path, keep: tuple[str, ...] = ("runs", "index.parquet", "study.db")) -> Path:
    """Move each entry of a fully written staging folder into ``final``, one atomic rename per entry.

    Unlike :func:`replace_dir`, entries named in ``keep`` (the run store, which is written run by run
    and reused by the next invocation) stay; other old entries not in the new result are removed.
    """
    final = Path(final)
    final.mkdir(parents=True, exist_ok=True)
    new = {p.name for p in staging.iterdir()}
    for p in final.iterdir():
        if p.name not in new and p.name not in keep and not p.name.startswith("."):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for name in sorted(new):
        src, dst = staging / name, final / name
        if dst.exists() and dst.is_dir() != src.is_dir():
            shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
        if src.is_dir() and dst.exists():
            old = final / f".{name}.old"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(dst, old)
            os.replace(src, dst)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(src, dst)
    shutil.rmtree(staging, ignore_errors=True)
    return final


def staging_dir(final) -> Path:
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.staging.", dir=final.parent))
