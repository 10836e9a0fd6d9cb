"""Small structural interfaces between the answer pipeline and its parts.

The pipeline depends on these shapes, not on classes, so tests pass fakes and deployments can
swap parts (a remote retriever, another store) without touching it.
"""

from __future__ import annotations

from typing import Protocol

from assistant.schemas import Audience, RetrievalFilters, RetrievalResult


class Retriever(Protocol):
    """Audience-scoped retrieval: ``public`` must only ever return public chunks."""

    def search(self, question: str, *, audience: Audience,
               filters: RetrievalFilters | None = None, asked: str | None = None) -> RetrievalResult: ...
