#!/usr/bin/env python
"""Command line of the MSME ecosystem policy simulator.

    python run.py                      # the default comparison of all bundled scenarios
    python run.py --firms 2000         # the same with options (as ``python run.py default ...``)
    python run.py run SCENARIO ...     # one scenario over several seeds
    python run.py params               # every parameter with its group, default and range
    python run.py --help               # all commands

Each command lives in its own module, which adds a sub-parser (``add_parser(subparsers)``) and
sets ``func``; a command returns an exit code. Bad input exits with code 2 and one clear message.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

# modules that add commands, in the order they appear in --help
COMMAND_MODULES = (
    "analysis.cli",         # default comparison, run, params, scenarios
    "experiments.cli",      # compare, sweep, sensitivity
    "experiments.bench",    # bench
    "experiments.new",      # new (templates), completion
    "app.cli",              # app
)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (no usage dump) on a bad command-line value."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n(use `python {self.prog} --help` to see the options)\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler, ``kill``): stopped the same clean way as Ctrl-C, exit code 128 + 15."""


def _terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not break the clean-up
    raise Terminated


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="run.py",
        description="Agent-based simulator of MSME ecosystem policy. With no command, runs the default "
                    "comparison of all bundled scenarios on the embedded defaults and writes results/default/.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name and name.startswith(err.name):
                continue  # command not installed in this checkout
            raise
        mod.add_parser(sub)
    return parser


def with_command(argv: list[str]) -> list[str]:
    """``argv`` with the command ``default`` put first when it has none: no arguments, or options
    only (``python run.py --firms 1000 --months 24`` is the default comparison with those options)."""
    argv = list(argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["default", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    from analysis.io import release_unused_claims
    from model.scenario import ScenarioError

    parser = build_parser()
    args = parser.parse_args(with_command(sys.argv[1:] if argv is None else argv))
    func = args.func
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminated) if in_main_thread else None
    try:
        return int(func(args) or 0)
    except ScenarioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader of our output went away (``python run.py params | head``): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt as err:
        print("\ninterrupted: finished runs are kept; "
              + (getattr(args, "resume_hint", None) or "run the same command again to complete the rest"),
              file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(err, Terminated) else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        release_unused_claims()


if __name__ == "__main__":
    sys.exit(main())
