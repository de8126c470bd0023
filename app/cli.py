"""``python run.py app``: start the teaching app (a local Solara web server).

    python run.py app                      # http://127.0.0.1:8765
    python run.py app --port 9000          # another port
    python run.py app --host 0.0.0.0       # reachable from other machines in the classroom network
    python run.py app --mesa-viz           # Mesa's own SolaraViz page on the model (app/mesa_viz.py)

The page's browser files are served from a local cache (see ``app/assets.py``); missing ones are
fetched once with npm, so the app itself needs no internet connection.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a whole number from 1 to 65535") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {value}: expected a whole number from 1 to 65535")
    return value


def _host(text: str) -> str:
    text = text.strip()
    if not text:
        raise argparse.ArgumentTypeError("invalid host '': give an address such as 127.0.0.1 or 0.0.0.0")
    try:
        socket.getaddrinfo(text, None)
    except socket.gaierror:
        raise argparse.ArgumentTypeError(f"invalid host {text!r}: not an address or a known host name") from None
    return text


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "app", help="start the teaching app in the browser (sliders, live charts, side-by-side scenarios)",
        description="Start the teaching web app on this computer and print its address. Open the address in a "
                    "browser; stop the app with Ctrl+C.",
    )
    p.add_argument("--host", type=_host, default=DEFAULT_HOST,
                   help=f"address to listen on (default {DEFAULT_HOST}: only this computer; 0.0.0.0: the network)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--no-fetch", action="store_true",
                   help="do not fetch missing browser files with npm (fail with a message instead)")
    p.add_argument("--mesa-viz", action="store_true",
                   help="serve Mesa's SolaraViz page on the model (app/mesa_viz.py) instead of the teaching app")
    p.set_defaults(func=run_app)


def _port_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def configure(host: str, port: int, assets_dir: Path, page: str = "app.page") -> None:
    """Solara settings for a local, offline, production-mode server (before solara is imported);
    ``page``: the module whose ``page`` is served."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    os.environ["SOLARA_APP"] = page
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SOLARA_THEME_SHOW_BANNER"] = "False"
    os.environ["SOLARA_ASSETS_PROXY_CACHE_DIR"] = str(assets_dir)
    os.environ.setdefault("MPLBACKEND", "Agg")
    import warnings

    # a local http server: Solara's advice about https cookies behind proxies does not apply
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    import solara.server.settings as settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    settings.theme.show_banner = False
    settings.assets.proxy_cache_dir = Path(assets_dir)


def _is_local(host: str) -> bool:
    """Only this computer can reach the address (loopback: 127.x.x.x, ::1, localhost)."""
    import ipaddress

    try:
        return all(ipaddress.ip_address(info[4][0]).is_loopback for info in socket.getaddrinfo(host, None))
    except (socket.gaierror, ValueError):
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The warning printed before the app listens on an address other computers can reach."""
    if _is_local(host):
        return None
    where = "any network this computer is connected to" if host in ("0.0.0.0", "::") else f"the network of {host}"
    return (f"run.py app: warning: listening on {host}:{port}. The app has no authentication: anyone on {where} "
            "can open it and run simulations on this computer (with its processors and memory). Use this only on "
            "a network you trust, such as a classroom, and stop the app with Ctrl+C when done.")


def run_app(args: argparse.Namespace) -> int:
    from . import assets

    host, port = args.host, args.port
    if not _port_free(host, port):
        print(f"run.py app: error: port {port} on {host} is already in use; choose another with --port",
              file=sys.stderr)
        return 2
    todo = assets.missing()
    if todo:
        if args.no_fetch:
            print(f"run.py app: error: browser files missing ({', '.join(todo)}); run `python -m app.assets` "
                  "once (needs npm)", file=sys.stderr)
            return 1
        try:
            assets.fetch(todo)
        except RuntimeError as err:
            print(f"run.py app: error: {err}", file=sys.stderr)
            return 1
    warning = exposure_warning(host, port)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    mesa_viz = getattr(args, "mesa_viz", False)
    if mesa_viz:
        try:
            import altair  # noqa: F401  (Mesa's plot components need it)
        except ImportError:
            print("run.py app: error: --mesa-viz needs altair (Mesa's plot components): pip install -e '.[viz]'",
                  file=sys.stderr)
            return 2
    configure(host, port, assets.cache_dir(), "app.mesa_viz" if mesa_viz else "app.page")
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    if host in ("0.0.0.0", "::"):
        print(f"MSME Policy Lab: listening on all addresses; on this computer open http://127.0.0.1:{port}/",
              flush=True)
    title = "Mesa SolaraViz page" if mesa_viz else "MSME Policy Lab"
    print(f"{title} running at http://{shown}:{port}/  (Ctrl+C to stop)", flush=True)
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning",
                            access_log=False, ws_max_size=64 * 1024 * 1024)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0
