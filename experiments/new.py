"""Commands ``new`` (a commented template to start from) and ``completion`` (shell completion).

    python run.py new scenario my_councils       # -> my_councils.toml, every field commented
    python run.py new experiment my_comparison   # -> my_comparison.toml (from the bundled example)
    python run.py new sweep my_sweep             # -> my_sweep.toml (from the bundled example)
    eval "$(python run.py completion bash)"      # complete commands, options and scenario names

A template is never written over an existing file (exit 2: choose another name or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from model.scenario import ScenarioError, available_scenarios, name_problem

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {"experiment": ROOT / "experiments" / "examples" / "five_scenarios.toml",
            "sweep": ROOT / "experiments" / "examples" / "sweep.toml"}
KINDS = ("scenario", "experiment", "sweep")


def scenario_template(name: str) -> str:
    """A scenario file extending the baseline, with every field commented out at its default."""
    from analysis.cli import params_toml

    body = []
    for line in params_toml().splitlines()[3:]:  # (without params' own header)
        if line and not line.startswith(("#", "[")):
            line = "# " + line  # a field: commented out until the user sets it
        body.append(line)
    return "\n".join([
        f"# Scenario {name}: uncomment and change the fields that differ from the scenario it extends.",
        f"#   python run.py run {name}.toml --seeds 5",
        "[scenario]",
        f'name = "{name}"',
        'description = "What this scenario changes, and why."',
        'extends = "baseline"        # a bundled scenario (python run.py scenarios) or a file beside this one',
        "",
        *body, ""])


def example_template(kind: str, name: str) -> str:
    """The bundled example of ``kind`` with its name replaced by ``name``."""
    text = EXAMPLES[kind].read_text(encoding="utf-8")
    old = re.search(r'^name = "([^"]+)"', text, flags=re.M).group(1)
    text = re.sub(r'^name = "[^"]+"', f'name = "{name}"', text, count=1, flags=re.M)
    text = text.replace(f"experiments/examples/{EXAMPLES[kind].name}", f"{name}.toml")
    return text.replace(f"/{old}/", f"/{name}/")


def template(kind: str, name: str) -> str:
    return scenario_template(name) if kind == "scenario" else example_template(kind, name)


def cmd_new(args) -> int:
    if why := name_problem(args.name):
        raise ScenarioError(f"new {args.kind} {args.name!r}: {why}")
    path = Path(args.out) if args.out else Path(f"{args.name}.toml")
    if path.exists():
        raise ScenarioError(f"{path}: already exists; nothing written (choose another name or --out)")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # created exclusively: a file that appeared meanwhile is not overwritten either
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise ScenarioError(f"{path}: already exists; nothing written (choose another name or --out)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(template(args.kind, args.name))
    run = {"scenario": "run", "experiment": "compare", "sweep": "sweep"}[args.kind]
    print(f"wrote {path}: edit it, then `python run.py {run} {path}`")
    return 0


BASH = r"""# bash completion for `python run.py` (eval "$(python run.py completion bash)")
_msme_run_py() {
    local cur prev cmd
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd="${COMP_WORDS[2]}"
    [[ "${COMP_WORDS[1]}" == *run.py ]] || return 0
    if [[ $COMP_CWORD -eq 2 ]]; then
        COMPREPLY=( $(compgen -W "__COMMANDS__ __DEFAULT_OPTIONS__" -- "$cur") ); return 0
    fi
    case "$cmd" in
__CASES__
    esac
    COMPREPLY=( $(compgen -f -- "$cur") )
}
complete -o default -F _msme_run_py python python3
"""


def completion_script(parser: argparse.ArgumentParser) -> str:
    """A bash completion script: commands, each command's options, scenario names and .toml files."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    scenarios = " ".join(available_scenarios())
    cases = []
    for name, p in sub.choices.items():
        opts = sorted({o for a in p._actions for o in a.option_strings if o.startswith("--")})
        words = " ".join(opts)
        if name == "run":
            words += f" {scenarios}"
        elif name == "new":
            words += " " + " ".join(KINDS)
        files = '$(compgen -f -X "!*.toml" -- "$cur")'
        cases.append(f'        {name}) COMPREPLY=( $(compgen -W "{words}" -- "$cur") {files} ); return 0;;')
    default_opts = " ".join(sorted({o for a in sub.choices["default"]._actions for o in a.option_strings
                                    if o.startswith("--")})) if "default" in sub.choices else ""
    return (BASH.replace("__COMMANDS__", " ".join(sub.choices)).replace("__DEFAULT_OPTIONS__", default_opts)
            .replace("__CASES__", "\n".join(cases)))


def cmd_completion(args) -> int:
    import run

    sys.stdout.write(completion_script(run.build_parser()))
    return 0


def add_parser(sub) -> None:
    n = sub.add_parser("new", help="write a commented template: a scenario, an experiment or a sweep",
                       description="Write NAME.toml (or --out) to start from: a scenario extending the baseline "
                                   "with every field commented at its default, or the bundled example experiment "
                                   "or sweep renamed. Never writes over an existing file.")
    n.add_argument("kind", choices=KINDS)
    n.add_argument("name", help="the scenario's, experiment's or sweep's name (letters, digits, _ and -)")
    n.add_argument("--out", default=None, metavar="FILE", help="where to write it (default NAME.toml)")
    n.set_defaults(func=cmd_new)
    c = sub.add_parser("completion", help="print a shell completion script (bash)",
                       description='Print a bash completion script: eval "$(python run.py completion bash)", '
                                   "or save it under ~/.local/share/bash-completion/completions/.")
    c.add_argument("shell", choices=("bash",))
    c.set_defaults(func=cmd_completion)
