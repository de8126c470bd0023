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


def staging_dir(final) -> Path:
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.staging.", dir=final.parent))
