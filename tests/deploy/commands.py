"""Whether a command line from the deployment files runs: `switchboard <subcommand>` must
exist in the CLI (switchboard/cli.py) with every option given to it. `switchboard worker`
hands its extra options to Faust's `faust worker`, so those are checked against Faust's."""

from __future__ import annotations

from typing import Any

import faust.cli.worker
from typer.main import get_command
from typer.testing import CliRunner

from switchboard.cli import app


def _options(command: Any) -> set[str]:
    # Typer ships its own copy of click, so this takes any click-like command.
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}


def option_value(args: list[str], option: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{option}="):
            return arg.split("=", 1)[1]
    return None


def command_problems(args: list[str]) -> list[str]:
    """Why `switchboard *args` would not start; empty when it would."""
    if not args:
        return ["no subcommand: the image's ENTRYPOINT is `switchboard`"]
    cli = get_command(app)
    sub = cli.commands.get(args[0])  # type: ignore[attr-defined]
    if sub is None:
        return [f"`switchboard {args[0]}` is not a command (have: {sorted(cli.commands)})"]  # type: ignore[attr-defined]
    found = []
    result = CliRunner().invoke(app, [args[0], "--help"])
    if result.exit_code != 0:
        found.append(f"`switchboard {args[0]} --help` exited {result.exit_code}: {result.output}")
    known = _options(sub)
    if args[0] == "worker":
        known |= _options(faust.cli.worker.worker.as_click_command())
    for arg in args[1:]:
        name = arg.split("=", 1)[0]
        if name.startswith("-") and name not in known:
            found.append(f"`switchboard {args[0]}` has no option {name}")
    return found
