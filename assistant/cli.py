"""The ``assistant`` command.

Core commands live in :mod:`assistant.commands`; commands that need ``ingest`` or ``bots``
(``ingest``, ``serve``, ``slack``, ``demo``) register themselves through the
``assistant.commands`` entry-point group, so this package never imports them by name.
"""

from __future__ import annotations

import logging
import sys
from importlib import metadata

import typer

from assistant.errors import AssistantError

app = typer.Typer(
    name="assistant",
    help="Self-hosted support assistant: ingest knowledge, answer questions, serve the widget and Slack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_all() -> None:
    from assistant.commands import ask, drafts, eval, index, insights

    for module in (index, ask, eval, insights, drafts):
        module.register(app)
    for entry in metadata.entry_points(group="assistant.commands"):
        try:
            entry.load()(app)
        except ImportError as exc:  # an optional part is not installed: the rest still works
            logging.getLogger(__name__).debug("command %s unavailable: %s", entry.name, exc)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _register_all()
    try:
        app()
    except AssistantError as exc:
        typer.secho(f"error: {exc.message}", err=True, fg=typer.colors.RED)
        if exc.hint:
            typer.secho(f"hint: {exc.hint}", err=True)
        logging.getLogger(__name__).debug("details", exc_info=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
