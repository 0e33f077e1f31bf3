"""``geopurify-run`` in-process for tests: typer's CliRunner, with the click command built once.

Typer rebuilds the click command from the signatures on every invoke (~0.1 s); tests that invoke
the CLI a hundred times reuse one. Speed only: if typer stops calling ``typer.testing._get_command``
each invoke builds its own again, with the same result."""

from __future__ import annotations

import typer.main
import typer.testing

from geopurify.cli import app

_runner = typer.testing.CliRunner()
_built: list = []


def invoke(args: list[str], **kwargs):
    if not _built:
        _built.append(typer.main.get_command(app))
    original = typer.testing._get_command
    typer.testing._get_command = lambda cli: _built[0] if cli is app else original(cli)
    try:
        return _runner.invoke(app, args, **kwargs)
    finally:
        typer.testing._get_command = original
