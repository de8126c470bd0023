"""The browser-side files Solara's page loads (Vue/Vuetify app bundle, require.js, Font Awesome).

Solara normally fetches them at run time from a public CDN and caches them in a folder. This
project must also run where no CDN is reachable (a classroom behind a firewall, CI), so the files
are put in a local cache ahead of time with npm, the ordinary client of the npm registry:

    python -m app.assets            # fetch what is missing (needs `npm`; a few seconds, ~20 MB)
    python -m app.assets --check    # exit 1 and list what is missing

``python run.py app`` does the same check at start and fetches what is missing when npm exists.
The package list is read from Solara's own page template, so a Solara upgrade that pins other
versions is followed automatically.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ENV_DIR = "MSME_APP_ASSETS"


def cache_dir() -> Path:
    """Folder holding the files, laid out as the CDN paths (``<package>@<version>/...``)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "msme-abm" / "solara-cdn"


def _solara_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("solara")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("solara is not installed (pip install -e '.[dev]')")
    return Path(list(spec.submodule_search_locations)[0])


def _vue3() -> bool:
    try:
        import ipyvue

        return ipyvue.__version__.startswith("3")  # the rule Solara's server uses
    except Exception:  # pragma: no cover - ipyvue is a solara dependency
        return True


# an npm package spec in a CDN path: ``[@scope/]name@x.y.z[-tag]``, followed by its path's next "/"
_SPEC = r"((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+[\w.+-]*)/"


def required_packages() -> list[str]:
    """npm package specs (``name@version``) the page template loads through the CDN path."""
    text = (_solara_dir() / "server" / "templates" / "solara.html.j2").read_text(encoding="utf-8")
    specs = re.findall(r"\{\{cdn\}\}/" + _SPEC, text)
    vue3 = _vue3()
    out: list[str] = []
    for s in specs:
        if "solara-vuetify3-app" in s and not vue3:
            continue
        if "solara-vuetify-app@" in s and vue3:
            continue
        if s not in out:
            out.append(s)
    out.append("font-awesome@4.5.0")  # settings.assets.fontawesome_path default
    # loaded on demand by Solara's widgets (not in the template): the draggable grid that Mesa's
    # SolaraViz lays its plots out with (``python run.py app --mesa-viz``)
    for vue in sorted((_solara_dir() / "widgets" / "vue").glob("*.vue")):
        for s in re.findall(r"getCdn\(\)\}/" + _SPEC, vue.read_text(encoding="utf-8")):
            if s not in out:
                out.append(s)
    return out


def missing(folder: Path | None = None) -> list[str]:
    """Packages not yet in the cache folder."""
    folder = folder or cache_dir()
    return [spec for spec in required_packages() if not (folder / spec / "package.json").exists()]


def fetch(specs: list[str], folder: Path | None = None, quiet: bool = False) -> None:
    """Fetch ``specs`` with ``npm pack`` and unpack each into ``folder/<spec>/``."""
    folder = folder or cache_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed; install it (Debian: apt-get install -y npm) or copy the files "
                           f"into {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            if not quiet:
                print(f"fetching {spec} ...", file=sys.stderr, flush=True)
            res = subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, capture_output=True, text=True,
                                 timeout=300)
            if res.returncode != 0:
                raise RuntimeError(f"npm pack {spec} failed: {res.stderr.strip()[-500:]}")
            tgz = Path(tmp) / res.stdout.strip().splitlines()[-1]
            dest = folder / spec
            part = folder / (spec + ".partial")
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
            with tarfile.open(tgz) as tf:
                for m in tf.getmembers():
                    name = m.name.split("/", 1)[1] if "/" in m.name else ""
                    if not name or ".." in Path(name).parts or not (m.isfile() or m.isdir()):
                        continue
                    m.name = name
                    tf.extract(m, part, filter="data")
            shutil.rmtree(dest, ignore_errors=True)
            part.rename(dest)
            tgz.unlink()


def ensure(quiet: bool = False) -> Path:
    """Make sure every file is cached (fetching what is missing); return the folder."""
    folder = cache_dir()
    todo = missing(folder)
    if todo:
        fetch(todo, folder, quiet=quiet)
    return folder


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m app.assets", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report what is missing (exit 1 if anything is)")
    args = ap.parse_args(argv)
    folder = cache_dir()
    todo = missing(folder)
    if args.check:
        for spec in todo:
            print(f"missing: {spec}")
        print(f"cache folder: {folder}")
        return 1 if todo else 0
    try:
        ensure()
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"browser files ready in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
