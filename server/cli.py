"""The ``threadline`` command line: ``serve``, ``flows validate`` and ``flows run``.

Each subcommand is a ``register_*`` function that adds its parser and sets ``handler``; adding a
command (``flows diagram``, ``nlu evaluate``) means adding one such function and one line in
``build_parser``. Handlers return the exit status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from server.flows import script as scripts
from server.flows.diagram import flow_graph, render_mermaid, render_svg
from server.flows.loader import SCHEMA_SUFFIX, flow_files
from server.flows.simulator import Simulator
from server.flows.validation import FlowIssue, flow_schema_validator, load_flow_file

EXIT_OK = 0
EXIT_FAILED = 1  # invalid flows, a script mismatch
EXIT_USAGE = 2  # the command could not run as asked (argparse uses 2 as well)

Handler = Callable[[argparse.Namespace], int]
Subparsers = argparse._SubParsersAction  # argparse exposes no public name for it


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Commands that hand their options to another parser (``nlu evaluate``) take the rest.
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "takes_rest", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    handler: Handler = args.handler
    return handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="threadline", description="Conversational orchestration server."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_serve(commands)
    flows = commands.add_parser("flows", help="validate and simulate flow files")
    flow_commands = flows.add_subparsers(dest="flows_command", required=True, metavar="COMMAND")
    register_flows_validate(flow_commands)
    register_flows_run(flow_commands)
    register_flows_diagram(flow_commands)
    register_nlu(commands)
    return parser


# --- nlu evaluate --------------------------------------------------------------------------------


def register_nlu(commands: Subparsers) -> None:
    nlu = commands.add_parser("nlu", help="intent classification tools")
    nlu_commands = nlu.add_subparsers(dest="nlu_command", required=True, metavar="COMMAND")
    evaluate = nlu_commands.add_parser(
        "evaluate",
        help="accuracy of the bot-triage classifier on BANKING77 (options: see docs/nlu.md)",
        add_help=False,
    )
    evaluate.set_defaults(handler=run_nlu_evaluate, takes_rest=True)


def run_nlu_evaluate(args: argparse.Namespace) -> int:
    evaluate = importlib.import_module("server.nlu.evaluate")
    status: int = evaluate.main(args.rest)
    return status


# --- serve ---------------------------------------------------------------------------------------


def register_serve(commands: Subparsers) -> None:
    serve = commands.add_parser("serve", help="run the server")
    # Each flag's default comes from its variable; the flag wins over it. The defaults are text:
    # argparse converts them with the flag's type, so a bad variable fails as a bad flag would.
    serve.add_argument("--host", default=_env("THREADLINE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=_env("THREADLINE_PORT", "8080"))
    serve.add_argument("--data-dir", type=Path, default=_env("THREADLINE_DATA_DIR", "./data"))
    serve.add_argument(
        "--flows", type=Path, default=_env("THREADLINE_FLOWS_DIR", "./flows"), dest="flows_dir"
    )
    serve.set_defaults(handler=run_serve)


def _env(variable: str, fallback: str) -> str:
    return os.environ.get(variable) or fallback


def run_serve(args: argparse.Namespace) -> int:
    # Imported when called so the flow commands need none of the server's modules; by name, so
    # this module type-checks on its own.
    serve = importlib.import_module("server.serve")
    config = importlib.import_module("server.config")
    try:
        serve.run(host=args.host, port=args.port, data_dir=args.data_dir, flows_dir=args.flows_dir)
    except config.ConfigError as error:
        print(f"threadline serve: {error}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


# --- flows validate ------------------------------------------------------------------------------


def register_flows_validate(commands: Subparsers) -> None:
    validate = commands.add_parser(
        "validate",
        help="check flow files; exit 1 if any has an error (or, with --strict, a warning)",
    )
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    validate.add_argument(
        "--strict",
        action="store_true",
        help="treat warnings (what Studio publishes and runs, such as a Liquid syntax error "
        "or a state nothing links to) as errors, for CI",
    )
    validate.set_defaults(handler=run_flows_validate)


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given; folders become their flow files (``*.json`` but not ``*.schema.json``)."""
    files: list[Path] = []
    for path in paths:
        files.extend(flow_files(path) if path.is_dir() else [path])
    return files


