"""``assistant ask "question"``: one answer from the published index, streamed to the terminal.

``--json`` prints one JSON object instead (for scripts and CI): ``answer``, ``abstained``,
``fallback``, ``sources`` (``n``, ``title``, ``url``, ``source``, ``audience``, ``chunk_id``, in
number order), ``generation``, ``backend``, ``model``, ``prompt_version``, ``timings_ms``, ``usage``
and ``grounding`` (``checked``, ``dropped``, ``fell_back``: what the grounding guard did). Problems
before answering (no index yet, a bad backend name, a bad prompt file) exit with status 2 and a hint;
an error while answering exits with status 1.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from assistant.schemas import AnswerRequest, Audience, DoneEvent, RetrievalFilters

AudienceOption = Annotated[
    str, typer.Option("--audience", "-a", help="public: customer-safe material only; internal: docs and tickets")
]


def ask(
    question: Annotated[str, typer.Argument(help="the question to answer")],
    audience: AudienceOption = "public",
    backend: Annotated[
        str | None, typer.Option("--backend", "-b", help="tgi, openai, local or extractive (default: settings)")
    ] = None,
    source: Annotated[list[str] | None, typer.Option("--source", help="only these sources (repeatable)")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="only chunks with these tags (repeatable)")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object instead of streaming")] = False,
) -> None:
    """Answer a question with citations; abstains when the index has nothing good enough."""
    from assistant import generations
    from assistant.config import load_settings
    from assistant.errors import ConfigError
    from assistant.factory import build_pipeline
    from assistant.llm import check_backend

    if audience not in ("public", "internal"):
        raise ConfigError(f"Unknown audience {audience!r}", hint="use --audience public or --audience internal")
    settings = load_settings()
    if backend is not None:
        check_backend(backend)
    generations.resolve(settings.data_dir)  # no index yet: a clear error with a hint, before loading models
    pipeline = build_pipeline(settings, backend=backend)
    filters = RetrievalFilters(sources=source or None, tags=tag or None) if (source or tag) else None
    request = AnswerRequest(question=question, audience=_audience(audience), channel="cli", filters=filters)

    done: DoneEvent | None = None
    for event in pipeline.stream(request):
        if event.type == "token" and not json_out:
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif event.type == "error":
            if not json_out:
                typer.echo("")
            typer.secho(f"error: {event.message}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1)
        elif event.type == "done":
            done = event
    if done is None:  # the pipeline contract guarantees a done or an error; be explicit anyway
        typer.secho("error: the answer ended unexpectedly", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
    if json_out:
        typer.echo(json.dumps(result_json(done), ensure_ascii=False))
    else:
        _print_footer(done)


def result_json(done: DoneEvent) -> dict[str, Any]:
    """The ``--json`` object; also what scripts and the eval command can rely on."""
    return {
        "answer": done.answer,
        "abstained": done.abstained,
        "fallback": done.fallback,
        "sources": [
            {"n": s.n, "title": s.title, "url": s.url, "source": s.source, "audience": s.audience,
             "chunk_id": s.chunk_id}
            for s in done.sources
        ],
        "generation": done.generation,
        "backend": done.backend,
        "model": done.model,
        "prompt_version": done.prompt_version,
        "timings_ms": done.timings_ms,
        "usage": done.usage,
        "grounding": done.grounding.model_dump(),
        "declined": done.declined,
    }


def _print_footer(done: DoneEvent) -> None:
    from assistant.pipeline import DECLINE_REASONS

    typer.echo("")
    if done.sources:
        typer.echo("")
        typer.secho("Sources:", bold=True)
        for s in done.sources:
            where = s.url or s.path or s.source
            section = f" › {s.section}" if s.section else ""
            typer.echo(f"  [{s.n}] {s.title}{section} — {where} ({s.audience})")
    notes = []
    if done.abstained:
        notes.append(f"abstained: {DECLINE_REASONS.get(done.declined or '', DECLINE_REASONS['low_confidence'])}")
    if done.fallback:
        notes.append(f"the {done.backend} backend failed; this is the extractive answer")
    for note in notes:
        typer.secho(f"note: {note}", err=True, fg=typer.colors.YELLOW)


def _audience(value: str) -> Audience:
    return "internal" if value == "internal" else "public"


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
