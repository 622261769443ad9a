"""`switchboard`: one command for every process and dev tool.

Subcommands import their package lazily so `switchboard kafka` works without FastAPI or
Faust being importable, and a typo in one service cannot break another's entry point.
"""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