def run_flows_validate(args: argparse.Namespace) -> int:
    files = expand_paths(args.paths)
    if not files:
        print("no flow files found", file=sys.stderr)
        return EXIT_USAGE
    invalid = 0
    for file in files:
        if file.name.endswith(SCHEMA_SUFFIX):
            # ``flows/*.json`` matches the schema that lives beside the flows; it is no flow.
            print(f"skip {file} (the flow JSON Schema)")
            continue
        _, issues = load_flow_file(file, warnings=True)
        for issue in issues:
            print(issue)
        if any(issue.is_error or args.strict for issue in issues):
            invalid += 1
        elif issues:
            print(f"ok  {file} ({len(issues)} warning{'s' if len(issues) > 1 else ''})")
        else:
            print(f"ok  {file}")
    if invalid:
        what = "invalid" if not args.strict else "invalid or with warnings (--strict)"
        print(f"{invalid} of {len(files)} flow files {what}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# --- flows run -----------------------------------------------------------------------------------


def register_flows_run(commands: Subparsers) -> None:
    run = commands.add_parser(
        "run", help="chat with a flow in the terminal, or play a script against it"
    )
    run.add_argument("flow", metavar="FLOW", help="a flow file, or a flow name in --flows")
    run.add_argument("--script", type=Path, help="a script of customer lines and expected replies")
    run.add_argument("--from", dest="customer", default="+15550001111", help="customer address")
    run.add_argument("--to", dest="flow_address", default="+15550002222", help="flow address")
    run.add_argument("--flows", type=Path, default=Path("./flows"), dest="flows_dir")
    run.set_defaults(handler=run_flows_run)


def find_flow(flow: str, flows_dir: Path) -> Path:
    path = Path(flow)
    if path.is_file() or path.suffix == ".json":
        return path
    return flows_dir / f"{flow}.json"


def run_flows_run(args: argparse.Namespace) -> int:
    path = find_flow(args.flow, args.flows_dir)
    definition, issues = load_flow_file(path)
    if issues or definition is None:
        print_issues(issues)
        return EXIT_USAGE
    simulator = Simulator(
        definition, name=path.stem, customer_address=args.customer, flow_address=args.flow_address
    )
    if args.script is None:
        return chat(simulator)
    try:
        instructions = scripts.parse_script(args.script.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"cannot read script: {error}", file=sys.stderr)
        return EXIT_USAGE
    except scripts.ScriptError as error:
        print(f"{args.script}: {error}", file=sys.stderr)
        return EXIT_USAGE
    script_run = scripts.ScriptRun(simulator)
    mismatch = script_run.run(instructions)
    if mismatch is not None:
        print(f"{args.script}: mismatch at {mismatch}", file=sys.stderr)
        return EXIT_FAILED
    print(f"ok  {args.script}: {script_run.checked} bot replies matched")
    return EXIT_OK


# --- flows diagram -------------------------------------------------------------------------------


def register_flows_diagram(commands: Subparsers) -> None:
    diagram = commands.add_parser("diagram", help="draw a flow as SVG or Mermaid text")
    diagram.add_argument("flow", metavar="FLOW", help="a flow file, or a flow name in --flows")
    diagram.add_argument("--format", choices=("svg", "mermaid"), default="svg")
    diagram.add_argument("--output", "-o", type=Path, help="write here instead of to stdout")
    diagram.add_argument("--flows", type=Path, default=Path("./flows"), dest="flows_dir")
    diagram.set_defaults(handler=run_flows_diagram)


def run_flows_diagram(args: argparse.Namespace) -> int:
    path = find_flow(args.flow, args.flows_dir)
    definition, issues = load_flow_file(path)
    if definition is None or not flow_schema_validator().is_valid(definition):
        # Only a flow whose frame holds (states with transitions) can be drawn at all.
        print_issues(issues)
        return EXIT_USAGE
    # A flow that is wired wrong is still worth seeing: draw it, and say what is wrong.
    print_issues(issues)
    graph = flow_graph(definition)
    if args.format == "mermaid":
        text = render_mermaid(graph)
    else:
        text = render_svg(graph, title=path.stem) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def chat(simulator: Simulator) -> int:
    """Customer lines from stdin; ``~ timeout`` and ``@http ...`` lines work as in scripts."""
    script_run = scripts.ScriptRun(simulator)
    interactive = sys.stdin.isatty()
    if interactive:
        print("Type as the customer; '~ timeout' fires the pending timer; Ctrl-D ends.")
    for number, line in enumerate(iter(lambda: prompt(interactive), ""), start=1):
        text = line.rstrip("\r\n")
        try:
            if text.startswith(scripts.SIMULATION_MARKERS):
                instruction = scripts.parse_line(text, number)
                problem = script_run.apply(instruction) if instruction is not None else None
                if problem is not None:
                    print(f"!! {problem}")
            elif text.strip() and interactive:
                # The terminal already shows what was typed.
                script_run.receive(simulator.customer_says(text))
            elif text.strip():
                script_run.apply(scripts.Say(number, text))
        except scripts.ScriptError as error:
            print(f"!! {error}")
    return EXIT_OK


def prompt(interactive: bool) -> str:
    if interactive:
        print("you> ", end="", flush=True)
    return sys.stdin.readline()


def print_issues(issues: list[FlowIssue]) -> None:
    for issue in issues:
        print(issue, file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
