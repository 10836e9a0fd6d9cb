"""The one place that turns settings into concrete parts (embedding model, index, LLM, pipeline).

Everything else takes its parts as arguments, so tests build the same objects from fakes or
small real parts. Builders are cheap to call; heavy objects (models) load lazily on first use.
"""

from __future__ import annotations

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.index import IndexHandle
from assistant.store import Store


def build_embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embedding.model, device=settings.embedding.device,
                    batch_size=settings.embedding.batch_size)


def build_index_handle(settings: Settings, embedder: Embedder | None = None) -> IndexHandle:
    """Follows the published generation; refuses one built with another embedding model."""
    embedder = embedder or build_embedder(settings)
    return IndexHandle(settings.data_dir, model_id=embedder.model_id, device=settings.index.device)


def build_store(settings: Settings) -> Store:
    return Store(settings.store_path)
